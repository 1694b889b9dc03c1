//===- ScatterReduceAggregator.cpp - compressed collective (b) ------------===//
#include "qoda/comm/ScatterReduceAggregator.h"
#include "qoda/comm/RawReducer.h"
#include "qoda/comm/Serialize.h"
#include "qoda/comm/SquareSums.h"

#include <algorithm>
#include <cstring>

namespace qoda::comm {

ScatterReduceAggregator::ScatterReduceAggregator(Communicator &comm,
                                                 std::size_t dim,
                                                 const CodecFactory &make)
    : ScatterReduceAggregator(comm, {{{"x", 0, dim}, true}}, make) {}

ScatterReduceAggregator::ScatterReduceAggregator(
    Communicator &comm, std::vector<LayoutSegment> layout,
    const CodecFactory &make)
    : Aggregator(comm), parts_(std::move(layout)) {
  int K = comm.size();
  LayoutSizes sizes = checkLayout(parts_);
  dim_ = sizes.dim;
  compDim_ = sizes.compressed;
  allCompressed_ = compDim_ == dim_;
  setLayout(sizes.segments);
  prevMean_.assign(dim_, 0.0f);
  if (compDim_ < static_cast<std::size_t>(K))
    throw std::invalid_argument("scatter-reduce needs at least one compressed "
                                "value per worker (" +
                                std::to_string(compDim_) + " compressed of " +
                                std::to_string(dim_) + ", " +
                                std::to_string(K) + " workers)");
  raw_ = std::make_unique<RawReducer>(parts_, K);
  if (!allCompressed_) {
    comp_.resize(compDim_);
    compMean_.resize(compDim_);
  }
  for (int j = 0; j <= K; ++j)
    begin_.push_back(compDim_ * static_cast<std::size_t>(j) / K);
  std::size_t maxMsg = 0;
  for (int j = 0; j < K; ++j) {
    codecs_.push_back(make(begin_[j], begin_[j + 1] - begin_[j]));
    maxMsg = std::max(maxMsg, codecs_.back()->messageBytes());
  }
  slot_ = kHeaderBytes + maxMsg;
  send_.resize(slot_ * K);
  recv_.resize(slot_ * K);
  reduced_.resize(slot_);
  all_.resize(slot_ * K);
  acc_.resize(begin_[1] - begin_[0] + 1);
}

ScatterReduceAggregator::~ScatterReduceAggregator() = default;

void ScatterReduceAggregator::mean(const float *v, float *mean,
                                   AggregateStats &stats) {
  const int K = comm_.size(), me = comm_.rank();
  std::string bad = findNonFinite(v, dim_);
  // The compressed coordinates, contiguous (the chunk codecs' vector).
  const float *cv = v;
  float *cm = mean;
  if (!allCompressed_) {
    std::size_t c = 0;
    for (const LayoutSegment &s : parts_)
      if (s.compressed) {
        std::copy(v + s.segment.offset, v + s.segment.offset + s.segment.size,
                  &comp_[c]);
        c += s.segment.size;
      }
    cv = comp_.data();
    cm = compMean_.data();
  }
  double unusedSq = 0, unusedDiff = 0; // (b) uses the aggregate's norms
  raw_->load(v, !bad.empty(), unusedSq, unusedDiff);
  // Every rank takes part in a refit (a collective); a vector with a
  // NaN/Inf adds nothing to the histograms.
  refitBeforeEncode(bad.empty() ? cv : nullptr);
  std::fill(send_.begin(), send_.end(), 0);
  float header[4] = {bad.empty() ? 0.0f : 1.0f,
                     bad.empty() ? 0.0f : static_cast<float>(me + 1), 0, 0};
  for (int j = 0; j < K; ++j) {
    std::uint8_t *slot = &send_[j * slot_];
    std::memcpy(slot, header, kHeaderBytes);
    if (bad.empty())
      codecs_[j]->encode(cv + begin_[j], slot + kHeaderBytes);
  }
  comm_.alltoall(send_.data(), slot_, recv_.data());
  // Reduce my chunk: decode all K in rank order, average, re-quantize.
  std::size_t n = begin_[me + 1] - begin_[me];
  acc_.assign(n, 0.0f);
  float flags[2] = {0, 0};
  std::vector<const std::uint8_t *> msgs(K);
  for (int k = 0; k < K; ++k) {
    float h[4];
    std::memcpy(h, &recv_[k * slot_], kHeaderBytes);
    flags[0] += h[0];
    flags[1] += h[1];
    msgs[k] = &recv_[k * slot_] + kHeaderBytes;
  }
  codecs_[me]->decodeAccumulateAll(msgs.data(), msgs.size(), acc_.data());
  float inv = 1.0f / static_cast<float>(K);
  for (float &a : acc_)
    a *= inv;
  std::fill(reduced_.begin(), reduced_.end(), 0);
  float rh[4] = {flags[0], flags[1], 0, 0};
  std::memcpy(reduced_.data(), rh, kHeaderBytes);
  if (flags[0] == 0)
    codecs_[me]->encode(acc_.data(), reduced_.data() + kHeaderBytes);
  comm_.allgather(reduced_.data(), slot_, all_.data());
  raw_->reduce(comm_);

  float h0[4];
  std::memcpy(h0, all_.data(), kHeaderBytes);
  stats.skipped = handleNonFinite(h0[0], h0[1], bad);
  if (stats.skipped)
    return;
  for (int j = 0; j < K; ++j) {
    std::fill(cm + begin_[j], cm + begin_[j + 1], 0.0f);
    codecs_[j]->decodeAccumulate(&all_[j * slot_] + kHeaderBytes,
                                 cm + begin_[j]);
  }
  if (!allCompressed_) {
    std::size_t c = 0;
    for (const LayoutSegment &s : parts_)
      if (s.compressed) {
        std::copy(&compMean_[c], &compMean_[c] + s.segment.size,
                  mean + s.segment.offset);
        c += s.segment.size;
      }
    raw_->store(mean);
  }
  SquareSums s = squareSums(mean, prevMean_.data(), dim_);
  std::copy(mean, mean + dim_, prevMean_.begin());
  stats.sumSq = s.sq;
  stats.sumSqDiff = s.diff;
}

std::vector<MessageCodec *> ScatterReduceAggregator::codecs() {
  std::vector<MessageCodec *> out;
  for (auto &c : codecs_)
    out.push_back(c.get());
  return out;
}

void ScatterReduceAggregator::save(std::ostream &os) const {
  writeString(os, "scatter-reduce:" + name());
  writeVec(os, prevMean_);
  for (const auto &c : codecs_)
    c->save(os);
  saveRefit(os);
}

void ScatterReduceAggregator::load(std::istream &is) {
  if (readString(is) != "scatter-reduce:" + name())
    throw std::runtime_error("checkpoint was written with another compressor");
  readVec(is, prevMean_);
  for (auto &c : codecs_)
    c->load(is);
  loadRefit(is);
}

} // namespace qoda::comm
