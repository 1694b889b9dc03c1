// Internal: the fixed-width kernels of the stochastic level quantizer for one
// segment (METHOD 3). Two implementations produce byte-identical output: a
// scalar reference (LevelKernelRef.cpp, the specification) and an AVX2 kernel
// (LevelKernelAvx2.cpp) picked at run time when the CPU has AVX2. The exact
// arithmetic they share is written down in docs/quant.md ("Bit-exact
// definition") so other implementations (CUDA, issue 5) can match it.
//
// Segment layout (starts on a byte boundary):
//   norms        ceil(len / bucket) values, fp32 (4 bytes) or fp16 (2 bytes)
//   index plane  len * indexBits bits, LSB first, zero-padded to a byte
//   sign plane   len bits, LSB first, zero-padded to a byte; a coordinate's
//                bit is 1 iff its index is non-zero and its input is negative
#ifndef QODA_QUANT_LEVELKERNEL_H
#define QODA_QUANT_LEVELKERNEL_H

#include "qoda/quant/Compressor.h"
#include "qoda/quant/LevelVecTypes.h"
#include "qoda/quant/Schedule.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qoda::quant::detail {

/// Precomputed per-type data shared by both kernels.
struct LevelTable {
  explicit LevelTable(const TypeSchedule &t);
  TypeSchedule type;
  unsigned indexBits;
  std::vector<float> levels;   ///< l_0 .. l_{L-1}
  std::vector<float> invWidth; ///< 1 / (l_{j+1} - l_j) (float division)
  /// levels padded with +inf to searchSize entries from index L-1 on, so a
  /// branch-free binary search over [0, searchSize) never selects j > L-2.
  std::vector<float> search;
  unsigned searchSize; ///< power of two >= L - 1
  /// Padded copies (>= 16 entries) for table lookups by index.
  std::vector<float> levels16, invWidth16;
  /// True when levels[j] == float(j) / float(L-1) bit for bit (the levels of
  /// uniformLevels, e.g. qsgd): such types use the uniform rounding rule of
  /// docs/quant.md (t = u * s, no interval search). Decided from the table
  /// alone, so every rank and implementation agrees.
  bool uniform;

  size_t numLevels() const { return levels.size(); }
  /// j = max{k in [0, L-2] : l_k <= u} for u in [0, 1].
  unsigned interval(float u) const;
};

struct SegmentSizes {
  uint64_t buckets, normBytes, indexBytes, signBytes;
  uint64_t total() const { return normBytes + indexBytes + signBytes; }
};
SegmentSizes segmentSizes(uint64_t len, const TypeSchedule &t);

/// One kernel call covers coordinates [begin, end) of a segment of `len`
/// coordinates; begin is a multiple of the bucket size and of 8 (so every
/// plane starts on a byte boundary there), end is a bucket boundary or len.
/// Calls on disjoint ranges write disjoint bytes (threads split this way).
struct SegmentRange {
  uint64_t len;    ///< coordinates of the whole segment
  uint64_t coord0; ///< global coordinate of the segment's first one (RNG key)
  uint64_t begin, end;
};

struct SegmentEncode {
  const float *v; ///< the segment's coordinates (v[0] = coordinate coord0)
  SegmentRange r;
  EncodeKey key;
  uint8_t *out; ///< the segment's bytes (segmentSizes(len).total())
};

/// The bucket norm as transmitted (see docs/quant.md): L2 = sqrt of the sum of
/// squares in double with 8 lane accumulators, rounded up to fp32 (and to fp16
/// when the precision is fp16); Linf = max |x|. *wire gets the fp16 bits.
float bucketNormRef(const float *x, uint64_t len, const TypeSchedule &t,
                    uint16_t *wire);

void encodeSegmentRef(const LevelTable &lt, const SegmentEncode &e);
/// Checks the norms, the indices (< L), sign bits of zero indices and the
/// padding bits. "" if valid, else the reason.
std::string validateSegmentRef(const LevelTable &lt, const uint8_t *seg,
                               const SegmentRange &r);
/// sum[i] += weight * Q_i over the range of a validated segment (sum points
/// at the segment's first coordinate).
void accumulateSegmentRef(const LevelTable &lt, const uint8_t *seg,
                          const SegmentRange &r, float weight, float *sum);

/// The views the vector cores (qoda/quant/LevelVec.h) take.
inline levelvec::Levels vecLevels(const LevelTable &lt) {
  return {lt.levels16.data(),       lt.invWidth16.data(), lt.search.data(),
          uint32_t(lt.numLevels()), lt.searchSize,        lt.uniform};
}
inline levelvec::Segment vecSegment(const LevelTable &lt,
                                    const SegmentEncode &e) {
  SegmentSizes sz = segmentSizes(e.r.len, lt.type);
  return {e.v,
          e.r.len,
          e.r.coord0,
          e.r.begin,
          e.r.end,
          lt.type.bucketSize,
          lt.type.norm == Norm::L2,
          lt.type.normPrecision == NormPrecision::Fp16,
          e.out,
          e.out + sz.normBytes,
          e.out + sz.normBytes + sz.indexBytes};
}

/// True when the AVX2 kernels can run on this CPU.
bool avx2Available();
/// AVX2 versions; callers check avx2Available(). The encoder needs a bucket
/// size that is a multiple of 8 (callers use the reference otherwise).
void encodeSegmentAvx2(const LevelTable &lt, const SegmentEncode &e);
/// True when the CPU also has AVX-512F/VL: encodeSegment then uses
/// encodeSegmentAvx512, the same encoder (qoda/quant/LevelVec.h) compiled
/// for AVX-512VL (LevelKernelAvx512.cpp); byte-identical output.
bool avx512Available();
void encodeSegmentAvx512(const LevelTable &lt, const SegmentEncode &e);
std::string validateSegmentAvx2(const LevelTable &lt, const uint8_t *seg,
                                const SegmentRange &r);
void accumulateSegmentAvx2(const LevelTable &lt, const uint8_t *seg,
                           const SegmentRange &r, float weight, float *sum);

/// Dispatch by CompressorOptions::kernel.
void encodeSegment(const LevelTable &lt, const SegmentEncode &e, Kernel k);
std::string validateSegment(const LevelTable &lt, const uint8_t *seg,
                            const SegmentRange &r, Kernel k);
void accumulateSegment(const LevelTable &lt, const uint8_t *seg,
                       const SegmentRange &r, float weight, float *sum,
                       Kernel k);

/// The norm of bucket b from a segment's norm array.
float readNorm(const uint8_t *norms, uint64_t b, NormPrecision p);

} // namespace qoda::quant::detail

#endif
