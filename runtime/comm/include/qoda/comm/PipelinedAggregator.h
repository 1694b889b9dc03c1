//===- PipelinedAggregator.h - collective (a) with overlap ------*- C++ -*-===//
//
// Compressed collective (a) cut into P pieces so that encoding piece p+1
// and decoding piece p-1 overlap the transfer of piece p: the all-gathers
// run one at a time on a helper thread (the communicator is never used by
// two threads at once), the encoder and decoder on the caller's thread.
// The result is the same as CompressedAggregator's: every coordinate is
// the rank-ordered sum of the K decoded messages times 1/K.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "qoda/comm/ScatterReduceAggregator.h" // CodecFactory

namespace qoda::comm {

class PipelinedAggregator : public Aggregator {
public:
  PipelinedAggregator(Communicator &comm, std::size_t dim, std::size_t pieces,
                      const CodecFactory &makeCodec);
  void mean(const float *v, float *mean, AggregateStats &stats) override;
  std::size_t dim() const override { return dim_; }
  std::string name() const override { return codecs_[0]->name() + "-pipe"; }
  void save(std::ostream &os) const override;
  void load(std::istream &is) override;
  std::vector<MessageCodec *> codecs() override;
  static constexpr std::size_t kHeaderBytes = 16;

private:
  std::size_t dim_;
  std::vector<std::size_t> begin_, msgBytes_;
  std::vector<std::unique_ptr<MessageCodec>> codecs_;
  std::vector<std::vector<std::uint8_t>> msg_, all_;
  std::vector<float> own_, prevOwn_;
};

} // namespace qoda::comm
