// Optimiser steps checked against METHOD 2's formulas, on one worker with
// the deterministic operator A(x) = x; and Aggregator::setWorkerSums:
// collective (a) and its pipelined form skip the workers' squared norms when
// no one reads them, with the same mean bit for bit, the setting cannot
// change once they aggregated, and makeOptimizer turns the sums on exactly
// for QODA's adaptive rule on the workers' sums.
#include "qoda/comm/CompressedAggregator.h"
#include "qoda/comm/PipelinedAggregator.h"
#include "qoda/optim/Optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

using namespace qoda;

namespace {

class OneWorker : public comm::Communicator {
public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduceSum(float *, std::size_t) override { ++stats_.collectives; }
  void allgather(const void *in, std::size_t n, void *out) override {
    std::memcpy(out, in, n);
  }
  void alltoall(const void *in, std::size_t n, void *out) override {
    std::memcpy(out, in, n);
  }
  void broadcast(void *, std::size_t, int) override {}
  void barrier() override {}
};

const optim::OracleFn identity = [](const float *x, float *out) {
  out[0] = x[0];
  out[1] = x[1];
};

double sq(double a, double b) { return a * a + b * b; }

} // namespace

TEST(Qoda, TwoStepsMatchTheFormulas) {
  OneWorker c;
  comm::AllreduceAggregator agg(c, 2);
  optim::OptimConfig cfg;
  cfg.lr = 0.5;
  cfg.lrGamma = 0.3;
  cfg.q = 0.25;
  auto opt = optim::makeOptimizer(cfg, {1.0f, 2.0f}, agg);
  opt->step(identity);
  // t=1: gamma uses empty sums; Vhat_{1/2} = A(X_1) = X_1.
  double x0[2] = {1, 2};
  double s1 = sq(1, 2); // sum ||Vhat||^2 and sum ||Vhat - 0||^2
  double eta1 = 0.5 / std::sqrt(1 + s1);
  double x1[2] = {x0[0] - eta1 * x0[0], x0[1] - eta1 * x0[1]};
  EXPECT_NEAR(opt->x()[0], x1[0], 1e-6);
  EXPECT_NEAR(opt->x()[1], x1[1], 1e-6);
  opt->step(identity);
  double gamma2 = 0.3 * std::pow(1 + s1, 0.25 - 0.5);
  double h[2] = {x1[0] - gamma2 * x0[0], x1[1] - gamma2 * x0[1]};
  double sDiff = s1 + sq(h[0] - x0[0], h[1] - x0[1]);
  double eta2 = 0.5 / std::sqrt(1 + sDiff);
  EXPECT_NEAR(opt->x()[0], x0[0] + eta2 * (-x0[0] - h[0]), 1e-6);
  EXPECT_NEAR(opt->x()[1], x0[1] + eta2 * (-x0[1] - h[1]), 1e-6);
  EXPECT_EQ(c.stats().collectives, 2u); // one collective per step
}

namespace {
/// Two workers with identical vectors: the all-reduce doubles everything,
/// so the workers' sums are twice the aggregate's.
class TwoAlikeWorkers : public OneWorker {
public:
  int size() const override { return 2; }
  void allreduceSum(float *data, std::size_t n) override {
    OneWorker::allreduceSum(data, n);
    for (std::size_t i = 0; i < n; ++i)
      data[i] *= 2;
  }
};
} // namespace

TEST(Qoda, StepSumsOfWorkersOrOfTheAggregate) {
  for (const char *sums : {"workers", "aggregate"}) {
    TwoAlikeWorkers c;
    comm::AllreduceAggregator agg(c, 2);
    optim::OptimConfig cfg;
    cfg.lr = 0.5;
    cfg.stepSums = sums;
    auto opt = optim::makeOptimizer(cfg, {1.0f, 2.0f}, agg);
    opt->step(identity);
    // The mean is X_1 itself; the workers' sums count it twice.
    double s1 = (std::string(sums) == "workers" ? 2 : 1) * sq(1, 2);
    double eta1 = 0.5 / std::sqrt(1 + s1);
    EXPECT_NEAR(opt->x()[0], 1 - eta1 * 1, 1e-6) << sums;
    EXPECT_NEAR(opt->x()[1], 2 - eta1 * 2, 1e-6) << sums;
  }
}

