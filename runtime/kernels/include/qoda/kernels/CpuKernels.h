// CPU kernel building blocks of a generated model library. Header-only and
// templated on the schedule's compile-time constants (index bits, bucket
// size, norm, norm precision, number of levels), so the code generator's
// instantiations are specialised. On x86-64 the byte-aligned buckets (a
// multiple of 8 coordinates, the common case) run the quantization library's
// own vector cores (qoda/quant/LevelVec.h: one implementation, instantiated
// here with the type's index width and level count as constants), picked at
// run time: the AVX-512VL build of the encoder when the CPU has it, else the
// AVX2 build, else the portable code below (compare-and-blend interval
// search, Philox in SSE2 lanes, 8 codes per fixed-size store), which also
// serves buckets that are not a multiple of 8. The arithmetic is exactly that
// of qoda::quant's "layerwise" compressor (docs/quant.md, "Bit-exact
// definition": same float operations in the same order, same Philox words), so
// messages are byte-identical; the tests check this against the library, never
// against a copy.
#ifndef QODA_KERNELS_CPUKERNELS_H
#define QODA_KERNELS_CPUKERNELS_H

#include "qoda/kernels/MessagePlan.h"
#include "qoda/quant/Half.h"
#include "qoda/quant/LevelVecTypes.h"
#include "qoda/quant/Schedule.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__CUDACC__)
// Both builds of the vector cores; every function carries its target
// attribute, so this works whatever -march the library is compiled for.
#define QODA_KERNELS_LEVELVEC 1
#include "qoda/quant/LevelVec.h"
#define QODA_LEVELVEC_AVX512VL 1
#include "qoda/quant/LevelVec.h"
#endif

