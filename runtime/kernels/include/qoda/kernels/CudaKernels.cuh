// CUDA kernels of a generated model library. Same arithmetic as
// CpuKernels.h (and hence as qoda::quant's reference): the same Philox words,
// IEEE round-to-nearest intrinsics everywhere a compiler could otherwise
// contract into FMA, the same order of every floating-point sum, so a GPU
// message equals the CPU message bit for bit.
//
// Work decomposition: one launch covers all segments. Host code cuts every
// segment into items (a levels segment: one item per norm bucket; a cast
// segment: chunks of 4 coordinates per thread); block i finds its segment by
// binary search in the device segment table (firstItem), then calls the
// generated dispatch, which switches on the segment's type to a kernel
// specialised to that type's constants. A thread owns 8 consecutive
// coordinates of a bucket (two 16-byte loads when aligned) and therefore
// whole bytes of the index and sign planes, so no atomics are needed.
#ifndef QODA_KERNELS_CUDAKERNELS_CUH
#define QODA_KERNELS_CUDAKERNELS_CUH

// This file defines the CUDA half, so CudaBackend.h must declare it.
#undef QODA_MODELLIB_CUDA
#define QODA_MODELLIB_CUDA 1
#include "qoda/kernels/CudaBackend.h"
#include "qoda/kernels/HalfBits.h"
#include "qoda/kernels/MessagePlan.h"
#include "qoda/quant/Wire.h"

#include <cuda_runtime.h>

#include <cstring>
#include <string>
#include <vector>

namespace qoda::kernels::cuda {

struct DevSegment {
  uint64_t offset, length;     ///< coordinates
  uint64_t begin, index, sign; ///< payload-relative bytes (MessagePlan)
  uint64_t firstItem;          ///< first work item of the segment
  uint32_t type, pad;
};

struct DevLevels {
  float levels[256];
  float invWidth[256];
  uint32_t uniform; ///< LevelData::uniform: levels j/s, no interval search
};

struct EncodeJob {
  const float *v;
  uint8_t *payload;
  uint64_t seed, step;
  uint32_t rank;
};

/// First error of each kind: (message << 44) | coordinate, ~0 if none.
enum ErrKind : uint32_t {
  kErrHeader = 0,
  kErrNorm,
  kErrIndex,
  kErrNegZero,
  kErrPadding,
  kNumErrKinds
};
struct ErrorRecord {
  unsigned long long first[kNumErrKinds];
};

struct DecodeJob {
  const uint8_t *const *msgs; ///< device array of k device pointers
  uint32_t k;
  float weight;
  float *sum;
  ErrorRecord *err;
};

__device__ __forceinline__ void recordError(ErrorRecord *e, ErrKind kind,
                                            uint32_t msg, uint64_t coord) {
  atomicMin(&e->first[kind], (unsigned long long)msg << 44 | coord);
}

/// Philox4x32-10 block (quant/Philox.h key/counter layout: block =
/// coordinate / 8, coordinate g takes half-word g % 8 of the 128 bits).
__device__ __forceinline__ uint4 philox(uint64_t seed, uint64_t step,
                                        uint32_t rank, uint64_t block) {
  uint32_t c0 = uint32_t(block), c1 = uint32_t(block >> 32),
           c2 = uint32_t(step), c3 = rank;
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
#pragma unroll
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
    uint32_t hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
    uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return make_uint4(c0, c1, c2, c3);
}

__device__ __forceinline__ uint32_t word(const uint4 &b, uint32_t w) {
  return w == 0 ? b.x : w == 1 ? b.y : w == 2 ? b.z : b.w;
}

/// Loads x[0..n) (n <= 8) of 8 coordinates; 16-byte loads when aligned.
__device__ __forceinline__ void load8(const float *p, uint32_t n, float x[8]) {
  if (n == 8 && (reinterpret_cast<uintptr_t>(p) & 15) == 0) {
    float4 a = reinterpret_cast<const float4 *>(p)[0];
    float4 b = reinterpret_cast<const float4 *>(p)[1];
    x[0] = a.x, x[1] = a.y, x[2] = a.z, x[3] = a.w;
    x[4] = b.x, x[5] = b.y, x[6] = b.z, x[7] = b.w;
    return;
  }
#pragma unroll
  for (uint32_t c = 0; c < 8; ++c)
    x[c] = c < n ? p[c] : 0.0f;
}

__device__ __forceinline__ void store8(float *p, uint32_t n, const float x[8]) {
  if (n == 8 && (reinterpret_cast<uintptr_t>(p) & 15) == 0) {
    reinterpret_cast<float4 *>(p)[0] = make_float4(x[0], x[1], x[2], x[3]);
    reinterpret_cast<float4 *>(p)[1] = make_float4(x[4], x[5], x[6], x[7]);
    return;
  }
#pragma unroll
  for (uint32_t c = 0; c < 8; ++c)
    if (c < n)
      p[c] = x[c];
}

/// The level quantizer of one type (see LevelsKernel in CpuKernels.h).
template <unsigned IB, uint32_t BUCKET, uint32_t NORM, uint32_t NPREC,
          uint32_t NL>
struct LevelsCuda {
  static_assert(BUCKET % 8 == 0, "CUDA kernels need buckets of 8k");
  static constexpr uint32_t kOctets = BUCKET / 8;
  static constexpr uint32_t kNormBytes = NPREC ? 2 : 4;

