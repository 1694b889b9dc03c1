// Compressors: unbiasedness, variance <= eps_Q, exact round trips,
// determinism, accumulation of K peers, layer-wise segments.
#include "qoda/quant/Compressor.h"
#include "qoda/quant/Analysis.h"
#include "qoda/quant/Half.h"
#include "qoda/quant/Philox.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace qoda::quant;

namespace {

std::vector<float> gaussian(size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(g);
  return v;
}

std::vector<float> decode(const Compressor &c, const std::vector<uint8_t> &m,
                          uint64_t n, uint64_t step) {
  std::vector<float> out(n, 0.0f);
  std::string err =
      c.decodeAccumulate(m.data(), m.size(), 1.0f, out.data(), n, step);
  EXPECT_EQ(err, "");
  return out;
}

std::vector<uint8_t> encode(Compressor &c, const std::vector<float> &v,
                            EncodeKey key) {
  std::vector<uint8_t> m(c.maxMessageBytes(v.size()));
  m.resize(c.encode(v.data(), v.size(), key, m.data()));
  return m;
}

Schedule twoTypeSchedule() {
  Schedule s;
  TypeSchedule a;
  a.levels = uniformLevels(7);
  a.bucketSize = 64;
  TypeSchedule b;
  b.levels = exponentialLevels(3);
  b.bucketSize = 100;
  b.norm = Norm::Linf;
  b.normPrecision = NormPrecision::Fp16;
  s.types = {a, b};
  s.segments = {{0, 300, 0}, {300, 250, 1}, {550, 50, 0}};
  return s;
}

/// The named adversarial inputs: all-equal (u = 1/sqrt(d) for every
/// coordinate), one-hot, coordinates at the worst point of an interval, a
/// heavy-tailed vector and zeros.
std::vector<std::vector<float>> adversarial(size_t n) {
  std::vector<std::vector<float>> out;
  out.push_back(std::vector<float>(n, 1.0f));
  std::vector<float> hot(n, 0.0f);
  hot[n / 3] = -3.0f;
  out.push_back(hot);
  std::vector<float> mid(n);
  for (size_t i = 0; i < n; ++i)
    mid[i] = (i % 2 ? 1.0f : -1.0f) * (1.0f + 0.5f * float(i % 7));
  out.push_back(mid);
  std::vector<float> tail = gaussian(n, 99);
  for (size_t i = 0; i < n; ++i)
    tail[i] = std::pow(tail[i], 5.0f);
  out.push_back(tail);
  out.push_back(std::vector<float>(n, 0.0f));
  return out;
}

std::vector<std::unique_ptr<Compressor>> boundedCompressors() {
  std::vector<std::unique_ptr<Compressor>> cs;
  for (unsigned bits : {1u, 2u, 4u}) {
    CompressorOptions o;
    o.bits = bits;
    o.bucketSize = 128;
    cs.push_back(makeCompressor("qsgd", o));
    cs.push_back(makeCompressor("nuqsgd", o));
    o.norm = Norm::Linf;
    cs.push_back(makeCompressor("qsgd", o));
  }
  CompressorOptions o;
  o.schedule = twoTypeSchedule();
  cs.push_back(makeCompressor("layerwise", o));
  return cs;
}

} // namespace

TEST(Philox, KnownAnswer) {
  // Random123 known-answer test for philox4x32-10 (counter 0, key 0).
  auto r = philox4x32_10({0, 0, 0, 0}, {0, 0});
  EXPECT_EQ(r[0], 0x6627e8d5u);
  EXPECT_EQ(r[1], 0xe169c58du);
  EXPECT_EQ(r[2], 0xbc57ac4cu);
  EXPECT_EQ(r[3], 0x9b00dbd8u);
  float u = philoxUniform(1, 2, 3, 4);
  EXPECT_GE(u, 0.0f);
  EXPECT_LT(u, 1.0f);
}

TEST(Compressor, UnbiasedWithinBoundDerivedTolerance) {
  const size_t n = 600;
  const unsigned trials = 2000;
  std::vector<float> v = gaussian(n, 3);
  for (auto &c : boundedCompressors()) {
    std::vector<double> mean(n, 0.0);
    for (unsigned t = 0; t < trials; ++t) {
      std::vector<float> q = decode(*c, encode(*c, v, {42, t, 1}), n, t);
      for (size_t i = 0; i < n; ++i)
        mean[i] += q[i] / double(trials);
    }
    double err = 0, norm2 = 0;
    for (size_t i = 0; i < n; ++i) {
      err += (mean[i] - v[i]) * (mean[i] - v[i]);
      norm2 += double(v[i]) * v[i];
    }
    // E||mean - v||^2 = E||Q - v||^2 / T <= eps_Q ||v||^2 / T; allow 4x
    // (a sum of 600 independent terms is far more concentrated than that).
    double bound = 4.0 * std::max(c->varianceBound() * norm2, 1e-12) / trials;
    EXPECT_LE(err, bound) << c->name();
    EXPECT_TRUE(c->unbiased());
  }
}

TEST(Compressor, VarianceWithinEpsQ) {
  const size_t n = 600;
  std::vector<std::vector<float>> inputs = adversarial(n);
  inputs.push_back(gaussian(n, 11));
  for (auto &c : boundedCompressors()) {
    double eps = c->varianceBound();
    ASSERT_GT(eps, 0.0) << c->name();
    for (size_t k = 0; k < inputs.size(); ++k) {
      const std::vector<float> &v = inputs[k];
      double norm2 = 0;
      for (float x : v)
        norm2 += double(x) * x;
      double measured = 0;
      const unsigned trials = 200;
      for (unsigned t = 0; t < trials; ++t) {
        std::vector<float> q = decode(*c, encode(*c, v, {7, t, 0}), n, t);
        measured += squaredDistance(q.data(), v.data(), n) / trials;
      }
      // fp16 norms are rounded up by at most 2^-11: allow that factor.
      double slack = 1.0 + 1.0 / 512;
      EXPECT_LE(measured, eps * norm2 * slack + 1e-12)
          << c->name() << " input " << k;
    }
  }
}