namespace qoda::kernels {

/// Level data of one type at run time (the runtime may re-fit levels, so they
/// are data, not constants). Mirrors quant's LevelTable: `start[k]` is the
/// last interval whose lower level is <= k/256; `uniform` is
/// quant::isUniformLevels (levels j/s bit for bit: the uniform rounding rule
/// of docs/quant.md, no search); levels and invWidth are zero-padded and
/// `search` is laid out as the vector cores' quant::levelvec::Levels wants.
struct LevelData {
  uint32_t count = 0;
  uint32_t uniform = 0;
  float levels[256];
  float invWidth[256];
  uint16_t start[257];
  uint32_t searchSize = 1; ///< power of two >= count - 1
  float search[256];       ///< l_0 .. l_{count-2}, then +inf
};

inline void fillLevelData(LevelData &d, const float *l, uint32_t n) {
  d.count = n;
  d.uniform = quant::isUniformLevels(l, n) ? 1 : 0;
  for (uint32_t j = 0; j < 256; ++j) {
    d.levels[j] = j < n ? l[j] : 0.0f;
    d.invWidth[j] = j + 1 < n ? 1.0f / (l[j + 1] - l[j]) : 0.0f;
  }
  d.searchSize = 1;
  while (d.searchSize < n - 1)
    d.searchSize *= 2;
  for (uint32_t j = 0; j < 256; ++j)
    d.search[j] = j + 1 < n ? l[j] : INFINITY;
  uint32_t j = 0;
  for (uint32_t k = 0; k <= 256; ++k) {
    float x = float(k) / 256.0f;
    while (j + 2 < n && l[j + 1] <= x)
      ++j;
    d.start[k] = uint16_t(j);
  }
}

/// Empty if `l[0..n)` is a usable level sequence, else why not.
inline std::string checkLevels(const float *l, uint32_t n) {
  if (n < 2 || n > 256)
    return "needs 2..256 levels";
  if (l[0] != 0.0f || l[n - 1] != 1.0f)
    return "levels must start at 0 and end at 1";
  for (uint32_t j = 1; j < n; ++j)
    if (!(l[j] > l[j - 1]))
      return "levels must be strictly increasing";
  return "";
}

/// Philox4x32-10 words for blocks [first, first + count) into out[4 * i + w],
/// key/counter layout of quant/Philox.h (block = coordinate / 8; read as
/// uint16 on this little-endian host, out holds one random half-word per
/// coordinate in coordinate order). On x86-64 sixteen (AVX2 CPUs: the vector
/// cores' generator) or four (SSE2, any x86-64) blocks go through the rounds
/// together; the rest, and other CPUs, a scalar loop.
inline void philoxBlocks(uint64_t seed, uint64_t step, uint32_t rank,
                         uint64_t first, uint32_t count, uint32_t *out) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  constexpr uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  uint32_t base = 0;
#ifdef QODA_KERNELS_LEVELVEC
  if (quant::levelvec::cpuHasAvx2()) // 16 or 8 blocks per step
    base = uint32_t(quant::levelvec::avx2::philoxBlocks({seed, step, rank},
                                                        first, count, out));
#endif
#ifdef __SSE2__
  const __m128i m0 = _mm_set1_epi32(int(M0)), m1 = _mm_set1_epi32(int(M1));
  for (; base + 4 <= count; base += 4) {
    uint64_t b = first + base;
    // Lanes = 4 consecutive blocks (the high word is constant unless the
    // 32-bit counter wraps inside the group, handled per lane).
    __m128i c0 = _mm_setr_epi32(int(uint32_t(b)), int(uint32_t(b + 1)),
                                int(uint32_t(b + 2)), int(uint32_t(b + 3)));
    __m128i c1 = _mm_setr_epi32(
        int(uint32_t(b >> 32)), int(uint32_t((b + 1) >> 32)),
        int(uint32_t((b + 2) >> 32)), int(uint32_t((b + 3) >> 32)));
    __m128i c2 = _mm_set1_epi32(int(uint32_t(step)));
    __m128i c3 = _mm_set1_epi32(int(rank));
    uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      // 32x32->64 products of lanes (0,2) and (1,3).
      __m128i p0e = _mm_mul_epu32(c0, m0);
      __m128i p0o = _mm_mul_epu32(_mm_srli_epi64(c0, 32), m0);
      __m128i p1e = _mm_mul_epu32(c2, m1);
      __m128i p1o = _mm_mul_epu32(_mm_srli_epi64(c2, 32), m1);
      const __m128i lo = _mm_set_epi32(0, -1, 0, -1);
      __m128i lo0 =
          _mm_or_si128(_mm_and_si128(p0e, lo), _mm_slli_epi64(p0o, 32));
      __m128i hi0 =
          _mm_or_si128(_mm_srli_epi64(p0e, 32), _mm_andnot_si128(lo, p0o));
      __m128i lo1 =
          _mm_or_si128(_mm_and_si128(p1e, lo), _mm_slli_epi64(p1o, 32));
      __m128i hi1 =
          _mm_or_si128(_mm_srli_epi64(p1e, 32), _mm_andnot_si128(lo, p1o));
      __m128i n0 =
          _mm_xor_si128(_mm_xor_si128(hi1, c1), _mm_set1_epi32(int(k0)));
      __m128i n2 =
          _mm_xor_si128(_mm_xor_si128(hi0, c3), _mm_set1_epi32(int(k1)));
      c0 = n0;
      c1 = lo1;
      c2 = n2;
      c3 = lo0;
      k0 += W0;
      k1 += W1;
    }
    // Transpose 4 lanes x 4 words into block-major output.
    __m128i t0 = _mm_unpacklo_epi32(c0, c1), t1 = _mm_unpacklo_epi32(c2, c3);
    __m128i t2 = _mm_unpackhi_epi32(c0, c1), t3 = _mm_unpackhi_epi32(c2, c3);
    __m128i *o = reinterpret_cast<__m128i *>(out + 4 * base);
    _mm_storeu_si128(o + 0, _mm_unpacklo_epi64(t0, t1));
    _mm_storeu_si128(o + 1, _mm_unpackhi_epi64(t0, t1));
    _mm_storeu_si128(o + 2, _mm_unpacklo_epi64(t2, t3));
    _mm_storeu_si128(o + 3, _mm_unpackhi_epi64(t2, t3));
  }
