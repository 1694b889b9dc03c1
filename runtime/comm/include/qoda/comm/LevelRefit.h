//===- LevelRefit.h - re-fitting level tables during training ---*- C++ -*-===//
//
// METHOD 3: the levels of every `levels` type minimise the quantization
// variance (MQV) of the distribution of that type's normalised coordinates
// u = |v_i| / ||bucket||. Every worker bins the u of its own vectors of the
// last few steps before each refit (the plan's window) into one
// quant::Histogram per type; at the steps of a RefitPlan the histograms
// of all ranks are merged (one all-gather, summed in rank order, so every
// rank holds the identical merged histogram), new levels are fitted with
// the quantization library's coordinate descent (deterministic, so every
// rank computes the identical table), and every rank switches at the same
// step. The level count of a type never changes, so message sizes do not.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "qoda/comm/Communicator.h"
#include "qoda/quant/Histogram.h"
#include "qoda/quant/Schedule.h"

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

namespace qoda::comm {

/// When to re-fit, in completed optimiser steps: the listed steps, then
/// every `every` steps after the last one (0: never again); and on what:
/// the vectors of the `window` steps up to each refit (0: every vector since
/// the previous one). A window keeps the statistics recent (gradients drift
/// as training goes) and, more to the point, keeps the binning of every
/// coordinate off the steps that feed no refit: binning costs about as much
/// CPU as encoding, and after a plan's last listed step no refit may come.
struct RefitPlan {
  std::vector<std::uint64_t> steps{0, 200, 1000, 5000};
  std::uint64_t every = 10000;
  std::uint64_t window = 10;

  bool due(std::uint64_t completedSteps) const;
  /// The first completed-step count >= s at which a refit is due;
  /// UINT64_MAX if none is.
  std::uint64_t nextDue(std::uint64_t s) const;
  /// Whether a vector encoded after `completedSteps` steps feeds a refit:
  /// one is due within the window.
  bool observes(std::uint64_t completedSteps) const;
  /// "0,200,1000,5000/10000" (the default steps), "0,100" (no repeat),
  /// "/50" (every 50 steps, from step 0), or "none"; optionally followed by
  /// "@W" (a window of W >= 1 steps; default 10) or "@all". Throws
  /// std::invalid_argument naming the bad text.
  static RefitPlan parse(const std::string &text);
  std::string str() const;
};

class LevelRefitter {
public:
  /// `schedule` describes the vectors observe() will see (n coordinates).
  LevelRefitter(Communicator &comm, quant::Schedule schedule, std::uint64_t n,
                RefitPlan plan, std::size_t bins = 1024);

  /// Call before every encode of a vector at optimiser step `step` (the
  /// first step is 1; v may be null: a vector that is not sent). Adds the
  /// vector to this worker's histograms; if the
  /// plan is due at step - 1 completed steps (and no refit happened at that
  /// step yet), merges all ranks' histograms, fits new levels, clears the
  /// histograms and returns true: schedule() then holds the new tables.
  bool observe(const float *v, std::uint64_t step);

  const quant::Schedule &schedule() const { return sched_; }
  const RefitPlan &plan() const { return plan_; }
  std::uint64_t refits() const { return refits_; }
  /// FNV-1a of every level table (equal on every rank after each refit).
  std::uint64_t levelsHash() const { return sched_.hash(); }
  /// MQV of each levels type on the last merged histogram, before and
  /// after the last refit (for reports).
  const std::vector<double> &costBefore() const { return before_; }
  const std::vector<double> &costAfter() const { return after_; }

  /// Level tables, histograms and the last refit step.
  void save(std::ostream &os) const;
  void load(std::istream &is);

private:
  void refit();

  Communicator &comm_;
  quant::Schedule sched_;
  std::uint64_t n_;
  RefitPlan plan_;
  std::vector<quant::Histogram> hist_; ///< one per type (unused for casts)
  std::int64_t lastRefit_ = -1;
  std::uint64_t refits_ = 0;
  std::vector<double> before_, after_;
};

} // namespace qoda::comm
