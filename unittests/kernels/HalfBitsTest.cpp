// The host/device fp16 and bf16 conversions of HalfBits.h (used by the CUDA
// kernels) agree with qoda::quant's Half.h (used by the CPU kernels and the
// reference) on every fp16/bf16 pattern and on a dense sweep of floats.
#include "qoda/kernels/HalfBits.h"
#include "qoda/quant/Half.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace qoda;

TEST(HalfBits, DecodeEqualsQuantOnEveryPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float a = kernels::halfBitsToFloat(uint16_t(h));
    float b = quant::halfToFloat(uint16_t(h));
    ASSERT_EQ(quant::floatBits(a), quant::floatBits(b)) << "fp16 " << h;
    ASSERT_EQ(quant::floatBits(kernels::bf16BitsToFloat(uint16_t(h))),
              quant::floatBits(quant::bf16ToFloat(uint16_t(h))));
  }
}

TEST(HalfBits, EncodeEqualsQuantOnFloatSweep) {
  // Every 251st bit pattern covers all exponents, subnormals, ties (the
  // stride is odd) and NaN/inf; the specials are added explicitly.
  auto check = [](uint32_t u) {
    float f = quant::bitsFloat(u);
    ASSERT_EQ(kernels::floatToHalfBits(f), quant::floatToHalf(f)) << u;
    ASSERT_EQ(kernels::floatToBf16Bits(f), quant::floatToBf16(f)) << u;
    if (std::isfinite(f) && f >= 0.0f) {
      ASSERT_EQ(kernels::floatToHalfBitsRoundUp(f),
                quant::floatToHalfRoundUp(f))
          << u;
    }
  };
  for (uint64_t u = 0; u < (uint64_t(1) << 32); u += 251)
    check(uint32_t(u));
  for (uint32_t u :
       {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u,
        0x477ff000u, 0x477fefffu, 0x38800000u, 0x387fffffu, 0x33000000u,
        0x33000001u, 0x3f801000u, 0x3f803000u})
    check(u);
}
