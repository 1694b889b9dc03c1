//===- CompressedAggregator.h - compressed collective (a) -------*- C++ -*-===//
//
// The mean over K workers of a flat vector whose segments are either
// compressed or not (the schedule's layout). Compressed segments: every
// worker encodes its coordinates into one fixed-size message, all K
// messages are all-gathered, and every worker decodes and accumulates all K
// in rank order (the unbiased mean QODA's analysis assumes), then scales by
// 1/K. Uncompressed segments: an ordinary fp32 or fp16 all-reduce in the
// same step (RawReducer.h). Message sizes follow from the layout, so no
// size exchange is needed.
//
// Each message starts with a 16-byte header: the sender's ||Vhat_k||^2,
// ||Vhat_k - Vhat_k^prev||^2 (over the whole vector) and a non-finite flag,
// so QODA's step sizes and the NaN policy cost no extra collective.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "qoda/comm/Aggregator.h"
#include "qoda/quant/Schedule.h"


#include <cstdint>
#include <functional>
#include <memory>

namespace qoda::comm {

class RawReducer;

/// A compressor as the collective sees it: a fixed message size, an encoder
/// (may be randomized; its state belongs to the worker) and a decoder that
/// adds the decoded vector to an accumulator.
class MessageCodec {
public:
  virtual ~MessageCodec() = default;
  virtual std::size_t dim() const = 0;
  virtual std::size_t messageBytes() const = 0;
  virtual void encode(const float *v, std::uint8_t *msg) = 0;
  /// acc[i] += decoded[i], for i < dim().
  virtual void decodeAccumulate(const std::uint8_t *msg, float *acc) const = 0;
  /// acc[i] += decoded_0[i] + ... + decoded_{k-1}[i], added message by
  /// message in the order given: the rounding of k decodeAccumulate calls.
  /// Codecs that can stream acc once for all k messages (the compiled
  /// libraries, bucket by bucket) override it; it is the collective's
  /// hottest loop. A message the codec rejects throws std::runtime_error
  /// with acc partly accumulated: acc must not be used then (the
  /// aggregators zero theirs on every call, and the error ends the
  /// optimiser's step before its update; a run should stop on it).
  virtual void decodeAccumulateAll(const std::uint8_t *const *msgs,
                                   std::size_t k, float *acc) const {
    for (std::size_t i = 0; i < k; ++i)
      decodeAccumulate(msgs[i], acc);
  }
  virtual std::string name() const = 0;
  /// Encoder state (RNG counters, level tables) for checkpoints.
  virtual void save(std::ostream &os) const = 0;
  virtual void load(std::istream &is) = 0;
  /// Codecs driven by a quantization schedule return it (in the coordinates
  /// of the vector the aggregator hands them), so that level re-fitting can
  /// work on it; the others return nullptr.
  virtual const quant::Schedule *schedule() const { return nullptr; }
  /// Installs re-fitted levels (same layout and kinds as schedule()).
  virtual void setSchedule(const quant::Schedule &) {
    throw std::logic_error("codec '" + name() + "' has no level tables");
  }
};

/// Builds the codec for coordinates [offset, offset + n) of the vector
/// (collectives (b) and pipelined cut the vector into chunks).
using CodecFactory = std::function<std::unique_ptr<MessageCodec>(
    std::size_t offset, std::size_t n)>;

/// IEEE half precision, round to nearest even: a deterministic codec, also
/// the "fp16" option for uncompressed segments.
class Fp16Codec : public MessageCodec {
public:
  explicit Fp16Codec(std::size_t dim) : dim_(dim) {}
  std::size_t dim() const override { return dim_; }
  std::size_t messageBytes() const override { return 2 * dim_; }
  void encode(const float *v, std::uint8_t *msg) override;
  void decodeAccumulate(const std::uint8_t *msg, float *acc) const override;
  std::string name() const override { return "fp16"; }
  void save(std::ostream &) const override {}
  void load(std::istream &) override {}

private:
  std::size_t dim_;
};

struct LayoutSegment {
  Segment segment;
  /// In the message (through the codec), or else an all-reduce of its own.
  bool compressed = true;
  /// Uncompressed only: Gloo's fp16 all-reduce instead of the fp32 one.
  bool half = false;
};

/// A layout's sizes, for the aggregators that take one.
struct LayoutSizes {
  std::size_t dim = 0;        ///< all coordinates
  std::size_t compressed = 0; ///< those in the message
  std::vector<Segment> segments;
};
/// Checks that `layout`'s segments tile [0, dim) in order and that none is
/// both compressed and fp16; throws std::invalid_argument naming the
/// segment otherwise.
LayoutSizes checkLayout(const std::vector<LayoutSegment> &layout);

class CompressedAggregator : public Aggregator {
public:
  /// `codec->dim()` must equal the total size of the compressed segments.
  CompressedAggregator(Communicator &comm, std::vector<LayoutSegment> layout,
                       std::unique_ptr<MessageCodec> codec);
  ~CompressedAggregator() override;
  void mean(const float *v, float *mean, AggregateStats &stats) override;
  std::size_t dim() const override { return dim_; }
  std::string name() const override { return codec_->name(); }
  void save(std::ostream &os) const override;
  void load(std::istream &is) override;

  /// After mean(): the K gathered messages (header included), for tests
  /// that recompute the reference.
  const std::vector<std::uint8_t> &gathered() const { return all_; }
  std::size_t messageBytes() const { return msgBytes_; }
  const MessageCodec &codec() const { return *codec_; }
  std::vector<MessageCodec *> codecs() override { return {codec_.get()}; }

  static constexpr std::size_t kHeaderBytes = 16;

protected:
  std::size_t codedDim() const override { return compDim_; }

private:
  /// v itself when every coordinate is in the message, else comp_ holding
  /// the compressed segments' coordinates.
  const float *compressedPart(const float *v);
  /// msg_ = header (the raw segments' sq / diff plus this worker's Vhat_k's,
  /// or the non-finite flag) + the codec's message; own_ = its decode.
  void encodeOwn(const float *comp, bool bad, double sq, double diff);
  /// mean's compressed coordinates = (1/K) sum of the K gathered messages.
  void reduceMessages(float *mean);

  std::vector<LayoutSegment> layout_;
  std::unique_ptr<MessageCodec> codec_;
  std::size_t dim_ = 0, compDim_ = 0, msgBytes_;
  std::unique_ptr<RawReducer> raw_;
  std::vector<float> comp_, own_, prevOwn_, acc_;
  std::vector<std::uint8_t> msg_, all_;
  bool havePrev_ = false;
};

} // namespace qoda::comm
