//===- Aggregator.cpp - uncompressed mean via all-reduce ------------------===//
#include "qoda/comm/Aggregator.h"
#include "qoda/comm/CompressedAggregator.h"
#include "qoda/comm/LevelRefit.h"
#include "qoda/comm/Serialize.h"
#include "qoda/comm/SquareSums.h"

#include <algorithm>
#include <cmath>
#include <iostream>

namespace qoda::comm {

void Aggregator::setWorkerSums(bool on) {
  if (aggregated_ && on != workerSums_)
    throw std::logic_error(
        "aggregator '" + name() + "': the workers' sums were " +
        (workerSums_ ? "on" : "off") +
        " for its first aggregates and cannot change now (set them, or "
        "create the optimiser, before the first mean())");
  workerSums_ = on;
}

std::string Aggregator::findNonFinite(const float *v, std::size_t n) const {
  if (allFinite(v, n))
    return "";
  for (std::size_t i = 0; i < n; ++i) {
    if (std::isfinite(v[i]))
      continue;
    std::string where = "element " + std::to_string(i);
    for (const Segment &s : layout_)
      if (i >= s.offset && i < s.offset + s.size)
        where = "parameter '" + s.name + "' element " +
                std::to_string(i - s.offset);
    return std::string(std::isnan(v[i]) ? "NaN" : "Inf") + " in " + where +
           " at step " + std::to_string(step_) + " on rank " +
           std::to_string(comm_.rank());
  }
  return "";
}

bool Aggregator::handleNonFinite(double count, double rankSum,
                                 const std::string &local) const {
  if (count < 0.5)
    return false;
  std::string who = !local.empty() ? local
                    : count < 1.5
                        ? "a non-finite value on rank " +
                              std::to_string(static_cast<long>(rankSum) - 1) +
                              " at step " + std::to_string(step_)
                        : "non-finite values on " +
                              std::to_string(static_cast<long>(count)) +
                              " ranks at step " + std::to_string(step_);
  if (policy_ == NonFinitePolicy::Stop)
    throw NonFiniteError(who + "; stopping (use the skip policy to drop such "
                               "steps instead)");
  if (comm_.rank() == 0 || !local.empty())
    std::cerr << "warning: " << who << "; step skipped on all workers\n";
  return true;
}

void Aggregator::enableRefit(const RefitPlan &plan, std::size_t bins) {
  std::vector<MessageCodec *> cs = codecs();
  if (cs.empty() || !cs[0]->schedule())
    throw std::invalid_argument("level re-fitting needs a schedule-driven "
                                "compressor (layerwise); '" +
                                name() + "' has no level tables");
  if (bins == 0) {
    bins = 32;
    while (bins < 1024 && bins < codedDim())
      bins *= 2;
  }
  refit_ = std::make_shared<LevelRefitter>(comm_, *cs[0]->schedule(),
                                           codedDim(), plan, bins);
}

void Aggregator::refitBeforeEncode(const float *coded) {
  if (!refit_ || !refit_->observe(coded, step_))
    return;
  for (MessageCodec *c : codecs())
    c->setSchedule(refit_->schedule());
}

void Aggregator::saveRefit(std::ostream &os) const {
  writePod(os, static_cast<bool>(refit_));
  if (refit_)
    refit_->save(os);
}

void Aggregator::loadRefit(std::istream &is) {
  if (readPod<bool>(is) != static_cast<bool>(refit_))
    throw std::runtime_error(
        "checkpoint and run disagree on level re-fitting (use the same "
        "--refit option as the run that wrote it)");
  if (!refit_)
    return;
  refit_->load(is);
  for (MessageCodec *c : codecs())
    c->setSchedule(refit_->schedule());
}

AllreduceAggregator::AllreduceAggregator(Communicator &comm, std::size_t dim)
    : Aggregator(comm), dim_(dim), buf_(dim + 4), prev_(dim) {
  layout_ = {{"x", 0, dim}};
}

void AllreduceAggregator::mean(const float *v, float *mean,
                               AggregateStats &stats) {
  // The flags travel in the same all-reduce: [.., sq, diff, count, rank+1].
  std::string bad = findNonFinite(v, dim_);
  if (!bad.empty()) {
    std::fill(buf_.begin(), buf_.end(), 0.0f);
    buf_[dim_ + 2] = 1;
    buf_[dim_ + 3] = static_cast<float>(comm_.rank() + 1);
    comm_.allreduceSum(buf_.data(), buf_.size());
    stats.skipped = handleNonFinite(buf_[dim_ + 2], buf_[dim_ + 3], bad);
    return;
  }
  SquareSums s = squareSums(v, havePrev_ ? prev_.data() : nullptr, dim_);
  std::copy(v, v + dim_, buf_.begin());
  buf_[dim_] = static_cast<float>(s.sq);
  buf_[dim_ + 1] = static_cast<float>(s.diff);
  buf_[dim_ + 2] = buf_[dim_ + 3] = 0;
  comm_.allreduceSum(buf_.data(), buf_.size());
  stats.skipped = handleNonFinite(buf_[dim_ + 2], buf_[dim_ + 3], "");
  if (stats.skipped)
    return;
  std::copy(v, v + dim_, prev_.begin());
  havePrev_ = true;
  float inv = 1.0f / static_cast<float>(comm_.size());
  for (std::size_t i = 0; i < dim_; ++i)
    mean[i] = buf_[i] * inv;
  stats.sumSq = buf_[dim_];
  stats.sumSqDiff = buf_[dim_ + 1];
}

void AllreduceAggregator::save(std::ostream &os) const {
  writeString(os, "allreduce");
  writePod(os, havePrev_);
  writeVec(os, prev_);
}

void AllreduceAggregator::load(std::istream &is) {
  if (readString(is) != "allreduce")
    throw std::runtime_error("checkpoint was written with another compressor");
  havePrev_ = readPod<bool>(is);
  readVec(is, prev_);
}

} // namespace qoda::comm
