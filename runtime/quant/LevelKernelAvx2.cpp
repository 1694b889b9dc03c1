// AVX2 kernels of the level quantizer, byte-identical to LevelKernelRef.cpp
// (tested). Eight coordinates per vector:
//  - Philox4x32-10 for 8 counters at once (32 random words = 64 half-words,
//    one per coordinate) in structure-of-arrays form (see philoxGroups), then
//    a 4x8 transpose so that the half-words lie in coordinate order;
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
// Only functions with the target attribute use AVX2, so the library runs on
// any x86-64 (dispatch checks the CPU once). Other architectures get the
// reference. LevelKernelAvx512.cpp compiles this file's encoder a second time
// for AVX-512VL (QODA_KERNEL_AVX512VL): the same 256-bit intrinsics, but the
// compiler may use 32 vector registers (Philox's 16 state vectors no longer
// spill) and the Philox XORs of three operands become one vpternlogd.
// Results are identical (integer ops and the same IEEE float ops; no
// contraction); the tests compare both encoders with the reference.
#include "LevelKernel.h"

#include "qoda/quant/Half.h"
#include "qoda/quant/Philox.h"

#include <cmath>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#ifdef QODA_KERNEL_AVX512VL
#define QODA_AVX2 __attribute__((target("avx2,avx512f,avx512vl")))
#else
#define QODA_AVX2 __attribute__((target("avx2")))
#endif
#endif

#ifdef QODA_KERNEL_AVX512VL
#define QODA_ENCODE_SEGMENT encodeSegmentAvx512
#else
#define QODA_ENCODE_SEGMENT encodeSegmentAvx2
#endif

