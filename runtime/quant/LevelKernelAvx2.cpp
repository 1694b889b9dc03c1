// AVX2 kernels of the level quantizer, byte-identical to LevelKernelRef.cpp
// (tested). Eight coordinates per step:
//  - Philox4x32-10 for 8 counters at once (32 random words) in structure-of-
//    arrays form, 32x32->64 products from two _mm256_mul_epu32, then a 4x8
//    transpose so word k belongs to coordinate k as in the reference;
//  - the interval search is a compare-and-count over the interior levels
//    when there are at most 16 levels (4 index bits) and a branch-free
//    binary search with gathers otherwise; l_j and 1/(l_{j+1}-l_j) come from
//    in-register permutes (<= 16 levels) or gathers;
//  - 8 indices are packed into 8 * indexBits bits with variable shifts and a
//    horizontal OR; 8 sign bits come from one movemask.
// Only functions with the target attribute use AVX2, so the library runs on
// any x86-64 (dispatch checks the CPU once). Other architectures get the
// reference.
#include "LevelKernel.h"

#include "qoda/quant/Half.h"
#include "qoda/quant/Philox.h"

#include <cmath>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define QODA_AVX2 __attribute__((target("avx2")))
#endif

namespace qoda::quant::detail {

#ifdef QODA_AVX2

bool avx2Available() {
  static const bool ok = __builtin_cpu_supports("avx2");
  return ok;
}

namespace {

/// Random words of coordinates [c, c + n) (global indices, any alignment),
/// n <= kChunk, written to w[0..n).
constexpr uint64_t kChunk = 512;

QODA_AVX2 inline __m256i mulhi(__m256i a, __m256i m, __m256i &lo) {
  __m256i even = _mm256_mul_epu32(a, m);
  __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

/// Philox4x32-10 of 8 consecutive blocks starting at `block`; writes the 32
/// words in coordinate order (block-major) to out.
QODA_AVX2 void philox8(const EncodeKey &key, uint64_t block, uint32_t *out) {
  alignas(32) uint32_t lo[8], hi[8];
  for (int k = 0; k < 8; ++k) {
    lo[k] = uint32_t(block + k);
    hi[k] = uint32_t((block + k) >> 32);
  }
  __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i *>(lo));
  __m256i c1 = _mm256_load_si256(reinterpret_cast<const __m256i *>(hi));
  __m256i c2 = _mm256_set1_epi32(int(uint32_t(key.step)));
  __m256i c3 = _mm256_set1_epi32(int(key.rank));
  const __m256i m0 = _mm256_set1_epi32(int(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(int(0xCD9E8D57u));
  uint32_t k0 = uint32_t(key.seed), k1 = uint32_t(key.seed >> 32);
  for (int round = 0; round < 10; ++round) {
    __m256i lo0, lo1;
    __m256i hi0 = mulhi(c0, m0, lo0);
    __m256i hi1 = mulhi(c2, m1, lo1);
    __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1),
                                  _mm256_set1_epi32(int(k0)));
    __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3),
                                  _mm256_set1_epi32(int(k1)));
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
  __m256i t2 = _mm256_unpacklo_epi32(c2, c3), t3 = _mm256_unpackhi_epi32(c2, c3);
  __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
  __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
  auto *o = reinterpret_cast<__m256i *>(out);
  _mm256_storeu_si256(o + 0, _mm256_permute2x128_si256(u0, u1, 0x20));
  _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(u2, u3, 0x20));
  _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(u0, u1, 0x31));
  _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(u2, u3, 0x31));
}

/// Random words for global coordinates [c, c + n), n <= kChunk.
QODA_AVX2 void randomWords(const EncodeKey &key, uint64_t c, uint64_t n,
                           uint32_t *w) {
  alignas(32) uint32_t buf[kChunk + 64];
  uint64_t first = c >> 2, last = (c + n + 3) >> 2; // blocks [first, last)
  for (uint64_t b = first; b < last; b += 8)
    philox8(key, b, buf + 4 * (b - first));
  std::memcpy(w, buf + (c & 3), n * 4);
}

/// Per-type vector constants.
struct VecTable {
  bool small; ///< <= 16 levels: compare-count search, permute lookups
  __m256 lev0, lev1, inv0, inv1;
  unsigned numInterior; ///< L - 2
};

QODA_AVX2 VecTable makeVecTable(const LevelTable &lt) {
  VecTable t;
  t.small = lt.numLevels() <= 16;
  t.lev0 = _mm256_loadu_ps(lt.levels16.data());
  t.lev1 = _mm256_loadu_ps(lt.levels16.data() + 8);
  t.inv0 = _mm256_loadu_ps(lt.invWidth16.data());
  t.inv1 = _mm256_loadu_ps(lt.invWidth16.data() + 8);
  t.numInterior = unsigned(lt.numLevels() - 2);
  return t;
}

