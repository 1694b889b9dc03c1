// AVX2 kernels of the level quantizer, byte-identical to LevelKernelRef.cpp
// (tested). Eight coordinates per step:
//  - Philox4x32-10 for 8 counters at once (32 random words) in structure-of-
//    arrays form (see philoxGroups), then a 4x8 transpose so word k belongs to
//    coordinate k as in the reference;
//  - the interval search is a branch-free binary search over 16 candidates
//    held in registers (permutes), exact for <= 16 levels and finished with
//    gathers for more; l_j and 1/(l_{j+1}-l_j) come from in-register
//    permutes (<= 16 levels) or gathers;
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

/// Coordinates whose random words are generated at once (a multiple of 8;
/// the staging buffer of randomWords holds them plus alignment slack).
constexpr uint64_t kChunk = 512;

/// Philox4x32-10 of 8 G consecutive blocks starting at `block`; writes the
/// 32 G words in coordinate order (block-major) to out. Each 32-bit counter
/// word is kept as two vectors of 64-bit lanes, E (blocks 0, 2, 4, 6) and O
/// (blocks 1, 3, 5, 7), whose low 32 bits hold the word: _mm256_mul_epu32
/// multiplies exactly those, the high product half is one shift away, and
/// the low half is the product itself (upper bits are ignored garbage).
/// E and O are independent chains, which doubles the parallelism.
template <int G>
QODA_AVX2 inline void philoxGroups(const EncodeKey &key, uint64_t block,
                                   uint32_t *out) {
  // Counters block + k (k = 0..7) as 64-bit values split into 32-bit words;
  // the carry into the high word is lo < low32(block) (unsigned).
  const __m256i k07 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i flip = _mm256_set1_epi32(INT32_MIN);
  __m256i e[G][4], o[G][4];
  for (int g = 0; g < G; ++g) {
    uint64_t b = block + 8 * uint64_t(g);
    __m256i base = _mm256_set1_epi32(int(uint32_t(b)));
    __m256i c0 = _mm256_add_epi32(base, k07);
    __m256i carry = _mm256_cmpgt_epi32(_mm256_xor_si256(base, flip),
                                       _mm256_xor_si256(c0, flip));
    __m256i c1 =
        _mm256_sub_epi32(_mm256_set1_epi32(int(uint32_t(b >> 32))), carry);
    e[g][0] = c0;
    o[g][0] = _mm256_srli_epi64(c0, 32);
    e[g][1] = c1;
    o[g][1] = _mm256_srli_epi64(c1, 32);
    e[g][2] = o[g][2] = _mm256_set1_epi32(int(uint32_t(key.step)));
    e[g][3] = o[g][3] = _mm256_set1_epi32(int(key.rank));
  }
  const __m256i m0 = _mm256_set1_epi32(int(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(int(0xCD9E8D57u));
  uint32_t k0 = uint32_t(key.seed), k1 = uint32_t(key.seed >> 32);
  for (int round = 0; round < 10; ++round) {
    __m256i kk0 = _mm256_set1_epi32(int(k0)), kk1 = _mm256_set1_epi32(int(k1));
    for (int g = 0; g < G; ++g) {
      __m256i pe0 = _mm256_mul_epu32(e[g][0], m0);
      __m256i po0 = _mm256_mul_epu32(o[g][0], m0);
      __m256i pe1 = _mm256_mul_epu32(e[g][2], m1);
      __m256i po1 = _mm256_mul_epu32(o[g][2], m1);
      e[g][0] = _mm256_xor_si256(_mm256_srli_epi64(pe1, 32),
                                 _mm256_xor_si256(e[g][1], kk0));
      o[g][0] = _mm256_xor_si256(_mm256_srli_epi64(po1, 32),
                                 _mm256_xor_si256(o[g][1], kk0));
      e[g][2] = _mm256_xor_si256(_mm256_srli_epi64(pe0, 32),
                                 _mm256_xor_si256(e[g][3], kk1));
      o[g][2] = _mm256_xor_si256(_mm256_srli_epi64(po0, 32),
                                 _mm256_xor_si256(o[g][3], kk1));
      e[g][1] = pe1;
      o[g][1] = po1;
      e[g][3] = pe0;
      o[g][3] = po0;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  for (int g = 0; g < G; ++g) {
    // Back to 32-bit lanes (even lanes from E, odd from O), then transpose.
    __m256i c[4];
    for (int w = 0; w < 4; ++w)
      c[w] = _mm256_blend_epi32(e[g][w], _mm256_slli_epi64(o[g][w], 32), 0xAA);
    __m256i t0 = _mm256_unpacklo_epi32(c[0], c[1]);
    __m256i t1 = _mm256_unpackhi_epi32(c[0], c[1]);
    __m256i t2 = _mm256_unpacklo_epi32(c[2], c[3]);
    __m256i t3 = _mm256_unpackhi_epi32(c[2], c[3]);
    __m256i u0 = _mm256_unpacklo_epi64(t0, t2),
            u1 = _mm256_unpackhi_epi64(t0, t2);
    __m256i u2 = _mm256_unpacklo_epi64(t1, t3),
            u3 = _mm256_unpackhi_epi64(t1, t3);
    auto *dst = reinterpret_cast<__m256i *>(out + 32 * g);
    _mm256_storeu_si256(dst + 0, _mm256_permute2x128_si256(u0, u1, 0x20));
    _mm256_storeu_si256(dst + 1, _mm256_permute2x128_si256(u2, u3, 0x20));
    _mm256_storeu_si256(dst + 2, _mm256_permute2x128_si256(u0, u1, 0x31));
    _mm256_storeu_si256(dst + 3, _mm256_permute2x128_si256(u2, u3, 0x31));
  }
}

/// Random words for global coordinates [c, c + n), n <= kChunk.
QODA_AVX2 void randomWords(const EncodeKey &key, uint64_t c, uint64_t n,
                           uint32_t *w) {
  alignas(32) uint32_t buf[kChunk + 64];
  uint64_t first = c >> 2, last = (c + n + 3) >> 2; // blocks [first, last)
  uint64_t b = first;
  for (; b + 16 <= last; b += 16) // two independent groups in flight
    philoxGroups<2>(key, b, buf + 4 * (b - first));
  for (; b < last; b += 8)
    philoxGroups<1>(key, b, buf + 4 * (b - first));
  std::memcpy(w, buf + (c & 3), n * 4);
}

/// Per-type vector constants.
struct VecTable {
  bool small; ///< <= 16 levels: search and lookups in registers
  __m256 lev0, lev1, inv0, inv1;
  /// Binary search over 16 candidates c_k = search[k << coarseShift]: c_8,
  /// then {c_4, c_12}, {c_2, c_6, c_10, c_14} and {c_1, c_3, ..., c_15},
  /// indexed by k >> 3, k >> 2 and k >> 1 of the partial result k. With
  /// <= 16 levels coarseShift = 0 and this is the whole search; otherwise
  /// it narrows the range to 2^coarseShift entries searched with gathers.
  __m256 s8, s4, s2, s1;
  unsigned coarseShift;
};

QODA_AVX2 VecTable makeVecTable(const LevelTable &lt) {
  VecTable t;
  t.small = lt.numLevels() <= 16;
  t.lev0 = _mm256_loadu_ps(lt.levels16.data());
  t.lev1 = _mm256_loadu_ps(lt.levels16.data() + 8);
  t.inv0 = _mm256_loadu_ps(lt.invWidth16.data());
  t.inv1 = _mm256_loadu_ps(lt.invWidth16.data() + 8);
  t.coarseShift = 0;
  while ((16u << t.coarseShift) < lt.searchSize)
    ++t.coarseShift;
  {
    float s[16];
    for (unsigned k = 0; k < 16; ++k) {
      size_t at = size_t(k) << t.coarseShift;
      s[k] = at < lt.search.size() ? lt.search[at] : INFINITY;
    }
    t.s8 = _mm256_set1_ps(s[8]);
    t.s4 = _mm256_setr_ps(s[4], s[12], 0, 0, 0, 0, 0, 0);
    t.s2 = _mm256_setr_ps(s[2], s[6], s[10], s[14], 0, 0, 0, 0);
    t.s1 = _mm256_setr_ps(s[1], s[3], s[5], s[7], s[9], s[11], s[13], s[15]);
  }
  return t;
}

QODA_AVX2 inline __m256 lookup16(__m256 lo, __m256 hi, __m256i j) {
  __m256 a = _mm256_permutevar8x32_ps(lo, j);
  __m256 b = _mm256_permutevar8x32_ps(hi, j);
  __m256 sel = _mm256_castsi256_ps(_mm256_cmpgt_epi32(j, _mm256_set1_epi32(7)));
  return _mm256_blendv_ps(a, b, sel);
}

/// One binary-search step: j += step where candidate c (from `cands`
/// indexed by j >> shift) is <= u.
QODA_AVX2 inline __m256i searchStep(__m256i j, __m256 u, __m256 cands,
                                    int shift, int step) {
  __m256 c = _mm256_permutevar8x32_ps(cands, _mm256_srli_epi32(j, shift));
  __m256i le = _mm256_castps_si256(_mm256_cmp_ps(c, u, _CMP_LE_OQ));
  return _mm256_add_epi32(j, _mm256_and_si256(le, _mm256_set1_epi32(step)));
}

/// Quantized indices of 8 coordinates.
QODA_AVX2 inline __m256i quantize8(const LevelTable &lt, const VecTable &vt,
                                   __m256 x, __m256 inv, __m256i words) {
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 u = _mm256_min_ps(_mm256_mul_ps(_mm256_and_ps(x, absMask), inv),
                           _mm256_set1_ps(1.0f));
  // k = max{k < 16 : c_k <= u}: four steps of 8, 4, 2, 1.
  __m256i j =
      _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(vt.s8, u, _CMP_LE_OQ)),
                       _mm256_set1_epi32(8));
  j = searchStep(j, u, vt.s4, 3, 4);
  j = searchStep(j, u, vt.s2, 2, 2);
  j = searchStep(j, u, vt.s1, 1, 1);
  __m256 lj, wj;
  if (vt.small) {
    lj = lookup16(vt.lev0, vt.lev1, j);
    wj = lookup16(vt.inv0, vt.inv1, j);
  } else {
    // The answer lies in [k << shift, (k + 1) << shift): finish with gathers.
    j = _mm256_slli_epi32(j, int(vt.coarseShift));
    for (unsigned step = (1u << vt.coarseShift) / 2; step >= 1; step /= 2) {
      __m256i cand = _mm256_add_epi32(j, _mm256_set1_epi32(int(step)));
      __m256 lc = _mm256_i32gather_ps(lt.search.data(), cand, 4);
      __m256 le = _mm256_cmp_ps(lc, u, _CMP_LE_OQ);
      j = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(j),
                                               _mm256_castsi256_ps(cand), le));
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
    __m128i h =
        _mm_or_si128(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
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
  __m128i h =
      _mm_or_si128(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
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

/// Loads n <= 8 bytes as a little-endian integer. Each case loads with one
/// move of its own width (a narrow store followed by a wide load would stall
/// store-to-load forwarding).
inline uint64_t loadBytes(const uint8_t *p, unsigned n) {
  switch (n) {
  case 1:
    return *p;
  case 2: {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
  }
  case 4: {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case 8: {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  default: {
    uint64_t v = 0;
    for (unsigned k = 0; k < n; ++k)
      v |= uint64_t(p[k]) << (8 * k);
    return v;
  }
  }
}

/// Sign-bit mask (-1 lanes) of 8 coordinates from one sign byte.
QODA_AVX2 inline __m256i signLanes(unsigned byte) {
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(int(byte)), bit),
                            bit);
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
        __m256 zero =
            _mm256_castsi256_ps(_mm256_cmpeq_epi32(q, _mm256_setzero_si256()));
        sign[i / 8] = uint8_t(_mm256_movemask_ps(_mm256_andnot_ps(zero, x)));
      }
      if (i < c1) { // segment tail: zero lanes give index 0, sign 0
        unsigned n = unsigned(c1 - i);
        alignas(32) float tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        alignas(32) uint32_t wt[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        std::memcpy(tmp, e.v + i, n * 4);
        std::memcpy(wt, words + (i - c0), n * 4);
        __m256 x = _mm256_load_ps(tmp);
        __m256i q =
            quantize8(lt, vt, x, inv,
                      _mm256_load_si256(reinterpret_cast<const __m256i *>(wt)));
        storeBytes(idx + i / 8 * ib, pack8(q, ib), (n * ib + 7) / 8);
        __m256 zero =
            _mm256_castsi256_ps(_mm256_cmpeq_epi32(q, _mm256_setzero_si256()));
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
  if (i < r.end || r.end == r.len)         // tail and padding: the reference
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
      __m256 neg =
          _mm256_and_ps(_mm256_castsi256_ps(signLanes(sign[i / 8])), signBit);
      x = _mm256_xor_ps(x, neg);
      _mm256_storeu_ps(sum + i, _mm256_add_ps(_mm256_loadu_ps(sum + i), x));
    }
    if (i < b1) {
      unsigned n = unsigned(b1 - i);
      __m256i q = unpack8(loadBytes(idx + i / 8 * ib, (n * ib + 7) / 8), ib);
      alignas(32) float x[8];
      _mm256_store_ps(
          x, _mm256_xor_ps(
                 _mm256_mul_ps(scale, levelsOf(lt, vt, q)),
                 _mm256_and_ps(_mm256_castsi256_ps(signLanes(sign[i / 8])),
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