#endif
  for (; base < count; ++base) {
    uint64_t b = first + base;
    uint32_t c0 = uint32_t(b), c1 = uint32_t(b >> 32), c2 = uint32_t(step),
             c3 = rank;
    uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      uint64_t p0 = uint64_t(M0) * c0, p1 = uint64_t(M1) * c2;
      uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0;
      uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
      c0 = n0;
      c1 = uint32_t(p1);
      c2 = n2;
      c3 = uint32_t(p0);
      k0 += W0;
      k1 += W1;
    }
    // memcpy, like the vector stores, may alias the caller's uint16 view.
    const uint32_t o[4] = {c0, c1, c2, c3};
    std::memcpy(out + 4 * base, o, sizeof o);
  }
}

/// The bucket norm as transmitted (docs/quant.md, "Bit-exact definition"):
/// L2 = sqrt of the sum of squares in double with 8 lane accumulators (lane
/// k takes positions p % 8 == k), lanes added as ((0+4)+(2+6))+((1+5)+(3+7)),
/// rounded up to fp32; Linf = max |x| in float (NaN never wins); fp16 norms
/// rounded up once more.
template <uint32_t NORM, uint32_t NPREC>
inline float bucketNorm(const float *x, uint32_t n, uint16_t *wire) {
#ifdef QODA_KERNELS_LEVELVEC
  if (quant::levelvec::cpuHasAvx2())
    return quant::levelvec::avx2::bucketNorm(x, n, NORM == 0, NPREC == 1, wire);
#endif
  double norm = 0.0;
  if (NORM == 0) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (uint32_t k = 0; k < 8; ++k)
        acc[k] += double(x[i + k]) * double(x[i + k]);
    for (uint32_t k = 0; i < n; ++i, ++k)
      acc[k] += double(x[i]) * double(x[i]);
    double s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) +
               ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    norm = std::sqrt(s);
  } else {
    float m = 0.0f;
    for (uint32_t i = 0; i < n; ++i)
      m = std::fabs(x[i]) > m ? std::fabs(x[i]) : m;
    norm = m;
  }
  return quant::levelvec::transmittedNorm(norm, NPREC == 1, wire);
}

/// Little-endian value of bytes p[0..n), assembled in a register: a memcpy
/// of 3 bytes into a variable would go through the stack, and the wider load
/// that follows would stall on store forwarding.
inline uint64_t loadBytes(const uint8_t *p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i)
    v |= uint64_t(p[i]) << (8 * i);
  return v;
}

/// LSB-first bit plane writer; appends 8 codes of W bits at once.
template <unsigned W> struct BitOut {
  uint8_t *p;
  uint64_t acc = 0;
  unsigned n = 0;
  explicit BitOut(uint8_t *plane) : p(plane) {}
  void put(uint32_t code) {
    acc |= uint64_t(code) << n;
    n += W;
    while (n >= 8) {
      *p++ = uint8_t(acc);
      acc >>= 8;
      n -= 8;
    }
  }
  /// Eight codes already packed into the low 8*W bits of g (W <= 8).
  void put8(uint64_t g) {
    unsigned __int128 c = acc | ((unsigned __int128)g << n);
    std::memcpy(p, &c, W); // little-endian host: low bytes first
    p += W;
    acc = uint64_t(c >> (8 * W));
  }
  /// Writes the last partial byte, zero-padded.
  void flush() {
    if (n)
      *p = uint8_t(acc);
  }
};

/// Reader matching BitOut; never reads past the last byte holding a code.
template <unsigned W> struct BitIn {
  const uint8_t *p;
  unsigned sh;
  BitIn(const uint8_t *plane, uint64_t bit)
      : p(plane + bit / 8), sh(unsigned(bit % 8)) {}
  uint64_t get8() { // 8 codes, W <= 8
    unsigned __int128 c = 0;
    std::memcpy(&c, p, W + (sh != 0));
    p += W;
    return uint64_t(c >> sh);
  }
  uint32_t get() {
    uint32_t c = 0;
    std::memcpy(&c, p, (sh + W + 7) / 8);
    c = (c >> sh) & ((1u << W) - 1);
    sh += W;
    p += sh / 8;
    sh %= 8;
    return c;
  }
  /// `len` codes into out.
  template <typename T> void read(uint32_t len, T *out) {
    uint32_t i = 0;
    if (W <= 8)
      for (; i + 8 <= len; i += 8) {
        uint64_t g = get8();
        for (unsigned c = 0; c < 8; ++c)
          out[i + c] = T((g >> (c * W)) & ((1u << W) - 1));
      }
    for (; i < len; ++i)
      out[i] = T(get());
  }
};