QODA_AVX2 inline __m256 lookup16(__m256 lo, __m256 hi, __m256i j) {
  __m256 a = _mm256_permutevar8x32_ps(lo, j);
  __m256 b = _mm256_permutevar8x32_ps(hi, j);
  __m256 sel = _mm256_castsi256_ps(_mm256_cmpgt_epi32(j, _mm256_set1_epi32(7)));
  return _mm256_blendv_ps(a, b, sel);
}

/// Quantized indices of 8 coordinates.
QODA_AVX2 inline __m256i quantize8(const LevelTable &lt, const VecTable &vt,
                                   __m256 x, __m256 inv, __m256i words) {
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 u = _mm256_min_ps(_mm256_mul_ps(_mm256_and_ps(x, absMask), inv),
                           _mm256_set1_ps(1.0f));
  __m256i j = _mm256_setzero_si256();
  __m256 lj, wj;
  if (vt.small) {
    for (unsigned k = 1; k <= vt.numInterior; ++k) {
      __m256 le = _mm256_cmp_ps(_mm256_set1_ps(lt.levels[k]), u, _CMP_LE_OQ);
      j = _mm256_sub_epi32(j, _mm256_castps_si256(le));
    }
    lj = lookup16(vt.lev0, vt.lev1, j);
    wj = lookup16(vt.inv0, vt.inv1, j);
  } else {
    for (unsigned step = lt.searchSize / 2; step >= 1; step /= 2) {
      __m256i cand = _mm256_add_epi32(j, _mm256_set1_epi32(int(step)));
      __m256 lc = _mm256_i32gather_ps(lt.search.data(), cand, 4);
      __m256 le = _mm256_cmp_ps(lc, u, _CMP_LE_OQ);
      j = _mm256_castps_si256(_mm256_blendv_ps(
          _mm256_castsi256_ps(j), _mm256_castsi256_ps(cand), le));
    }
    lj = _mm256_i32gather_ps(lt.levels.data(), j, 4);
    wj = _mm256_i32gather_ps(lt.invWidth.data(), j, 4);
  }
  __m256 p = _mm256_mul_ps(_mm256_sub_ps(u, lj), wj);
  __m256 r = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(words, 8)),
                           _mm256_set1_ps(1.0f / 16777216.0f));
  __m256 up = _mm256_cmp_ps(r, p, _CMP_LT_OQ);
  return _mm256_sub_epi32(j, _mm256_castps_si256(up));
}

/// Packs 8 indices of `ib` bits into the low 8*ib bits (LSB first).
QODA_AVX2 inline uint64_t pack8(__m256i q, unsigned ib) {
  if (ib <= 4) {
    __m256i sh = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                    _mm256_set1_epi32(int(ib)));
    __m256i s = _mm256_sllv_epi32(q, sh);
    __m128i h = _mm_or_si128(_mm256_castsi256_si128(s),
                             _mm256_extracti128_si256(s, 1));
    h = _mm_or_si128(h, _mm_shuffle_epi32(h, 0x4E));
    h = _mm_or_si128(h, _mm_shuffle_epi32(h, 0xB1));
    return uint32_t(_mm_cvtsi128_si32(h));
  }
  // Wider indices: 64-bit lanes.
  __m256i lo = _mm256_cvtepu32_epi64(_mm256_castsi256_si128(q));
  __m256i hi = _mm256_cvtepu32_epi64(_mm256_extracti128_si256(q, 1));
  __m256i shLo = _mm256_setr_epi64x(0, ib, 2 * ib, 3 * ib);
  __m256i shHi = _mm256_add_epi64(shLo, _mm256_set1_epi64x(4 * ib));
  __m256i s =
      _mm256_or_si256(_mm256_sllv_epi64(lo, shLo), _mm256_sllv_epi64(hi, shHi));
  __m128i h = _mm_or_si128(_mm256_castsi256_si128(s),
                           _mm256_extracti128_si256(s, 1));
  h = _mm_or_si128(h, _mm_unpackhi_epi64(h, h));
  return uint64_t(_mm_cvtsi128_si64(h));
}

/// Unpacks 8 indices of `ib` bits.
QODA_AVX2 inline __m256i unpack8(uint64_t bits, unsigned ib) {
  __m256i mask = _mm256_set1_epi32(int((1u << ib) - 1));
  if (ib <= 4) {
    __m256i sh = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                    _mm256_set1_epi32(int(ib)));
    return _mm256_and_si256(
        _mm256_srlv_epi32(_mm256_set1_epi32(int(uint32_t(bits))), sh), mask);
  }
  __m256i b = _mm256_set1_epi64x(int64_t(bits));
  __m256i shLo = _mm256_setr_epi64x(0, ib, 2 * ib, 3 * ib);
  __m256i shHi = _mm256_add_epi64(shLo, _mm256_set1_epi64x(4 * ib));
  __m256i lo = _mm256_srlv_epi64(b, shLo), hi = _mm256_srlv_epi64(b, shHi);
  // Low 32 bits of each 64-bit lane, in order.
  __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
  __m256i l = _mm256_permutevar8x32_epi32(lo, idx);
  __m256i h = _mm256_permutevar8x32_epi32(hi, idx);
  return _mm256_and_si256(_mm256_blend_epi32(l, h, 0xF0), mask);
}

