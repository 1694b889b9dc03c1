// Level optimisation: CD vs exact DP, vs uniform, layer-wise vs global,
// histogram merging, BinGrad split, eps_Q and fp16 conversions.
#include "qoda/quant/LevelOpt.h"
#include "qoda/quant/Analysis.h"
#include "qoda/quant/Half.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace qoda::quant;

namespace {
std::vector<float> gaussian(size_t n, float scale, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(g);
  return v;
}
} // namespace

TEST(LevelOpt, CoordinateDescentMatchesExactDp) {
  // Stated tolerance: CD (with relocation moves) is a local method; on these
  // 1024-bin histograms of Gaussian buckets it must land within 3% of the DP
  // optimum (observed worst case here: 2.05%, 16 levels).
  for (unsigned seed : {1u, 2u, 3u}) {
    Histogram h(1024);
    std::vector<float> v = gaussian(1 << 15, 1.0f, seed);
    h.addVector(v.data(), v.size(), 256, false);
    WeightedPoints p = pointsFromHistogram(h);
    for (unsigned levels : {4u, 8u, 16u}) {
      std::vector<float> uni = uniformLevels(levels - 1);
      std::vector<float> cdUni = coordinateDescent(p, uni);
      std::vector<float> cd = coordinateDescent(p, quantileLevels(p, levels));
      std::vector<float> dp = exactOptimalLevels(p, levels);
      double cdCost = mqvCost(p, cd), dpCost = mqvCost(p, dp),
             uniCost = mqvCost(p, uni);
      EXPECT_LE(dpCost, cdCost * (1 + 1e-9)) << "DP is the optimum";
      EXPECT_LE(cdCost, dpCost * 1.03) << levels << " levels, seed " << seed;
      EXPECT_LE(mqvCost(p, cdUni), uniCost) << "never worse than uniform";
      EXPECT_LE(cdCost, uniCost);
      EXPECT_EQ(cd.size(), levels);
      EXPECT_EQ(cd.front(), 0.0f);
      EXPECT_EQ(cd.back(), 1.0f);
    }
  }
}

TEST(LevelOpt, SweepLevelsNeverIncreasesCostAndApproachesTheOptimum) {
  // The planner's cheap fit: no relocation, so only a weaker tolerance than
  // coordinateDescent's against the DP (10%), but monotone from any start.
  for (unsigned seed : {4u, 5u}) {
    Histogram h(1024);
    std::vector<float> v = gaussian(1 << 15, 1.0f, seed);
    h.addVector(v.data(), v.size(), 256, false);
    WeightedPoints p = pointsFromHistogram(h);
    for (unsigned levels : {4u, 8u, 16u}) {
      std::vector<float> start = quantileLevels(p, levels);
      std::vector<float> fit = sweepLevels(p, start);
      double fitCost = mqvCost(p, fit);
      EXPECT_LE(fitCost, mqvCost(p, start));
      EXPECT_LE(fitCost, mqvCost(p, exactOptimalLevels(p, levels)) * 1.10)
          << levels << " levels, seed " << seed;
      std::vector<float> uni = uniformLevels(levels - 1);
      EXPECT_LE(mqvCost(p, sweepLevels(p, uni)), mqvCost(p, uni));
      ASSERT_EQ(fit.size(), levels);
      EXPECT_EQ(fit.front(), 0.0f);
      EXPECT_EQ(fit.back(), 1.0f);
      EXPECT_TRUE(std::is_sorted(fit.begin(), fit.end()));
    }
  }
}

TEST(LevelOpt, DpIsExactOnTinyInputByBruteForce) {
  WeightedPoints p = pointsFromSamples({0.05f, 0.1f, 0.3f, 0.31f, 0.7f, 0.9f});
  std::vector<float> dp = exactOptimalLevels(p, 4);
  double best = 1e300;
  for (size_t a = 0; a < p.value.size(); ++a)
    for (size_t b = a + 1; b < p.value.size(); ++b)
      best = std::min(
          best, mqvCost(p, {0.0f, float(p.value[a]), float(p.value[b]), 1.0f}));
  EXPECT_NEAR(mqvCost(p, dp), best, 1e-9);
}

