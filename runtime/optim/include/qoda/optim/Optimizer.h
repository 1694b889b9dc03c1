//===- Optimizer.h - QODA and its baselines, one interface ------*- C++ -*-===//
//
// Every optimiser communicates only through a comm::Aggregator, so the same
// code runs uncompressed (all-reduce) or with any compressor, and the bytes
// it sends are what the aggregator's collectives really send. QODA calls
// the aggregator once per step; Q-GenX, extra-gradient and Extra-Adam twice.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "qoda/comm/Aggregator.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace qoda::optim {

/// A worker's stochastic oracle: writes V_k(x) into `out` (dim floats).
using OracleFn = std::function<void(const float *x, float *out)>;

struct OptimConfig {
  /// qoda (adaptive, learning-rate separation; METHOD 2 default),
  /// qoda-single (the single step-size fallback), qgenx, eg, og, sgda, adam,
  /// extra-adam.
  std::string name = "qoda";
  double lr = 0.1;      ///< lr_e for qoda; the step for every other method
  double lrGamma = 0.1; ///< lr_g for qoda (the optimistic step)
  double q = 0.25;      ///< exponent of qoda's gamma rule, in (0, 1/4]
  /// qoda: what the adaptive step sizes sum. "workers": the K workers'
  /// ||Vhat_k||^2 and ||Vhat_k - Vhat_k^prev||^2 (METHOD 2's default, from
  /// the message headers); "aggregate": ||Vhat||^2 and ||Vhat - Vhat^prev||^2
  /// of the mean, computed locally. Collective (b) gives only the latter,
  /// so with it both read the aggregate.
  std::string stepSums = "workers";
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8; ///< (extra-)adam
};

class Optimizer {
public:
  virtual ~Optimizer() = default;
  virtual void step(const OracleFn &oracle) = 0;
  /// The current iterate X_t.
  const std::vector<float> &x() const { return x_; }
  /// Aggregator calls per step (the collectives per iteration).
  virtual int collectivesPerStep() const = 0;
  std::uint64_t steps() const { return steps_; }
  /// Checkpoint of the complete optimiser state (iterate, anchors, dual
  /// sums, previous aggregates, step-size sums, moments, step counters).
  void save(std::ostream &os) const;
  /// Restores what save() wrote; throws std::runtime_error on a checkpoint
  /// of another optimiser or size.
  void load(std::istream &is);
  /// Steps dropped because of non-finite vectors.
  std::uint64_t skippedSteps() const { return skipped_; }

protected:
  Optimizer(std::vector<float> x0, comm::Aggregator &agg);
  virtual const char *kind() const = 0;
  virtual void saveState(std::ostream &os) const = 0;
  virtual void loadState(std::istream &is) = 0;
  /// Returns false when the aggregate was skipped (a worker's vector was
  /// not finite under NonFinitePolicy::Skip): the step must then leave the
  /// state untouched, identically on every worker.
  bool aggregate(const float *v, float *mean, comm::AggregateStats &s) {
    agg_.setStep(steps_); // every step() increments steps_ first
    agg_.mean(v, mean, s);
    if (s.skipped)
      ++skipped_;
    return !s.skipped;
  }
  std::vector<float> x_;
  comm::Aggregator &agg_;
  std::uint64_t steps_ = 0, skipped_ = 0;
  std::vector<float> v_; ///< scratch for the local oracle value
};

/// Throws std::invalid_argument for an unknown name or bad hyper-parameters.
std::unique_ptr<Optimizer> makeOptimizer(const OptimConfig &cfg,
                                         std::vector<float> x0,
                                         comm::Aggregator &agg);

/// The names makeOptimizer accepts, for help texts.
const std::vector<std::string> &optimizerNames();

} // namespace qoda::optim