  __device__ static uint32_t interval(const float *lev, float u) {
    uint32_t lo = 0, hi = NL - 1; // max{j <= NL-2 : l_j <= u}
    while (hi - lo > 1) {
      uint32_t mid = (lo + hi) / 2;
      if (lev[mid] <= u)
        lo = mid;
      else
        hi = mid;
    }
    return lo;
  }

  __device__ static float readNorm(const uint8_t *norms, uint64_t b) {
    if (NPREC) {
      uint16_t h = uint16_t(norms[2 * b] | norms[2 * b + 1] << 8);
      return halfBitsToFloat(h);
    }
    uint32_t u = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i)
      u |= uint32_t(norms[4 * b + i]) << (8 * i);
    return u2f(u);
  }

  /// All threads of the block call this for bucket `item - firstItem`.
  __device__ static void encode(const EncodeJob &j, const DevSegment &s,
                                const DevLevels &dl, uint64_t item, float *sh) {
    __shared__ float lev[NL], iw[NL];
    __shared__ double lane[8];
    __shared__ float normSh;
    const uint32_t t = threadIdx.x;
    for (uint32_t i = t; i < NL; i += blockDim.x) {
      lev[i] = dl.levels[i];
      iw[i] = dl.invWidth[i];
    }
    uint64_t bucket = item - s.firstItem, b = bucket * BUCKET;
    uint32_t len = uint32_t(s.length - b < BUCKET ? s.length - b : BUCKET);
    uint64_t start = s.offset + b;
    uint32_t o = 8 * t, n = t < kOctets && o < len ? min(8u, len - o) : 0;
    float x[8];
    load8(j.v + start + o, n, x);
    if (NORM == 0) {
#pragma unroll
      for (uint32_t c = 0; c < 8; ++c)
        if (c < n)
          sh[o + c] = x[c];
      __syncthreads();
      if (t < 8) { // lane t: positions p % 8 == t, in order (CPU order)
        double acc = 0.0;
        for (uint32_t p = t; p < len; p += 8)
          acc = __dadd_rn(acc, __dmul_rn(double(sh[p]), double(sh[p])));
        lane[t] = acc;
      }
      __syncthreads();
    } else {
      float m = 0.0f;
#pragma unroll
      for (uint32_t c = 0; c < 8; ++c)
        if (c < n)
          m = fabsf(x[c]) > m ? fabsf(x[c]) : m;
      sh[t] = m; // max is exact: any order gives the CPU's value
      __syncthreads();
    }
    if (t == 0) {
      double norm;
      if (NORM == 0) {
        double s2 = __dadd_rn(
            __dadd_rn(__dadd_rn(lane[0], lane[4]), __dadd_rn(lane[2], lane[6])),
            __dadd_rn(__dadd_rn(lane[1], lane[5]),
                      __dadd_rn(lane[3], lane[7])));
        norm = __dsqrt_rn(s2);
      } else {
        float m = 0.0f;
        for (uint32_t i = 0; i < kOctets; ++i)
          m = sh[i] > m ? sh[i] : m;
        norm = m;
      }
      float f = __double2float_rn(norm);
      if (double(f) < norm)
        f = nextafterf(f, INFINITY);
      uint8_t *np = j.payload + s.begin + bucket * kNormBytes;
      if (NPREC) {
        uint16_t h = floatToHalfBitsRoundUp(f);
        f = halfBitsToFloat(h);
        np[0] = uint8_t(h), np[1] = uint8_t(h >> 8);
      } else {
        uint32_t u = f2u(f);
        for (int i = 0; i < 4; ++i)
          np[i] = uint8_t(u >> (8 * i));
      }
      normSh = f;
    }
    __syncthreads();
    if (n == 0)
      return;
    float norm = normSh;
    float inv = norm > 0.0f ? __fdiv_rn(1.0f, norm) : 0.0f;
    uint64_t g0 = start + o;
    // The octet's 8 coordinates lie in one Philox block, or in two when the
    // segment offset is not a multiple of 8.
    uint4 blk[2];
    blk[0] = philox(j.seed, j.step, j.rank, g0 >> 3);
    if ((g0 & 7) != 0)
      blk[1] = philox(j.seed, j.step, j.rank, (g0 >> 3) + 1);
    const bool uniform = dl.uniform != 0;
    uint64_t codes = 0;
    uint32_t signs = 0;
#pragma unroll
    for (uint32_t c = 0; c < 8; ++c) {
      if (c >= n)
        break;
      uint32_t k = uint32_t(g0 & 7) + c; // half-word k of blk[0], blk[1]
      uint32_t r =
          (word(blk[k >> 3], (k & 7) >> 1) >> (16 * (k & 1))) & 0xffffu;
      float u = __fmul_rn(fabsf(x[c]), inv);
      u = u < 1.0f ? u : 1.0f; // NaN -> 1
      uint32_t jv;
      float p;
      if (uniform) { // levels j/s: t = u * s, j = min(trunc(t), s - 1)
        float tt = __fmul_rn(u, float(NL - 1));
        jv = min(__float2uint_rz(tt), NL - 2);
        p = __fsub_rn(tt, float(jv));
      } else {
        jv = interval(lev, u);
        p = __fmul_rn(__fsub_rn(u, lev[jv]), iw[jv]);
      }
      float rf = __fmul_rn(float(r), 1.0f / 65536.0f);
      uint32_t q = rf < p ? jv + 1 : jv;
      codes |= uint64_t(q) << (c * IB);
      signs |= uint32_t(q != 0 && signbit(x[c])) << c;
    }
    // (b + o) is a multiple of 8, so this octet owns whole bytes.
    uint8_t *ip = j.payload + s.index + (b + o) * IB / 8;
    uint32_t nbytes = (n * IB + 7) / 8;
    for (uint32_t i = 0; i < nbytes; ++i)
      ip[i] = uint8_t(codes >> (8 * i));
    j.payload[s.sign + (b + o) / 8] = uint8_t(signs);
  }

