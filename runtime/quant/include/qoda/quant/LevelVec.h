// The vector cores of the stochastic level quantizer (METHOD 3): encode
// (norm, Philox, quantize, pack) and decode (validate, accumulate) of one
// segment, byte-identical to the scalar reference (runtime/quant/
// LevelKernelRef.cpp, docs/quant.md "Bit-exact definition"). One
// implementation, included by the quantization library (LevelKernelAvx2.cpp,
// LevelKernelAvx512.cpp) and by generated model libraries
// (qoda/kernels/CpuKernels.h), which instantiate it with their compile-time
// index width and level count.
//
// Eight coordinates per vector:
//  - Philox4x32-10 for 8 counters at once (32 random words = 64 half-words,
//    one per coordinate) in structure-of-arrays form (philoxGroups), then a
//    4x8 transpose so that the half-words lie in coordinate order;
//  - uniform levels (qsgd): the interval and fraction come from t = u * s
//    (truncation, min, subtraction), no search and no table;
//  - other levels: counting compares against the interior levels (3-8
//    levels), or a branch-free binary search over 16 candidates held in
//    registers (permutes), exact for <= 16 levels and finished with gathers
//    for more; l_j and 1/(l_{j+1}-l_j) come from in-register permutes
//    (<= 16 levels) or gathers;
//  - 1, 2, 3, 4 and 8-bit indices: 32 coordinates are narrowed to 32 bytes
//    with saturating packs and combined with multiply-adds (maddubs/madd;
//    3 bits also a shift-or and a byte shuffle), the 32 sign bits come from
//    the same packs of x and one byte compare; other widths pack 8 indices
//    with variable shifts and a horizontal OR.
//
// The file is included once per instruction set: plainly for AVX2
// (namespace levelvec::avx2), and again after defining
// QODA_LEVELVEC_AVX512VL for AVX-512VL (levelvec::avx512vl): the same 256-bit
// intrinsics, but the compiler may use 32 vector registers (Philox's 16
// state vectors no longer spill) and Philox's three-operand XORs become one
// vpternlogd. Integer ops and the same IEEE float ops (no contraction), so
// both builds give identical bytes. Every function carries its target
// attribute, so a translation unit built for baseline x86-64 can hold both
// builds and pick one at run time (cpuHasAvx2 / cpuHasAvx512vl); the
// namespaces keep the two builds' inline functions apart at link time.
// Compile with -ffp-contract=off (qoda_quant and qoda-compile do): the
// AVX-512VL target enables FMA, and a fused multiply-add would round once
// where the definition rounds twice.
#include "qoda/quant/LevelVecTypes.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__CUDACC__)

#if defined(QODA_LEVELVEC_AVX512VL) && !defined(QODA_LEVELVEC_HAVE_AVX512VL)
#define QODA_LEVELVEC_HAVE_AVX512VL
#define QODA_LV_BODY
#define QODA_LV_ISA avx512vl
#define QODA_LV_TERNLOG 1
#define QODA_LV_TARGET __attribute__((target("avx2,avx512f,avx512vl")))
#elif !defined(QODA_LEVELVEC_AVX512VL) && !defined(QODA_LEVELVEC_HAVE_AVX2)
#define QODA_LEVELVEC_HAVE_AVX2
#define QODA_LV_BODY
#define QODA_LV_ISA avx2
#define QODA_LV_TERNLOG 0
#define QODA_LV_TARGET __attribute__((target("avx2")))
#endif

#ifdef QODA_LV_BODY
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

// Small helpers must inline into their (templated) callers for the
// compile-time index width to fold.
#define QODA_LV_INLINE QODA_LV_TARGET inline __attribute__((always_inline))

