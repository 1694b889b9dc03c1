//===- LevelRefit.cpp - re-fitting level tables during training -----------===//
#include "qoda/comm/LevelRefit.h"
#include "qoda/comm/Serialize.h"
#include "qoda/quant/LevelOpt.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace qoda::comm {

bool RefitPlan::due(std::uint64_t s) const {
  if (std::find(steps.begin(), steps.end(), s) != steps.end())
    return true;
  std::uint64_t last = steps.empty() ? 0 : steps.back();
  return every > 0 && s > last && (s - last) % every == 0;
}

std::uint64_t RefitPlan::nextDue(std::uint64_t s) const {
  std::uint64_t next = UINT64_MAX;
  auto listed = std::lower_bound(steps.begin(), steps.end(), s);
  if (listed != steps.end())
    next = *listed;
  if (every > 0) {
    std::uint64_t last = steps.empty() ? 0 : steps.back();
    std::uint64_t k = s <= last ? 1 : (s - last + every - 1) / every;
    if (k <= (UINT64_MAX - last) / every)
      next = std::min(next, last + k * every);
  }
  return next;
}

bool RefitPlan::observes(std::uint64_t completedSteps) const {
  std::uint64_t next = nextDue(completedSteps);
  return next != UINT64_MAX &&
         (window == 0 || next - completedSteps < window);
}

RefitPlan RefitPlan::parse(const std::string &text) {
  auto bad = [&](const std::string &why) {
    return std::invalid_argument(
        "bad refit plan '" + text + "': " + why +
        " (expected e.g. 0,200,1000,5000/10000, /50, 0,100@20, /500@all or "
        "none)");
  };
  RefitPlan p;
  p.steps.clear();
  p.every = 0;
  if (text == "none")
    return p;
  auto number = [&](const std::string &s) {
    if (s.empty() || s.size() > 18 ||
        s.find_first_not_of("0123456789") != std::string::npos)
      throw bad("'" + s + "' is not a step count");
    return static_cast<std::uint64_t>(std::stoull(s));
  };
  std::string steps = text;
  std::size_t at = text.find('@');
  if (at != std::string::npos) {
    steps = text.substr(0, at);
    std::string w = text.substr(at + 1);
    p.window = w == "all" ? 0 : number(w);
    if (w != "all" && p.window == 0)
      throw bad("the window after '@' must be at least 1 step (or 'all')");
  }
  std::string list = steps, every;
  std::size_t slash = steps.find('/');
  if (slash != std::string::npos) {
    list = steps.substr(0, slash);
    every = steps.substr(slash + 1);
  }
  std::stringstream ss(list);
  std::string item;
  while (!list.empty() && std::getline(ss, item, ','))
    p.steps.push_back(number(item));
  if (!list.empty() && list.back() == ',')
    throw bad("trailing comma");
  for (std::size_t i = 1; i < p.steps.size(); ++i)
    if (p.steps[i] <= p.steps[i - 1])
      throw bad("steps must increase");
  if (slash != std::string::npos) {
    p.every = number(every);
    if (p.every == 0)
      throw bad("the interval after '/' must be positive");
    if (p.steps.empty())
      p.steps.push_back(0);
  }
  if (p.steps.empty())
    throw bad("no steps");
  return p;
}

std::string RefitPlan::str() const {
  if (steps.empty())
    return "none";
  std::string s;
  for (std::uint64_t x : steps)
    s += (s.empty() ? "" : ",") + std::to_string(x);
  if (every)
    s += "/" + std::to_string(every);
  if (window != RefitPlan().window)
    s += "@" + (window ? std::to_string(window) : std::string("all"));
  return s;
}

LevelRefitter::LevelRefitter(Communicator &comm, quant::Schedule schedule,
                             std::uint64_t n, RefitPlan plan, std::size_t bins)
    : comm_(comm), sched_(std::move(schedule)), n_(n), plan_(std::move(plan)),
      hist_(sched_.types.size(), quant::Histogram(bins)),
      before_(sched_.types.size(), 0.0), after_(sched_.types.size(), 0.0) {
  std::string err = sched_.validate(n);
  if (!err.empty())
    throw std::invalid_argument("level refit: schedule: " + err);
  if (bins < 2)
    throw std::invalid_argument("level refit: needs at least 2 bins");
}

