// Quantization schedule: per-type level sequences and settings (METHOD 3), and
// the assignment of coordinate ranges (layers) to types. Produced by the
// compiler or the level optimiser, consumed by the layer-wise compressor. Its
// hash travels in every message so a peer with another schedule is rejected.
#ifndef QODA_QUANT_SCHEDULE_H
#define QODA_QUANT_SCHEDULE_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qoda::quant {

enum class Norm : uint8_t { L2 = 0, Linf = 1 };
enum class NormPrecision : uint8_t { Fp32 = 0, Fp16 = 1 };
/// Coding of level indices. FixedWidth: index bits + sign bit per coordinate
/// (the fast path). Huffman: per-message canonical Huffman code of the
/// type's level indices (code table in the message). EliasGaps: Elias-omega
/// coded gaps between non-zero indices (sparse). For the latter two the
/// encoder falls back to fixed width per segment when that is shorter.
enum class Coding : uint8_t { FixedWidth = 0, Huffman = 1, EliasGaps = 2 };
/// How a type's segments travel. Levels: the stochastic level quantizer of
/// METHOD 3. The others send the coordinates uncompressed (cast), which is
/// what schedules use for small and one-dimensional tensors.
enum class TypeKind : uint8_t { Levels = 0, Fp32 = 1, Fp16 = 2, Bf16 = 3 };

/// One type: levels 0 = l_0 < l_1 < ... < l_{a+1} = 1 plus settings.
struct TypeSchedule {
  TypeKind kind = TypeKind::Levels;
  std::vector<float> levels; ///< including the end points 0 and 1 (Levels only)
  uint32_t bucketSize = 1024; ///< coordinates per norm bucket [choice]
  Norm norm = Norm::L2;
  NormPrecision normPrecision = NormPrecision::Fp32;
  Coding coding = Coding::FixedWidth;

  /// Bits of a level index, excluding the sign: ceil(log2(levels.size())).
  unsigned indexBits() const;
};

/// A layer: coordinates [offset, offset + length) quantized with type `type`.
/// Buckets restart at every segment start.
struct Segment {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint32_t type = 0;
};

struct Schedule {
  std::vector<TypeSchedule> types;
  /// Empty: the whole vector is one segment of type 0.
  std::vector<Segment> segments;

  /// Empty string if usable for a vector of n coordinates, else the reason.
  std::string validate(uint64_t n) const;
  /// The segments covering n coordinates (the implicit one if none given).
  std::vector<Segment> segmentsFor(uint64_t n) const;
  /// True if `o` differs from this schedule at most in its level values:
  /// same types (kinds, level counts) and segments, hence the same message
  /// sizes. Level re-fitting may only switch between such schedules.
  bool sameLayout(const Schedule &o) const;
  /// FNV-1a over every field; equal schedules give equal hashes everywhere.
  uint64_t hash() const;
};

/// Uniform levels j/s, j = 0..s (QSGD with s intervals).
std::vector<float> uniformLevels(unsigned s);
/// True when l[j] == float(j) / float(n-1) for every j, bit for bit (what
/// uniformLevels gives): the kernels' exact test for the uniform rounding
/// rule (docs/quant.md), identical on every rank because it reads only the
/// level values.
inline bool isUniformLevels(const float *l, size_t n) {
  if (n < 2)
    return false;
  for (size_t j = 0; j < n; ++j)
    if (l[j] != float(j) / float(n - 1))
      return false;
  return true;
}
/// Exponential levels 0, 2^-(s-1), ..., 1/2, 1 (NUQSGD, s non-zero levels).
std::vector<float> exponentialLevels(unsigned s);
/// Single-type schedule with the given levels.
Schedule singleTypeSchedule(std::vector<float> levels, uint32_t bucketSize,
                            Norm norm = Norm::L2,
                            NormPrecision prec = NormPrecision::Fp32);

} // namespace qoda::quant

#endif
