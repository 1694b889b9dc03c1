//===- ScheduleCodec.h - the layer-wise codec of a schedule -----*- C++ -*-===//
//
// A MessageCodec driven by a quantization schedule (docs/schedule.md): it
// encodes coordinates [offset, offset + n) of the flat vector the schedule
// describes. Coordinates of `levels` types go through the quantization
// library's layer-wise compressor (each type with its own levels, bucket
// and norm; buckets restart at every segment and at the
// chunk start); coordinates of fp32/fp16/bf16 types travel as casts in the
// same message, so a collective needs no second transport. Collectives (a)
// and (b) may send fp32/fp16 types through their own all-reduce instead
// (`routeUncompressed`; `compressedLayout` / `compressedSchedule` split the
// vector for it); pipelined keeps every type in its messages.
//
// The codec's range is cut into maximal runs of one kind (adjacent levels
// segments of different types share a run), each encoded from and decoded
// into the vector in place: no gather or scatter through a buffer.
//
// Message: step (8 bytes) | per run: length (8) + run message, each run
// padded to its bound, so the size depends only on the schedule.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "qoda/comm/CompressedAggregator.h"
#include "qoda/quant/Compressor.h"

namespace qoda::comm {

class ScheduleCodec : public MessageCodec {
public:
  /// `full` describes the whole vector (its segments must tile it);
  /// throws std::invalid_argument if it is unusable or [offset, offset+n)
  /// lies outside it.
  ScheduleCodec(const quant::Schedule &full, std::size_t offset, std::size_t n,
                std::uint64_t seed, std::uint32_t rank);
  std::size_t dim() const override { return n_; }
  std::size_t messageBytes() const override { return bytes_; }
  void encode(const float *v, std::uint8_t *msg) override;
  void decodeAccumulate(const std::uint8_t *msg, float *acc) const override;
  void decodeAccumulateAll(const std::uint8_t *const *msgs, std::size_t k,
                           float *acc) const override;
  std::string name() const override { return "layerwise"; }
  void save(std::ostream &os) const override;
  void load(std::istream &is) override;
  const quant::Schedule *schedule() const override { return &full_; }
  void setSchedule(const quant::Schedule &s) override;

private:
  /// A maximal run [begin, begin + coords) of the codec's range whose
  /// segments have one kind: encoded and decoded in place by one compressor.
  struct Run {
    quant::TypeKind kind;
    std::size_t begin = 0, coords = 0, maxBytes = 0;
    std::uint64_t seed = 0;
    quant::Schedule levels; ///< levels runs: re-based, all levels types
    std::unique_ptr<quant::Compressor> c;
  };
  void build();

  quant::Schedule full_;
  std::size_t offset_, n_, bytes_ = 0;
  std::uint64_t seed_, step_ = 0;
  std::uint32_t rank_;
  std::vector<Run> runs_;
};

/// Which uncompressed types of a schedule leave the message for an
/// all-reduce of their own (RawReducer.h). bf16 types always stay in the
/// message (Gloo has no bf16 sum).
struct RawRouting {
  bool fp32 = true;  ///< fp32 types: the fp32 all-reduce
  bool fp16 = false; ///< fp16 types: Gloo's fp16 all-reduce
};

/// [choice] A kind (fp32, fp16) goes through its all-reduce when its
/// coordinates put at least `minBytes` on the wire per worker (4 or 2 bytes
/// each); smaller kinds travel as casts inside the message, where they
/// cost no collective of their own: an all-reduce costs 2(K-1) latencies
/// and saves bytes over the message only in collective (a) with K > 2
/// ((K-1) * bytes in the all-gather against 2(K-1)/K * bytes in the ring).
/// minBytes = 0: every fp32/fp16 type present goes through its all-reduce.
RawRouting routeUncompressed(const quant::Schedule &full, std::uint64_t n,
                             std::uint64_t minBytes);

/// The layout of the collectives for a schedule over n coordinates: one
/// segment per schedule segment, compressed unless `route` sends its type
/// to an all-reduce (fp16 ones marked `half`).
std::vector<LayoutSegment> compressedLayout(const quant::Schedule &full,
                                            std::uint64_t n,
                                            RawRouting route = {});
/// The schedule of the compressed coordinates of that layout (all-reduced
/// segments dropped, the rest re-based to be contiguous).
quant::Schedule compressedSchedule(const quant::Schedule &full,
                                   std::uint64_t n, RawRouting route = {});

} // namespace qoda::comm
