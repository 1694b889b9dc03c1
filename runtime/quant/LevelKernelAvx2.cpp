// The AVX2 kernels of the level quantizer: the library's entry points over
// the vector cores of qoda/quant/LevelVec.h (shared with generated model
// libraries), byte-identical to LevelKernelRef.cpp (tested). Only functions
// with a target attribute use AVX2, so the library runs on any x86-64
// (dispatch checks the CPU once); other architectures get the reference.
// LevelKernelAvx512.cpp holds the encoder's AVX-512VL build.
#include "LevelKernel.h"

#include "qoda/quant/LevelVec.h"

#include <cmath>

namespace qoda::quant::detail {

#if defined(__x86_64__) && defined(__GNUC__)

namespace lv = levelvec::avx2;

bool avx2Available() { return levelvec::cpuHasAvx2(); }

void encodeSegmentAvx2(const LevelTable &lt, const SegmentEncode &e) {
  lv::encodeSegmentBits(lt.indexBits, vecLevels(lt),
                        {e.key.seed, e.key.step, e.key.rank},
                        vecSegment(lt, e));
}

std::string validateSegmentAvx2(const LevelTable &lt, const uint8_t *seg,
                                const SegmentRange &r) {
  const TypeSchedule &t = lt.type;
  const unsigned ib = lt.indexBits;
  SegmentSizes sz = segmentSizes(r.len, t);
  const uint8_t *idx = seg + sz.normBytes, *sign = idx + sz.indexBytes;
  for (uint64_t b0 = r.begin; b0 < r.end; b0 += t.bucketSize) {
    float norm = readNorm(seg, b0 / t.bucketSize, t.normPrecision);
    if (!(norm >= 0.0f) || !std::isfinite(norm))
      return validateSegmentRef(lt, seg, r); // it words the error
  }
  uint64_t full = (r.end - r.begin) / 8 * 8, i = r.begin + full;
  bool bad = false;
  levelvec::withIndexBits(ib, [&](auto w) {
    bad = lv::anyBadCode<decltype(w)::value>(idx + r.begin / 8 * ib,
                                             sign + r.begin / 8, full,
                                             uint32_t(lt.numLevels()));
  });
  if (bad)
    return validateSegmentRef(lt, seg, r); // it words the error
  if (i < r.end || r.end == r.len)         // tail and padding: the reference
    return validateSegmentRef(lt, seg, {r.len, r.coord0, i, r.end});
  return "";
}

void accumulateSegmentAvx2(const LevelTable &lt, const uint8_t *seg,
                           const SegmentRange &r, float weight, float *sum) {
  const TypeSchedule &t = lt.type;
  const unsigned ib = lt.indexBits;
  SegmentSizes sz = segmentSizes(r.len, t);
  const uint8_t *idx = seg + sz.normBytes, *sign = idx + sz.indexBytes;
  levelvec::withIndexBits(ib, [&](auto w) {
    for (uint64_t b0 = r.begin; b0 < r.end; b0 += t.bucketSize) {
      uint64_t b1 = std::min<uint64_t>(b0 + t.bucketSize, r.len);
      float scale = weight * readNorm(seg, b0 / t.bucketSize, t.normPrecision);
      lv::accumulateRun<decltype(w)::value>(
          lt.levels16.data(), uint32_t(lt.numLevels()), idx + b0 / 8 * ib,
          sign + b0 / 8, b1 - b0, scale, sum + b0);
    }
  });
}

#else // not x86-64 GCC/Clang: the reference only.

bool avx2Available() { return false; }
void encodeSegmentAvx2(const LevelTable &lt, const SegmentEncode &e) {
  encodeSegmentRef(lt, e);
}
std::string validateSegmentAvx2(const LevelTable &lt, const uint8_t *seg,
                                const SegmentRange &r) {
  return validateSegmentRef(lt, seg, r);
}
void accumulateSegmentAvx2(const LevelTable &lt, const uint8_t *seg,
                           const SegmentRange &r, float weight, float *sum) {
  accumulateSegmentRef(lt, seg, r, weight, sum);
}

#endif

} // namespace qoda::quant::detail