namespace qoda::quant::detail {

#ifdef QODA_AVX2

#ifdef QODA_KERNEL_AVX512VL
bool avx512Available() {
  static const bool ok = __builtin_cpu_supports("avx2") &&
                         __builtin_cpu_supports("avx512f") &&
                         __builtin_cpu_supports("avx512vl");
  return ok;
}
#else
bool avx2Available() {
  static const bool ok = __builtin_cpu_supports("avx2");
  return ok;
}
#endif

namespace {

/// Coordinates whose random words are generated at once (a multiple of 8;
/// the staging buffer of randomWords holds them plus alignment slack).
constexpr uint64_t kChunk = 512;

/// a ^ b ^ c (one vpternlogd with AVX-512VL).
QODA_AVX2 inline __m256i xor3(__m256i a, __m256i b, __m256i c) {
#ifdef QODA_KERNEL_AVX512VL
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

/// The 16-bit random numbers of global coordinates [c, c + n), n <= kChunk,
/// in coordinate order: blocks c/8 .. (c+n-1)/8 are generated into buf and
/// the result starts at half-word c % 8 of it (little-endian host: half-word
/// k of a block's four words is coordinate 8 * block + k).
QODA_AVX2 const uint16_t *randomHalves(const EncodeKey &key, uint64_t c,
                                       uint64_t n, uint32_t *buf) {
  uint64_t first = c >> 3, last = (c + n + 7) >> 3; // blocks [first, last)
  uint64_t b = first;
  for (; b + 16 <= last; b += 16) // two independent groups in flight
    philoxGroups<2>(key, b, buf + 4 * (b - first));
  for (; b < last; b += 8)
    philoxGroups<1>(key, b, buf + 4 * (b - first));
  return reinterpret_cast<const uint16_t *>(buf) + (c & 7);
}

/// Words of randomHalves' buffer: the blocks of kChunk coordinates plus up
/// to 7 before the first (kChunk / 8 + 1 blocks), rounded up to whole groups
/// of 8 blocks, 4 words each.
constexpr uint64_t kRandomWords = (kChunk / 8 + 8) * 4;

/// Per-type vector constants.
struct VecTable {
  bool uniform;         ///< levels j/s: t = u * s replaces the search
  __m256 steps;         ///< s as float (uniform)
  __m256i lastInterval; ///< s - 1 (uniform)
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

QODA_AVX2 VecTable makeVecTable(const LevelTable &lt) {
  VecTable t;
  t.uniform = lt.uniform;
  t.steps = _mm256_set1_ps(float(lt.numLevels() - 1));
  t.lastInterval = _mm256_set1_epi32(int(lt.numLevels() - 2));
  t.small = lt.numLevels() <= 16;
  for (size_t m = 0; m < 6; ++m)
    t.interior[m] =
        _mm256_set1_ps(m + 2 < lt.numLevels() ? lt.levels[m + 1] : INFINITY);
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

/// How a type finds the interval of u: t = u * s (uniform levels), counting
/// the NC = L - 2 interior levels <= u (3 to 8 levels), a binary search in
/// registers (<= 16 levels) or finished with gathers.
enum class Mode { Uniform, Count, Small, Large };

/// The 8 uniform numbers r = h * 2^-16 of 8 coordinates (exact).
QODA_AVX2 inline __m256 uniform8(const uint16_t *h) {
  __m256i w = _mm256_cvtepu16_epi32(
      _mm_loadu_si128(reinterpret_cast<const __m128i *>(h)));
  return _mm256_mul_ps(_mm256_cvtepi32_ps(w), _mm256_set1_ps(1.0f / 65536.0f));
}

/// Quantized indices of 8 coordinates (r: their uniform numbers).
template <Mode M, int NC = 0>
QODA_AVX2 inline __m256i quantize8(const LevelTable &lt, const VecTable &vt,
                                   __m256 x, __m256 inv, __m256 r) {
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  // min returns its second operand for a NaN product: u = 1, as specified.
  __m256 u = _mm256_min_ps(_mm256_mul_ps(_mm256_and_ps(x, absMask), inv),
                           _mm256_set1_ps(1.0f));
  __m256i j;
  __m256 p;
  if (M == Mode::Uniform) {
    // t = u * s; j = min(trunc(t), s - 1); p = t - j (exact).
    __m256 t = _mm256_mul_ps(u, vt.steps);
    j = _mm256_min_epi32(_mm256_cvttps_epi32(t), vt.lastInterval);
    p = _mm256_sub_ps(t, _mm256_cvtepi32_ps(j));
  } else if (M == Mode::Count) {
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
    if (M == Mode::Small) {
      lj = lookup16(vt.lev0, vt.lev1, j);
      wj = lookup16(vt.inv0, vt.inv1, j);
    } else {
      // The answer lies in [k << shift, (k + 1) << shift): finish with
      // gathers.
      j = _mm256_slli_epi32(j, int(vt.coarseShift));
      for (unsigned step = (1u << vt.coarseShift) / 2; step >= 1; step /= 2) {
        __m256i cand = _mm256_add_epi32(j, _mm256_set1_epi32(int(step)));
        __m256 lc = _mm256_i32gather_ps(lt.search.data(), cand, 4);
        __m256 le = _mm256_cmp_ps(lc, u, _CMP_LE_OQ);
        j = _mm256_castps_si256(_mm256_blendv_ps(
            _mm256_castsi256_ps(j), _mm256_castsi256_ps(cand), le));
      }
      lj = _mm256_i32gather_ps(lt.levels.data(), j, 4);
      wj = _mm256_i32gather_ps(lt.invWidth.data(), j, 4);
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
QODA_AVX2 inline __m256i narrow32(__m256i a, __m256i b, __m256i c, __m256i d,
                                  bool isSigned) {
  __m256i ab = isSigned ? _mm256_packs_epi32(a, b) : _mm256_packus_epi32(a, b);
  __m256i cd = isSigned ? _mm256_packs_epi32(c, d) : _mm256_packus_epi32(c, d);
  __m256i r =
      isSigned ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd);
  return _mm256_permutevar8x32_epi32(r,
                                     _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/// Writes 32 indices (bytes in order, ib in {1, 2, 3, 4, 8}) as 4 * ib bytes.
QODA_AVX2 inline void pack32(__m256i q, unsigned ib, uint8_t *out) {
  switch (ib) {
  case 8:
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(out), q);
    return;
  case 4: {
    // Byte pairs -> a + 16 b in 16-bit lanes, then narrow to bytes.
    __m256i m = _mm256_maddubs_epi16(q, _mm256_set1_epi16(0x1001));
    m = _mm256_packus_epi16(m, m); // 8 bytes per 128-bit half, twice
    m = _mm256_permute4x64_epi64(m, 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i *>(out),
                     _mm256_castsi256_si128(m));
    return;
  }
  case 2: {
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
    return;
  }
  case 3: {
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
    return;
  }
  default: { // 1 bit: bit 0 of each byte to its top, then movemask
    uint32_t v = uint32_t(_mm256_movemask_epi8(_mm256_slli_epi16(q, 7)));
    std::memcpy(out, &v, 4);
    return;
  }
  }
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

namespace {

/// Indices and sign bits of 8 coordinates at i (packed with pack8).
template <Mode M, int NC>
QODA_AVX2 inline void encode8(const LevelTable &lt, const VecTable &vt,
                              __m256 x, __m256 inv, __m256 r, uint8_t *idx,
                              uint8_t *sign, uint64_t i, unsigned nbytes) {
  const unsigned ib = lt.indexBits;
  __m256i q = quantize8<M, NC>(lt, vt, x, inv, r);
  storeBytes(idx + i / 8 * ib, pack8(q, ib), nbytes);
  __m256 zero =
      _mm256_castsi256_ps(_mm256_cmpeq_epi32(q, _mm256_setzero_si256()));
  sign[i / 8] = uint8_t(_mm256_movemask_ps(_mm256_andnot_ps(zero, x)));
}

template <Mode M, int NC = 0>
QODA_AVX2 void encodeSegmentMode(const LevelTable &lt, const VecTable &vt,
                                 const SegmentEncode &e) {
  const TypeSchedule &t = lt.type;
  const unsigned ib = lt.indexBits;
  const bool wide32 = ib == 1 || ib == 2 || ib == 3 || ib == 4 || ib == 8;
  SegmentSizes sz = segmentSizes(e.r.len, t);
  uint8_t *norms = e.out, *idx = e.out + sz.normBytes,
          *sign = idx + sz.indexBytes;
  alignas(32) uint32_t rbuf[kRandomWords];
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
      // h[k]: the random half-word of coordinate c0 + k.
      const uint16_t *h = randomHalves(e.key, e.r.coord0 + c0, c1 - c0, rbuf);
      uint64_t i = c0;
      if (wide32) // 32 coordinates per step: 4 * ib index bytes, 4 sign bytes
        for (; i + 32 <= c1; i += 32) {
          __m256 x[4];
          __m256i q[4];
          for (int k = 0; k < 4; ++k) {
            x[k] = _mm256_loadu_ps(e.v + i + 8 * k);
            q[k] = quantize8<M, NC>(lt, vt, x[k], inv,
                                    uniform8(h + (i - c0) + 8 * k));
          }
          __m256i qb = narrow32(q[0], q[1], q[2], q[3], false);
          pack32(qb, ib, idx + i / 8 * ib);
          __m256i xs = narrow32(
              _mm256_castps_si256(x[0]), _mm256_castps_si256(x[1]),
              _mm256_castps_si256(x[2]), _mm256_castps_si256(x[3]), true);
          uint32_t neg = uint32_t(_mm256_movemask_epi8(xs));
          uint32_t zero = uint32_t(_mm256_movemask_epi8(
              _mm256_cmpeq_epi8(qb, _mm256_setzero_si256())));
          uint32_t sb = neg & ~zero;
          std::memcpy(sign + i / 8, &sb, 4);
        }
      for (; i + 8 <= c1; i += 8)
        encode8<M, NC>(lt, vt, _mm256_loadu_ps(e.v + i), inv,
                       uniform8(h + (i - c0)), idx, sign, i, ib);
      if (i < c1) { // segment tail: zero lanes give index 0, sign 0
        unsigned n = unsigned(c1 - i);
        alignas(32) float tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        alignas(16) uint16_t ht[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        std::memcpy(tmp, e.v + i, n * 4);
        std::memcpy(ht, h + (i - c0), n * 2);
        encode8<M, NC>(lt, vt, _mm256_load_ps(tmp), inv, uniform8(ht), idx,
                       sign, i, (n * ib + 7) / 8);
      }
    }
  }
}

} // namespace

QODA_AVX2 void QODA_ENCODE_SEGMENT(const LevelTable &lt,
                                   const SegmentEncode &e) {
  const VecTable vt = makeVecTable(lt);
  if (vt.uniform) {
    encodeSegmentMode<Mode::Uniform>(lt, vt, e);
    return;
  }
  switch (lt.numLevels()) {
  case 3:
    return encodeSegmentMode<Mode::Count, 1>(lt, vt, e);
  case 4:
    return encodeSegmentMode<Mode::Count, 2>(lt, vt, e);
  case 5:
    return encodeSegmentMode<Mode::Count, 3>(lt, vt, e);
  case 6:
    return encodeSegmentMode<Mode::Count, 4>(lt, vt, e);
  case 7:
    return encodeSegmentMode<Mode::Count, 5>(lt, vt, e);
  case 8:
    return encodeSegmentMode<Mode::Count, 6>(lt, vt, e);
  default:
    break;
  }
  if (vt.small)
    encodeSegmentMode<Mode::Small>(lt, vt, e);
  else
    encodeSegmentMode<Mode::Large>(lt, vt, e);
}

#ifndef QODA_KERNEL_AVX512VL // decoding: one AVX2 version

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

#endif // QODA_KERNEL_AVX512VL

#elif defined(QODA_KERNEL_AVX512VL) // not x86-64 GCC/Clang

bool avx512Available() { return false; }
void encodeSegmentAvx512(const LevelTable &lt, const SegmentEncode &e) {
  encodeSegmentRef(lt, e);
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