  /// Reads the codes of thread t's octet of message m.
  __device__ static void codesOf(const uint8_t *payload, const DevSegment &s,
                                 uint64_t pos, uint32_t n, uint64_t &codes,
                                 uint32_t &signs) {
    const uint8_t *ip = payload + s.index + pos * IB / 8;
    uint32_t nbytes = (n * IB + 7) / 8;
    codes = 0;
    for (uint32_t i = 0; i < nbytes; ++i)
      codes |= uint64_t(ip[i]) << (8 * i);
    signs = payload[s.sign + pos / 8];
  }

  __device__ static void validate(const DecodeJob &j, const DevSegment &s,
                                  uint64_t item, uint32_t m) {
    const uint8_t *payload = j.msgs[m] + quant::kHeaderBytes;
    uint64_t bucket = item - s.firstItem, b = bucket * BUCKET;
    uint32_t len = uint32_t(s.length - b < BUCKET ? s.length - b : BUCKET);
    uint32_t t = threadIdx.x, o = 8 * t;
    if (t == 0) {
      float norm = readNorm(payload + s.begin, bucket);
      if (!(norm >= 0.0f) || !isfinite(norm))
        recordError(j.err, kErrNorm, m, s.offset + b);
    }
    if (t >= kOctets || o >= len)
      return;
    uint32_t n = min(8u, len - o);
    uint64_t codes;
    uint32_t signs;
    codesOf(payload, s, b + o, n, codes, signs);
    for (uint32_t c = 0; c < n; ++c) {
      uint32_t q = uint32_t(codes >> (c * IB)) & ((1u << IB) - 1);
      if (q >= NL)
        recordError(j.err, kErrIndex, m, s.offset + b + o + c);
      else if (q == 0 && ((signs >> c) & 1))
        recordError(j.err, kErrNegZero, m, s.offset + b + o + c);
    }
    if (b + o + n == s.length &&
        ((n * IB % 8 && (codes >> (n * IB)) != 0) || (signs >> n) != 0))
      recordError(j.err, kErrPadding, m, s.offset + s.length - 1);
  }

