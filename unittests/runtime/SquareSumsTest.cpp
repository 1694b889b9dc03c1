#include "qoda/comm/SquareSums.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace qoda::comm;

namespace {
SquareSums serial(const std::vector<float> &v, const float *prev) {
  SquareSums s;
  for (std::size_t i = 0; i < v.size(); ++i) {
    double x = v[i], d = prev ? x - prev[i] : x;
    s.sq += x * x;
    s.diff += d * d;
  }
  return s;
}
} // namespace

TEST(SquareSums, MatchesTheSerialSumUpToRounding) {
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  // Sizes around the 8 lanes: empty, tail only, exact multiples, tails.
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 1000u, 100003u}) {
    std::vector<float> v(n), prev(n);
    for (std::size_t i = 0; i < n; ++i) {
      v[i] = normal(gen);
      prev[i] = normal(gen);
    }
    SquareSums got = squareSums(v.data(), prev.data(), n);
    SquareSums want = serial(v, prev.data());
    EXPECT_NEAR(got.sq, want.sq, 1e-12 * want.sq) << n;
    EXPECT_NEAR(got.diff, want.diff, 1e-12 * want.diff) << n;
    SquareSums noPrev = squareSums(v.data(), nullptr, n);
    EXPECT_EQ(noPrev.sq, got.sq) << n;   // same order, same rounding
    EXPECT_EQ(noPrev.diff, got.sq) << n; // v - 0 is v
  }
}

TEST(SquareSums, IsExactOnSmallIntegers) {
  std::vector<float> v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  std::vector<float> prev(v.size(), 1.0f);
  SquareSums s = squareSums(v.data(), prev.data(), v.size());
  EXPECT_EQ(s.sq, 506.0);   // 11 * 12 * 23 / 6
  EXPECT_EQ(s.diff, 385.0); // 0^2 + ... + 10^2
}

TEST(AllFinite, FindsNaNAndInfAnywhere) {
  std::vector<float> v(37, 1.5f);
  v[3] = std::numeric_limits<float>::max();
  v[4] = -std::numeric_limits<float>::denorm_min();
  EXPECT_TRUE(allFinite(v.data(), v.size()));
  EXPECT_TRUE(allFinite(v.data(), 0));
  for (float bad : {std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::quiet_NaN()})
    for (std::size_t at : {0u, 8u, 36u}) {
      std::vector<float> w = v;
      w[at] = bad;
      EXPECT_FALSE(allFinite(w.data(), w.size())) << bad << " at " << at;
      EXPECT_TRUE(allFinite(w.data(), at)) << "before " << at;
    }
}