/// Arguments shared by every segment of one encode call.
struct EncodeArgs {
  const float *v;
  uint64_t seed, step;
  uint32_t rank;
  uint8_t *payload;
};

/// Arguments of one decode-accumulate call over k validated payloads.
struct DecodeArgs {
  const uint8_t *const *payloads;
  uint32_t k;
  float weight;
  float *sum;
};

/// What is wrong with a message, for the error text.
struct DecodeError {
  std::string what;
};

/// The stochastic level quantizer of METHOD 3 for one type, specialised.
/// IB index bits, BUCKET coordinates per norm, NORM 0 L2 / 1 Linf, NPREC 0
/// fp32 / 1 fp16 norms, NL levels (0 and 1 included).
template <unsigned IB, uint32_t BUCKET, uint32_t NORM, uint32_t NPREC,
          uint32_t NL>
struct LevelsKernel {
  static_assert(IB >= 1 && IB <= 8 && NL >= 2 && NL <= (1u << IB) &&
                    NL > (1u << (IB - 1)),
                "index bits must be ceil(log2(levels))");
  static constexpr uint32_t kNormBytes = NPREC ? 2 : 4;
  static constexpr bool kAllIndicesValid = NL == (1u << IB);
  /// Buckets of 8k coordinates start on a byte of both bit planes, so 8
  /// codes are IB whole bytes and one sign byte: fixed-size stores.
  static constexpr bool kByteAligned = BUCKET % 8 == 0;
  static constexpr uint32_t kCodeMask = (1u << IB) - 1;

  static float readNorm(const uint8_t *norms, uint64_t b) {
    if (NPREC) {
      uint16_t h;
      std::memcpy(&h, norms + 2 * b, 2);
      return quant::halfToFloat(h);
    }
    float f;
    std::memcpy(&f, norms + 4 * b, 4);
    return f;
  }

  /// Stochastic rounding of coordinate x in interval j at position p, and
  /// its sign bit (set only for a non-zero index), as the reference does.
  /// 16 random bits: the int32 conversion is exact and vectorises.
  static inline void roundWithSign(float x, int32_t j, float p, uint16_t r,
                                   uint32_t &q, uint32_t &sg) {
    float rf = float(int32_t(r)) * (1.0f / 65536.0f);
    int32_t idx = j + int32_t(rf < p);
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    q = uint32_t(idx);
    sg = uint32_t(idx != 0) & (bits >> 31);
  }

  /// Level indices and sign bits of one bucket. The interval
  /// j = max{k <= NL-2 : l_k <= u} (docs/quant.md) and its l_j, 1/width are
  /// selected by compares and blends, not gathers, so the loop vectorises;
  /// every value equals the reference's.
  static void quantize(const float *__restrict x, uint32_t len, float inv,
                       const uint16_t *__restrict r, const LevelData &d,
                       uint32_t *__restrict q, uint32_t *__restrict sg) {
    if (d.uniform) {
      // Levels j/s: t = u * s, j = min(trunc(t), s - 1), p = t - j (exact).
      constexpr float kS = float(NL - 1);
      for (uint32_t i = 0; i < len; ++i) {
        float u = std::fabs(x[i]) * inv;
        u = u < 1.0f ? u : 1.0f; // NaN -> 1, as the reference
        float t = u * kS;
        int32_t j = int32_t(t);
        j = j < int32_t(NL - 2) ? j : int32_t(NL - 2);
        roundWithSign(x[i], j, t - float(j), r[i], q[i], sg[i]);
      }
      return;
    }
    if (NL > 17) {
      for (uint32_t i = 0; i < len; ++i) {
        float u = std::fabs(x[i]) * inv;
        u = u < 1.0f ? u : 1.0f; // NaN -> 1, as the reference
        uint32_t j = d.start[size_t(u * 256.0f)];
        while (j + 2 < NL && d.levels[j + 1] <= u)
          ++j;
        roundWithSign(x[i], int32_t(j), (u - d.levels[j]) * d.invWidth[j],
                      r[i], q[i], sg[i]);
      }
      return;
    }
    // Local copies of a compile-time size: the loop below then vectorises.
    constexpr uint32_t kN = NL <= 17 ? NL : 1;
    float L[kN], IW[kN];
    for (uint32_t m = 0; m < kN; ++m) {
      L[m] = d.levels[m];
      IW[m] = m + 1 < kN ? d.invWidth[m] : 0.0f;
    }
    for (uint32_t i = 0; i < len; ++i) {
      float u = std::fabs(x[i]) * inv;
      u = u < 1.0f ? u : 1.0f; // NaN -> 1, as the reference
      int32_t j = 0;
      float lo = L[0], iw = IW[0];
#if defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#pragma GCC unroll 16
#endif
      for (uint32_t m = 1; m + 1 < kN; ++m) {
        j += int32_t(L[m] <= u);
        lo = L[m] <= u ? L[m] : lo;
        iw = L[m] <= u ? IW[m] : iw;
      }
      roundWithSign(x[i], j, (u - lo) * iw, r[i], q[i], sg[i]);
    }
  }

