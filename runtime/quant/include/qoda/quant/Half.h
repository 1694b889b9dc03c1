// IEEE fp16 and bfloat16 conversions (round to nearest even), dependency-free,
// used by the fp16/bf16 compressors and for fp16 bucket norms on the wire.
#ifndef QODA_QUANT_HALF_H
#define QODA_QUANT_HALF_H

#include <cstdint>
#include <cstring>

namespace qoda::quant {

inline uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/// float -> fp16, round to nearest even; overflow gives inf, NaN stays NaN.
uint16_t floatToHalf(float f);
/// fp16 -> float (exact).
float halfToFloat(uint16_t h);
/// Smallest fp16 value >= f for finite non-negative f (used for bucket norms
/// so that |v_i| / norm never exceeds 1). Returns inf bits on overflow.
uint16_t floatToHalfRoundUp(float f);

/// float -> bfloat16, round to nearest even.
inline uint16_t floatToBf16(float f) {
  uint32_t u = floatBits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return uint16_t((u >> 16) | 0x40); // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
inline float bf16ToFloat(uint16_t h) { return bitsFloat(uint32_t(h) << 16); }

} // namespace qoda::quant

#endif
