// fp16 conversions (see Half.h).
#include "qoda/quant/Half.h"

#include <cmath>

namespace qoda::quant {

uint16_t floatToHalf(float f) {
  uint32_t u = floatBits(f);
  uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u)
    return sign | 0x7e00u; // NaN
  if (a >= 0x477ff000u)    // rounds to >= 65520: inf
    return sign | 0x7c00u;
  if (a < 0x38800000u) { // subnormal half (or zero)
    // value = a_float; half subnormal unit = 2^-24.
    float scaled = bitsFloat(a) * 16777216.0f; // exact: multiply by 2^24
    float r = std::nearbyint(scaled);          // ties to even (default mode)
    return sign | uint16_t(r);
  }
  uint32_t mant = a & 0x7fffffu;
  uint32_t exp = (a >> 23) - 127 + 15;
  uint32_t h = (exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
    ++h; // carry into the exponent is the correct result
  return sign | uint16_t(h);
}

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) {
    float f = float(mant) * (1.0f / 16777216.0f);
    return sign ? -f : f;
  }
  if (exp == 31)
    return bitsFloat(sign | 0x7f800000u | (mant << 13));
  return bitsFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

uint16_t floatToHalfRoundUp(float f) {
  uint16_t h = floatToHalf(f);
  if (halfToFloat(h) < f)
    ++h; // next fp16 magnitude (f >= 0)
  return h;
}

} // namespace qoda::quant