TEST(Optimizers, CollectivesPerStep) {
  OneWorker c;
  comm::AllreduceAggregator agg(c, 2);
  std::map<std::string, int> expect = {
      {"qoda", 1}, {"qoda-single", 1}, {"qgenx", 2}, {"eg", 2},
      {"og", 1},   {"sgda", 1},        {"adam", 1},  {"extra-adam", 2}};
  for (const std::string &name : optim::optimizerNames()) {
    optim::OptimConfig cfg;
    cfg.name = name;
    auto opt = optim::makeOptimizer(cfg, {1.0f, 2.0f}, agg);
    c.resetStats();
    for (int i = 0; i < 3; ++i)
      opt->step(identity);
    EXPECT_EQ(opt->collectivesPerStep(), expect.at(name)) << name;
    EXPECT_EQ(c.stats().collectives, 3u * expect.at(name)) << name;
    // A(x) = x is strongly monotone: every method moves towards 0.
    EXPECT_LT(sq(opt->x()[0], opt->x()[1]), 5.0) << name;
  }
}

TEST(Optimizers, ExtraGradientStep) {
  OneWorker c;
  comm::AllreduceAggregator agg(c, 2);
  optim::OptimConfig cfg;
  cfg.name = "eg";
  cfg.lr = 0.1;
  auto opt = optim::makeOptimizer(cfg, {1.0f, 2.0f}, agg);
  opt->step(identity);
  // x - lr * A(x - lr * A(x)) = x (1 - lr (1 - lr))
  EXPECT_NEAR(opt->x()[0], 1 * (1 - 0.1 * 0.9), 1e-6);
  EXPECT_NEAR(opt->x()[1], 2 * (1 - 0.1 * 0.9), 1e-6);
}

TEST(Optimizers, BadConfig) {
  OneWorker c;
  comm::AllreduceAggregator agg(c, 2);
  optim::OptimConfig cfg;
  cfg.name = "sgd-typo";
  EXPECT_THROW(optim::makeOptimizer(cfg, {1, 2}, agg), std::invalid_argument);
  cfg.name = "qoda";
  cfg.q = 0.5;
  EXPECT_THROW(optim::makeOptimizer(cfg, {1, 2}, agg), std::invalid_argument);
  cfg.q = 0.25;
  EXPECT_THROW(optim::makeOptimizer(cfg, {1, 2, 3}, agg),
               std::invalid_argument);
  cfg.stepSums = "workerz";
  EXPECT_THROW(optim::makeOptimizer(cfg, {1, 2}, agg), std::invalid_argument);
  cfg.stepSums = "aggregate";
  for (const char *other : {"qoda-single", "adam"}) {
    cfg.name = other;
    EXPECT_THROW(optim::makeOptimizer(cfg, {1, 2}, agg), std::invalid_argument)
        << other;
  }
}