inline void storeBytes(uint8_t *p, uint64_t v, unsigned n) {
  switch (n) { // fixed-size copies compile to single moves
  case 1:
    std::memcpy(p, &v, 1);
    break;
  case 2:
    std::memcpy(p, &v, 2);
    break;
  case 4:
    std::memcpy(p, &v, 4);
    break;
  case 8:
    std::memcpy(p, &v, 8);
    break;
  default:
    std::memcpy(p, &v, n);
  }
}

inline uint64_t loadBytes(const uint8_t *p, unsigned n) {
  uint64_t v = 0;
  switch (n) {
  case 1:
    std::memcpy(&v, p, 1);
    break;
  case 2:
    std::memcpy(&v, p, 2);
    break;
  case 4:
    std::memcpy(&v, p, 4);
    break;
  case 8:
    std::memcpy(&v, p, 8);
    break;
  default:
    std::memcpy(&v, p, n);
  }
  return v;
}

/// Sign-bit mask (-1 lanes) of 8 coordinates from one sign byte.
QODA_AVX2 inline __m256i signLanes(unsigned byte) {
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_cmpeq_epi32(
      _mm256_and_si256(_mm256_set1_epi32(int(byte)), bit), bit);
}

QODA_AVX2 inline __m256 levelsOf(const LevelTable &lt, const VecTable &vt,
                                 __m256i q) {
  if (vt.small)
    return lookup16(vt.lev0, vt.lev1, q);
  return _mm256_i32gather_ps(lt.levels.data(), q, 4);
}

QODA_AVX2 float bucketNormAvx2(const float *x, uint64_t len,
                               const TypeSchedule &t, uint16_t *wire) {
  if (t.norm != Norm::L2)
    return bucketNormRef(x, len, t, wire); // max is order-free; rarely hot
  __m256d a = _mm256_setzero_pd(), b = _mm256_setzero_pd();
  uint64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    a = _mm256_add_pd(a, _mm256_mul_pd(lo, lo));
    b = _mm256_add_pd(b, _mm256_mul_pd(hi, hi));
  }
  alignas(32) double acc[8];
  _mm256_store_pd(acc, a);
  _mm256_store_pd(acc + 4, b);
  for (uint64_t k = 0; i < len; ++i, ++k)
    acc[k] += double(x[i]) * double(x[i]); // tail lanes, same order
  double s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) +
             ((acc[1] + acc[5]) + (acc[3] + acc[7]));
  double norm = std::sqrt(s);
  // Same rounding as the reference.
  float f = float(norm);
  if (double(f) < norm)
    f = std::nextafter(f, INFINITY);
  if (t.normPrecision == NormPrecision::Fp16) {
    *wire = floatToHalfRoundUp(f);
    return halfToFloat(*wire);
  }
  return f;
}

} // namespace