TEST(LevelOpt, LayerwiseNeverWorseThanGlobal) {
  // Two types with very different normalised distributions.
  Histogram h1(256), h2(256), all(256);
  std::vector<float> dense = gaussian(1 << 14, 1.0f, 7);
  std::vector<float> sparse = gaussian(1 << 14, 1.0f, 8);
  for (size_t i = 0; i < sparse.size(); ++i)
    if (i % 16)
      sparse[i] *= 1e-3f; // heavy-tailed: a few large coordinates
  h1.addVector(dense.data(), dense.size(), 1024, false);
  h2.addVector(sparse.data(), sparse.size(), 1024, false);
  all.merge(h1);
  all.merge(h2);
  WeightedPoints p1 = pointsFromHistogram(h1), p2 = pointsFromHistogram(h2),
                 pa = pointsFromHistogram(all);
  std::vector<float> global = exactOptimalLevels(pa, 8);
  double layerwise = mqvCost(p1, exactOptimalLevels(p1, 8)) +
                     mqvCost(p2, exactOptimalLevels(p2, 8));
  double globalCost = mqvCost(p1, global) + mqvCost(p2, global);
  EXPECT_LE(layerwise, globalCost * (1 + 1e-9));
  EXPECT_LT(layerwise, globalCost * 0.9) << "heterogeneous types must gain";
}

TEST(LevelOpt, HistogramMergeIsElementwiseSum) {
  std::vector<float> a = gaussian(5000, 1, 1), b = gaussian(5000, 1, 2);
  Histogram ha(128), hb(128), hab(128);
  ha.addVector(a.data(), a.size(), 1000, false);
  hb.addVector(b.data(), b.size(), 1000, false);
  std::vector<float> ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  hab.addVector(ab.data(), ab.size(), 1000, false);
  ha.merge(hb);
  EXPECT_EQ(ha.count, hab.count);
  EXPECT_EQ(ha.total(), 10000.0);
  Histogram other(64);
  EXPECT_THROW(ha.merge(other), std::invalid_argument);
}

TEST(LevelOpt, BinGradSplitIsExact) {
  std::vector<float> s = gaussian(200, 1, 5);
  BinarySplit sp = binGradSplit(s);
  std::vector<float> sorted = s;
  std::sort(sorted.begin(), sorted.end());
  double best = 1e300;
  for (size_t k = 1; k < sorted.size(); ++k) {
    double m1 = 0, m2 = 0;
    for (size_t i = 0; i < k; ++i)
      m1 += sorted[i];
    for (size_t i = k; i < sorted.size(); ++i)
      m2 += sorted[i];
    m1 /= k;
    m2 /= double(sorted.size() - k);
    double sse = 0;
    for (size_t i = 0; i < sorted.size(); ++i) {
      double q = i < k ? m1 : m2;
      sse += (sorted[i] - q) * (sorted[i] - q);
    }
    best = std::min(best, sse);
  }
  EXPECT_NEAR(sp.sse, best, 1e-6 * best);
  EXPECT_LT(sp.low, sp.threshold);
  EXPECT_GT(sp.high, sp.threshold);
}

TEST(Analysis, EpsQOfUniformLevels) {
  TypeSchedule t;
  t.levels = uniformLevels(3); // 0, 1/3, 2/3, 1: tau = 2
  t.bucketSize = 16;
  double expect = 1.0 / 8 + std::min(16.0 / 9 / 4, 4.0 / 3);
  EXPECT_NEAR(epsQ(t), expect, 1e-6);
  EXPECT_NEAR(entropyBits({1, 1, 1, 1}), 2.0, 1e-12);
  EXPECT_EQ(entropyBits({5, 0}), 0.0);
}

TEST(Half, RoundTripAndRounding) {
  EXPECT_EQ(halfToFloat(floatToHalf(1.0f)), 1.0f);
  EXPECT_EQ(halfToFloat(floatToHalf(-2.5f)), -2.5f);
  EXPECT_EQ(halfToFloat(floatToHalf(65504.0f)), 65504.0f);
  EXPECT_TRUE(std::isinf(halfToFloat(floatToHalf(1e6f))));
  EXPECT_EQ(halfToFloat(floatToHalf(5.96046448e-08f)), 5.96046448e-08f);
  // Every fp16 value converts back to itself.
  for (uint32_t h = 0; h < 0x7c00; ++h)
    ASSERT_EQ(floatToHalf(halfToFloat(uint16_t(h))), h);
  float x = 1.0f + 1.0f / 4096; // between 1 and 1 + 2^-10
  EXPECT_GE(halfToFloat(floatToHalfRoundUp(x)), x);
  EXPECT_EQ(bf16ToFloat(floatToBf16(1.5f)), 1.5f);
}
