// The ISA-neutral interface of the level quantizer's vector cores
// (qoda/quant/LevelVec.h): what a caller hands them. Shared by the
// quantization library (runtime/quant) and the CPU kernels of generated model
// libraries (qoda/kernels/CpuKernels.h), which include the same cores, so
// both run one implementation of the bit-exact definition of docs/quant.md.
#ifndef QODA_QUANT_LEVELVECTYPES_H
#define QODA_QUANT_LEVELVECTYPES_H

#include "qoda/quant/Half.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <type_traits>

namespace qoda::quant::levelvec {

/// A type's levels as the cores read them (views; the caller owns them).
struct Levels {
  const float *levels;   ///< l_0 .. l_{L-1}, zero-padded to >= 16 entries
  const float *invWidth; ///< 1 / (l_{j+1} - l_j), zero-padded to >= 16
  /// l_0 .. l_{L-2}, then +inf up to searchSize entries (a power of two
  /// >= L - 1), so a branch-free search never selects j > L - 2.
  const float *search;
  uint32_t numLevels;
  uint32_t searchSize;
  /// Levels j / (L-1) bit for bit (isUniformLevels): the uniform rounding
  /// rule, no interval search.
  bool uniform;
};

/// The Philox key of one message (docs/quant.md, "random contract").
struct Key {
  uint64_t seed, step;
  uint32_t rank;
};

/// One encode call: buckets [begin, end) of a segment of `len` coordinates
/// (begin a multiple of the bucket size and of 8, end a bucket boundary or
/// len). The segment layout is that of docs/quant.md: norms, index plane,
/// sign plane, each starting on a byte.
struct Segment {
  const float *x;      ///< coordinate 0 of the segment
  uint64_t len;        ///< coordinates of the segment
  uint64_t coord0;     ///< global coordinate of x[0] (the Philox counter)
  uint64_t begin, end; ///< the range to encode
  uint32_t bucket;     ///< coordinates per norm, a multiple of 8
  bool l2;             ///< L2 norm (else Linf)
  bool fp16;           ///< fp16 norms (else fp32)
  uint8_t *norms, *idx, *sign; ///< the segment's three planes
};

/// CPU features of the cores' two builds, checked once (x86-64 GCC/Clang;
/// false elsewhere). QODA_NO_AVX512=1 in the environment makes
/// cpuHasAvx512vl false, so the AVX2 build can be tested (and timed) on an
/// AVX-512 machine; the library and generated libraries both honour it.
inline bool cpuHasAvx2() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__CUDACC__)
  static const bool ok = __builtin_cpu_supports("avx2");
  return ok;
#else
  return false;
#endif
}
inline bool cpuHasAvx512vl() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__CUDACC__)
  static const bool ok = [] {
    const char *off = std::getenv("QODA_NO_AVX512");
    return !(off && std::string(off) == "1") &&
           __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512vl");
  }();
  return ok;
#else
  return false;
#endif
}

/// Calls f(std::integral_constant<unsigned, ib>()) for a run-time index
/// width ib in 1..8 (8 for any other), so the callee is instantiated for
/// each width.
template <unsigned IB = 1, typename F>
inline void withIndexBits(unsigned ib, F &&f) {
  if constexpr (IB < 8)
    if (ib != IB)
      return withIndexBits<IB + 1>(ib, f);
  f(std::integral_constant<unsigned, IB>());
}

/// The transmitted norm from the exact one (docs/quant.md): rounded up to
/// fp32, and to fp16 (bits to *wire) when the norms are fp16.
inline float transmittedNorm(double norm, bool fp16, uint16_t *wire) {
  float f = float(norm);
  if (double(f) < norm)
    f = std::nextafter(f, INFINITY);
  if (fp16) {
    *wire = floatToHalfRoundUp(f);
    return halfToFloat(*wire);
  }
  return f;
}

} // namespace qoda::quant::levelvec

#endif
