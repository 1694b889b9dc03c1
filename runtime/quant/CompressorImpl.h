// Internal: pieces shared by the compressor implementations (header checks,
// cast segments) and the constructors behind makeCompressor.
#ifndef QODA_QUANT_COMPRESSORIMPL_H
#define QODA_QUANT_COMPRESSORIMPL_H

#include "qoda/quant/Compressor.h"
#include "qoda/quant/Wire.h"

#include <memory>
#include <string>

namespace qoda::quant::detail {

/// readHeader plus the checks every decoder makes: compressor id, schedule
/// hash, n, step, and the payload size (exactly `payload`, or at most
/// `payload` when `maxOnly`).
std::string checkHeader(const uint8_t *msg, size_t size, CompressorId id,
                        uint64_t hash, uint64_t n, uint64_t step,
                        uint64_t payload, bool maxOnly, MessageHeader &h);

/// Bytes per coordinate of a cast kind (Fp32 4, Fp16/Bf16 2).
size_t castWidth(TypeKind k);
/// Casts (fp16 through F16C with Kernel::Fast when available; same bits).
void encodeCast(TypeKind k, const float *v, uint64_t n, uint8_t *out,
                Kernel kernel);
void accumulateCast(TypeKind k, const uint8_t *in, uint64_t n, float weight,
                    float *sum, Kernel kernel);

std::unique_ptr<Compressor> makeCast(TypeKind k, const CompressorOptions &o);
std::unique_ptr<Compressor> makeLevels(const std::string &name, Schedule s,
                                       const CompressorOptions &o);
std::unique_ptr<Compressor> makeCgx(bool stochastic,
                                    const CompressorOptions &o);
std::unique_ptr<Compressor> makeOrq(const CompressorOptions &o);
std::unique_ptr<Compressor> makeBinGrad(const CompressorOptions &o);

} // namespace qoda::quant::detail

#endif
