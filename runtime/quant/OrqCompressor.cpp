// ORQ (METHOD 4): the level quantizer with 2^bits levels fitted to each
// message's own distribution of u = |v_i| / ||bucket||. The interior levels
// satisfy the MQV/ORQ balance condition, found by coordinate descent on a
// 1024-bin histogram of the message, warm-started from the previous
// message's levels (the compressor keeps them); the end levels are 0 and 1
// (so zeros stay exact and the bound eps_Q of the fitted levels applies).
// Payload: the L levels (fp32), then one fixed-width level segment
// (LevelKernel.h) over all n coordinates.
#include "CompressorImpl.h"
#include "LevelKernel.h"
#include "qoda/quant/LevelOpt.h"

#include <cstring>
#include <stdexcept>

namespace qoda::quant::detail {

namespace {

class OrqCompressor : public Compressor {
public:
  explicit OrqCompressor(const CompressorOptions &o)
      : numLevels_(1u << o.bits), kernel_(o.kernel) {
    type_.levels = uniformLevels(numLevels_ - 1);
    type_.bucketSize = o.bucketSize;
    type_.norm = o.norm;
    type_.normPrecision = o.normPrecision;
    // The configuration (without the levels, which travel in the message).
    TypeSchedule t = type_;
    t.levels = {0.0f, 1.0f};
    Schedule s;
    s.types = {t};
    hash_ = s.hash() ^ numLevels_;
  }
  std::string name() const override { return "orq"; }
  uint64_t payload(uint64_t n) const {
    return 4ull * numLevels_ + segmentSizes(n, type_).total();
  }
  size_t maxMessageBytes(uint64_t n) const override {
    return kHeaderBytes + payload(n);
  }

  /// Levels for this message: coordinate descent from the last levels.
  void fit(const float *v, uint64_t n) {
    Histogram h;
    h.addVector(v, n, type_.bucketSize, type_.norm == Norm::Linf);
    WeightedPoints p = pointsFromHistogram(h);
    if (p.value.size() + 2 < numLevels_)
      return; // too few distinct values to place every level: keep the last
    std::vector<float> init =
        warm_ ? type_.levels : quantileLevels(p, numLevels_);
    std::vector<float> l = coordinateDescent(p, init, 100);
    Schedule check = singleTypeSchedule(l, type_.bucketSize);
    if (!check.validate(0).empty() || l.size() != numLevels_)
      return;
    type_.levels = std::move(l);
    warm_ = true;
  }

  size_t encode(const float *v, uint64_t n, const EncodeKey &key,
                uint8_t *out) override {
    fit(v, n);
    LevelTable lt(type_);
    MessageHeader h;
    h.compressor = CompressorId::Orq;
    h.scheduleHash = hash_;
    h.step = key.step;
    h.numCoords = n;
    h.payloadBytes = payload(n);
    writeHeader(h, out);
    std::memcpy(out + kHeaderBytes, type_.levels.data(), 4ull * numLevels_);
    encodeSegment(lt,
                  {v, {n, 0, 0, n}, key, out + kHeaderBytes + 4 * numLevels_},
                  kernel_);
    stats_.messages++;
    stats_.coords += n;
    stats_.bytes += maxMessageBytes(n);
    return maxMessageBytes(n);
  }

  std::string decodeAccumulate(const uint8_t *msg, size_t size, float weight,
                               float *sum, uint64_t n,
                               uint64_t step) const override {
    MessageHeader h;
    std::string err = checkHeader(msg, size, CompressorId::Orq, hash_, n, step,
                                  payload(n), false, h);
    if (!err.empty())
      return err;
    TypeSchedule t = type_;
    t.levels.resize(numLevels_);
    std::memcpy(t.levels.data(), msg + kHeaderBytes, 4ull * numLevels_);
    Schedule s;
    s.types = {t};
    err = s.validate(0);
    if (!err.empty())
      return "message levels: " + err;
    LevelTable lt(t);
    const uint8_t *seg = msg + kHeaderBytes + 4 * numLevels_;
    SegmentRange r{n, 0, 0, n};
    err = validateSegment(lt, seg, r, kernel_);
    if (!err.empty())
      return err;
    accumulateSegment(lt, seg, r, weight, sum, kernel_);
    return "";
  }
  /// No a-priori bound: the levels change per message (each message's own
  /// bound is epsQ of the levels it carries).
  double varianceBound() const override { return -1.0; }
  bool unbiased() const override { return true; }

private:
  unsigned numLevels_;
  Kernel kernel_;
  TypeSchedule type_;
  uint64_t hash_;
  bool warm_ = false;
};

} // namespace

std::unique_ptr<Compressor> makeOrq(const CompressorOptions &o) {
  return std::make_unique<OrqCompressor>(o);
}

} // namespace qoda::quant::detail
