// Internal: fp16 casts of whole arrays. The F16C kernel gives exactly the
// bits of floatToHalf / halfToFloat (Half.h), NaNs included (hardware
// conversion keeps NaN payloads, Half.h canonicalises; the kernel patches
// those lanes), and runs when the CPU has AVX2 and F16C.
#ifndef QODA_QUANT_CASTKERNEL_H
#define QODA_QUANT_CASTKERNEL_H

#include <cstdint>

namespace qoda::quant::detail {

bool f16cAvailable();
/// out[i] = floatToHalf(v[i]) (little-endian, 2 bytes each).
void floatsToHalvesF16c(const float *v, uint64_t n, uint8_t *out);
/// sum[i] += weight * halfToFloat(in[i]).
void accumulateHalvesF16c(const uint8_t *in, uint64_t n, float weight,
                          float *sum);

} // namespace qoda::quant::detail

#endif