  /// Writes the codes of a bucket starting at coordinate `rel` of the
  /// segment (byte-aligned case).
  static void packAligned(uint8_t *idxPlane, uint8_t *signPlane, uint64_t rel,
                          uint32_t len, const uint32_t *q, const uint32_t *sg) {
    uint8_t *ip = idxPlane + rel / 8 * IB, *sp = signPlane + rel / 8;
    uint32_t g0 = 0;
    for (uint32_t g = g0; g * 8 < len; ++g) {
      uint64_t v = 0;
      uint32_t sb = 0;
      for (uint32_t c = 0; c < 8; ++c) {
        uint32_t i = 8 * g + c;
        uint32_t qi = i < len ? q[i] : 0, si = i < len ? sg[i] : 0;
        v |= uint64_t(qi) << (c * IB);
        sb |= si << c;
      }
      if (8 * g + 8 <= len)
        std::memcpy(ip + g * IB, &v, IB); // little-endian: low bytes first
      else
        std::memcpy(ip + g * IB, &v, ((len - 8 * g) * IB + 7) / 8);
      sp[g] = uint8_t(sb);
    }
  }

  /// Reads the codes of a bucket starting at coordinate `rel`.
  static void unpack(const uint8_t *__restrict idxPlane,
                     const uint8_t *__restrict signPlane, uint64_t rel,
                     uint32_t len, uint32_t *__restrict q,
                     uint32_t *__restrict sg) {
    if (!kByteAligned) {
      BitIn<IB>(idxPlane, rel * IB).read(len, q);
      BitIn<1>(signPlane, rel).read(len, sg);
      return;
    }
    const uint8_t *ip = idxPlane + rel / 8 * IB, *sp = signPlane + rel / 8;
    uint32_t full = len / 8;
    for (uint32_t g = 0; g < full; ++g) {
      uint64_t v = loadBytes(ip + g * IB, IB);
      uint32_t sb = sp[g];
      for (uint32_t c = 0; c < 8; ++c) {
        q[8 * g + c] = uint32_t(v >> (c * IB)) & kCodeMask;
        sg[8 * g + c] = (sb >> c) & 1u;
      }
    }
    if (uint32_t n = len % 8) { // the segment's last, partial group
      uint64_t v = loadBytes(ip + full * IB, (n * IB + 7) / 8);
      uint32_t sb = sp[full];
      for (uint32_t c = 0; c < n; ++c) {
        q[8 * full + c] = uint32_t(v >> (c * IB)) & kCodeMask;
        sg[8 * full + c] = (sb >> c) & 1u;
      }
    }
  }

#ifdef QODA_KERNELS_LEVELVEC
  static quant::levelvec::Levels vecLevels(const LevelData &d) {
    return {d.levels, d.invWidth, d.search, NL, d.searchSize, d.uniform != 0};
  }

