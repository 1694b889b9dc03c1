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
///   counter = (coordinate/4 low 32, coordinate/4 high 32, step low 32, rank)
/// Output word (coordinate % 4) belongs to `coordinate`.
inline std::array<uint32_t, 4> philoxBlock(uint64_t seed, uint64_t step,
                                           uint32_t rank, uint64_t block) {
  return philox4x32_10(
      {uint32_t(block), uint32_t(block >> 32), uint32_t(step), rank},
      {uint32_t(seed), uint32_t(seed >> 32)});
}

/// Uniform float in [0, 1) with 24 random bits (exactly representable).
inline float uniformFromBits(uint32_t bits) {
  return float(bits >> 8) * (1.0f / 16777216.0f);
}

/// The uniform number used for `coordinate` (slow path: one block per call).
inline float philoxUniform(uint64_t seed, uint64_t step, uint32_t rank,
                           uint64_t coordinate) {
  return uniformFromBits(
      philoxBlock(seed, step, rank, coordinate >> 2)[coordinate & 3]);
}

} // namespace qoda::quant

#endif
