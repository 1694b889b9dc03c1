//===- Optimizer.cpp - QODA and its baselines
//------------------------------===//
#include "qoda/optim/Optimizer.h"
#include "qoda/comm/Serialize.h"
#include "qoda/comm/SquareSums.h"

#include <cmath>
#include <stdexcept>

namespace qoda::optim {

using comm::AggregateStats;

Optimizer::Optimizer(std::vector<float> x0, comm::Aggregator &agg)
    : x_(std::move(x0)), agg_(agg), v_(x_.size()) {
  if (x_.size() != agg.dim())
    throw std::invalid_argument(
        "optimizer: starting point has " + std::to_string(x_.size()) +
        " entries but the aggregator expects " + std::to_string(agg.dim()));
}

void Optimizer::save(std::ostream &os) const {
  comm::writeString(os, kind());
  comm::writePod(os, steps_);
  comm::writePod(os, skipped_);
  comm::writeVec(os, x_);
  saveState(os);
}

void Optimizer::load(std::istream &is) {
  std::string k = comm::readString(is);
  if (k != kind())
    throw std::runtime_error("checkpoint is of optimizer '" + k + "', not '" +
                             kind() + "'");
  steps_ = comm::readPod<std::uint64_t>(is);
  skipped_ = comm::readPod<std::uint64_t>(is);
  comm::readVec(is, x_);
  loadState(is);
}

namespace {

using comm::readPod;
using comm::readVec;
using comm::writePod;
using comm::writeVec;

/// QODA, METHOD 2: optimistic dual averaging, one aggregate per step.
class Qoda : public Optimizer {
public:
  Qoda(const OptimConfig &c, std::vector<float> x0, comm::Aggregator &agg,
       bool single)
      : Optimizer(std::move(x0), agg), c_(c), single_(single),
        aggregateSums_(c.stepSums == "aggregate"), x1_(x_),
        y_(x_.size(), 0.0), prev_(x_.size(), 0.0f), half_(x_.size()),
        agg_v_(x_.size()) {}

  int collectivesPerStep() const override { return 1; }

