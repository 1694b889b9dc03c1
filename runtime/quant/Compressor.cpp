// The factory, the shared header checks and the cast compressors
// (fp32/fp16/bf16). The other compressors live in their own files.
#include "qoda/quant/Compressor.h"

#include "CastKernel.h"
#include "CompressorImpl.h"
#include "LevelKernel.h"
#include "Parallel.h"
#include "qoda/quant/Half.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace qoda::quant {

namespace detail {

std::string checkHeader(const uint8_t *msg, size_t size, CompressorId id,
                        uint64_t hash, uint64_t n, uint64_t step,
                        uint64_t payload, bool maxOnly, MessageHeader &h) {
  std::string err = readHeader(msg, size, h);
  if (!err.empty())
    return err;
  if (h.compressor != id)
    return "message is from compressor id " +
           std::to_string(int(h.compressor)) + ", expected " +
           std::to_string(int(id));
  if (h.scheduleHash != hash)
    return "schedule hash mismatch: the sender uses another schedule";
  if (h.numCoords != n)
    return "message has " + std::to_string(h.numCoords) +
           " coordinates, expected " + std::to_string(n);
  if (h.step != step)
    return "message is for step " + std::to_string(h.step) + ", expected " +
           std::to_string(step);
  if (maxOnly ? h.payloadBytes > payload : h.payloadBytes != payload)
    return "payload is " + std::to_string(h.payloadBytes) + " bytes, " +
           (maxOnly ? "at most " : "") + std::to_string(payload) +
           " expected from the configuration";
  return "";
}

size_t castWidth(TypeKind k) { return k == TypeKind::Fp32 ? 4 : 2; }

void encodeCast(TypeKind k, const float *v, uint64_t n, uint8_t *out,
                Kernel kernel) {
  if (k == TypeKind::Fp32) {
    std::memcpy(out, v, n * 4);
    return;
  }
  if (k == TypeKind::Fp16 && kernel == Kernel::Fast && f16cAvailable()) {
    floatsToHalvesF16c(v, n, out);
    return;
  }
  for (uint64_t i = 0; i < n; ++i) {
    uint16_t x = k == TypeKind::Fp16 ? floatToHalf(v[i]) : floatToBf16(v[i]);
    std::memcpy(out + 2 * i, &x, 2);
  }
}

void accumulateCast(TypeKind k, const uint8_t *in, uint64_t n, float weight,
                    float *sum, Kernel kernel) {
  if (k == TypeKind::Fp16 && kernel == Kernel::Fast && f16cAvailable()) {
    accumulateHalvesF16c(in, n, weight, sum);
    return;
  }
  for (uint64_t i = 0; i < n; ++i) {
    float x;
    if (k == TypeKind::Fp32) {
      std::memcpy(&x, in + 4 * i, 4);
    } else {
      uint16_t b;
      std::memcpy(&b, in + 2 * i, 2);
      x = k == TypeKind::Fp16 ? halfToFloat(b) : bf16ToFloat(b);
    }
    sum[i] += weight * x;
  }
}

namespace {

/// fp32 / fp16 / bf16: element-wise casts, no bound claimed.
class CastCompressor : public Compressor {
public:
  CastCompressor(TypeKind k, Kernel kernel, unsigned threads)
      : kind_(k), kernel_(kernel), threads_(threads) {}
  /// Runs f(begin, end) over chunks of the coordinates on threads_ threads.
  template <typename F> void chunks(uint64_t n, F &&f) const {
    const uint64_t chunk = uint64_t(1) << 16;
    parallelFor(threads_, size_t((n + chunk - 1) / chunk), [&](size_t c) {
      f(c * chunk, std::min<uint64_t>(n, (c + 1) * chunk));
    });
  }
  std::string name() const override {
    return kind_ == TypeKind::Fp32   ? "fp32"
           : kind_ == TypeKind::Fp16 ? "fp16"
                                     : "bf16";
  }
  CompressorId id() const {
    return kind_ == TypeKind::Fp32   ? CompressorId::Fp32
           : kind_ == TypeKind::Fp16 ? CompressorId::Fp16
                                     : CompressorId::Bf16;
  }
  size_t maxMessageBytes(uint64_t n) const override {
    return kHeaderBytes + n * castWidth(kind_);
  }
  size_t encode(const float *v, uint64_t n, const EncodeKey &key,
                uint8_t *out) override {
    MessageHeader h;
    h.compressor = id();
    h.step = key.step;
    h.numCoords = n;
    h.payloadBytes = n * castWidth(kind_);
    writeHeader(h, out);
    uint8_t *p = out + kHeaderBytes;
    size_t w = castWidth(kind_);
    chunks(n, [&](uint64_t b, uint64_t e) {
      encodeCast(kind_, v + b, e - b, p + w * b, kernel_);
    });
    stats_.messages++;
    stats_.coords += n;
    stats_.bytes += maxMessageBytes(n);
    return maxMessageBytes(n);
  }
  std::string decodeAccumulate(const uint8_t *msg, size_t size, float weight,
                               float *sum, uint64_t n,
                               uint64_t step) const override {
    MessageHeader h;
    std::string err = checkHeader(msg, size, id(), 0, n, step,
                                  n * castWidth(kind_), false, h);
    if (!err.empty())
      return err;
    const uint8_t *p = msg + kHeaderBytes;
    size_t w = castWidth(kind_);
    chunks(n, [&](uint64_t b, uint64_t e) {
      accumulateCast(kind_, p + w * b, e - b, weight, sum + b, kernel_);
    });
    return "";
  }
  double varianceBound() const override { return -1.0; }
  bool unbiased() const override { return false; }

private:
  TypeKind kind_;
  Kernel kernel_;
  unsigned threads_;
};

} // namespace

std::unique_ptr<Compressor> makeCast(TypeKind k, const CompressorOptions &o) {
  return std::make_unique<CastCompressor>(k, o.kernel, o.threads);
}

} // namespace detail

