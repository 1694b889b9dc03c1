//===- CompressedAggregator.cpp - compressed collective (a) ---------------===//
#include "qoda/comm/CompressedAggregator.h"
#include "qoda/comm/Serialize.h"

#include <algorithm>
#include <cstring>

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

CompressedAggregator::CompressedAggregator(Communicator &comm,
                                           std::vector<LayoutSegment> layout,
                                           std::unique_ptr<MessageCodec> codec)
    : Aggregator(comm), layout_(std::move(layout)), codec_(std::move(codec)) {
  std::vector<Segment> names;
  for (const LayoutSegment &s : layout_) {
    if (s.segment.offset != dim_)
      throw std::invalid_argument("layout segment '" + s.segment.name +
                                  "' does not start where the previous ends");
    dim_ += s.segment.size;
    (s.compressed ? compDim_ : rawDim_) += s.segment.size;
    names.push_back(s.segment);
  }
  setLayout(names);
  if (codec_->dim() != compDim_)
    throw std::invalid_argument(
        "codec '" + codec_->name() + "' encodes " +
        std::to_string(codec_->dim()) + " values but the layout has " +
        std::to_string(compDim_) + " compressed values");
  msgBytes_ = kHeaderBytes + codec_->messageBytes();
  comp_.resize(compDim_);
  own_.resize(compDim_);
  prevOwn_.assign(compDim_, 0.0f);
  acc_.resize(compDim_);
  raw_.resize(rawDim_);
  prevRaw_.assign(rawDim_, 0.0f);
  msg_.resize(msgBytes_);
  all_.resize(msgBytes_ * static_cast<std::size_t>(comm.size()));
}

void CompressedAggregator::mean(const float *v, float *mean,
                                AggregateStats &stats) {
  std::string bad = findNonFinite(v, dim_);
  std::size_t c = 0, r = 0;
  for (const LayoutSegment &s : layout_) {
    const float *src = v + s.segment.offset;
    float *dst = s.compressed ? &comp_[c] : &raw_[r];
    std::copy(src, src + s.segment.size, dst);
    (s.compressed ? c : r) += s.segment.size;
  }
  float header[4] = {0, 0, 0, 0};
  // Every rank takes part in a refit (it is a collective); a vector with a
  // NaN/Inf adds nothing to the histograms.
  refitBeforeEncode(bad.empty() ? comp_.data() : nullptr);
  if (bad.empty()) {
    codec_->encode(comp_.data(), msg_.data() + kHeaderBytes);
    // This worker's Vhat_k, exactly as every receiver will decode it.
    std::fill(own_.begin(), own_.end(), 0.0f);
    codec_->decodeAccumulate(msg_.data() + kHeaderBytes, own_.data());
    double sq = 0, diff = 0;
    for (std::size_t i = 0; i < compDim_; ++i) {
      sq += double(own_[i]) * own_[i];
      double d = double(own_[i]) - prevOwn_[i];
      diff += d * d;
    }
    header[0] = static_cast<float>(sq);
    header[1] = static_cast<float>(diff);
  } else {
    std::fill(msg_.begin(), msg_.end(), 0);
    std::fill(raw_.begin(), raw_.end(), 0.0f);
    header[2] = 1;
  }
  std::memcpy(msg_.data(), header, kHeaderBytes);
  comm_.allgather(msg_.data(), msgBytes_, all_.data());

  // Uncompressed segments: fp32 all-reduce (the two norms of these
  // coordinates ride along as two extra floats).
  double rawSq = 0, rawDiff = 0;
  std::vector<float> rawBuf;
  if (rawDim_) {
    rawBuf.assign(raw_.begin(), raw_.end());
    for (std::size_t i = 0; i < rawDim_; ++i) {
      rawSq += double(raw_[i]) * raw_[i];
      double d = double(raw_[i]) - prevRaw_[i];
      rawDiff += d * d;
    }
    rawBuf.push_back(static_cast<float>(rawSq));
    rawBuf.push_back(static_cast<float>(rawDiff));
    comm_.allreduceSum(rawBuf.data(), rawBuf.size());
  }
  double count = 0, rankSum = 0, sumSq = 0, sumDiff = 0;
  const int K = comm_.size();
  for (int k = 0; k < K; ++k) {
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
  std::fill(acc_.begin(), acc_.end(), 0.0f);
  for (int k = 0; k < K; ++k)
    codec_->decodeAccumulate(all_.data() + k * msgBytes_ + kHeaderBytes,
                             acc_.data());
  float inv = 1.0f / static_cast<float>(K);
  c = 0;
  r = 0;
  for (const LayoutSegment &s : layout_) {
    float *dst = mean + s.segment.offset;
    if (s.compressed)
      for (std::size_t i = 0; i < s.segment.size; ++i)
        dst[i] = acc_[c++] * inv;
    else
      for (std::size_t i = 0; i < s.segment.size; ++i)
        dst[i] = rawBuf[r++] * inv;
  }
  std::swap(prevOwn_, own_);
  prevRaw_ = raw_;
  havePrev_ = true;
  stats.sumSq = sumSq + (rawDim_ ? rawBuf[rawDim_] : 0.0);
  stats.sumSqDiff = sumDiff + (rawDim_ ? rawBuf[rawDim_ + 1] : 0.0);
}

void CompressedAggregator::save(std::ostream &os) const {
  writeString(os, "compressed:" + codec_->name());
  writePod(os, havePrev_);
  writeVec(os, prevOwn_);
  writeVec(os, prevRaw_);
  codec_->save(os);
  saveRefit(os);
}

void CompressedAggregator::load(std::istream &is) {
  if (readString(is) != "compressed:" + codec_->name())
    throw std::runtime_error("checkpoint was written with another compressor");
  havePrev_ = readPod<bool>(is);
  readVec(is, prevOwn_);
  readVec(is, prevRaw_);
  codec_->load(is);
  loadRefit(is);
}

} // namespace qoda::comm