  __device__ static void accumulate(const DecodeJob &j, const DevSegment &s,
                                    const DevLevels &dl, uint64_t item) {
    uint64_t bucket = item - s.firstItem, b = bucket * BUCKET;
    uint32_t len = uint32_t(s.length - b < BUCKET ? s.length - b : BUCKET);
    uint32_t t = threadIdx.x, o = 8 * t;
    if (t >= kOctets || o >= len)
      return;
    uint32_t n = min(8u, len - o);
    float *sp = j.sum + s.offset + b + o;
    float acc[8];
    load8(sp, n, acc);
    for (uint32_t m = 0; m < j.k; ++m) { // message order = CPU order
      const uint8_t *payload = j.msgs[m] + quant::kHeaderBytes;
      float scale = __fmul_rn(j.weight, readNorm(payload + s.begin, bucket));
      uint64_t codes;
      uint32_t signs;
      codesOf(payload, s, b + o, n, codes, signs);
#pragma unroll
      for (uint32_t c = 0; c < 8; ++c) {
        uint32_t q = uint32_t(codes >> (c * IB)) & ((1u << IB) - 1);
        float x = __fmul_rn(scale, dl.levels[q]);
        acc[c] = __fadd_rn(acc[c], ((signs >> c) & 1) ? -x : x);
      }
    }
    store8(sp, n, acc);
  }
};