  /// The vector cores (byte-aligned buckets, an AVX2 CPU); false otherwise.
  static bool encodeVec(const EncodeArgs &a, const qoda_segment_info &seg,
                        const SegmentPlan &sp, const LevelData &d) {
    namespace lv = quant::levelvec;
    if (!kByteAligned || !lv::cpuHasAvx2())
      return false;
    const lv::Segment s{a.v + seg.offset,
                        seg.length,
                        seg.offset,
                        0,
                        seg.length,
                        BUCKET,
                        NORM == 0,
                        NPREC == 1,
                        a.payload + sp.begin,
                        a.payload + sp.index,
                        a.payload + sp.sign};
    if (lv::cpuHasAvx512vl())
      lv::avx512vl::encodeSegment<IB, NL>(vecLevels(d),
                                          {a.seed, a.step, a.rank}, s);
    else
      lv::avx2::encodeSegment<IB, NL>(vecLevels(d), {a.seed, a.step, a.rank},
                                      s);
    return true;
  }
#endif

  static void encode(const EncodeArgs &a, const qoda_segment_info &seg,
                     const SegmentPlan &sp, const LevelData &d) {
#ifdef QODA_KERNELS_LEVELVEC
    if (encodeVec(a, seg, sp, d))
      return;
#endif
    uint8_t *normOut = a.payload + sp.begin;
    uint8_t *idxPlane = a.payload + sp.index, *signPlane = a.payload + sp.sign;
    BitOut<IB> idxOut(idxPlane); // only when buckets are not byte-aligned
    BitOut<1> signOut(signPlane);
    // The bucket's blocks (8 coordinates, 4 words each), read as one uint16
    // per coordinate; philoxBlocks writes with may-alias stores / memcpy.
    alignas(32) uint16_t rnd[BUCKET + 16];
    uint32_t q[BUCKET], sg[BUCKET];
    for (uint64_t b = 0; b < seg.length; b += BUCKET) {
      uint64_t start = seg.offset + b; // global coordinate (Philox counter)
      uint32_t len = uint32_t(std::min<uint64_t>(BUCKET, seg.length - b));
      const float *x = a.v + start;
      uint16_t half = 0;
      float norm = bucketNorm<NORM, NPREC>(x, len, &half);
      if (NPREC)
        std::memcpy(normOut, &half, 2);
      else
        std::memcpy(normOut, &norm, 4);
      normOut += kNormBytes;
      float inv = norm > 0.0f ? 1.0f / norm : 0.0f;
      // One Philox block serves 8 consecutive coordinates of the flat
      // buffer, 16 bits each (half-word order = coordinate order).
      uint64_t firstBlock = start >> 3;
      uint32_t nblocks = uint32_t(((start + len + 7) >> 3) - firstBlock);
      philoxBlocks(a.seed, a.step, a.rank, firstBlock, nblocks,
                   reinterpret_cast<uint32_t *>(rnd));
      quantize(x, len, inv, rnd + (start & 7), d, q, sg);
      if (kByteAligned) {
        packAligned(idxPlane, signPlane, b, len, q, sg);
        continue;
      }
      uint32_t i = 0;
      for (; i + 8 <= len; i += 8) {
        uint64_t g = 0, s = 0;
        for (unsigned c = 0; c < 8; ++c) {
          g |= uint64_t(q[i + c]) << (c * IB);
          s |= uint64_t(sg[i + c]) << c;
        }
        idxOut.put8(g);
        signOut.put8(s);
      }
      for (; i < len; ++i) {
        idxOut.put(q[i]);
        signOut.put(sg[i]);
      }
    }
    if (!kByteAligned) {
      idxOut.flush();
      signOut.flush();
    }
  }

