// BinGrad (METHOD 4): the optimal biased two-value quantizer per bucket
// (Lloyd-Max with two cells, exact split of the sorted values), used with
// error feedback: the compressor keeps e = w - Q(w) with w = v + e of the
// previous call, so errors are sent later instead of lost. One compressor
// object per sender; its state follows n (a call with another n restarts
// from e = 0). Payload: per bucket low and high (fp32), then one bit per
// coordinate (1 = high), LSB first, zero-padded.
#include "CompressorImpl.h"
#include "qoda/quant/LevelOpt.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace qoda::quant::detail {

namespace {

class BinGradCompressor : public Compressor {
public:
  explicit BinGradCompressor(const CompressorOptions &o)
      : bucket_(o.bucketSize) {}
  std::string name() const override { return "bingrad"; }
  uint64_t buckets(uint64_t n) const { return (n + bucket_ - 1) / bucket_; }
  uint64_t payload(uint64_t n) const { return buckets(n) * 8 + (n + 7) / 8; }
  size_t maxMessageBytes(uint64_t n) const override {
    return kHeaderBytes + payload(n);
  }

  size_t encode(const float *v, uint64_t n, const EncodeKey &key,
                uint8_t *out) override {
    if (error_.size() != n)
      error_.assign(n, 0.0f);
    // The split sorts each bucket, which NaN would break; checked before any
    // state changes so a rejected call leaves the error memory as it was.
    for (uint64_t i = 0; i < n; ++i)
      if (!std::isfinite(v[i] + error_[i]))
        throw std::invalid_argument("bingrad: non-finite value at coordinate " +
                                    std::to_string(i) +
                                    " (input plus error feedback)");
    MessageHeader h;
    h.compressor = CompressorId::BinGrad;
    h.scheduleHash = bucket_;
    h.step = key.step;
    h.numCoords = n;
    h.payloadBytes = payload(n);
    writeHeader(h, out);
    uint8_t *vals = out + kHeaderBytes, *plane = vals + buckets(n) * 8;
    std::memset(plane, 0, (n + 7) / 8);
    std::vector<float> w;
    for (uint64_t b0 = 0; b0 < n; b0 += bucket_) {
      uint64_t b1 = std::min<uint64_t>(n, b0 + bucket_);
      w.assign(v + b0, v + b1);
      for (uint64_t i = b0; i < b1; ++i)
        w[i - b0] += error_[i];
      BinarySplit s = binGradSplit(w);
      float lo = float(s.low), hi = float(s.high);
      std::memcpy(vals + b0 / bucket_ * 8, &lo, 4);
      std::memcpy(vals + b0 / bucket_ * 8 + 4, &hi, 4);
      for (uint64_t i = b0; i < b1; ++i) {
        bool high = double(w[i - b0]) >= s.threshold;
        if (high)
          plane[i / 8] |= uint8_t(1u << (i % 8));
        error_[i] = w[i - b0] - (high ? hi : lo);
      }
    }
    stats_.messages++;
    stats_.coords += n;
    stats_.bytes += maxMessageBytes(n);
    return maxMessageBytes(n);
  }

  std::string decodeAccumulate(const uint8_t *msg, size_t size, float weight,
                               float *sum, uint64_t n,
                               uint64_t step) const override {
    MessageHeader h;
    std::string err = checkHeader(msg, size, CompressorId::BinGrad, bucket_, n,
                                  step, payload(n), false, h);
    if (!err.empty())
      return err;
    const uint8_t *vals = msg + kHeaderBytes, *plane = vals + buckets(n) * 8;
    for (uint64_t b = 0; b < buckets(n); ++b) {
      float lo, hi;
      std::memcpy(&lo, vals + b * 8, 4);
      std::memcpy(&hi, vals + b * 8 + 4, 4);
      if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo <= hi))
        return "bucket " + std::to_string(b) + " has invalid values";
    }
    if (n % 8 && (plane[n / 8] >> (n % 8)))
      return "non-zero padding bits after the last coordinate";
    for (uint64_t i = 0; i < n; ++i) {
      bool high = (plane[i / 8] >> (i % 8)) & 1u;
      float x;
      std::memcpy(&x, vals + i / bucket_ * 8 + (high ? 4 : 0), 4);
      sum[i] += weight * x;
    }
    return "";
  }
  double varianceBound() const override { return -1.0; }
  bool unbiased() const override { return false; }

private:
  uint32_t bucket_;
  std::vector<float> error_;
};

} // namespace

std::unique_ptr<Compressor> makeBinGrad(const CompressorOptions &o) {
  return std::make_unique<BinGradCompressor>(o);
}

} // namespace qoda::quant::detail
