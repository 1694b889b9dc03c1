// Compressors: unbiasedness, variance <= eps_Q, exact round trips,
// determinism, accumulation of K peers, layer-wise segments.
#include "qoda/quant/Compressor.h"
#include "qoda/quant/Analysis.h"
#include "qoda/quant/Half.h"
#include "qoda/quant/Philox.h"
#include "qoda/quant/Wire.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
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
  for (unsigned bits : {2u, 4u}) {
    CompressorOptions c;
    c.bits = bits;
    c.bucketSize = 64;
    cs.push_back(makeCompressor("cgx-stochastic", c));
  }
  return cs;
}

/// Unbiased compressors without an a-priori bound.
std::vector<std::unique_ptr<Compressor>> unboundedUnbiased() {
  std::vector<std::unique_ptr<Compressor>> cs;
  for (unsigned bits : {1u, 3u}) {
    CompressorOptions o;
    o.bits = bits;
    o.bucketSize = 128;
    cs.push_back(makeCompressor("orq", o));
  }
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
  // The contract (docs/quant.md): coordinate g takes half-word g % 8 of
  // block g / 8, low half of word (g % 8) / 2 first, as h * 2^-16.
  const uint16_t halves[8] = {0xe8d5, 0x6627, 0xc58d, 0xe169,
                              0xac4c, 0xbc57, 0xdbd8, 0x9b00};
  for (uint64_t g = 0; g < 8; ++g)
    EXPECT_EQ(philoxUniform(0, 0, 0, g), float(halves[g]) / 65536.0f) << g;
  // Coordinate 8 starts the next block (counter 1).
  EXPECT_EQ(philoxUniform(0, 0, 0, 8),
            float(philox4x32_10({1, 0, 0, 0}, {0, 0})[0] & 0xffff) / 65536.0f);
  float u = philoxUniform(1, 2, 3, 4);
  EXPECT_GE(u, 0.0f);
  EXPECT_LT(u, 1.0f);
}