QODA_AVX2 void encodeSegmentAvx2(const LevelTable &lt, const SegmentEncode &e) {
  const TypeSchedule &t = lt.type;
  const unsigned ib = lt.indexBits;
  const VecTable vt = makeVecTable(lt);
  SegmentSizes sz = segmentSizes(e.r.len, t);
  uint8_t *norms = e.out, *idx = e.out + sz.normBytes,
          *sign = idx + sz.indexBytes;
  alignas(32) uint32_t words[kChunk];
  for (uint64_t b0 = e.r.begin; b0 < e.r.end; b0 += t.bucketSize) {
    uint64_t b1 = std::min<uint64_t>(b0 + t.bucketSize, e.r.len);
    uint16_t half = 0;
    float norm = bucketNormAvx2(e.v + b0, b1 - b0, t, &half);
    if (t.normPrecision == NormPrecision::Fp16)
      std::memcpy(norms + 2 * (b0 / t.bucketSize), &half, 2);
    else
      std::memcpy(norms + 4 * (b0 / t.bucketSize), &norm, 4);
    __m256 inv = _mm256_set1_ps(norm > 0.0f ? 1.0f / norm : 0.0f);
    for (uint64_t c0 = b0; c0 < b1; c0 += kChunk) {
      uint64_t c1 = std::min(c0 + kChunk, b1);
      randomWords(e.key, e.r.coord0 + c0, c1 - c0, words);
      uint64_t i = c0;
      for (; i + 8 <= c1; i += 8) {
        __m256 x = _mm256_loadu_ps(e.v + i);
        __m256i w = _mm256_loadu_si256(
            reinterpret_cast<const __m256i *>(words + (i - c0)));
        __m256i q = quantize8(lt, vt, x, inv, w);
        storeBytes(idx + i / 8 * ib, pack8(q, ib), ib);
        __m256 zero = _mm256_castsi256_ps(
            _mm256_cmpeq_epi32(q, _mm256_setzero_si256()));
        sign[i / 8] = uint8_t(_mm256_movemask_ps(_mm256_andnot_ps(zero, x)));
      }
      if (i < c1) { // segment tail: zero lanes give index 0, sign 0
        unsigned n = unsigned(c1 - i);
        alignas(32) float tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        alignas(32) uint32_t wt[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        std::memcpy(tmp, e.v + i, n * 4);
        std::memcpy(wt, words + (i - c0), n * 4);
        __m256 x = _mm256_load_ps(tmp);
        __m256i q = quantize8(lt, vt, x, inv,
                              _mm256_load_si256(
                                  reinterpret_cast<const __m256i *>(wt)));
        storeBytes(idx + i / 8 * ib, pack8(q, ib), (n * ib + 7) / 8);
        __m256 zero = _mm256_castsi256_ps(
            _mm256_cmpeq_epi32(q, _mm256_setzero_si256()));
        sign[i / 8] = uint8_t(_mm256_movemask_ps(_mm256_andnot_ps(zero, x)));
      }
    }
  }
}

QODA_AVX2 std::string validateSegmentAvx2(const LevelTable &lt,
                                          const uint8_t *seg,
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
  const __m256i maxIdx = _mm256_set1_epi32(int(lt.numLevels() - 1));
  const bool allValid = (size_t(1) << ib) == lt.numLevels();
  __m256i bad = _mm256_setzero_si256();
  uint64_t i = r.begin, full = r.begin + (r.end - r.begin) / 8 * 8;
  for (; i < full; i += 8) {
    __m256i q = unpack8(loadBytes(idx + i / 8 * ib, ib), ib);
    if (!allValid)
      bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(q, maxIdx));
    __m256i zero = _mm256_cmpeq_epi32(q, _mm256_setzero_si256());
    bad = _mm256_or_si256(bad, _mm256_and_si256(zero, signLanes(sign[i / 8])));
  }
  if (!_mm256_testz_si256(bad, bad))
    return validateSegmentRef(lt, seg, r); // it words the error
  if (i < r.end || r.end == r.len) // tail and padding: the reference
    return validateSegmentRef(lt, seg, {r.len, r.coord0, i, r.end});
  return "";
}

QODA_AVX2 void accumulateSegmentAvx2(const LevelTable &lt, const uint8_t *seg,
                                     const SegmentRange &r, float weight,
                                     float *sum) {
  const TypeSchedule &t = lt.type;
  const unsigned ib = lt.indexBits;
  const VecTable vt = makeVecTable(lt);
  SegmentSizes sz = segmentSizes(r.len, t);
  const uint8_t *idx = seg + sz.normBytes, *sign = idx + sz.indexBytes;
  const __m256 signBit = _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN));
  for (uint64_t b0 = r.begin; b0 < r.end; b0 += t.bucketSize) {
    uint64_t b1 = std::min<uint64_t>(b0 + t.bucketSize, r.len);
    __m256 scale = _mm256_set1_ps(
        weight * readNorm(seg, b0 / t.bucketSize, t.normPrecision));
    uint64_t i = b0;
    for (; i + 8 <= b1; i += 8) {
      __m256i q = unpack8(loadBytes(idx + i / 8 * ib, ib), ib);
      __m256 x = _mm256_mul_ps(scale, levelsOf(lt, vt, q));
      __m256 neg = _mm256_and_ps(_mm256_castsi256_ps(signLanes(sign[i / 8])),
                                 signBit);
      x = _mm256_xor_ps(x, neg);
      _mm256_storeu_ps(sum + i, _mm256_add_ps(_mm256_loadu_ps(sum + i), x));
    }
    if (i < b1) {
      unsigned n = unsigned(b1 - i);
      __m256i q = unpack8(loadBytes(idx + i / 8 * ib, (n * ib + 7) / 8), ib);
      alignas(32) float x[8];
      _mm256_store_ps(x, _mm256_xor_ps(
                             _mm256_mul_ps(scale, levelsOf(lt, vt, q)),
                             _mm256_and_ps(_mm256_castsi256_ps(
                                               signLanes(sign[i / 8])),
                                           signBit)));
      for (unsigned k = 0; k < n; ++k)
        sum[i + k] += x[k];
    }
  }
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