/// The uncompressed path (fp32 / fp16 / bf16): 4 coordinates per thread.
template <uint32_t KIND> struct CastCuda {
  static constexpr uint32_t kWidth = KIND == kKindFp32 ? 4 : 2;
  __device__ static void encode(const EncodeJob &j, const DevSegment &s,
                                uint64_t item) {
    uint64_t i0 = (item - s.firstItem) * 4 * blockDim.x + 4 * threadIdx.x;
    uint8_t *p = j.payload + s.begin;
    for (uint64_t i = i0; i < i0 + 4 && i < s.length; ++i) {
      float x = j.v[s.offset + i];
      uint32_t u = KIND == kKindFp32   ? f2u(x)
                   : KIND == kKindFp16 ? floatToHalfBits(x)
                                       : floatToBf16Bits(x);
      for (uint32_t k = 0; k < kWidth; ++k)
        p[kWidth * i + k] = uint8_t(u >> (8 * k));
    }
  }
  __device__ static void accumulate(const DecodeJob &j, const DevSegment &s,
                                    uint64_t item) {
    uint64_t i0 = (item - s.firstItem) * 4 * blockDim.x + 4 * threadIdx.x;
    for (uint64_t i = i0; i < i0 + 4 && i < s.length; ++i) {
      float acc = j.sum[s.offset + i];
      for (uint32_t m = 0; m < j.k; ++m) {
        const uint8_t *p = j.msgs[m] + quant::kHeaderBytes + s.begin;
        uint32_t u = 0;
        for (uint32_t k = 0; k < kWidth; ++k)
          u |= uint32_t(p[kWidth * i + k]) << (8 * k);
        float x = KIND == kKindFp32   ? u2f(u)
                  : KIND == kKindFp16 ? halfBitsToFloat(uint16_t(u))
                                      : bf16BitsToFloat(uint16_t(u));
        acc = __fadd_rn(acc, __fmul_rn(j.weight, x));
      }
      j.sum[s.offset + i] = acc;
    }
  }
};