  void step(const OracleFn &oracle) override {
    std::size_t d = x_.size();
    if (!halfReady_) {
      const float gamma = static_cast<float>(optimisticStep());
      for (std::size_t i = 0; i < d; ++i)
        half_[i] = x_[i] - gamma * prev_[i];
      halfReady_ = true;
    }
    oracle(half_.data(), v_.data());
    AggregateStats s;
    ++steps_;
    if (!aggregate(v_.data(), agg_v_.data(), s))
      return; // nothing changed: half_ stays X_{t+1/2}
    if (single_) { // on the aggregate (the authors' reference form)
      sumDiff_ += comm::squareSums(agg_v_.data(), prev_.data(), d).diff;
    } else if (aggregateSums_) { // the adaptive rule on the aggregate
      comm::SquareSums a = comm::squareSums(agg_v_.data(), prev_.data(), d);
      sumSq_ += a.sq;
      sumDiff_ += a.diff;
    } else {
      sumSq_ += s.sumSq;
      sumDiff_ += s.sumSqDiff;
    }
    // Both rules: eta from the sum of squared differences (per worker for
    // the adaptive rule, of the aggregate for the single-step fallback).
    // One pass updates Y, the previous aggregate, X_{t+1} and already the
    // next step's X_{t+3/2} = X_{t+1} - gamma_{t+1} Vhat_{t+1/2} (gamma
    // depends only on the sums, final here): the vectors are streamed once
    // per step instead of four times.
    const double eta = c_.lr / std::sqrt(1 + sumDiff_);
    const float gamma = static_cast<float>(optimisticStep());
    for (std::size_t i = 0; i < d; ++i) {
      y_[i] -= agg_v_[i];
      x_[i] = static_cast<float>(x1_[i] + eta * y_[i]);
      half_[i] = x_[i] - gamma * agg_v_[i];
    }
    // The aggregate becomes the previous one by a swap, not a copy: the
    // next aggregate() overwrites every coordinate of agg_v_.
    std::swap(prev_, agg_v_);
  }

private:
  const char *kind() const override { return single_ ? "qoda-single" : "qoda"; }
  void saveState(std::ostream &os) const override {
    writeVec(os, x1_);
    writeVec(os, y_);
    writeVec(os, prev_);
    writePod(os, sumSq_);
    writePod(os, sumDiff_);
  }
  void loadState(std::istream &is) override {
    readVec(is, x1_);
    readVec(is, y_);
    readVec(is, prev_);
    sumSq_ = readPod<double>(is);
    sumDiff_ = readPod<double>(is);
    halfReady_ = false;
  }
  /// gamma_t of X_{t+1/2} = X_t - gamma_t Vhat_{t-1/2}, from the sums so far.
  double optimisticStep() const {
    return single_ ? c_.lr / std::sqrt(1 + sumDiff_)
                   : c_.lrGamma * std::pow(1 + sumSq_, c_.q - 0.5);
  }
  OptimConfig c_;
  bool single_;
  bool aggregateSums_; ///< stepSums "aggregate"
  bool halfReady_ = false; ///< half_ holds X_t - gamma_t Vhat_{t-1/2}
  std::vector<float> x1_;
  std::vector<double> y_;
  std::vector<float> prev_, half_, agg_v_;
  double sumSq_ = 0, sumDiff_ = 0;
};

/// Q-GenX: dual extrapolation with two aggregates per step and the adaptive
/// step gamma_t = eta_t = lr / sqrt(1 + sum_s ||Vhat_{s+1/2} - Vhat_s||^2)
/// on the aggregates [choice, documented in docs/runtime.md].
class QGenX : public Optimizer {
public:
  QGenX(const OptimConfig &c, std::vector<float> x0, comm::Aggregator &agg)
      : Optimizer(std::move(x0), agg), c_(c), x1_(x_), y_(x_.size(), 0.0),
        g1_(x_.size()), g2_(x_.size()), half_(x_.size()) {}
  int collectivesPerStep() const override { return 2; }
  void step(const OracleFn &oracle) override {
    std::size_t d = x_.size();
    double step = c_.lr / std::sqrt(1 + sumDiff_);
    AggregateStats s;
    ++steps_;
    oracle(x_.data(), v_.data());
    if (!aggregate(v_.data(), g1_.data(), s))
      return;
    for (std::size_t i = 0; i < d; ++i)
      half_[i] = x_[i] - static_cast<float>(step) * g1_[i];
    oracle(half_.data(), v_.data());
    if (!aggregate(v_.data(), g2_.data(), s))
      return;
    for (std::size_t i = 0; i < d; ++i)
      y_[i] -= g2_[i];
    sumDiff_ += comm::squareSums(g2_.data(), g1_.data(), d).diff;
    double eta = c_.lr / std::sqrt(1 + sumDiff_);
    for (std::size_t i = 0; i < d; ++i)
      x_[i] = static_cast<float>(x1_[i] + eta * y_[i]);
  }

private:
  const char *kind() const override { return "qgenx"; }
  void saveState(std::ostream &os) const override {
    writeVec(os, x1_);
    writeVec(os, y_);
    writePod(os, sumDiff_);
  }
  void loadState(std::istream &is) override {
    readVec(is, x1_);
    readVec(is, y_);
    sumDiff_ = readPod<double>(is);
  }
  OptimConfig c_;
  std::vector<float> x1_;
  std::vector<double> y_;
  std::vector<float> g1_, g2_, half_;
  double sumDiff_ = 0;
};

/// Extra-gradient (two aggregates), optimistic gradient (one, reusing the
/// last aggregate) and SGDA (one), all with a constant step.
class Gradient : public Optimizer {
public:
  enum Kind { EG, OG, SGDA };
  Gradient(const OptimConfig &c, std::vector<float> x0, comm::Aggregator &agg,
           Kind k)
      : Optimizer(std::move(x0), agg), lr_(static_cast<float>(c.lr)), k_(k),
        g_(x_.size(), 0.0f), half_(x_.size()) {}
  int collectivesPerStep() const override { return k_ == EG ? 2 : 1; }
  void step(const OracleFn &oracle) override {
    std::size_t d = x_.size();
    AggregateStats s;
    ++steps_;
    // OG keeps last round's aggregate; a skipped round leaves it as it was.
    std::vector<float> &g = k_ == OG ? next_ : g_;
    if (k_ == EG) {
      oracle(x_.data(), v_.data());
      if (!aggregate(v_.data(), g_.data(), s))
        return;
    }
    if (k_ != SGDA) {
      for (std::size_t i = 0; i < d; ++i)
        half_[i] = x_[i] - lr_ * g_[i];
    } else {
      half_ = x_;
    }
    oracle(half_.data(), v_.data());
    if (!aggregate(v_.data(), g.data(), s))
      return;
    if (k_ == OG)
      g_ = next_;
    for (std::size_t i = 0; i < d; ++i)
      x_[i] -= lr_ * g_[i];
  }

private:
  const char *kind() const override {
    return k_ == EG ? "eg" : k_ == OG ? "og" : "sgda";
  }
  void saveState(std::ostream &os) const override { writeVec(os, g_); }
  void loadState(std::istream &is) override {
    readVec(is, g_);
    next_ = g_;
  }
  float lr_;
  Kind k_;
  std::vector<float> g_, half_, next_ = g_;
};

/// Adam, and Extra-Adam (Gidel et al. 2019): an Adam extrapolation step
/// from X_t, then an Adam step from X_t with the oracle at the extrapolated
/// point; both update the moments.
class Adam : public Optimizer {
public:
  Adam(const OptimConfig &c, std::vector<float> x0, comm::Aggregator &agg,
       bool extra)
      : Optimizer(std::move(x0), agg), c_(c), extra_(extra), m_(x_.size(), 0.0),
        v2_(x_.size(), 0.0), g_(x_.size()), half_(x_.size()) {}
  int collectivesPerStep() const override { return extra_ ? 2 : 1; }
  void step(const OracleFn &oracle) override {
    ++steps_;
    if (extra_) {
      if (adamUpdate(oracle, x_, half_))
        adamUpdate(oracle, half_, x_);
    } else {
      adamUpdate(oracle, x_, x_);
    }
  }

private:
  /// out = x_ - lr * mhat / (sqrt(vhat) + eps), with g = mean oracle at `at`.
  bool adamUpdate(const OracleFn &oracle, const std::vector<float> &at,
                  std::vector<float> &out) {
    AggregateStats s;
    oracle(at.data(), v_.data());
    if (!aggregate(v_.data(), g_.data(), s))
      return false;
    ++t_;
    double b1 = 1 - std::pow(c_.beta1, static_cast<double>(t_));
    double b2 = 1 - std::pow(c_.beta2, static_cast<double>(t_));
    for (std::size_t i = 0; i < x_.size(); ++i) {
      m_[i] = c_.beta1 * m_[i] + (1 - c_.beta1) * g_[i];
      v2_[i] = c_.beta2 * v2_[i] + (1 - c_.beta2) * g_[i] * g_[i];
      double upd = c_.lr * (m_[i] / b1) / (std::sqrt(v2_[i] / b2) + c_.eps);
      out[i] = static_cast<float>(x_[i] - upd);
    }
    return true;
  }
  const char *kind() const override { return extra_ ? "extra-adam" : "adam"; }
  void saveState(std::ostream &os) const override {
    writeVec(os, m_);
    writeVec(os, v2_);
    writePod(os, t_);
  }
  void loadState(std::istream &is) override {
    readVec(is, m_);
    readVec(is, v2_);
    t_ = readPod<std::uint64_t>(is);
  }
  OptimConfig c_;
  bool extra_;
  std::vector<double> m_, v2_;
  std::vector<float> g_, half_;
  std::uint64_t t_ = 0;
};

} // namespace

const std::vector<std::string> &optimizerNames() {
  static const std::vector<std::string> names = {
      "qoda", "qoda-single", "qgenx", "eg", "og", "sgda", "adam", "extra-adam"};
  return names;
}

std::unique_ptr<Optimizer> makeOptimizer(const OptimConfig &c,
                                         std::vector<float> x0,
                                         comm::Aggregator &agg) {
  if (!(c.lr > 0) || !(c.lrGamma > 0))
    throw std::invalid_argument("learning rates must be > 0");
  if (!(c.q > 0 && c.q <= 0.25))
    throw std::invalid_argument("qoda's q must be in (0, 1/4], got " +
                                std::to_string(c.q));
  if (c.stepSums != "workers" && c.stepSums != "aggregate")
    throw std::invalid_argument("step sums '" + c.stepSums +
                                "': expected 'workers' or 'aggregate'");
  if (c.stepSums != "workers" && c.name != "qoda")
    throw std::invalid_argument(
        "step sums 'aggregate' apply to qoda's adaptive rule only (" + c.name +
        (c.name == "qoda-single" ? " always sums the aggregate)"
                                 : " has no such sums)"));
  // Only QODA's adaptive rule on the workers' sums reads them: the others
  // spare collective (a) a decode of its own message per call.
  agg.setWorkerSums(c.name == "qoda" && c.stepSums == "workers");
  if (c.name == "qoda")
    return std::make_unique<Qoda>(c, std::move(x0), agg, false);
  if (c.name == "qoda-single")
    return std::make_unique<Qoda>(c, std::move(x0), agg, true);
  if (c.name == "qgenx")
    return std::make_unique<QGenX>(c, std::move(x0), agg);
  if (c.name == "eg")
    return std::make_unique<Gradient>(c, std::move(x0), agg, Gradient::EG);
  if (c.name == "og")
    return std::make_unique<Gradient>(c, std::move(x0), agg, Gradient::OG);
  if (c.name == "sgda")
    return std::make_unique<Gradient>(c, std::move(x0), agg, Gradient::SGDA);
  if (c.name == "adam")
    return std::make_unique<Adam>(c, std::move(x0), agg, false);
  if (c.name == "extra-adam")
    return std::make_unique<Adam>(c, std::move(x0), agg, true);
  std::string all;
  for (const std::string &n : optimizerNames())
    all += (all.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown optimizer '" + c.name +
                              "' (expected one of: " + all + ")");
}

} // namespace qoda::optim