std::vector<std::string> compressorNames() {
  return {"fp32",      "fp16", "bf16",           "qsgd", "nuqsgd",
          "layerwise", "cgx",  "cgx-stochastic", "orq",  "bingrad"};
}

std::string fastKernelName() {
  if (!detail::avx2Available())
    return "scalar";
  // The level encoder's AVX-512VL build (decoders and casts stay AVX2/F16C).
  return detail::avx512Available() ? "avx2+avx512vl" : "avx2";
}

std::unique_ptr<Compressor> makeCompressor(const std::string &name,
                                           const CompressorOptions &o) {
  if (o.threads < 1 || o.threads > 256)
    throw std::invalid_argument(name + ": threads must be 1..256, got " +
                                std::to_string(o.threads));
  if (name == "fp32")
    return detail::makeCast(TypeKind::Fp32, o);
  if (name == "fp16")
    return detail::makeCast(TypeKind::Fp16, o);
  if (name == "bf16")
    return detail::makeCast(TypeKind::Bf16, o);
  if (name == "layerwise")
    return detail::makeLevels(name, o.schedule, o);
  if (o.threads > 1 && (name == "bingrad" || name == "cgx" ||
                        name == "cgx-stochastic" || name == "orq"))
    throw std::invalid_argument(name +
                                ": runs on one thread (threads must "
                                "be 1, got " +
                                std::to_string(o.threads) + ")");
  if (name == "bingrad") {
    if (o.bucketSize == 0)
      throw std::invalid_argument("bingrad: bucket size must be positive");
    return detail::makeBinGrad(o);
  }
  bool known = false;
  for (const std::string &k : compressorNames())
    known |= k == name;
  if (!known) {
    std::string all;
    for (const std::string &k : compressorNames())
      all += " " + k;
    throw std::invalid_argument("unknown compressor '" + name +
                                "'; known:" + all);
  }
  if (o.bits < 1 || o.bits > 8)
    throw std::invalid_argument(name + ": bits must be 1..8, got " +
                                std::to_string(o.bits));
  if (o.bucketSize == 0)
    throw std::invalid_argument(name + ": bucket size must be positive");
  unsigned s = (1u << o.bits) - 1;
  if (name == "qsgd")
    return detail::makeLevels(name,
                              singleTypeSchedule(uniformLevels(s), o.bucketSize,
                                                 o.norm, o.normPrecision),
                              o);
  if (name == "nuqsgd") {
    if (o.bits > 7) // 2^-(s-1) must stay a normal float
      throw std::invalid_argument("nuqsgd: bits must be 1..7, got " +
                                  std::to_string(o.bits));
    return detail::makeLevels(name,
                              singleTypeSchedule(exponentialLevels(s),
                                                 o.bucketSize, o.norm,
                                                 o.normPrecision),
                              o);
  }
  if (name == "cgx" || name == "cgx-stochastic")
    return detail::makeCgx(name == "cgx-stochastic", o);
  return detail::makeOrq(o); // "orq"
}

} // namespace qoda::quant