__device__ __forceinline__ uint32_t findSegment(const DevSegment *segs,
                                                uint32_t n, uint64_t item) {
  uint32_t lo = 0, hi = n; // last segment with firstItem <= item
  while (hi - lo > 1) {
    uint32_t mid = (lo + hi) / 2;
    if (segs[mid].firstItem <= item)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

template <class D>
__global__ void encodeKernel(EncodeJob j, const DevSegment *segs,
                             uint32_t nsegs, const DevLevels *levels) {
  extern __shared__ float sh[];
  const DevSegment &s = segs[findSegment(segs, nsegs, blockIdx.x)];
  D::encode(j, s, levels[s.type], blockIdx.x, sh);
}

/// Checks the k headers against what this model expects.
__global__ void headerKernel(DecodeJob j, uint64_t hash, uint64_t step,
                             uint64_t n, uint64_t payload) {
  uint32_t m = blockIdx.x * blockDim.x + threadIdx.x;
  if (m >= j.k)
    return;
  const uint8_t *h = j.msgs[m];
  auto get = [&](int at, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= uint64_t(h[at + i]) << (8 * i);
    return v;
  };
  uint64_t field = get(0, 4) != quant::kMagic                           ? 1
                   : get(4, 2) != quant::kFormatVersion                 ? 2
                   : get(6, 1) != uint64_t(quant::CompressorId::Levels) ? 3
                   : get(7, 1) != 0                                     ? 4
                   : get(8, 8) != hash                                  ? 5
                   : get(16, 8) != step                                 ? 6
                   : get(24, 8) != n                                    ? 7
                   : get(32, 8) != payload                              ? 8
                                                                        : 0;
  if (field)
    recordError(j.err, kErrHeader, m, field);
}

template <class D>
__global__ void validateKernel(DecodeJob j, const DevSegment *segs,
                               uint32_t nsegs) {
  if (j.err->first[kErrHeader] != ~0ull)
    return; // a bad header: do not read its payload
  const DevSegment &s = segs[findSegment(segs, nsegs, blockIdx.x)];
  for (uint32_t m = 0; m < j.k; ++m)
    D::validate(j, s, blockIdx.x, m);
}

template <class D>
__global__ void accumulateKernel(DecodeJob j, const DevSegment *segs,
                                 uint32_t nsegs, const DevLevels *levels) {
  for (uint32_t e = 0; e < kNumErrKinds; ++e)
    if (j.err->first[e] != ~0ull)
      return; // any invalid message: sum stays unchanged
  const DevSegment &s = segs[findSegment(segs, nsegs, blockIdx.x)];
  D::accumulate(j, s, levels[s.type], blockIdx.x);
}

/// The fused QODA update, 4 coordinates per thread per iteration.
__global__ void updateKernel(const float *mean, float *y, const float *x1,
                             float *x, float *xh, float eta, float gamma,
                             uint64_t n) {
  uint64_t stride = uint64_t(gridDim.x) * blockDim.x;
  for (uint64_t i = blockIdx.x * uint64_t(blockDim.x) + threadIdx.x; i < n;
       i += stride) {
    float m = mean[i];
    float yi = __fsub_rn(y[i], m);
    float xi = __fadd_rn(x1[i], __fmul_rn(eta, yi));
    y[i] = yi;
    x[i] = xi;
    xh[i] = __fsub_rn(xi, __fmul_rn(gamma, m));
  }
}

} // namespace qoda::kernels::cuda

namespace qoda::kernels {

/// Device copies of the tables plus scratch, owned by one model.
struct CudaState {
  uint32_t nsegs = 0;
  uint64_t items = 0, numCoords = 0, payloadBytes = 0;
  uint32_t threads = 0;
  size_t shared = 0;
  cuda::DevSegment *segs = nullptr;
  cuda::DevLevels *levels = nullptr;
  cuda::ErrorRecord *err = nullptr;
  cuda::ErrorRecord *hostErr = nullptr; ///< pinned
  const uint8_t **msgs = nullptr;
  uint32_t msgCap = 0;
};

namespace cuda {

inline bool check(cudaError_t e, const char *what, std::string &err) {
  if (e == cudaSuccess)
    return true;
  err = std::string(what) + ": " + cudaGetErrorString(e);
  return false;
}

inline DevLevels toDev(const LevelData &d) {
  DevLevels l{};
  for (uint32_t i = 0; i < d.count; ++i)
    l.levels[i] = d.levels[i];
  for (uint32_t i = 0; i + 1 < d.count; ++i)
    l.invWidth[i] = d.invWidth[i];
  l.uniform = d.uniform;
  return l;
}

template <class D>
CudaState *create(const qoda_model_layout &l, const MessagePlan &plan,
                  const std::vector<LevelData> &levels, std::string &err) {
  int devices = 0;
  if (!check(cudaGetDeviceCount(&devices), "no usable CUDA device", err))
    return nullptr;
  auto *s = new CudaState;
  s->nsegs = l.num_segments;
  s->numCoords = l.num_coords;
  s->payloadBytes = plan.payloadBytes;
  s->threads = D::kThreads;
  s->shared = D::kMaxBucket * sizeof(float);
  std::vector<DevSegment> segs(l.num_segments);
  uint64_t item = 0;
  for (uint32_t i = 0; i < l.num_segments; ++i) {
    const qoda_segment_info &si = l.segments[i];
    const qoda_type_info &t = l.types[si.type];
    const SegmentPlan &sp = plan.segments[i];
    segs[i] = {si.offset, si.length, sp.begin, sp.index,
               sp.sign,   item,      si.type,  0};
    uint64_t per = t.kind == kKindLevels ? t.bucket : 4ull * D::kThreads;
    item += (si.length + per - 1) / per;
  }
  s->items = item;
  std::vector<DevLevels> dl(l.num_types);
  for (uint32_t t = 0; t < l.num_types; ++t)
    if (l.types[t].kind == kKindLevels)
      dl[t] = toDev(levels[t]);
  bool ok =
      check(cudaMalloc(&s->segs, segs.size() * sizeof(DevSegment) + 1),
            "cudaMalloc", err) &&
      check(cudaMemcpy(s->segs, segs.data(), segs.size() * sizeof(DevSegment),
                       cudaMemcpyHostToDevice),
            "cudaMemcpy", err) &&
      check(cudaMalloc(&s->levels, dl.size() * sizeof(DevLevels) + 1),
            "cudaMalloc", err) &&
      check(cudaMemcpy(s->levels, dl.data(), dl.size() * sizeof(DevLevels),
                       cudaMemcpyHostToDevice),
            "cudaMemcpy", err) &&
      check(cudaMalloc(&s->err, sizeof(ErrorRecord)), "cudaMalloc", err) &&
      check(cudaMallocHost(&s->hostErr, sizeof(ErrorRecord)), "cudaMallocHost",
            err);
  if (!ok) {
    cudaFree(s->segs);
    cudaFree(s->levels);
    cudaFree(s->err);
    cudaFreeHost(s->hostErr);
    delete s;
    return nullptr;
  }
  return s;
}

inline void destroy(CudaState *s) {
  cudaFree(s->segs);
  cudaFree(s->levels);
  cudaFree(s->err);
  cudaFree(s->msgs);
  cudaFreeHost(s->hostErr);
  delete s;
}

inline bool setLevels(CudaState *s, uint32_t type, const LevelData &d,
                      std::string &err) {
  DevLevels l = toDev(d);
  // Synchronous: the next encode sees the new levels.
  return check(
      cudaMemcpy(s->levels + type, &l, sizeof l, cudaMemcpyHostToDevice),
      "cudaMemcpy", err);
}

template <class D>
bool encode(CudaState *s, const uint8_t *header, const float *v, uint64_t seed,
            uint64_t step, uint32_t rank, uint8_t *out, void *stream,
            std::string &err) {
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  if (!check(cudaMemcpyAsync(out, header, quant::kHeaderBytes,
                             cudaMemcpyHostToDevice, st),
             "cudaMemcpyAsync", err))
    return false;
  if (s->items == 0)
    return true;
  EncodeJob j{v, out + quant::kHeaderBytes, seed, step, rank};
  encodeKernel<D><<<unsigned(s->items), s->threads, s->shared, st>>>(
      j, s->segs, s->nsegs, s->levels);
  return check(cudaGetLastError(), "encode kernel launch", err);
}

inline std::string describe(const ErrorRecord &e) {
  static const char *header[] = {"",
                                 "bad magic: not a qoda quantized message",
                                 "unsupported format version",
                                 "message is not from the level quantizer",
                                 "reserved header byte is not zero",
                                 "schedule hash mismatch: the sender uses "
                                 "another schedule",
                                 "message is for another step",
                                 "message has another number of coordinates",
                                 "payload size does not match the schedule"};
  for (uint32_t k = 0; k < kNumErrKinds; ++k) {
    if (e.first[k] == ~0ull)
      continue;
    uint64_t m = e.first[k] >> 44, c = e.first[k] & ((1ull << 44) - 1);
    std::string where = "message " + std::to_string(m) + ": ";
    switch (k) {
    case kErrHeader:
      return where + header[c < 9 ? c : 0];
    case kErrNorm:
      return where + "bucket at coordinate " + std::to_string(c) +
             " has an invalid norm";
    case kErrIndex:
      return where + "level index out of range at coordinate " +
             std::to_string(c);
    case kErrNegZero:
      return where + "negative zero code at coordinate " + std::to_string(c);
    default:
      return where + "non-zero padding bits after coordinate " +
             std::to_string(c);
    }
  }
  return "";
}

template <class D>
qoda_status decode(CudaState *s, const uint8_t *const *msgs,
                   const uint64_t *lens, uint32_t k, float weight,
                   uint64_t step, uint64_t hash, float *sum, void *stream,
                   std::string &err) {
  for (uint32_t i = 0; i < k; ++i)
    if (lens[i] != quant::kHeaderBytes + s->payloadBytes) {
      err = "message " + std::to_string(i) + ": " + std::to_string(lens[i]) +
            " bytes, the schedule implies " +
            std::to_string(quant::kHeaderBytes + s->payloadBytes);
      return QODA_ERR_MESSAGE;
    }
  if (k == 0)
    return QODA_OK;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  if (k > s->msgCap) {
    cudaFree(s->msgs);
    s->msgs = nullptr;
    if (!check(cudaMalloc(&s->msgs, k * sizeof(uint8_t *)), "cudaMalloc", err))
      return QODA_ERR_DEVICE;
    s->msgCap = k;
  }
  DecodeJob j{s->msgs, k, weight, sum, s->err};
  if (!check(cudaMemcpyAsync(s->msgs, msgs, k * sizeof(uint8_t *),
                             cudaMemcpyHostToDevice, st),
             "cudaMemcpyAsync", err) ||
      !check(cudaMemsetAsync(s->err, 0xff, sizeof(ErrorRecord), st),
             "cudaMemsetAsync", err))
    return QODA_ERR_DEVICE;
  headerKernel<<<(k + 63) / 64, 64, 0, st>>>(j, hash, step, s->numCoords,
                                             s->payloadBytes);
  if (s->items) {
    validateKernel<D>
        <<<unsigned(s->items), s->threads, 0, st>>>(j, s->segs, s->nsegs);
    accumulateKernel<D><<<unsigned(s->items), s->threads, 0, st>>>(
        j, s->segs, s->nsegs, s->levels);
  }
  // The status needs the validation result: one small copy back.
  if (!check(cudaMemcpyAsync(s->hostErr, s->err, sizeof(ErrorRecord),
                             cudaMemcpyDeviceToHost, st),
             "cudaMemcpyAsync", err) ||
      !check(cudaStreamSynchronize(st), "decode kernels", err))
    return QODA_ERR_DEVICE;
  err = describe(*s->hostErr);
  return err.empty() ? QODA_OK : QODA_ERR_MESSAGE;
}

inline bool update(CudaState *s, const float *mean, float *y, const float *x1,
                   float *x, float *xh, float eta, float gamma, void *stream,
                   std::string &err) {
  if (s->numCoords == 0)
    return true;
  uint64_t blocks = (s->numCoords + 255) / 256;
  updateKernel<<<unsigned(blocks < 65535 * 8 ? blocks : 65535 * 8), 256, 0,
                 static_cast<cudaStream_t>(stream)>>>(mean, y, x1, x, xh, eta,
                                                      gamma, s->numCoords);
  return check(cudaGetLastError(), "update kernel launch", err);
}

} // namespace cuda
} // namespace qoda::kernels

/// Defines the CudaBackend.h functions for the generated dispatch `D`.
#define QODA_CUDA_MODEL_DEFINE(D)                                              \
  namespace qoda::kernels {                                                    \
  CudaState *cudaCreate(const qoda_model_layout &l, const MessagePlan &p,      \
                        const std::vector<LevelData> &lv, std::string &e) {    \
    return cuda::create<D>(l, p, lv, e);                                       \
  }                                                                            \
  void cudaDestroy(CudaState *s) { cuda::destroy(s); }                         \
  bool cudaSetLevels(CudaState *s, uint32_t t, const LevelData &d,             \
                     std::string &e) {                                         \
    return cuda::setLevels(s, t, d, e);                                        \
  }                                                                            \
  bool cudaEncode(CudaState *s, const uint8_t *h, const float *v,              \
                  uint64_t seed, uint64_t step, uint32_t rank, uint8_t *out,   \
                  void *st, std::string &e) {                                  \
    return cuda::encode<D>(s, h, v, seed, step, rank, out, st, e);             \
  }                                                                            \
  qoda_status cudaDecode(CudaState *s, const uint8_t *const *m,                \
                         const uint64_t *lens, uint32_t k, float w,            \
                         uint64_t step, uint64_t hash, float *sum, void *st,   \
                         std::string &e) {                                     \
    return cuda::decode<D>(s, m, lens, k, w, step, hash, sum, st, e);          \
  }                                                                            \
  bool cudaUpdate(CudaState *s, const float *mean, float *y, const float *x1,  \
                  float *x, float *xh, float eta, float gamma, void *st,       \
                  std::string &e) {                                            \
    return cuda::update(s, mean, y, x1, x, xh, eta, gamma, st, e);             \
  }                                                                            \
  }

#endif