TEST(Compressor, UnbiasedWithinBoundDerivedTolerance) {
  const size_t n = 600;
  const unsigned trials = 2000;
  std::vector<float> v = gaussian(n, 3);
  std::vector<std::unique_ptr<Compressor>> all = boundedCompressors();
  for (auto &c : unboundedUnbiased())
    all.push_back(std::move(c));
  for (auto &c : all) {
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
    // ORQ claims no a-priori bound, but its levels always contain 0 and 1
    // and refining {0, 1} never increases a coordinate's variance, so the
    // bound of levels {0, 1} applies.
    double eps = c->varianceBound() > 0
                     ? c->varianceBound()
                     : epsQ(singleTypeSchedule(uniformLevels(1), 128));
    // Plus the squared bias of 16-bit uniforms: P(round up) exceeds p by
    // less than 2^-16, so |E Q_i - v_i| < 2^-16 * (interval width) * scale,
    // which is <= 2^-15 ||v_bucket|| for every compressor here (level gaps
    // <= 1 times a norm <= ||v_bucket|| (1 + 2^-10); cgx units <= 2 max|v|).
    // Summed over buckets of at most 128 coordinates: <= 128 2^-30 ||v||^2.
    double biasSq = 128.0 * std::ldexp(1.0, -30) * norm2;
    double bound = 4.0 * std::max(eps * norm2, 1e-12) / trials + biasSq;
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
  // stochastic rounding decision recomputed here from Philox (16 bits per
  // coordinate, 8 coordinates per block).
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
    // The L2 norm as docs/quant.md specifies it: 8 lane sums, fixed order.
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t i = b; i < e; ++i)
      acc[(i - b) % 8] += double(v[i]) * v[i];
    double s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) +
               ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    float norm = float(std::sqrt(s));
    if (double(norm) < std::sqrt(s))
      norm = std::nextafter(norm, INFINITY);
    for (size_t i = b; i < e; ++i) {
      // qsgd's levels are uniform: the rule of docs/quant.md for those.
      float u = std::min(1.0f, std::fabs(v[i]) * (1.0f / norm));
      float t = u * 7.0f;
      size_t j = std::min(size_t(std::floor(t)), size_t(6));
      float p = t - float(j);
      size_t idx = philoxUniform(9, 3, 2, i) < p ? j + 1 : j;
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

TEST(Compressor, CgxNearestIsWithinHalfAStep) {
  std::vector<float> v = gaussian(1000, 12);
  CompressorOptions o;
  o.bits = 3;
  o.bucketSize = 100;
  auto c = makeCompressor("cgx", o);
  std::vector<uint8_t> m = encode(*c, v, {1, 0, 0});
  EXPECT_EQ(m, encode(*c, v, {99, 0, 5})) << "nearest rounding uses no RNG";
  std::vector<float> q = decode(*c, m, v.size(), 0);
  for (size_t b = 0; b < v.size(); b += 100) {
    float lo = *std::min_element(v.begin() + b, v.begin() + b + 100);
    float hi = *std::max_element(v.begin() + b, v.begin() + b + 100);
    float unit = (hi - lo) / 7;
    for (size_t i = b; i < b + 100; ++i)
      ASSERT_LE(std::fabs(q[i] - v[i]), 0.5f * unit * 1.0001f) << i;
  }
  EXPECT_FALSE(c->unbiased());
  EXPECT_LT(c->varianceBound(), 0.0);
  // The bucket extremes are reproduced exactly.
  size_t imax =
      size_t(std::max_element(v.begin(), v.begin() + 100) - v.begin());
  EXPECT_FLOAT_EQ(q[imax], v[imax]);
}

TEST(Compressor, OrqFitsLevelsAndBeatsUniform) {
  // Heavy-tailed data: fitted levels cut the variance well below QSGD's at
  // the same size; the levels travel in the message and adapt over calls.
  std::vector<float> v = gaussian(20000, 13);
  for (float &x : v)
    x = x * x * x;
  CompressorOptions o;
  o.bits = 3;
  o.bucketSize = 512;
  auto orq = makeCompressor("orq", o), qsgd = makeCompressor("qsgd", o);
  double eOrq = 0, eQsgd = 0;
  for (unsigned t = 0; t < 20; ++t) {
    std::vector<uint8_t> mo = encode(*orq, v, {1, t, 0});
    std::vector<uint8_t> mq = encode(*qsgd, v, {1, t, 0});
    eOrq += squaredDistance(decode(*orq, mo, v.size(), t).data(), v.data(),
                            v.size());
    eQsgd += squaredDistance(decode(*qsgd, mq, v.size(), t).data(), v.data(),
                             v.size());
    // Levels in the message: 8 increasing values from 0 to 1.
    std::vector<float> l(8);
    std::memcpy(l.data(), mo.data() + kHeaderBytes, 32);
    ASSERT_EQ(l.front(), 0.0f);
    ASSERT_EQ(l.back(), 1.0f);
    ASSERT_TRUE(std::is_sorted(l.begin(), l.end()));
    EXPECT_NE(l, uniformLevels(7));
  }
  EXPECT_LT(eOrq, 0.5 * eQsgd);
  // Messages with invalid levels are rejected.
  std::vector<uint8_t> m = encode(*orq, v, {1, 0, 0});
  float bad = 2.0f;
  std::memcpy(m.data() + kHeaderBytes + 8, &bad, 4);
  std::vector<float> sum(v.size(), 0.0f);
  EXPECT_NE(
      orq->decodeAccumulate(m.data(), m.size(), 1, sum.data(), v.size(), 0)
          .find("levels"),
      std::string::npos);
}

TEST(Compressor, BinGradErrorFeedbackKeepsTheSumOfUpdates) {
  // With error feedback, sum_t Q_t = sum_t v_t - e_T: the accumulated error
  // stays bounded instead of growing with T.
  CompressorOptions o;
  o.bucketSize = 64;
  auto c = makeCompressor("bingrad", o);
  const size_t n = 640;
  std::vector<double> sentSum(n, 0.0), trueSum(n, 0.0);
  double maxGap = 0;
  for (unsigned t = 0; t < 50; ++t) {
    std::vector<float> v = gaussian(n, 100 + t);
    std::vector<uint8_t> m = encode(*c, v, {0, t, 0});
    EXPECT_EQ(m.size(), kHeaderBytes + 10 * 8 + n / 8);
    std::vector<float> q = decode(*c, m, n, t);
    // Two values per bucket.
    for (size_t b = 0; b < n; b += 64) {
      std::vector<float> vals(q.begin() + b, q.begin() + b + 64);
      std::sort(vals.begin(), vals.end());
      EXPECT_LE(std::unique(vals.begin(), vals.end()) - vals.begin(), 2);
    }
    double gap = 0;
    for (size_t i = 0; i < n; ++i) {
      sentSum[i] += q[i];
      trueSum[i] += v[i];
      gap += (sentSum[i] - trueSum[i]) * (sentSum[i] - trueSum[i]);
    }
    maxGap = std::max(maxGap, gap);
  }
  // ||e_T||^2 is at most one step's quantization error (~0.36 n for
  // Gaussian data with the optimal two-value split); without feedback it
  // would grow like T times that.
  EXPECT_LT(maxGap, 2.0 * n);
  EXPECT_FALSE(c->unbiased());
  std::vector<float> bad(n, 1.0f);
  bad[7] = NAN;
  std::vector<uint8_t> m(c->maxMessageBytes(n));
  EXPECT_THROW(c->encode(bad.data(), n, {0, 0, 0}, m.data()),
               std::invalid_argument);
}

TEST(Compressor, LayerwiseSendsCastTypesInTheSameMessage) {
  Schedule s;
  TypeSchedule lv;
  lv.levels = uniformLevels(15);
  lv.bucketSize = 64;
  TypeSchedule f32, f16, b16;
  f32.kind = TypeKind::Fp32;
  f16.kind = TypeKind::Fp16;
  b16.kind = TypeKind::Bf16;
  s.types = {lv, f32, f16, b16};
  s.segments = {
      {0, 100, 0}, {100, 7, 1}, {107, 33, 2}, {140, 50, 0}, {190, 11, 3}};
  const size_t n = 201;
  std::vector<float> v = gaussian(n, 14);
  CompressorOptions o;
  o.schedule = s;
  auto c = makeCompressor("layerwise", o);
  std::vector<uint8_t> m = encode(*c, v, {1, 2, 3});
  // 150 level coordinates: 3 + 1 norms... per segment: 100 -> 2 norms, 50
  // bytes of indices, 13 sign bytes; 50 -> 1 norm, 25 + 7 bytes.
  size_t levelBytes = (2 * 4 + 50 + 13) + (1 * 4 + 25 + 7);
  EXPECT_EQ(m.size(), kHeaderBytes + levelBytes + 7 * 4 + 33 * 2 + 11 * 2);
  EXPECT_EQ(m.size(), c->maxMessageBytes(n));
  std::vector<float> q = decode(*c, m, n, 2);
  for (size_t i = 100; i < 107; ++i)
    EXPECT_EQ(q[i], v[i]);
  for (size_t i = 107; i < 140; ++i)
    EXPECT_EQ(q[i], halfToFloat(floatToHalf(v[i])));
  for (size_t i = 190; i < 201; ++i)
    EXPECT_EQ(q[i], bf16ToFloat(floatToBf16(v[i])));
  // The level segments are exactly those of a levels-only schedule with
  // the same types and offsets (same Philox coordinates).
  Schedule levelsOnly = s;
  for (size_t k = 1; k < 4; ++k)
    levelsOnly.types[k] = lv;
  o.schedule = levelsOnly;
  auto l = makeCompressor("layerwise", o);
  std::vector<float> ql = decode(*l, encode(*l, v, {1, 2, 3}), n, 2);
  for (size_t i : {0u, 50u, 99u, 140u, 189u})
    EXPECT_EQ(q[i], ql[i]) << i;
  // fp16/bf16 rounding is outside eps_Q; a levels+fp32 schedule keeps it.
  EXPECT_LT(c->varianceBound(), 0.0);
  EXPECT_FALSE(c->unbiased());
  Schedule exact = s;
  exact.types[2] = f32;
  exact.types[3] = f32;
  o.schedule = exact;
  auto e = makeCompressor("layerwise", o);
  EXPECT_DOUBLE_EQ(e->varianceBound(), epsQ(lv));
  EXPECT_TRUE(e->unbiased());
}

TEST(Compressor, FactoryKnowsEveryNameAndRejectsBadOptions) {
  for (const std::string &name : compressorNames()) {
    CompressorOptions o;
    if (name == "layerwise")
      o.schedule = twoTypeSchedule();
    auto c = makeCompressor(name, o);
    EXPECT_EQ(c->name(), name);
    size_t n = name == "layerwise" ? 600 : 333;
    std::vector<float> v = gaussian(n, 15);
    std::vector<float> q = decode(*c, encode(*c, v, {1, 1, 1}), n, 1);
    EXPECT_LT(squaredDistance(q.data(), v.data(), n),
              squaredDistance(std::vector<float>(n, 0.0f).data(), v.data(), n))
        << name;
  }
  CompressorOptions o;
  o.threads = 0;
  EXPECT_THROW(makeCompressor("qsgd", o), std::invalid_argument);
  o.threads = 2;
  for (const char *single : {"cgx", "cgx-stochastic", "orq", "bingrad"})
    EXPECT_THROW(makeCompressor(single, o), std::invalid_argument) << single;
  EXPECT_NO_THROW(makeCompressor("fp16", o));
  o = {};
  o.bits = 8;
  EXPECT_THROW(makeCompressor("nuqsgd", o), std::invalid_argument);
  o = {};
  o.bucketSize = 0;
  EXPECT_THROW(makeCompressor("cgx", o), std::invalid_argument);
  EXPECT_THROW(makeCompressor("bingrad", o), std::invalid_argument);
  EXPECT_THROW(makeCompressor("orq", o), std::invalid_argument);
}