namespace {

constexpr std::size_t kDim = 8;

std::unique_ptr<comm::Aggregator> collectiveA(comm::Communicator &c) {
  return std::make_unique<comm::CompressedAggregator>(
      c, std::vector<comm::LayoutSegment>{{{"w", 0, kDim}, true, false}},
      std::make_unique<comm::Fp16Codec>(kDim));
}

std::unique_ptr<comm::Aggregator> pipelined(comm::Communicator &c) {
  return std::make_unique<comm::PipelinedAggregator>(
      c, kDim, 2, [](std::size_t, std::size_t n) {
        return std::make_unique<comm::Fp16Codec>(n);
      });
}

/// Two calls with different vectors; returns both means.
std::vector<float> twoMeans(comm::Aggregator &agg,
                            std::vector<comm::AggregateStats> &stats) {
  std::vector<float> out(2 * kDim);
  stats.assign(2, {});
  for (int call = 0; call < 2; ++call) {
    std::vector<float> v(kDim);
    for (std::size_t i = 0; i < kDim; ++i)
      v[i] = 0.1f * static_cast<float>(i + 1) * (call ? -1.5f : 1.0f) + 1e-4f;
    agg.mean(v.data(), &out[call * kDim], stats[call]);
  }
  return out;
}

} // namespace

TEST(WorkerSums, OffGivesTheSameMeanAndNaNSums) {
  for (auto make : {collectiveA, pipelined}) {
    OneWorker c;
    std::unique_ptr<comm::Aggregator> on = make(c), off = make(c);
    off->setWorkerSums(false);
    std::vector<comm::AggregateStats> sOn, sOff;
    std::vector<float> mOn = twoMeans(*on, sOn), mOff = twoMeans(*off, sOff);
    EXPECT_EQ(0, std::memcmp(mOn.data(), mOff.data(),
                             mOn.size() * sizeof(float)))
        << on->name();
    // On: K = 1, so the sums are those of the decoded vector itself (the
    // first call's difference is against zero).
    double sq = 0;
    for (std::size_t i = 0; i < kDim; ++i)
      sq += double(mOn[i]) * mOn[i];
    EXPECT_NEAR(sOn[0].sumSq, sq, 1e-5 * sq) << on->name();
    EXPECT_NEAR(sOn[0].sumSqDiff, sq, 1e-5 * sq) << on->name();
    for (const comm::AggregateStats &s : sOff) {
      EXPECT_TRUE(std::isnan(s.sumSq)) << off->name();
      EXPECT_TRUE(std::isnan(s.sumSqDiff)) << off->name();
    }
  }
}

TEST(WorkerSums, CannotChangeAfterTheFirstAggregate) {
  for (auto make : {collectiveA, pipelined}) {
    OneWorker c;
    std::unique_ptr<comm::Aggregator> agg = make(c);
    agg->setWorkerSums(false);
    agg->setWorkerSums(true); // before any mean(): free to change
    agg->setWorkerSums(false);
    std::vector<comm::AggregateStats> s;
    twoMeans(*agg, s);
    agg->setWorkerSums(false); // unchanged: fine
    try {
      agg->setWorkerSums(true);
      FAIL() << agg->name() << ": no error";
    } catch (const std::logic_error &e) {
      EXPECT_NE(std::string(e.what()).find("before the first mean()"),
                std::string::npos)
          << e.what();
    }
    EXPECT_FALSE(agg->workerSums());
  }
}

TEST(WorkerSums, OnlyQodaOnTheWorkersSumsReadsThem) {
  for (const std::string &name : optim::optimizerNames()) {
    for (const char *sums : {"workers", "aggregate"}) {
      if (name != "qoda" && std::string(sums) == "aggregate")
        continue; // rejected for every other optimiser
      OneWorker c;
      std::unique_ptr<comm::Aggregator> agg = collectiveA(c);
      optim::OptimConfig cfg;
      cfg.name = name;
      cfg.stepSums = sums;
      auto opt = optim::makeOptimizer(cfg, std::vector<float>(kDim, 1.0f),
                                      *agg);
      EXPECT_EQ(agg->workerSums(),
                name == "qoda" && std::string(sums) == "workers")
          << name << " " << sums;
      // And it steps (a NaN in the unread sums would poison nothing).
      opt->step([](const float *x, float *out) {
        std::memcpy(out, x, kDim * sizeof(float));
      });
      for (float x : opt->x())
        EXPECT_TRUE(std::isfinite(x)) << name << " " << sums;
    }
  }
}
