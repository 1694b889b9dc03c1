//===- PipelinedAggregator.cpp - collective (a) with overlap --------------===//
#include "qoda/comm/PipelinedAggregator.h"
#include "qoda/comm/Serialize.h"
#include "qoda/comm/SquareSums.h"

#include <algorithm>
#include <cstring>
#include <future>
#include <limits>

namespace qoda::comm {

PipelinedAggregator::PipelinedAggregator(Communicator &comm, std::size_t dim,
                                         std::size_t pieces,
                                         const CodecFactory &make)
    : Aggregator(comm), dim_(dim), own_(dim), prevOwn_(dim, 0.0f) {
  if (pieces == 0 || pieces > dim)
    throw std::invalid_argument("pipelined collective: pieces must be in [1, "
                                "dim], got " +
                                std::to_string(pieces));
  layout_ = {{"x", 0, dim}};
  std::size_t K = static_cast<std::size_t>(comm.size());
  for (std::size_t p = 0; p <= pieces; ++p)
    begin_.push_back(dim * p / pieces);
  for (std::size_t p = 0; p < pieces; ++p) {
    codecs_.push_back(make(begin_[p], begin_[p + 1] - begin_[p]));
    msgBytes_.push_back(kHeaderBytes + codecs_.back()->messageBytes());
    msg_.emplace_back(msgBytes_.back());
    all_.emplace_back(msgBytes_.back() * K);
  }
}

void PipelinedAggregator::mean(const float *v, float *mean,
                               AggregateStats &stats) {
  const int K = comm_.size();
  const std::size_t P = codecs_.size();
  std::string bad = findNonFinite(v, dim_);
  // Every rank takes part in a refit (a collective); a vector with a
  // NaN/Inf adds nothing to the histograms.
  refitBeforeEncode(bad.empty() ? v : nullptr);
  double sq = 0, diff = 0;
  std::future<void> inFlight;
  auto decodePiece = [&](std::size_t p) {
    std::fill(mean + begin_[p], mean + begin_[p + 1], 0.0f);
    for (int k = 0; k < K; ++k)
      codecs_[p]->decodeAccumulate(&all_[p][k * msgBytes_[p]] + kHeaderBytes,
                                   mean + begin_[p]);
  };
  for (std::size_t p = 0; p < P; ++p) {
    std::vector<std::uint8_t> &m = msg_[p];
    std::fill(m.begin(), m.end(), 0);
    float header[4] = {0, 0, 0, 0};
    if (bad.empty()) {
      codecs_[p]->encode(v + begin_[p], m.data() + kHeaderBytes);
      if (workerSums_) { // this worker's Vhat_k as the receivers decode it
        float *own = &own_[begin_[p]];
        std::fill(own, own + (begin_[p + 1] - begin_[p]), 0.0f);
        codecs_[p]->decodeAccumulate(m.data() + kHeaderBytes, own);
        SquareSums s = squareSums(own, &prevOwn_[begin_[p]],
                                  begin_[p + 1] - begin_[p]);
        sq += s.sq;
        diff += s.diff;
      }
      if (p + 1 == P) { // the totals travel with the last piece
        header[2] = static_cast<float>(sq);
        header[3] = static_cast<float>(diff);
      }
    } else {
      header[0] = 1;
      header[1] = static_cast<float>(comm_.rank() + 1);
    }
    std::memcpy(m.data(), header, kHeaderBytes);
    if (inFlight.valid())
      inFlight.get(); // piece p-1 has arrived
    inFlight = std::async(std::launch::async, [this, p] {
      comm_.allgather(msg_[p].data(), msgBytes_[p], all_[p].data());
    });
    if (p > 0)
      decodePiece(p - 1); // overlaps the transfer of piece p
  }
  inFlight.get();
  double count = 0, rankSum = 0, sumSq = 0, sumDiff = 0;
  for (int k = 0; k < K; ++k) {
    float h0[4], hl[4];
    std::memcpy(h0, &all_[0][k * msgBytes_[0]], kHeaderBytes);
    std::memcpy(hl, &all_[P - 1][k * msgBytes_[P - 1]], kHeaderBytes);
    count += h0[0];
    rankSum += h0[1];
    sumSq += hl[2];
    sumDiff += hl[3];
  }
  stats.skipped = handleNonFinite(count, rankSum, bad);
  if (stats.skipped)
    return;
  decodePiece(P - 1);
  float inv = 1.0f / static_cast<float>(K);
  for (std::size_t i = 0; i < dim_; ++i)
    mean[i] *= inv;
  aggregated_ = true;
  if (!workerSums_) {
    stats.sumSq = stats.sumSqDiff = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  std::swap(prevOwn_, own_);
  stats.sumSq = sumSq;
  stats.sumSqDiff = sumDiff;
}

std::vector<MessageCodec *> PipelinedAggregator::codecs() {
  std::vector<MessageCodec *> out;
  for (auto &c : codecs_)
    out.push_back(c.get());
  return out;
}

void PipelinedAggregator::save(std::ostream &os) const {
  writeString(os, "pipelined:" + name());
  writeVec(os, prevOwn_);
  for (const auto &c : codecs_)
    c->save(os);
  saveRefit(os);
}

void PipelinedAggregator::load(std::istream &is) {
  if (readString(is) != "pipelined:" + name())
    throw std::runtime_error("checkpoint was written with another compressor");
  readVec(is, prevOwn_);
  for (auto &c : codecs_)
    c->load(is);
  loadRefit(is);
}

} // namespace qoda::comm
