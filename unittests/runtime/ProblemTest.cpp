#include "qoda/problems/Problem.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace qoda::problems;

TEST(Problems, SolutionIsAZeroAndOperatorIsMonotone) {
  for (const char *kind : {"bilinear", "quadratic", "blocks", "hetero"}) {
    auto p = makeProblem(kind, 32, 7);
    std::vector<float> out(32), z(32), w(32), az(32), aw(32);
    p->apply(p->solution().data(), out.data());
    for (float v : out)
      EXPECT_EQ(v, 0.0f) << kind;
    EXPECT_EQ(p->distance(p->solution().data()), 0.0);
    // <A(z) - A(w), z - w> >= 0 on random pairs.
    std::mt19937_64 rng(3);
    std::normal_distribution<float> g;
    for (int trial = 0; trial < 10; ++trial) {
      for (std::size_t i = 0; i < 32; ++i) {
        z[i] = g(rng);
        w[i] = g(rng);
      }
      p->apply(z.data(), az.data());
      p->apply(w.data(), aw.data());
      double ip = 0;
      for (std::size_t i = 0; i < 32; ++i)
        ip += (double(az[i]) - aw[i]) * (double(z[i]) - w[i]);
      EXPECT_GE(ip, -1e-4) << kind;
    }
  }
}

TEST(Problems, NoiseHasTheRequestedVariance) {
  auto p = makeProblem("quadratic", 64, 1);
  Oracle o(*p, {0.5, 0.0}, 1, 0);
  std::vector<float> z(64, 1.0f), exact(64), v(64);
  p->apply(z.data(), exact.data());
  double total = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    o(z.data(), v.data());
    for (std::size_t j = 0; j < 64; ++j)
      total += (double(v[j]) - exact[j]) * (double(v[j]) - exact[j]);
  }
  EXPECT_NEAR(total / n, 0.25, 0.02); // E||V - A||^2 = sigma^2
}

TEST(Problems, BlocksHaveDifferentScales) {
  auto p = makeProblem("blocks", 64, 1);
  ASSERT_EQ(p->blocks().size(), 4u);
  EXPECT_NEAR(p->blocks().back().scale / p->blocks().front().scale, 1000, 1e-9);
  EXPECT_THROW(makeProblem("nope", 8, 1), std::invalid_argument);
  EXPECT_THROW(makeProblem("bilinear", 7, 1), std::invalid_argument);
}

// hetero: comparable conditioning, different value distributions per block.
TEST(Problems, HeteroBlocksKeepTheirShape) {
  const std::size_t d = 256;
  auto p = makeProblem("hetero", d, 2);
  ASSERT_EQ(p->blocks().size(), 4u);
  EXPECT_EQ(p->blocks()[0].name, "embed");
  EXPECT_EQ(p->blocks()[2].size, d / 2);
  std::vector<float> z(d, 0.0f), a(d);
  p->apply(z.data(), a.data()); // the operator value at the start point
  auto rms = [&](const Block &b) {
    double s = 0;
    for (std::size_t i = b.offset; i < b.offset + b.size; ++i)
      s += double(a[i]) * a[i];
    return std::sqrt(s / b.size);
  };
  // embed: 7 in 8 coordinate pairs exactly zero (and they stay zero: the
  // block's operator acts pair by pair).
  const Block &e = p->blocks()[0];
  std::size_t zeros = 0;
  for (std::size_t i = e.offset; i < e.offset + e.size; ++i)
    zeros += a[i] == 0.0f;
  EXPECT_EQ(zeros, e.size * 7 / 8);
  // mlp's values are about 10x smaller than attn's (same operator family).
  double ratio = rms(p->blocks()[1]) / rms(p->blocks()[2]);
  EXPECT_GT(ratio, 5);
  EXPECT_LT(ratio, 20);
  // head is heavy-tailed: its kurtosis (mean x^4 / rms^4) is far above a
  // Gaussian block's (about 3).
  auto kurtosis = [&](const Block &b) {
    double s = 0;
    for (std::size_t i = b.offset; i < b.offset + b.size; ++i)
      s += std::pow(double(a[i]), 4);
    return s / b.size / std::pow(rms(b), 4);
  };
  EXPECT_LT(kurtosis(p->blocks()[1]), 6);
  EXPECT_GT(kurtosis(p->blocks()[3]), 8);
  EXPECT_THROW(makeProblem("hetero", 40, 1), std::invalid_argument);
}