  /// True if some coordinate of the bucket has index 0 and sign 1, tested
  /// 8 coordinates at a time on the packed planes (byte-aligned buckets).
  static bool anyNegativeZero(const uint8_t *idxPlane, const uint8_t *signPlane,
                              uint64_t rel, uint32_t len) {
    const uint8_t *ip = idxPlane + rel / 8 * IB, *sp = signPlane + rel / 8;
    uint32_t bad = 0;
    for (uint32_t g = 0; g * 8 < len; ++g) {
      uint32_t n = std::min(8u, len - 8 * g);
      uint64_t v = loadBytes(ip + g * IB, n == 8 ? IB : (n * IB + 7) / 8);
      uint64_t nz = v; // bit c*IB of nz: field c is non-zero
      for (unsigned k = 1; k < IB; ++k)
        nz |= v >> k;
      uint32_t flags = 0;
      for (unsigned c = 0; c < 8; ++c)
        flags |= uint32_t((nz >> (c * IB)) & 1u) << c;
      bad |= sp[g] & ~flags;
    }
    return bad != 0;
  }

  /// The reference's checks, in its order: norms, then per coordinate the
  /// index range and "negative zero", then the planes' padding bits.
  static bool validate(const uint8_t *payload, const qoda_segment_info &seg,
                       const SegmentPlan &sp, DecodeError &err) {
    const uint8_t *norms = payload + sp.begin;
    for (uint64_t b = 0; b < seg.length; b += BUCKET) {
      float norm = readNorm(norms, b / BUCKET);
      if (!(norm >= 0.0f) || !std::isfinite(norm)) {
        err.what = "bucket at coordinate " + std::to_string(seg.offset + b) +
                   " has an invalid norm";
        return false;
      }
    }
    uint64_t from = 0; // codes before `from` are known to be valid
#ifdef QODA_KERNELS_LEVELVEC
    // The common case: every whole group of 8 codes in one vector pass; a
    // partial last group (the segment's end) leaves its bucket to the loop.
    if (kByteAligned && quant::levelvec::cpuHasAvx2() &&
        !quant::levelvec::avx2::anyBadCode<IB>(
            payload + sp.index, payload + sp.sign, seg.length / 8 * 8, NL))
      from = seg.length % 8 ? seg.length / BUCKET * BUCKET : seg.length;
#endif
    uint32_t q[BUCKET], sg[BUCKET];
    for (uint64_t b = from; b < seg.length; b += BUCKET) {
      uint32_t len = uint32_t(std::min<uint64_t>(BUCKET, seg.length - b));
      if (kAllIndicesValid && kByteAligned &&
          !anyNegativeZero(payload + sp.index, payload + sp.sign, b, len))
        continue; // the common case, checked on packed bytes
      unpack(payload + sp.index, payload + sp.sign, b, len, q, sg);
      uint32_t bad = 0;
      for (uint32_t i = 0; i < len; ++i)
        bad |= uint32_t(!kAllIndicesValid && q[i] >= NL) |
               uint32_t(q[i] == 0) & sg[i];
      if (!bad)
        continue;
      for (uint32_t i = 0; i < len; ++i) {
        uint64_t at = seg.offset + b + i;
        if (q[i] >= NL) {
          err.what = "level index " + std::to_string(q[i]) + " at coordinate " +
                     std::to_string(at) + " exceeds the type's " +
                     std::to_string(NL) + " levels";
          return false;
        }
        if (q[i] == 0 && sg[i]) {
          err.what = "negative zero code at coordinate " + std::to_string(at);
          return false;
        }
      }
    }
    uint64_t idxBits = seg.length * IB;
    bool padIdx =
        idxBits % 8 && (payload[sp.index + idxBits / 8] >> (idxBits % 8));
    bool padSign = seg.length % 8 &&
                   (payload[sp.sign + seg.length / 8] >> (seg.length % 8));
    if (padIdx || padSign) {
      err.what = "non-zero padding bits after coordinate " +
                 std::to_string(seg.offset + seg.length - 1);
      return false;
    }
    return true;
  }

