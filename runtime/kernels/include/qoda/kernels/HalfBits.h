// fp16 / bf16 conversions usable on the host and on a CUDA device, with
// exactly the results of qoda::quant's Half.h (round to nearest even, same
// NaN and overflow handling), so GPU messages equal CPU messages bit for bit.
// The CPU kernels call quant's functions; CudaKernels.cuh calls these, and a
// unit test checks both agree on all 2^32 inputs' classes.
#ifndef QODA_KERNELS_HALFBITS_H
#define QODA_KERNELS_HALFBITS_H

#include <cstdint>

#ifdef __CUDACC__
#define QODA_HD __host__ __device__ __forceinline__
#else
#define QODA_HD inline
#endif

namespace qoda::kernels {

QODA_HD uint32_t f2u(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  return u;
#endif
}
QODA_HD float u2f(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
#endif
}

QODA_HD uint16_t floatToHalfBits(float f) {
  uint32_t u = f2u(f);
  uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u)
    return sign | 0x7e00u;
  if (a >= 0x477ff000u)
    return sign | 0x7c00u;
  if (a < 0x38800000u) {
    // Subnormal half: a * 2^24 is exact; round half to even.
#ifdef __CUDA_ARCH__
    float r = rintf(u2f(a) * 16777216.0f);
#else
    float r = __builtin_rintf(u2f(a) * 16777216.0f);
#endif
    return sign | uint16_t(r);
  }
  uint32_t mant = a & 0x7fffffu;
  uint32_t exp = (a >> 23) - 127 + 15;
  uint32_t h = (exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
    ++h;
  return sign | uint16_t(h);
}

QODA_HD float halfBitsToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) {
    float f = float(mant) * (1.0f / 16777216.0f);
    return sign ? -f : f;
  }
  if (exp == 31)
    return u2f(sign | 0x7f800000u | (mant << 13));
  return u2f(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

QODA_HD uint16_t floatToHalfBitsRoundUp(float f) {
  uint16_t h = floatToHalfBits(f);
  if (halfBitsToFloat(h) < f)
    ++h;
  return h;
}

QODA_HD uint16_t floatToBf16Bits(float f) {
  uint32_t u = f2u(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

QODA_HD float bf16BitsToFloat(uint16_t h) { return u2f(uint32_t(h) << 16); }

} // namespace qoda::kernels

#endif
