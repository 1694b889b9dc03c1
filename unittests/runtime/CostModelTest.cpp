#include "qoda/comm/CostModel.h"

#include <gtest/gtest.h>

using namespace qoda::comm;

TEST(CostModel, FitRecoversAlphaBeta) {
  AlphaBeta truth{1e-4, 1.25e8}; // 100 us, 1 Gbit/s
  int K = 4;
  double s = predictAllgather(truth, K, 1e3),
         l = predictAllgather(truth, K, 1e6);
  AlphaBeta fit = fitAlphaBeta(K, 1e3, s, 1e6, l);
  EXPECT_NEAR(fit.alpha, truth.alpha, 1e-9);
  EXPECT_NEAR(fit.beta, truth.beta, 1.0);
  EXPECT_THROW(fitAlphaBeta(K, 1e3, l, 1e6, s), std::invalid_argument);
}

TEST(CostModel, Predictions) {
  AlphaBeta m{0, 1e9};
  // Ring all-reduce of 4 MB at K=4 sends 6 MB per worker.
  EXPECT_DOUBLE_EQ(predictAllreduce(m, 4, 4e6), 6e-3);
  EXPECT_DOUBLE_EQ(predictAllgather(m, 4, 1e6), 3e-3);
  EXPECT_DOUBLE_EQ(predictScatterReduceAllgather(m, 4, 1e6), 1.5e-3);
  // Bandwidth-bound at large K: scatter-reduce wins; latency-bound: gather.
  EXPECT_EQ(chooseCompressedCollective({0, 1e9}, 16, 1e6), "scatter-reduce");
  EXPECT_EQ(chooseCompressedCollective({1e-3, 1e9}, 2, 10), "allgather");
}

TEST(CostModel, CodecWorkInPredictions) {
  AlphaBeta m{0, 1e9};
  CodecCost c{1e-9, 2e-9}; // 1 ns encode, 2 ns decode per coordinate
  // (a): transport + N encode + (K+1) N decode.
  EXPECT_DOUBLE_EQ(predictCompressedAllgather(m, c, 4, 1e6, 1e6),
                   3e-3 + 1e6 * (1e-9 + 5 * 2e-9));
  // (b): transport + N (1 + 1/K) encode + 2N decode.
  EXPECT_DOUBLE_EQ(predictCompressedScatterReduce(m, c, 4, 1e6, 1e6),
                   1.5e-3 + 1e6 * (1.25e-9 + 2 * 2e-9));
}

// The measurement overrides the model's pick unless the two collectives
// were measured within the tie band; without a model it decides alone.
TEST(CostModel, CalibrationOverridesOutsideTheTieBand) {
  CollectiveChoice model;
  model.measured = true;
  model.collective = "allgather";
  Calibration c;
  c.ratio = 1.5; // (b) clearly faster
  CollectiveChoice x = model;
  applyCalibration(x, c);
  EXPECT_EQ(x.collective, "scatter-reduce");
  EXPECT_EQ(x.modelCollective, "allgather");
  EXPECT_TRUE(x.calibrated);
  c.ratio = 1.15; // inside the default band 1.2: the model's pick stays
  x = model;
  applyCalibration(x, c);
  EXPECT_EQ(x.collective, "allgather");
  c.ratio = 0.5;
  x = model;
  x.collective = "scatter-reduce";
  applyCalibration(x, c);
  EXPECT_EQ(x.collective, "allgather");
  CollectiveChoice noModel; // fit failed: the ratio decides even near 1
  noModel.collective = "allgather";
  c.ratio = 1.05;
  applyCalibration(noModel, c);
  EXPECT_EQ(noModel.collective, "scatter-reduce");
  c.ratio = 1.15;
  x = model;
  applyCalibration(x, c, 1.1); // a narrower band lets it decide
  EXPECT_EQ(x.collective, "scatter-reduce");
}
