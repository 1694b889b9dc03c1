// Philox4x32-10 counter-based random numbers keyed by (seed, step, rank,
// coordinate). Stateless: any implementation (this CPU library, a CUDA kernel)
// that uses the same key/counter layout produces the same stochastic rounding
// decisions, so quantized messages are reproducible bit for bit.
#ifndef QODA_QUANT_PHILOX_H
#define QODA_QUANT_PHILOX_H

#include <array>
#include <cstdint>

namespace qoda::quant {

/// One Philox4x32-10 block (Salmon et al., SC'11, Random123 constants).
inline std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> ctr,
                                             std::array<uint32_t, 2> key) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  constexpr uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(M0) * ctr[0];
    uint64_t p1 = uint64_t(M1) * ctr[2];
    ctr = {uint32_t(p1 >> 32) ^ ctr[1] ^ key[0], uint32_t(p1),
           uint32_t(p0 >> 32) ^ ctr[3] ^ key[1], uint32_t(p0)};
    key[0] += W0;
    key[1] += W1;
  }
  return ctr;
}

/// Key/counter layout shared by every implementation:
///   key     = (seed low 32, seed high 32)
///   counter = (block low 32, block high 32, step low 32, rank)
/// with block = coordinate / 8: one block serves 8 consecutive coordinates.
inline std::array<uint32_t, 4> philoxBlock(uint64_t seed, uint64_t step,
                                           uint32_t rank, uint64_t block) {
  return philox4x32_10(
      {uint32_t(block), uint32_t(block >> 32), uint32_t(step), rank},
      {uint32_t(seed), uint32_t(seed >> 32)});
}

/// Coordinates served by one Philox block (16 random bits each).
constexpr unsigned kCoordsPerBlock = 8;

/// The 16 random bits of `coordinate` from its block (coordinate / 8):
/// half-word coordinate % 8 of the 128 output bits, i.e. word
/// (coordinate % 8) / 2, low half for even coordinates, high half for odd
/// ones (on a little-endian host, the block's 8 uint16 in memory order).
inline uint32_t randomBits16(const std::array<uint32_t, 4> &block,
                             uint64_t coordinate) {
  return (block[(coordinate & 7) >> 1] >> (16 * (coordinate & 1))) & 0xffffu;
}

/// Uniform float in [0, 1) from 16 random bits (exact: h * 2^-16). A
/// rounding probability p is then resolved as P(r < p) = ceil(p 2^16) /
/// 2^16, which exceeds p by less than 2^-16.
inline float uniformFromBits16(uint32_t bits16) {
  return float(bits16) * (1.0f / 65536.0f);
}

/// The uniform number used for `coordinate` (slow path: one block per call).
inline float philoxUniform(uint64_t seed, uint64_t step, uint32_t rank,
                           uint64_t coordinate) {
  return uniformFromBits16(
      randomBits16(philoxBlock(seed, step, rank, coordinate >> 3), coordinate));
}

} // namespace qoda::quant

#endif
