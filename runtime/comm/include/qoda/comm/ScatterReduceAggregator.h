//===- ScatterReduceAggregator.h - compressed collective (b) ----*- C++ -*-===//
//
// Bandwidth-optimal for large K: the vector is cut into K chunks; chunk j
// of every worker is encoded and sent to worker j (all-to-all), worker j
// decodes the K messages, averages them, re-quantizes the reduced chunk,
// and the K reduced chunks are all-gathered and decoded by everyone. Each
// worker sends 2(K-1) messages of about 1/K of the vector. With a layout,
// only its compressed segments are cut into chunks; the uncompressed ones
// go through an fp32 or fp16 all-reduce in the same step (RawReducer.h).
//
// [choice] No worker sees all K full messages, so the step-size statistics
// use the aggregate (METHOD 2): sumSq = ||Vhat||^2 and
// sumSqDiff = ||Vhat - Vhat_prev||^2 of the mean.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "qoda/comm/CompressedAggregator.h"

namespace qoda::comm {

class ScatterReduceAggregator : public Aggregator {
public:
  /// `makeCodec(offset, n)` builds the codec of one chunk (called K times).
  ScatterReduceAggregator(Communicator &comm, std::size_t dim,
                          const CodecFactory &makeCodec);
  /// `makeCodec(offset, n)` builds chunk codecs over the vector of the
  /// layout's compressed coordinates (concatenated in layout order).
  ScatterReduceAggregator(Communicator &comm, std::vector<LayoutSegment> layout,
                          const CodecFactory &makeCodec);
  ~ScatterReduceAggregator() override;
  void mean(const float *v, float *mean, AggregateStats &stats) override;
  std::size_t dim() const override { return dim_; }
  std::string name() const override { return codecs_[0]->name() + "-sr"; }
  void save(std::ostream &os) const override;
  void load(std::istream &is) override;

  std::vector<MessageCodec *> codecs() override;
  std::size_t chunkBegin(int j) const { return begin_[j]; }
  std::size_t chunkEnd(int j) const { return begin_[j + 1]; }
  static constexpr std::size_t kHeaderBytes = 16;

protected:
  std::size_t codedDim() const override { return compDim_; }

private:
  std::vector<LayoutSegment> parts_;
  std::unique_ptr<RawReducer> raw_;
  bool allCompressed_ = true;
  std::vector<float> comp_, compMean_;
  std::size_t dim_ = 0, compDim_ = 0, slot_ = 0; ///< slot_: header + largest chunk message
  std::vector<std::size_t> begin_;
  std::vector<std::unique_ptr<MessageCodec>> codecs_;
  std::vector<std::uint8_t> send_, recv_, reduced_, all_;
  std::vector<float> acc_, prevMean_;
};

} // namespace qoda::comm