TEST(Compressor, ExpectedErrorFormulaMatchesSampling) {
  CompressorOptions o;
  o.bits = 2;
  o.bucketSize = 100;
  auto c = makeCompressor("qsgd", o);
  std::vector<float> v = gaussian(400, 4);
  Schedule s = singleTypeSchedule(uniformLevels(3), 100);
  double exact = expectedSquaredError(s, v.data(), v.size());
  double sampled = 0;
  const unsigned trials = 4000;
  for (unsigned t = 0; t < trials; ++t) {
    std::vector<float> q = decode(*c, encode(*c, v, {1, t, 0}), 400, t);
    sampled += squaredDistance(q.data(), v.data(), 400) / trials;
  }
  EXPECT_NEAR(sampled, exact, 0.05 * exact);
  EXPECT_LE(exact, epsQ(s) * 400 * 1.2); // ||v||^2 ~ 400
}

TEST(Compressor, RoundTripMatchesScalarReference) {
  // Decoding must give exactly norm * sign * level[index], where index is the
  // stochastic rounding decision recomputed here from Philox.
  const size_t n = 1000;
  std::vector<float> v = gaussian(n, 5);
  v[17] = 0.0f;
  v[18] = -0.0f;
  CompressorOptions o;
  o.bits = 3;
  o.bucketSize = 256;
  auto c = makeCompressor("qsgd", o);
  EncodeKey key{9, 3, 2};
  std::vector<float> q = decode(*c, encode(*c, v, key), n, key.step);
  std::vector<float> levels = uniformLevels(7);
  for (size_t b = 0; b < n; b += 256) {
    size_t e = std::min(n, b + 256);
    double s = 0;
    for (size_t i = b; i < e; ++i)
      s += double(v[i]) * v[i];
    float norm = float(std::sqrt(s));
    if (double(norm) < std::sqrt(s))
      norm = std::nextafter(norm, INFINITY);
    for (size_t i = b; i < e; ++i) {
      float u = std::min(1.0f, std::fabs(v[i]) * (1.0f / norm));
      size_t j = 1;
      while (j + 1 < levels.size() && levels[j] <= u)
        ++j;
      float p = (u - levels[j - 1]) / (levels[j] - levels[j - 1]);
      size_t idx = philoxUniform(9, 3, 2, i) < p ? j : j - 1;
      float x = norm * levels[idx];
      float expect = (idx != 0 && std::signbit(v[i])) ? -x : x;
      ASSERT_EQ(q[i], expect) << "coordinate " << i;
    }
  }
}

TEST(Compressor, CastsRoundTripExactly) {
  std::vector<float> v = gaussian(333, 6);
  for (const char *name : {"fp32", "fp16", "bf16"}) {
    auto c = makeCompressor(name);
    std::vector<float> q = decode(*c, encode(*c, v, {0, 5, 0}), v.size(), 5);
    for (size_t i = 0; i < v.size(); ++i) {
      float expect = std::string(name) == "fp32" ? v[i]
                     : std::string(name) == "fp16"
                         ? halfToFloat(floatToHalf(v[i]))
                         : bf16ToFloat(floatToBf16(v[i]));
      ASSERT_EQ(q[i], expect) << name << " " << i;
    }
    EXPECT_LT(c->varianceBound(), 0.0);
  }
}

TEST(Compressor, DeterministicAndAccumulatesPeers) {
  CompressorOptions o;
  o.schedule = twoTypeSchedule();
  auto c = makeCompressor("layerwise", o);
  const size_t n = 600;
  std::vector<float> sum(n, 0.0f), expect(n, 0.0f);
  for (uint32_t rank = 0; rank < 4; ++rank) {
    std::vector<float> v = gaussian(n, 20 + rank);
    std::vector<uint8_t> m = encode(*c, v, {1, 8, rank});
    EXPECT_EQ(m, encode(*c, v, {1, 8, rank})) << "same key, same bytes";
    EXPECT_EQ(m.size(), c->maxMessageBytes(n));
    std::vector<float> q = decode(*c, m, n, 8);
    for (size_t i = 0; i < n; ++i)
      expect[i] += 0.25f * q[i];
    ASSERT_EQ(c->decodeAccumulate(m.data(), m.size(), 0.25f, sum.data(), n, 8),
              "");
  }
  EXPECT_EQ(sum, expect);
  EXPECT_EQ(c->stats().messages, 8u);
  EXPECT_GT(c->stats().bitsPerCoord(), 3.0);
}

TEST(Compressor, FactoryRejectsBadInput) {
  EXPECT_THROW(makeCompressor("nope"), std::invalid_argument);
  CompressorOptions o;
  o.bits = 9;
  EXPECT_THROW(makeCompressor("qsgd", o), std::invalid_argument);
  o = {};
  o.schedule = singleTypeSchedule({0.0f, 0.5f, 0.4f, 1.0f}, 16);
  EXPECT_THROW(makeCompressor("layerwise", o), std::invalid_argument);
  o.schedule = twoTypeSchedule();
  auto c = makeCompressor("layerwise", o);
  std::vector<float> v(10);
  std::vector<uint8_t> m(c->maxMessageBytes(600));
  EXPECT_THROW(c->encode(v.data(), v.size(), {}, m.data()),
               std::invalid_argument)
      << "schedule covers 600 coordinates, not 10";
}
