//===- CompressedAggregator.cpp - compressed collective (a) ---------------===//
#include "qoda/comm/CompressedAggregator.h"
#include "qoda/comm/RawReducer.h"
#include "qoda/comm/Serialize.h"
#include "qoda/comm/SquareSums.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace qoda::comm {

void Fp16Codec::encode(const float *v, std::uint8_t *msg) {
  for (std::size_t i = 0; i < dim_; ++i) {
    _Float16 h = static_cast<_Float16>(v[i]);
    std::memcpy(msg + 2 * i, &h, 2);
  }
}

void Fp16Codec::decodeAccumulate(const std::uint8_t *msg, float *acc) const {
  for (std::size_t i = 0; i < dim_; ++i) {
    _Float16 h;
    std::memcpy(&h, msg + 2 * i, 2);
    acc[i] += static_cast<float>(h);
  }
}

LayoutSizes checkLayout(const std::vector<LayoutSegment> &layout) {
  LayoutSizes out;
  for (const LayoutSegment &s : layout) {
    if (s.segment.offset != out.dim)
      throw std::invalid_argument("layout segment '" + s.segment.name +
                                  "' does not start where the previous ends");
    if (s.compressed && s.half)
      throw std::invalid_argument("layout segment '" + s.segment.name +
                                  "' is both compressed and fp16");
    out.dim += s.segment.size;
    out.compressed += s.compressed ? s.segment.size : 0;
    out.segments.push_back(s.segment);
  }
  return out;
}

CompressedAggregator::CompressedAggregator(Communicator &comm,
                                           std::vector<LayoutSegment> layout,
                                           std::unique_ptr<MessageCodec> codec)
    : Aggregator(comm), layout_(std::move(layout)), codec_(std::move(codec)) {
  LayoutSizes sizes = checkLayout(layout_);
  dim_ = sizes.dim;
  compDim_ = sizes.compressed;
  setLayout(sizes.segments);
  if (codec_->dim() != compDim_)
    throw std::invalid_argument(
        "codec '" + codec_->name() + "' encodes " +
        std::to_string(codec_->dim()) + " values but the layout has " +
        std::to_string(compDim_) + " compressed values");
  msgBytes_ = kHeaderBytes + codec_->messageBytes();
  if (compDim_ != dim_) { // mean() gathers / scatters the compressed part
    comp_.resize(compDim_);
    acc_.resize(compDim_);
  }
  own_.resize(compDim_);
  prevOwn_.assign(compDim_, 0.0f);
  raw_ = std::make_unique<RawReducer>(layout_, comm.size());
  msg_.resize(msgBytes_);
  all_.resize(msgBytes_ * static_cast<std::size_t>(comm.size()));
}

CompressedAggregator::~CompressedAggregator() = default;

const float *CompressedAggregator::compressedPart(const float *v) {
  // With every coordinate in the message (the usual layer-wise layout) the
  // codec reads v itself, and reduceMessages accumulates straight into the
  // caller's mean: no gather into comp_ and no scatter from acc_.
  if (compDim_ == dim_)
    return v;
  std::size_t c = 0;
  for (const LayoutSegment &s : layout_)
    if (s.compressed) {
      const float *src = v + s.segment.offset;
      std::copy(src, src + s.segment.size, &comp_[c]);
      c += s.segment.size;
    }
  return comp_.data();
}

void CompressedAggregator::encodeOwn(const float *comp, bool bad, double sq,
                                     double diff) {
  float header[4] = {0, 0, 0, 0};
  if (bad) {
    std::fill(msg_.begin(), msg_.end(), 0);
    header[2] = 1;
  } else {
    codec_->encode(comp, msg_.data() + kHeaderBytes);
    // The workers' sums need this worker's Vhat_k exactly as every receiver
    // will decode it: one more decode and two passes, skipped when no one
    // reads them (setWorkerSums).
    if (workerSums_) {
      std::fill(own_.begin(), own_.end(), 0.0f);
      codec_->decodeAccumulate(msg_.data() + kHeaderBytes, own_.data());
      SquareSums own = squareSums(own_.data(), prevOwn_.data(), compDim_);
      header[0] = static_cast<float>(sq + own.sq);
      header[1] = static_cast<float>(diff + own.diff);
    }
  }
  std::memcpy(msg_.data(), header, kHeaderBytes);
}

void CompressedAggregator::reduceMessages(float *mean) {
  // All K messages, this worker's own included, decoded in rank order from
  // the same bytes on every rank: bit-identical sums everywhere.
  const int K = comm_.size();
  std::vector<const std::uint8_t *> msgs(K);
  for (int k = 0; k < K; ++k)
    msgs[k] = all_.data() + k * msgBytes_ + kHeaderBytes;
  const bool whole = compDim_ == dim_;
  float *acc = whole ? mean : acc_.data();
  std::fill(acc, acc + compDim_, 0.0f);
  codec_->decodeAccumulateAll(msgs.data(), msgs.size(), acc);
  float inv = 1.0f / static_cast<float>(K);
  if (whole) {
    for (std::size_t i = 0; i < dim_; ++i)
      mean[i] *= inv;
    return;
  }
  std::size_t c = 0;
  for (const LayoutSegment &s : layout_)
    if (s.compressed) {
      float *dst = mean + s.segment.offset;
      for (std::size_t i = 0; i < s.segment.size; ++i)
        dst[i] = acc_[c++] * inv;
    }
}

void CompressedAggregator::mean(const float *v, float *mean,
                                AggregateStats &stats) {
  std::string bad = findNonFinite(v, dim_);
  const float *comp = compressedPart(v);
  // Uncompressed coordinates: their norms ride in this worker's header.
  double sq = 0, diff = 0;
  raw_->load(v, !bad.empty(), sq, diff);
  // Every rank takes part in a refit (it is a collective); a vector with a
  // NaN/Inf adds nothing to the histograms.
  refitBeforeEncode(bad.empty() ? comp : nullptr);
  encodeOwn(comp, !bad.empty(), sq, diff);
  comm_.allgather(msg_.data(), msgBytes_, all_.data());
  raw_->reduce(comm_);

  double count = 0, rankSum = 0, sumSq = 0, sumDiff = 0;
  for (int k = 0; k < comm_.size(); ++k) {
    float h[4];
    std::memcpy(h, all_.data() + k * msgBytes_, kHeaderBytes);
    if (h[2] != 0) {
      count += 1;
      rankSum += k + 1;
    }
    sumSq += h[0];
    sumDiff += h[1];
  }
  stats.skipped = handleNonFinite(count, rankSum, bad);
  if (stats.skipped)
    return;
  reduceMessages(mean);
  raw_->store(mean);
  raw_->commit();
  havePrev_ = aggregated_ = true;
  if (!workerSums_) {
    stats.sumSq = stats.sumSqDiff = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  std::swap(prevOwn_, own_);
  stats.sumSq = sumSq;
  stats.sumSqDiff = sumDiff;
}

void CompressedAggregator::save(std::ostream &os) const {
  writeString(os, "compressed:" + codec_->name());
  writePod(os, havePrev_);
  writeVec(os, prevOwn_);
  writeVec(os, raw_->previous());
  codec_->save(os);
  saveRefit(os);
}

void CompressedAggregator::load(std::istream &is) {
  if (readString(is) != "compressed:" + codec_->name())
    throw std::runtime_error("checkpoint was written with another compressor");
  havePrev_ = readPod<bool>(is);
  readVec(is, prevOwn_);
  readVec(is, raw_->previous());
  codec_->load(is);
  loadRefit(is);
}

} // namespace qoda::comm
