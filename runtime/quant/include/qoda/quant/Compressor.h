// The compressor interface shared by compressed collectives and optimisers.
//   auto c = makeCompressor("nuqsgd", {.bits = 4, .bucketSize = 1024});
//   std::vector<uint8_t> msg(c->maxMessageBytes(n));     // no size exchange
//   size_t len = c->encode(v, n, {seed, step, rank}, msg.data());
//   std::string err = c->decodeAccumulate(msg.data(), len, w, sum, n, step);
// decodeAccumulate adds w * Q(v) into `sum` and rejects any malformed message
// with a message string (never reads out of bounds).
#ifndef QODA_QUANT_COMPRESSOR_H
#define QODA_QUANT_COMPRESSOR_H

#include "qoda/quant/Schedule.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qoda::quant {

/// Random-number key of one encode call (see Philox.h).
struct EncodeKey {
  uint64_t seed = 0;
  uint64_t step = 0;
  uint32_t rank = 0;
};

/// Which implementation of the level-quantizer and fp16-cast kernels runs.
/// Both produce byte-identical messages and identical sums; Fast is the AVX2
/// kernel when the CPU has AVX2 (level types: and the bucket size is a
/// multiple of 8; fp16: and F16C), else the scalar reference.
enum class Kernel : uint8_t { Fast = 0, Reference = 1 };

/// Options of makeCompressor. `bits` = level-index bits (sign not counted):
/// qsgd uses 2^bits - 1 uniform intervals, nuqsgd 2^bits - 1 exponential
/// non-zero levels, orq 2^bits fitted levels, cgx 2^bits - 1 steps between
/// the bucket minimum and maximum. "layerwise" takes its levels from
/// `schedule`. bingrad always sends one bit per coordinate.
struct CompressorOptions {
  unsigned bits = 4;
  uint32_t bucketSize = 1024;
  Norm norm = Norm::L2;
  NormPrecision normPrecision = NormPrecision::Fp32;
  Schedule schedule; ///< used by "layerwise" only
  Kernel kernel = Kernel::Fast;
  /// Threads of one encode/decode call (1 = the calling thread only) for
  /// qsgd, nuqsgd, layerwise (split at bucket boundaries) and the casts
  /// (split in 64 Ki chunks); messages do not depend on it. cgx,
  /// cgx-stochastic, orq and bingrad run on one thread and reject > 1.
  unsigned threads = 1;
};

/// Running statistics (bytes are whole messages, header included).
struct CompressorStats {
  uint64_t messages = 0;
  uint64_t coords = 0;
  uint64_t bytes = 0;
  double bitsPerCoord() const { return coords ? 8.0 * bytes / coords : 0.0; }
};

class Compressor {
public:
  virtual ~Compressor() = default;
  virtual std::string name() const = 0;
  /// Upper bound on the message size for n coordinates (depends only on the
  /// configuration and n).
  virtual size_t maxMessageBytes(uint64_t n) const = 0;
  /// Encodes v[0..n) into out (capacity >= maxMessageBytes(n)); returns bytes
  /// written. Throws std::invalid_argument if n does not fit the schedule
  /// (and, for bingrad, on non-finite input; the others send what the
  /// decoder then rejects as an invalid norm or range).
  virtual size_t encode(const float *v, uint64_t n, const EncodeKey &key,
                        uint8_t *out) = 0;
  /// sum[i] += weight * decoded[i]. `step` must equal the encoder's step.
  /// Returns "" on success, otherwise what is wrong (sum is then unchanged).
  virtual std::string decodeAccumulate(const uint8_t *msg, size_t size,
                                       float weight, float *sum, uint64_t n,
                                       uint64_t step) const = 0;
  /// Variance bound eps_Q with E||Q(v)-v||^2 <= eps_Q ||v||^2, or a negative
  /// value if the compressor claims none (casts claim 0 only up to rounding,
  /// so they also return a negative value).
  virtual double varianceBound() const = 0;
  /// True if E[Q(v)] = v.
  virtual bool unbiased() const = 0;
  const CompressorStats &stats() const { return stats_; }

protected:
  CompressorStats stats_;
};

/// Names: "fp32", "fp16", "bf16", "qsgd", "nuqsgd", "layerwise", "cgx",
/// "cgx-stochastic", "orq", "bingrad" (see docs/quant.md).
/// Throws std::invalid_argument for an unknown name or bad options.
std::unique_ptr<Compressor> makeCompressor(const std::string &name,
                                           const CompressorOptions &opts = {});
/// The names makeCompressor accepts.
std::vector<std::string> compressorNames();
/// The kernel Kernel::Fast selects on this machine: "avx2+avx512vl" (the
/// level encoder built for AVX-512VL, the rest AVX2), "avx2" or "scalar".
std::string fastKernelName();

} // namespace qoda::quant

#endif