bool LevelRefitter::observe(const float *v, std::uint64_t step) {
  std::uint64_t done = step > 0 ? step - 1 : 0;
  // A second vector of a step that already refitted feeds the next refit.
  bool refitted = lastRefit_ == static_cast<std::int64_t>(done);
  if (v && plan_.observes(refitted ? done + 1 : done))
    for (const quant::Segment &s : sched_.segmentsFor(n_)) {
      const quant::TypeSchedule &t = sched_.types[s.type];
      if (t.kind == quant::TypeKind::Levels)
        hist_[s.type].addVector(v + s.offset, s.length, t.bucketSize,
                                t.norm == quant::Norm::Linf);
    }
  if (!plan_.due(done) || lastRefit_ == static_cast<std::int64_t>(done))
    return false;
  lastRefit_ = static_cast<std::int64_t>(done);
  refit();
  return true;
}

void LevelRefitter::refit() {
  // Merge: all-gather the raw bins (counts and sums: the fit uses the bin
  // centroids, not the second moments), add them up in rank order (the same
  // additions in the same order on every rank, hence identical results).
  const std::size_t T = hist_.size(), B = hist_.empty() ? 0 : hist_[0].bins();
  const std::size_t per = T * B * 2;
  std::vector<double> mine(per), all(per * comm_.size());
  for (std::size_t t = 0; t < T; ++t) {
    std::memcpy(&mine[(t * 2 + 0) * B], hist_[t].count.data(), B * 8);
    std::memcpy(&mine[(t * 2 + 1) * B], hist_[t].sum.data(), B * 8);
  }
  comm_.allgather(mine.data(), per * 8, all.data());
  for (std::size_t t = 0; t < T; ++t) {
    quant::TypeSchedule &ts = sched_.types[t];
    if (ts.kind != quant::TypeKind::Levels)
      continue;
    quant::Histogram merged(B);
    for (int k = 0; k < comm_.size(); ++k) {
      const double *r = &all[k * per + t * 2 * B];
      quant::Histogram h(B);
      std::memcpy(h.count.data(), r, B * 8);
      std::memcpy(h.sum.data(), r + B, B * 8);
      merged.merge(h);
    }
    hist_[t] = quant::Histogram(B);
    quant::WeightedPoints pts = quant::pointsFromHistogram(merged);
    if (pts.value.empty())
      continue; // the type saw no data: keep its table
    const unsigned L = static_cast<unsigned>(ts.levels.size());
    before_[t] = quant::mqvCost(pts, ts.levels);
    // Warm start from the current table, and a fresh start from the
    // quantiles (leaves a bad local minimum behind); keep the better.
    std::vector<float> best = quant::coordinateDescent(pts, ts.levels);
    double bestCost = quant::mqvCost(pts, best);
    std::vector<float> fresh =
        quant::coordinateDescent(pts, quant::quantileLevels(pts, L));
    double freshCost = quant::mqvCost(pts, fresh);
    if (fresh.size() == L && freshCost < bestCost) {
      best = std::move(fresh);
      bestCost = freshCost;
    }
    bool usable = best.size() == L && best.front() == 0.0f &&
                  best.back() == 1.0f && bestCost <= before_[t];
    for (std::size_t j = 1; usable && j < best.size(); ++j)
      usable = best[j] > best[j - 1];
    if (usable) {
      ts.levels = std::move(best);
      after_[t] = bestCost;
    } else {
      after_[t] = before_[t];
    }
  }
  ++refits_;
}

void LevelRefitter::save(std::ostream &os) const {
  writeString(os, "level-refit");
  writePod(os, static_cast<std::uint64_t>(sched_.types.size()));
  for (const quant::TypeSchedule &t : sched_.types)
    writeVec(os, t.levels);
  writePod(os, static_cast<std::uint64_t>(hist_.empty() ? 0 : hist_[0].bins()));
  for (const quant::Histogram &h : hist_) {
    writeVec(os, h.count);
    writeVec(os, h.sum);
    writeVec(os, h.sumSq);
  }
  writePod(os, lastRefit_);
  writePod(os, refits_);
}

void LevelRefitter::load(std::istream &is) {
  if (readString(is) != "level-refit")
    throw std::runtime_error("checkpoint has no level tables where this run "
                             "re-fits levels (run it with the same options)");
  if (readPod<std::uint64_t>(is) != sched_.types.size())
    throw std::runtime_error("checkpoint was written with another schedule");
  for (quant::TypeSchedule &t : sched_.types)
    readVec(is, t.levels);
  if (readPod<std::uint64_t>(is) != (hist_.empty() ? 0 : hist_[0].bins()))
    throw std::runtime_error("checkpoint's level histograms have another bin "
                             "count");
  for (quant::Histogram &h : hist_) {
    readVec(is, h.count);
    readVec(is, h.sum);
    readVec(is, h.sumSq);
  }
  lastRefit_ = readPod<std::int64_t>(is);
  refits_ = readPod<std::uint64_t>(is);
  std::string err = sched_.validate(n_);
  if (!err.empty())
    throw std::runtime_error("checkpoint holds unusable level tables: " + err);
}

} // namespace qoda::comm
