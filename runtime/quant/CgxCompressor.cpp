// CGX max-min quantizer (METHOD 5): per bucket, unit = (max - min) / s with
// s = 2^bits - 1, q_i = round((v_i - min) / unit) to the nearest step ("cgx")
// or stochastically ("cgx-stochastic", unbiased, Philox keyed as the level
// quantizer). Payload: per bucket min and max (fp32), then a plane of
// `bits`-bit indices (LSB first, zero-padded). Decoded value: min + q * unit.
#include "CompressorImpl.h"

#include "qoda/quant/Philox.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

namespace qoda::quant::detail {

namespace {

class CgxCompressor : public Compressor {
public:
  CgxCompressor(bool stochastic, const CompressorOptions &o)
      : stochastic_(stochastic), bits_(o.bits), bucket_(o.bucketSize),
        steps_((1u << o.bits) - 1) {
    // The configuration travels as the "schedule hash" so a peer with other
    // settings is rejected.
    hash_ = uint64_t(bits_) << 32 | bucket_;
  }
  std::string name() const override {
    return stochastic_ ? "cgx-stochastic" : "cgx";
  }
  CompressorId id() const {
    return stochastic_ ? CompressorId::CgxStoch : CompressorId::Cgx;
  }
  uint64_t buckets(uint64_t n) const { return (n + bucket_ - 1) / bucket_; }
  uint64_t payload(uint64_t n) const {
    return buckets(n) * 8 + (n * bits_ + 7) / 8;
  }
  size_t maxMessageBytes(uint64_t n) const override {
    return kHeaderBytes + payload(n);
  }
  /// The step as both sides compute it from the transmitted min and max.
  float unit(float lo, float hi) const { return (hi - lo) / float(steps_); }

  size_t encode(const float *v, uint64_t n, const EncodeKey &key,
                uint8_t *out) override {
    MessageHeader h;
    h.compressor = id();
    h.scheduleHash = hash_;
    h.step = key.step;
    h.numCoords = n;
    h.payloadBytes = payload(n);
    writeHeader(h, out);
    uint8_t *mm = out + kHeaderBytes, *plane = mm + buckets(n) * 8;
    uint64_t acc = 0; // LSB-first bit accumulator over the whole plane
    unsigned have = 0;
    std::array<uint32_t, 4> block{}; // one Philox block serves 8 coordinates
    uint64_t blockId = ~uint64_t(0);
    for (uint64_t b0 = 0; b0 < n; b0 += bucket_) {
      uint64_t b1 = std::min<uint64_t>(n, b0 + bucket_);
      float lo = v[b0], hi = v[b0];
      for (uint64_t i = b0; i < b1; ++i) {
        lo = std::min(lo, v[i]);
        hi = std::max(hi, v[i]);
      }
      std::memcpy(mm + b0 / bucket_ * 8, &lo, 4);
      std::memcpy(mm + b0 / bucket_ * 8 + 4, &hi, 4);
      float u = unit(lo, hi);
      float inv = u > 0.0f ? 1.0f / u : 0.0f;
      for (uint64_t i = b0; i < b1; ++i) {
        float t = std::min((v[i] - lo) * inv, float(steps_));
        if (!(t >= 0.0f))
          t = 0.0f; // NaN input: send the minimum rather than garbage
        uint32_t q;
        if (stochastic_) {
          float f = std::floor(t);
          if ((i >> 3) != blockId) {
            blockId = i >> 3;
            block = philoxBlock(key.seed, key.step, key.rank, blockId);
          }
          float r = uniformFromBits16(randomBits16(block, i));
          q = uint32_t(f) + (r < t - f ? 1u : 0u);
        } else {
          q = uint32_t(std::nearbyint(t));
        }
        acc |= uint64_t(std::min(q, steps_)) << have;
        have += bits_;
        while (have >= 8) {
          *plane++ = uint8_t(acc);
          acc >>= 8;
          have -= 8;
        }
      }
    }
    if (have)
      *plane = uint8_t(acc);
    stats_.messages++;
    stats_.coords += n;
    stats_.bytes += maxMessageBytes(n);
    return maxMessageBytes(n);
  }

  std::string decodeAccumulate(const uint8_t *msg, size_t size, float weight,
                               float *sum, uint64_t n,
                               uint64_t step) const override {
    MessageHeader h;
    std::string err =
        checkHeader(msg, size, id(), hash_, n, step, payload(n), false, h);
    if (!err.empty())
      return err;
    const uint8_t *mm = msg + kHeaderBytes, *plane = mm + buckets(n) * 8;
    for (uint64_t b = 0; b < buckets(n); ++b) {
      float lo, hi;
      std::memcpy(&lo, mm + b * 8, 4);
      std::memcpy(&hi, mm + b * 8 + 4, 4);
      if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo <= hi) ||
          !std::isfinite(unit(lo, hi)))
        return "bucket " + std::to_string(b) + " has an invalid min/max";
    }
    uint64_t used = n * bits_;
    if (used % 8 && (plane[used / 8] >> (used % 8)))
      return "non-zero padding bits after the last coordinate";
    // Every bits-wide value is a valid index (s = 2^bits - 1).
    for (uint64_t b0 = 0; b0 < n; b0 += bucket_) {
      uint64_t b1 = std::min<uint64_t>(n, b0 + bucket_);
      float lo, hi;
      std::memcpy(&lo, mm + b0 / bucket_ * 8, 4);
      std::memcpy(&hi, mm + b0 / bucket_ * 8 + 4, 4);
      float u = unit(lo, hi);
      const uint32_t mask = (1u << bits_) - 1;
      for (uint64_t i = b0; i < b1; ++i) {
        // Bits [i*bits, i*bits + bits) span at most two bytes (bits <= 8).
        uint64_t bit = i * bits_;
        uint32_t two = plane[bit / 8];
        if (bit / 8 + 1 < (n * bits_ + 7) / 8)
          two |= uint32_t(plane[bit / 8 + 1]) << 8;
        uint32_t q = (two >> (bit % 8)) & mask;
        sum[i] += weight * (lo + float(q) * u);
      }
    }
    return "";
  }
  /// Per coordinate the error is at most unit/2 (nearest) and the variance
  /// at most unit^2/4 (stochastic); unit <= 2 max|v| / s, so
  /// E||Q(v)-v||^2 <= d unit^2 / 4 <= (d / s^2) ||v||^2 per bucket.
  double varianceBound() const override {
    return stochastic_ ? double(bucket_) / (double(steps_) * steps_) : -1.0;
  }
  bool unbiased() const override { return stochastic_; }

private:
  bool stochastic_;
  unsigned bits_;
  uint32_t bucket_;
  uint32_t steps_;
  uint64_t hash_;
};

} // namespace

std::unique_ptr<Compressor> makeCgx(bool stochastic,
                                    const CompressorOptions &o) {
  return std::make_unique<CgxCompressor>(stochastic, o);
}

} // namespace qoda::quant::detail
