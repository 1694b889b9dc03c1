// F16C kernels of the fp16 cast (see CastKernel.h). Eight values per step;
// NaN lanes are rewritten to the canonical encodings of Half.h.
#include "CastKernel.h"

#include "qoda/quant/Half.h"

#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define QODA_F16C __attribute__((target("avx2,f16c")))
#endif

namespace qoda::quant::detail {

#ifdef QODA_F16C

bool f16cAvailable() {
  static const bool ok =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
  return ok;
}

QODA_F16C void floatsToHalvesF16c(const float *v, uint64_t n, uint8_t *out) {
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m128i canonNan = _mm_set1_epi16(0x7e00);
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(v + i);
    __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT);
    // NaN lanes: sign | 0x7e00.
    __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    __m128i nan16 =
        _mm_packs_epi32(_mm256_castsi256_si128(_mm256_castps_si256(nan)),
                        _mm256_extracti128_si256(_mm256_castps_si256(nan), 1));
    __m128i sign = _mm_andnot_si128(
        _mm_set1_epi16(0x7fff),
        _mm256_cvtps_ph(_mm256_andnot_ps(absMask, x), 0)); // sign bit only
    h = _mm_blendv_epi8(h, _mm_or_si128(sign, canonNan), nan16);
    _mm_storeu_si128(reinterpret_cast<__m128i *>(out + 2 * i), h);
  }
  for (; i < n; ++i) {
    uint16_t h = floatToHalf(v[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

QODA_F16C void accumulateHalvesF16c(const uint8_t *in, uint64_t n, float weight,
                                    float *sum) {
  const __m256 w = _mm256_set1_ps(weight);
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(in + 2 * i));
    __m256 x = _mm256_cvtph_ps(h);
    // NaN halves: Half.h keeps the payload bits as they are (the hardware
    // sets the quiet bit): sign << 16 | 0x7f800000 | mant << 13.
    __m256i h32 = _mm256_cvtepu16_epi32(h);
    __m256i expAll = _mm256_set1_epi32(0x7c00);
    __m256i mant = _mm256_and_si256(h32, _mm256_set1_epi32(0x3ff));
    __m256i isNan = _mm256_andnot_si256(
        _mm256_cmpeq_epi32(mant, _mm256_setzero_si256()),
        _mm256_cmpeq_epi32(_mm256_and_si256(h32, expAll), expAll));
    __m256i bits = _mm256_or_si256(
        _mm256_or_si256(
            _mm256_slli_epi32(_mm256_and_si256(h32, _mm256_set1_epi32(0x8000)),
                              16),
            _mm256_set1_epi32(0x7f800000)),
        _mm256_slli_epi32(mant, 13));
    x = _mm256_blendv_ps(x, _mm256_castsi256_ps(bits),
                         _mm256_castsi256_ps(isNan));
    _mm256_storeu_ps(
        sum + i, _mm256_add_ps(_mm256_loadu_ps(sum + i), _mm256_mul_ps(w, x)));
  }
  for (; i < n; ++i) {
    uint16_t b;
    std::memcpy(&b, in + 2 * i, 2);
    sum[i] += weight * halfToFloat(b);
  }
}

#else

bool f16cAvailable() { return false; }
void floatsToHalvesF16c(const float *, uint64_t, uint8_t *) {}
void accumulateHalvesF16c(const uint8_t *, uint64_t, float, float *) {}

#endif

} // namespace qoda::quant::detail