namespace qoda::quant::levelvec::QODA_LV_ISA {

/// Coordinates whose random words are generated at once (a multiple of 8).
constexpr uint64_t kChunk = 512;
/// Words of randomHalves' buffer: the blocks of kChunk coordinates plus up
/// to 7 before the first (kChunk / 8 + 1 blocks), rounded up to whole groups
/// of 8 blocks, 4 words each.
constexpr uint64_t kRandomWords = (kChunk / 8 + 8) * 4;

/// a ^ b ^ c (one vpternlogd with AVX-512VL).
QODA_LV_INLINE __m256i xor3(__m256i a, __m256i b, __m256i c) {
#if QODA_LV_TERNLOG
  return _mm256_ternarylogic_epi32(a, b, c, 0x96);
#else
  return _mm256_xor_si256(a, _mm256_xor_si256(b, c));
#endif
}

/// Philox4x32-10 of 8 G consecutive blocks starting at `block`; writes the
/// 32 G words in coordinate order (block-major) to out. Each 32-bit counter
/// word is kept as two vectors of 64-bit lanes, E (blocks 0, 2, 4, 6) and O
/// (blocks 1, 3, 5, 7), whose low 32 bits hold the word: _mm256_mul_epu32
/// multiplies exactly those, the high product half is one shift away, and
/// the low half is the product itself (upper bits are ignored garbage).
/// E and O are independent chains, which doubles the parallelism.
template <int G>
QODA_LV_INLINE void philoxGroups(const Key &key, uint64_t block,
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
      e[g][0] = xor3(_mm256_srli_epi64(pe1, 32), e[g][1], kk0);
      o[g][0] = xor3(_mm256_srli_epi64(po1, 32), o[g][1], kk0);
      e[g][2] = xor3(_mm256_srli_epi64(pe0, 32), e[g][3], kk1);
      o[g][2] = xor3(_mm256_srli_epi64(po0, 32), o[g][3], kk1);
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

/// Philox words of blocks [first, first + count) into out[4 * i + w]:
/// 16 blocks per step (two independent groups in flight), then 8; returns
/// the blocks done (count rounded down to a multiple of 8).
QODA_LV_TARGET inline uint64_t philoxBlocks(const Key &key, uint64_t first,
                                            uint64_t count, uint32_t *out) {
  uint64_t b = 0;
  for (; b + 16 <= count; b += 16)
    philoxGroups<2>(key, first + b, out + 4 * b);
  for (; b + 8 <= count; b += 8)
    philoxGroups<1>(key, first + b, out + 4 * b);
  return b;
}

/// The 16-bit random numbers of global coordinates [c, c + n), n <= kChunk,
/// in coordinate order: blocks c/8 .. (c+n-1)/8 (rounded up to groups of 8)
/// are generated into buf (kRandomWords words) and the result starts at
/// half-word c % 8 of it (little-endian host: half-word k of a block's four
/// words is coordinate 8 * block + k).
QODA_LV_INLINE const uint16_t *randomHalves(const Key &key, uint64_t c,
                                            uint64_t n, uint32_t *buf) {
  uint64_t first = c >> 3, last = (c + n + 7) >> 3; // blocks [first, last)
  philoxBlocks(key, first, (last - first + 7) & ~uint64_t(7), buf);
  return reinterpret_cast<const uint16_t *>(buf) + (c & 7);
}

/// The generator alone, driven as encodeMode drives it: the random
/// half-words of coordinates [c, c + n) in kChunk pieces, consumed by
/// xor-folding them into one 16-bit value. qoda-bench quant times it
/// (philox_gbps): the part of the encoder no other choice removes.
QODA_LV_TARGET inline uint32_t philoxFold(const Key &key, uint64_t c,
                                          uint64_t n) {
  alignas(32) uint32_t buf[kRandomWords];
  __m256i acc = _mm256_setzero_si256();
  uint32_t tail = 0;
  for (uint64_t c0 = 0; c0 < n; c0 += kChunk) {
    uint64_t m = std::min(kChunk, n - c0);
    const uint16_t *h = randomHalves(key, c + c0, m, buf);
    uint64_t i = 0;
    for (; i + 16 <= m; i += 16)
      acc = _mm256_xor_si256(
          acc, _mm256_loadu_si256(reinterpret_cast<const __m256i *>(h + i)));
    for (; i < m; ++i)
      tail ^= h[i];
  }
  alignas(32) uint32_t w[8];
  _mm256_store_si256(reinterpret_cast<__m256i *>(w), acc);
  for (uint32_t x : w)
    tail ^= x;
  return (tail & 0xffffu) ^ (tail >> 16); // two half-words per word
}

/// Per-type vector constants.
struct VecTable {
  __m256 steps;         ///< s = L - 1 as float (uniform)
  __m256i lastInterval; ///< L - 2 (uniform)
  bool small;           ///< <= 16 levels: search and lookups in registers
  __m256 lev0, lev1, inv0, inv1;
  /// Binary search over 16 candidates c_k = search[k << coarseShift]: c_8,
  /// then {c_4, c_12}, {c_2, c_6, c_10, c_14} and {c_1, c_3, ..., c_15},
  /// indexed by k >> 3, k >> 2 and k >> 1 of the partial result k. With
  /// <= 16 levels coarseShift = 0 and this is the whole search; otherwise
  /// it narrows the range to 2^coarseShift entries searched with gathers.
  __m256 s8, s4, s2, s1;
  unsigned coarseShift;
  /// Interior levels l_1 .. l_{L-2} broadcast, for counting compares
  /// (non-uniform types of 3 to 8 levels, Mode::Count).
  __m256 interior[6];
};

QODA_LV_INLINE VecTable makeVecTable(const Levels &lv) {
  VecTable t;
  const uint32_t L = lv.numLevels;
  t.steps = _mm256_set1_ps(float(L - 1));
  t.lastInterval = _mm256_set1_epi32(int(L - 2));
  t.small = L <= 16;
  for (uint32_t m = 0; m < 6; ++m)
    t.interior[m] = _mm256_set1_ps(m + 2 < L ? lv.levels[m + 1] : INFINITY);
  t.lev0 = _mm256_loadu_ps(lv.levels);
  t.lev1 = _mm256_loadu_ps(lv.levels + 8);
  t.inv0 = _mm256_loadu_ps(lv.invWidth);
  t.inv1 = _mm256_loadu_ps(lv.invWidth + 8);
  t.coarseShift = 0;
  while ((16u << t.coarseShift) < lv.searchSize)
    ++t.coarseShift;
  float s[16];
  for (unsigned k = 0; k < 16; ++k) {
    uint32_t at = k << t.coarseShift;
    s[k] = at < lv.searchSize ? lv.search[at] : INFINITY;
  }
  t.s8 = _mm256_set1_ps(s[8]);
  t.s4 = _mm256_setr_ps(s[4], s[12], 0, 0, 0, 0, 0, 0);
  t.s2 = _mm256_setr_ps(s[2], s[6], s[10], s[14], 0, 0, 0, 0);
  t.s1 = _mm256_setr_ps(s[1], s[3], s[5], s[7], s[9], s[11], s[13], s[15]);
  return t;
}

QODA_LV_INLINE __m256 lookup16(__m256 lo, __m256 hi, __m256i j) {
  __m256 a = _mm256_permutevar8x32_ps(lo, j);
  __m256 b = _mm256_permutevar8x32_ps(hi, j);
  __m256 sel = _mm256_castsi256_ps(_mm256_cmpgt_epi32(j, _mm256_set1_epi32(7)));
  return _mm256_blendv_ps(a, b, sel);
}

/// One binary-search step: j += step where candidate c (from `cands`
/// indexed by j >> shift) is <= u.
QODA_LV_INLINE __m256i searchStep(__m256i j, __m256 u, __m256 cands, int shift,
                                  int step) {
  __m256 c = _mm256_permutevar8x32_ps(cands, _mm256_srli_epi32(j, shift));
  __m256i le = _mm256_castps_si256(_mm256_cmp_ps(c, u, _CMP_LE_OQ));
  return _mm256_add_epi32(j, _mm256_and_si256(le, _mm256_set1_epi32(step)));
}

/// How a type finds the interval of u: t = u * s (uniform levels), counting
/// the NC = L - 2 interior levels <= u (3 to 8 levels), a binary search in
/// registers (<= 16 levels) or finished with gathers.
enum class Mode { Uniform, Count, Small, Large };

/// The 8 uniform numbers r = h * 2^-16 of 8 coordinates (exact).
QODA_LV_INLINE __m256 uniform8(const uint16_t *h) {
  __m256i w = _mm256_cvtepu16_epi32(
      _mm_loadu_si128(reinterpret_cast<const __m128i *>(h)));
  return _mm256_mul_ps(_mm256_cvtepi32_ps(w), _mm256_set1_ps(1.0f / 65536.0f));
}

/// Quantized indices of 8 coordinates (r: their uniform numbers).
template <Mode M, int NC>
QODA_LV_INLINE __m256i quantize8(const Levels &lv, const VecTable &vt, __m256 x,
                                 __m256 inv, __m256 r) {
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  // min returns its second operand for a NaN product: u = 1, as specified.
  __m256 u = _mm256_min_ps(_mm256_mul_ps(_mm256_and_ps(x, absMask), inv),
                           _mm256_set1_ps(1.0f));
  __m256i j;
  __m256 p;
  if constexpr (M == Mode::Uniform) {
    // t = u * s; j = min(trunc(t), s - 1); p = t - j (exact).
    __m256 t = _mm256_mul_ps(u, vt.steps);
    j = _mm256_min_epi32(_mm256_cvttps_epi32(t), vt.lastInterval);
    p = _mm256_sub_ps(t, _mm256_cvtepi32_ps(j));
  } else if constexpr (M == Mode::Count) {
    // j = #{m in 1..L-2 : l_m <= u} = max{k <= L-2 : l_k <= u} (l_0 = 0 <=
    // u, levels increasing); j <= 6, so one permute looks up l_j and w_j.
    j = _mm256_setzero_si256();
    for (int m = 0; m < NC; ++m)
      j = _mm256_sub_epi32(
          j, _mm256_castps_si256(_mm256_cmp_ps(vt.interior[m], u, _CMP_LE_OQ)));
    __m256 lj = _mm256_permutevar8x32_ps(vt.lev0, j);
    __m256 wj = _mm256_permutevar8x32_ps(vt.inv0, j);
    p = _mm256_mul_ps(_mm256_sub_ps(u, lj), wj);
  } else {
    // k = max{k < 16 : c_k <= u}: four steps of 8, 4, 2, 1.
    j = _mm256_and_si256(
        _mm256_castps_si256(_mm256_cmp_ps(vt.s8, u, _CMP_LE_OQ)),
        _mm256_set1_epi32(8));
    j = searchStep(j, u, vt.s4, 3, 4);
    j = searchStep(j, u, vt.s2, 2, 2);
    j = searchStep(j, u, vt.s1, 1, 1);
    __m256 lj, wj;
    if constexpr (M == Mode::Small) {
      lj = lookup16(vt.lev0, vt.lev1, j);
      wj = lookup16(vt.inv0, vt.inv1, j);
    } else {
      // The answer lies in [k << shift, (k + 1) << shift): finish with
      // gathers.
      j = _mm256_slli_epi32(j, int(vt.coarseShift));
      for (unsigned step = (1u << vt.coarseShift) / 2; step >= 1; step /= 2) {
        __m256i cand = _mm256_add_epi32(j, _mm256_set1_epi32(int(step)));
        __m256 lc = _mm256_i32gather_ps(lv.search, cand, 4);
        __m256 le = _mm256_cmp_ps(lc, u, _CMP_LE_OQ);
        j = _mm256_castps_si256(_mm256_blendv_ps(
            _mm256_castsi256_ps(j), _mm256_castsi256_ps(cand), le));
      }
      lj = _mm256_i32gather_ps(lv.levels, j, 4);
      wj = _mm256_i32gather_ps(lv.invWidth, j, 4);
    }
    p = _mm256_mul_ps(_mm256_sub_ps(u, lj), wj);
  }
  __m256 up = _mm256_cmp_ps(r, p, _CMP_LT_OQ);
  return _mm256_sub_epi32(j, _mm256_castps_si256(up));
}

/// 32 values of 32-bit lanes (each in [0, 255], or any int32 when only the
/// sign matters) narrowed to 32 bytes in order: saturating packs keep both
/// the small values and the signs; the packs work within 128-bit halves, so
/// a final dword permute restores the order.
template <bool Signed>
QODA_LV_INLINE __m256i narrow32(__m256i a, __m256i b, __m256i c, __m256i d) {
  __m256i ab = Signed ? _mm256_packs_epi32(a, b) : _mm256_packus_epi32(a, b);
  __m256i cd = Signed ? _mm256_packs_epi32(c, d) : _mm256_packus_epi32(c, d);
  __m256i r = Signed ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd);
  return _mm256_permutevar8x32_epi32(r,
                                     _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/// Index widths packed 32 coordinates at a time by pack32.
template <unsigned IB>
constexpr bool kPack32 = IB == 1 || IB == 2 || IB == 3 || IB == 4 || IB == 8;

/// Writes 32 indices (bytes in order, IB in {1, 2, 3, 4, 8}) as 4 IB bytes.
template <unsigned IB> QODA_LV_INLINE void pack32(__m256i q, uint8_t *out) {
  if constexpr (IB == 8) {
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(out), q);
  } else if constexpr (IB == 4) {
    // Byte pairs -> a + 16 b in 16-bit lanes, then narrow to bytes.
    __m256i m = _mm256_maddubs_epi16(q, _mm256_set1_epi16(0x1001));
    m = _mm256_packus_epi16(m, m); // 8 bytes per 128-bit half, twice
    m = _mm256_permute4x64_epi64(m, 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i *>(out),
                     _mm256_castsi256_si128(m));
  } else if constexpr (IB == 2) {
    // a + 4 b (16-bit), then (a + 4 b) + 16 (c + 4 d) (32-bit): one byte
    // value per dword, in order.
    __m256i m = _mm256_maddubs_epi16(q, _mm256_set1_epi16(0x0401));
    m = _mm256_madd_epi16(m, _mm256_set1_epi32(0x00100001));
    m = _mm256_packus_epi32(m, m);
    m = _mm256_packus_epi16(m, m); // 4 bytes per 128-bit half, repeated
    uint64_t v =
        uint32_t(_mm256_cvtsi256_si32(m)) |
        uint64_t(uint32_t(_mm_cvtsi128_si32(_mm256_extracti128_si256(m, 1))))
            << 32;
    std::memcpy(out, &v, 8);
  } else if constexpr (IB == 3) {
    // a + 8 b (16-bit), then 4 codes per dword (12 bits), then 8 codes per
    // qword: low dword | high dword << 12 (24 bits = 3 bytes per qword).
    __m256i m = _mm256_maddubs_epi16(q, _mm256_set1_epi16(0x0801));
    m = _mm256_madd_epi16(m, _mm256_set1_epi32(0x00400001));
    m = _mm256_or_si256(_mm256_blend_epi32(m, _mm256_setzero_si256(), 0xAA),
                        _mm256_srli_epi64(m, 20));
    // Bytes 0-2 and 8-10 of each 128-bit half: 6 bytes = 16 codes.
    m = _mm256_shuffle_epi8(m, _mm256_setr_epi8(0, 1, 2, 8, 9, 10, -1, -1, -1,
                                                -1, -1, -1, -1, -1, -1, -1, 0,
                                                1, 2, 8, 9, 10, -1, -1, -1, -1,
                                                -1, -1, -1, -1, -1, -1));
    uint64_t lo = uint64_t(_mm256_extract_epi64(m, 0));
    uint64_t hi = uint64_t(_mm256_extract_epi64(m, 2));
    uint64_t first = lo | hi << 48;     // bytes 0-7 of the 12
    uint32_t last = uint32_t(hi >> 16); // bytes 8-11
    std::memcpy(out, &first, 8);
    std::memcpy(out + 8, &last, 4);
  } else { // 1 bit: bit 0 of each byte to its top, then movemask
    static_assert(IB == 1, "pack32: IB in {1, 2, 3, 4, 8}");
    uint32_t v = uint32_t(_mm256_movemask_epi8(_mm256_slli_epi16(q, 7)));
    std::memcpy(out, &v, 4);
  }
}

/// Packs 8 indices of IB bits into the low 8 IB bits (LSB first).
template <unsigned IB> QODA_LV_INLINE uint64_t pack8(__m256i q) {
  if constexpr (IB <= 4) {
    __m256i s =
        _mm256_sllv_epi32(q, _mm256_setr_epi32(0, IB, 2 * IB, 3 * IB, 4 * IB,
                                               5 * IB, 6 * IB, 7 * IB));
    __m128i h =
        _mm_or_si128(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    h = _mm_or_si128(h, _mm_shuffle_epi32(h, 0x4E));
    h = _mm_or_si128(h, _mm_shuffle_epi32(h, 0xB1));
    return uint32_t(_mm_cvtsi128_si32(h));
  } else { // wider indices: 64-bit lanes
    __m256i lo = _mm256_cvtepu32_epi64(_mm256_castsi256_si128(q));
    __m256i hi = _mm256_cvtepu32_epi64(_mm256_extracti128_si256(q, 1));
    __m256i shLo = _mm256_setr_epi64x(0, IB, 2 * IB, 3 * IB);
    __m256i shHi = _mm256_setr_epi64x(4 * IB, 5 * IB, 6 * IB, 7 * IB);
    __m256i s = _mm256_or_si256(_mm256_sllv_epi64(lo, shLo),
                                _mm256_sllv_epi64(hi, shHi));
    __m128i h =
        _mm_or_si128(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    h = _mm_or_si128(h, _mm_unpackhi_epi64(h, h));
    return uint64_t(_mm_cvtsi128_si64(h));
  }
}

/// Unpacks 8 indices of IB bits.
template <unsigned IB> QODA_LV_INLINE __m256i unpack8(uint64_t bits) {
  const __m256i mask = _mm256_set1_epi32(int((1u << IB) - 1));
  if constexpr (IB <= 4) {
    __m256i sh = _mm256_setr_epi32(0, IB, 2 * IB, 3 * IB, 4 * IB, 5 * IB,
                                   6 * IB, 7 * IB);
    return _mm256_and_si256(
        _mm256_srlv_epi32(_mm256_set1_epi32(int(uint32_t(bits))), sh), mask);
  } else {
    __m256i b = _mm256_set1_epi64x(int64_t(bits));
    __m256i lo =
        _mm256_srlv_epi64(b, _mm256_setr_epi64x(0, IB, 2 * IB, 3 * IB));
    __m256i hi = _mm256_srlv_epi64(
        b, _mm256_setr_epi64x(4 * IB, 5 * IB, 6 * IB, 7 * IB));
    // Low 32 bits of each 64-bit lane, in order.
    __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    __m256i l = _mm256_permutevar8x32_epi32(lo, idx);
    __m256i h = _mm256_permutevar8x32_epi32(hi, idx);
    return _mm256_and_si256(_mm256_blend_epi32(l, h, 0xF0), mask);
  }
}

/// Stores the low n <= 8 bytes of v (little-endian); whole-width moves for
/// the common sizes.
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
/// move of its own width; other sizes are assembled in a register (a narrow
/// store followed by a wide load would stall store-to-load forwarding).
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

/// The bucket norm as transmitted (docs/quant.md): L2 = sqrt of the sum of
/// squares in double with 8 lane accumulators (lane k takes positions
/// p % 8 == k), added as ((0+4)+(2+6))+((1+5)+(3+7)), rounded up to fp32;
/// Linf = max |x| (NaN never wins); fp16 norms rounded up once more, *wire
/// gets their bits.
QODA_LV_TARGET inline float bucketNorm(const float *x, uint64_t len, bool l2,
                                       bool fp16, uint16_t *wire) {
  double norm;
  if (l2) {
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
    norm = std::sqrt(s);
  } else {
    float m = 0.0f; // max is order-free; rarely hot
    for (uint64_t i = 0; i < len; ++i)
      m = std::fabs(x[i]) > m ? std::fabs(x[i]) : m;
    norm = m;
  }
  return transmittedNorm(norm, fp16, wire);
}

/// Indices and sign bits of 8 coordinates at i; nbytes index bytes stored.
template <Mode M, int NC, unsigned IB>
QODA_LV_INLINE void encode8(const Levels &lv, const VecTable &vt, __m256 x,
                            __m256 inv, __m256 r, uint8_t *idx, uint8_t *sign,
                            uint64_t i, unsigned nbytes) {
  __m256i q = quantize8<M, NC>(lv, vt, x, inv, r);
  storeBytes(idx + i / 8 * IB, pack8<IB>(q), nbytes);
  __m256 zero =
      _mm256_castsi256_ps(_mm256_cmpeq_epi32(q, _mm256_setzero_si256()));
  sign[i / 8] = uint8_t(_mm256_movemask_ps(_mm256_andnot_ps(zero, x)));
}

/// Encodes coordinates [c0, c1) of a bucket (c0 a multiple of 8) whose
/// random half-words start at h, into the index and sign planes.
template <Mode M, int NC, unsigned IB>
QODA_LV_INLINE void encodeRun(const Levels &lv, const VecTable &vt,
                              const float *x, uint64_t c0, uint64_t c1,
                              __m256 inv, const uint16_t *h, uint8_t *idx,
                              uint8_t *sign) {
  uint64_t i = c0;
  if constexpr (kPack32<IB>) // 32 coordinates: 4 IB index bytes, 4 sign bytes
    for (; i + 32 <= c1; i += 32) {
      __m256 xv[4];
      __m256i q[4];
      for (int k = 0; k < 4; ++k) {
        xv[k] = _mm256_loadu_ps(x + i + 8 * k);
        q[k] = quantize8<M, NC>(lv, vt, xv[k], inv,
                                uniform8(h + (i - c0) + 8 * k));
      }
      __m256i qb = narrow32<false>(q[0], q[1], q[2], q[3]);
      pack32<IB>(qb, idx + i / 8 * IB);
      __m256i xs = narrow32<true>(
          _mm256_castps_si256(xv[0]), _mm256_castps_si256(xv[1]),
          _mm256_castps_si256(xv[2]), _mm256_castps_si256(xv[3]));
      uint32_t neg = uint32_t(_mm256_movemask_epi8(xs));
      uint32_t zero = uint32_t(
          _mm256_movemask_epi8(_mm256_cmpeq_epi8(qb, _mm256_setzero_si256())));
      uint32_t sb = neg & ~zero;
      std::memcpy(sign + i / 8, &sb, 4);
    }
  for (; i + 8 <= c1; i += 8)
    encode8<M, NC, IB>(lv, vt, _mm256_loadu_ps(x + i), inv,
                       uniform8(h + (i - c0)), idx, sign, i, IB);
  if (i < c1) { // segment tail: zero lanes give index 0, sign 0
    unsigned n = unsigned(c1 - i);
    alignas(32) float tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    alignas(16) uint16_t ht[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::memcpy(tmp, x + i, n * 4);
    std::memcpy(ht, h + (i - c0), n * 2);
    encode8<M, NC, IB>(lv, vt, _mm256_load_ps(tmp), inv, uniform8(ht), idx,
                       sign, i, (n * IB + 7) / 8);
  }
}

template <Mode M, int NC, unsigned IB>
QODA_LV_TARGET void encodeMode(const Levels &lv, const VecTable &vt,
                               const Key &key, const Segment &s) {
  alignas(32) uint32_t rbuf[kRandomWords];
  for (uint64_t b0 = s.begin; b0 < s.end; b0 += s.bucket) {
    uint64_t b1 = std::min<uint64_t>(b0 + s.bucket, s.len);
    uint16_t half = 0;
    float norm = bucketNorm(s.x + b0, b1 - b0, s.l2, s.fp16, &half);
    if (s.fp16)
      std::memcpy(s.norms + 2 * (b0 / s.bucket), &half, 2);
    else
      std::memcpy(s.norms + 4 * (b0 / s.bucket), &norm, 4);
    __m256 inv = _mm256_set1_ps(norm > 0.0f ? 1.0f / norm : 0.0f);
    for (uint64_t c0 = b0; c0 < b1; c0 += kChunk) {
      uint64_t c1 = std::min(c0 + kChunk, b1);
      // h[k]: the random half-word of coordinate c0 + k.
      const uint16_t *h = randomHalves(key, s.coord0 + c0, c1 - c0, rbuf);
      encodeRun<M, NC, IB>(lv, vt, s.x, c0, c1, inv, h, s.idx, s.sign);
    }
  }
}

/// ceil(log2(n)) == IB: a type of n levels has IB-bit indices.
template <unsigned IB> constexpr bool fitsBits(uint32_t n) {
  return n >= 2 && n <= (1u << IB) && (IB == 1 || n > (1u << (IB - 1)));
}

/// Counting search for the n in [N, 8] that have IB-bit indices (and equal
/// NL when the caller knows it); false if n is none of them.
template <unsigned IB, uint32_t NL, uint32_t N = 3>
QODA_LV_INLINE bool encodeCount(uint32_t n, const Levels &lv,
                                const VecTable &vt, const Key &key,
                                const Segment &s) {
  if constexpr (N > 8) {
    return false;
  } else {
    if constexpr (fitsBits<IB>(N) && (NL == 0 || NL == N))
      if (n == N) {
        encodeMode<Mode::Count, int(N) - 2, IB>(lv, vt, key, s);
        return true;
      }
    return encodeCount<IB, NL, N + 1>(n, lv, vt, key, s);
  }
}

/// Encodes s (buckets of a multiple of 8 coordinates) for a type of IB-bit
/// indices; NL is its level count when known at compile time (generated
/// libraries), 0 to read lv.numLevels.
template <unsigned IB, uint32_t NL = 0>
QODA_LV_TARGET void encodeSegment(const Levels &lv, const Key &key,
                                  const Segment &s) {
  const VecTable vt = makeVecTable(lv);
  const uint32_t n = NL ? NL : lv.numLevels;
  if (lv.uniform)
    return encodeMode<Mode::Uniform, 0, IB>(lv, vt, key, s);
  if (encodeCount<IB, NL>(n, lv, vt, key, s))
    return;
  if constexpr (IB <= 4)
    encodeMode<Mode::Small, 0, IB>(lv, vt, key, s);
  else
    encodeMode<Mode::Large, 0, IB>(lv, vt, key, s);
}

/// encodeSegment for an index width known at run time (1..8).
QODA_LV_TARGET inline void encodeSegmentBits(unsigned ib, const Levels &lv,
                                             const Key &key, const Segment &s) {
  withIndexBits(ib, [&](auto w) { encodeSegment<w.value>(lv, key, s); });
}

/// True if some of the n codes at idx / sign (n a multiple of 8, starting on
/// a byte of both planes) has an index >= numLevels or is a "negative zero"
/// (index 0, sign 1). The caller words the error with a scalar pass.
template <unsigned IB>
QODA_LV_TARGET bool anyBadCode(const uint8_t *idx, const uint8_t *sign,
                               uint64_t n, uint32_t numLevels) {
  const __m256i maxIdx = _mm256_set1_epi32(int(numLevels - 1));
  const bool allValid = (1u << IB) == numLevels;
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i zero = _mm256_setzero_si256();
  __m256i bad = zero;
  for (uint64_t g = 0; g < n / 8; ++g) {
    __m256i q = unpack8<IB>(loadBytes(idx + g * IB, IB));
    if (!allValid)
      bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(q, maxIdx));
    // Sign bit c moved to lane c's top bit: negative where set.
    __m256i sg =
        _mm256_sllv_epi32(_mm256_set1_epi32(int(sign[g]) << 24),
                          _mm256_sub_epi32(_mm256_set1_epi32(7), lanes));
    bad = _mm256_or_si256(bad, _mm256_and_si256(_mm256_cmpeq_epi32(q, zero),
                                                _mm256_cmpgt_epi32(zero, sg)));
  }
  return !_mm256_testz_si256(bad, bad);
}

/// scale * l_q of 8 codes q with the sign bits sb applied: lo / hi hold the
/// products scale * l_m of m < 16 (IB <= 4), else the levels are gathered.
template <unsigned IB>
QODA_LV_INLINE __m256 signedValues8(__m256i q, unsigned sb, __m256 lo,
                                    __m256 hi, const float *levels,
                                    float scale) {
  __m256 x;
  if constexpr (IB <= 3)
    x = _mm256_permutevar8x32_ps(lo, q);
  else if constexpr (IB == 4) // bit 3 of q picks the upper 8 products
    x = _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, q),
                         _mm256_permutevar8x32_ps(hi, q),
                         _mm256_castsi256_ps(_mm256_slli_epi32(q, 28)));
  else
    x = _mm256_mul_ps(_mm256_set1_ps(scale), _mm256_i32gather_ps(levels, q, 4));
  __m256i s = _mm256_slli_epi32(
      _mm256_srlv_epi32(_mm256_set1_epi32(int(sb)),
                        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
      31);
  return _mm256_xor_ps(x, _mm256_castsi256_ps(s));
}

/// sum[i] += scale * l_q with q's sign for the n codes at idx / sign
/// (starting on a byte of both planes; n % 8 trailing codes end the
/// segment). scale * l_q is one float product, as in the reference; with
/// <= 16 levels the products are formed once and picked by register
/// permutes, otherwise the levels are gathered. The sign is a bit flip.
template <unsigned IB>
QODA_LV_TARGET void accumulateRun(const float *levels, uint32_t numLevels,
                                  const uint8_t *idx, const uint8_t *sign,
                                  uint64_t n, float scale, float *sum) {
  alignas(32) float t[16] = {};
  if constexpr (IB <= 4)
    for (uint32_t m = 0; m < numLevels; ++m)
      t[m] = scale * levels[m];
  const __m256 lo = _mm256_load_ps(t), hi = _mm256_load_ps(t + 8);
  uint64_t g = 0;
  for (; g < n / 8; ++g) {
    __m256 x = signedValues8<IB>(unpack8<IB>(loadBytes(idx + g * IB, IB)),
                                 sign[g], lo, hi, levels, scale);
    _mm256_storeu_ps(sum + 8 * g,
                     _mm256_add_ps(_mm256_loadu_ps(sum + 8 * g), x));
  }
  if (unsigned r = unsigned(n % 8)) { // the segment's last, partial group
    alignas(32) float x[8];
    _mm256_store_ps(x, signedValues8<IB>(unpack8<IB>(loadBytes(
                                             idx + g * IB, (r * IB + 7) / 8)),
                                         sign[g], lo, hi, levels, scale));
    for (unsigned k = 0; k < r; ++k)
      sum[8 * g + k] += x[k];
  }
}

} // namespace qoda::quant::levelvec::QODA_LV_ISA

#undef QODA_LV_INLINE
#undef QODA_LV_BODY
#undef QODA_LV_ISA
#undef QODA_LV_TERNLOG
#undef QODA_LV_TARGET
#endif // QODA_LV_BODY

#endif // x86-64 GCC/Clang