  /// sum += weight * Q_k for k = 0..K-1 in order, bucket by bucket (so sum
  /// is read and written once while every message is streamed).
  static void accumulate(const DecodeArgs &a, const qoda_segment_info &seg,
                         const SegmentPlan &sp, const LevelData &d) {
    uint32_t q[BUCKET], sg[BUCKET];
    for (uint64_t b = 0; b < seg.length; b += BUCKET) {
      uint32_t len = uint32_t(std::min<uint64_t>(BUCKET, seg.length - b));
      float *s = a.sum + seg.offset + b;
      for (uint32_t k = 0; k < a.k; ++k) {
        const uint8_t *payload = a.payloads[k];
        float scale = a.weight * readNorm(payload + sp.begin, b / BUCKET);
#ifdef QODA_KERNELS_LEVELVEC
        if (kByteAligned && quant::levelvec::cpuHasAvx2()) {
          quant::levelvec::avx2::accumulateRun<IB>(
              d.levels, NL, payload + sp.index + b / 8 * IB,
              payload + sp.sign + b / 8, len, scale, s);
          continue;
        }
#endif
        unpack(payload + sp.index, payload + sp.sign, b, len, q, sg);
        // scale * l_q for every q once per bucket: the same products the
        // reference forms per coordinate; the sign is a bit flip (= -x).
        uint32_t t[1u << IB];
        for (uint32_t m = 0; m < (1u << IB); ++m) {
          float x = scale * d.levels[m < NL ? m : 0];
          std::memcpy(&t[m], &x, 4);
        }
        for (uint32_t i = 0; i < len; ++i) {
          uint32_t xb = t[q[i]] ^ (sg[i] << 31);
          float x;
          std::memcpy(&x, &xb, 4);
          s[i] += x;
        }
      }
    }
  }
};

/// The uncompressed path of small and one-dimensional tensors: fp32 copies
/// or round-to-nearest-even fp16 / bf16 casts.
template <uint32_t KIND> struct CastKernel {
  static_assert(KIND >= kKindFp32 && KIND <= kKindBf16, "cast kind");
  static void encode(const EncodeArgs &a, const qoda_segment_info &seg,
                     const SegmentPlan &sp, const LevelData &) {
    const float *x = a.v + seg.offset;
    uint8_t *p = a.payload + sp.begin;
    if (KIND == kKindFp32) {
      std::memcpy(p, x, seg.length * 4);
      return;
    }
    for (uint64_t i = 0; i < seg.length; ++i) {
      uint16_t h = KIND == kKindFp16 ? quant::floatToHalf(x[i])
                                     : quant::floatToBf16(x[i]);
      std::memcpy(p + 2 * i, &h, 2);
    }
  }
  static bool validate(const uint8_t *, const qoda_segment_info &,
                       const SegmentPlan &, DecodeError &) {
    return true; // every bit pattern is a value
  }
  static void accumulate(const DecodeArgs &a, const qoda_segment_info &seg,
                         const SegmentPlan &sp, const LevelData &) {
    float *s = a.sum + seg.offset;
    for (uint32_t k = 0; k < a.k; ++k) {
      const uint8_t *p = a.payloads[k] + sp.begin;
      for (uint64_t i = 0; i < seg.length; ++i) {
        float x;
        if (KIND == kKindFp32) {
          std::memcpy(&x, p + 4 * i, 4);
        } else {
          uint16_t h;
          std::memcpy(&h, p + 2 * i, 2);
          x = KIND == kKindFp16 ? quant::halfToFloat(h) : quant::bf16ToFloat(h);
        }
        s[i] += a.weight * x;
      }
    }
  }
};

/// The fused QODA update of METHOD 2 (see ModelLibABI.h for the contract).
inline void qodaUpdate(const float *mean, float *y, const float *x1, float *x,
                       float *xHalf, float eta, float gamma, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    float yi = y[i] - mean[i];
    float xi = x1[i] + eta * yi;
    y[i] = yi;
    x[i] = xi;
    xHalf[i] = xi - gamma * mean[i];
  }
}

/// One type's kernels as plain function pointers (the generated tables hold
/// one entry per type).
struct TypeKernels {
  void (*encode)(const EncodeArgs &, const qoda_segment_info &,
                 const SegmentPlan &, const LevelData &);
  bool (*validate)(const uint8_t *, const qoda_segment_info &,
                   const SegmentPlan &, DecodeError &);
  void (*accumulate)(const DecodeArgs &, const qoda_segment_info &,
                     const SegmentPlan &, const LevelData &);
};

template <typename K> constexpr TypeKernels typeKernels() {
  return {&K::encode, &K::validate, &K::accumulate};
}

} // namespace qoda::kernels

#endif
