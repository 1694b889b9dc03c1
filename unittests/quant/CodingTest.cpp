// Entropy (Huffman) and sparse (Elias-omega gaps) codings: code round trips,
// messages that decode exactly like fixed width, shorter messages where the
// data allow it, malformed streams rejected, and the expected code lengths
// of Analysis.h.
#include "Coding.h" // internal: code-level checks
#include "qoda/quant/Analysis.h"
#include "qoda/quant/Compressor.h"
#include "qoda/quant/Wire.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace qoda::quant;
using namespace qoda::quant::detail;

namespace {

std::vector<float> sparseGaussian(size_t n, double density, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d;
  std::uniform_real_distribution<double> u;
  std::vector<float> v(n, 0.0f);
  for (float &x : v)
    if (u(g) < density)
      x = d(g);
  return v;
}

Schedule codedSchedule(Coding c, unsigned levels, uint32_t bucket) {
  Schedule s = singleTypeSchedule(exponentialLevels(levels - 1), bucket);
  s.types[0].coding = c;
  return s;
}

struct Coded {
  std::vector<uint8_t> msg;
  std::vector<float> sum;
};

Coded roundTrip(const Schedule &s, const std::vector<float> &v) {
  CompressorOptions o;
  o.schedule = s;
  auto c = makeCompressor("layerwise", o);
  Coded r;
  r.msg.resize(c->maxMessageBytes(v.size()));
  r.msg.resize(c->encode(v.data(), v.size(), {11, 3, 1}, r.msg.data()));
  r.sum.assign(v.size(), 0.0f);
  EXPECT_EQ(c->decodeAccumulate(r.msg.data(), r.msg.size(), 1.0f, r.sum.data(),
                                v.size(), 3),
            "");
  return r;
}

} // namespace

TEST(Coding, EliasOmegaRoundTrip) {
  std::vector<uint64_t> xs = {1,
                              2,
                              3,
                              4,
                              7,
                              8,
                              15,
                              16,
                              17,
                              100,
                              1000,
                              65535,
                              65536,
                              (uint64_t(1) << 40) + 5,
                              (uint64_t(1) << 62) - 1};
  std::vector<uint8_t> buf(1024);
  BitWriter w(buf.data(), buf.size());
  size_t bits = 0;
  for (uint64_t x : xs) {
    putEliasOmega(w, x);
    bits += eliasOmegaBits(x);
  }
  size_t bytes = w.finish();
  EXPECT_EQ(bytes, (bits + 7) / 8);
  BitReader r(buf.data(), bytes);
  for (uint64_t x : xs)
    EXPECT_EQ(getEliasOmega(r), x);
  EXPECT_TRUE(r.atZeroPaddedEnd());
  // Known codes: 1 -> "0", 2 -> "10 0", 4 -> "10 100 0".
  EXPECT_EQ(eliasOmegaBits(1), 1u);
  EXPECT_EQ(eliasOmegaBits(2), 3u);
  EXPECT_EQ(eliasOmegaBits(4), 6u);
  // Truncated stream: 0 (error), not a crash.
  BitReader t(buf.data(), 1);
  for (int k = 0; k < 20; ++k)
    getEliasOmega(t);
  EXPECT_TRUE(t.bad());
}

TEST(Coding, HuffmanIsPrefixFreeAndOptimalOnDyadic) {
  // Dyadic probabilities 1/2, 1/4, 1/8, 1/8: lengths 1, 2, 3, 3.
  std::vector<uint8_t> len = huffmanLengths(std::vector<uint64_t>{8, 4, 2, 2});
  EXPECT_EQ(len, (std::vector<uint8_t>{1, 2, 3, 3}));
  std::vector<uint32_t> code = canonicalCodes(len);
  HuffmanDecoder dec;
  ASSERT_EQ(dec.init(len), "");
  std::vector<uint8_t> buf(64);
  BitWriter w(buf.data(), buf.size());
  std::vector<int> syms = {0, 3, 1, 2, 0, 0, 3};
  for (int s : syms)
    w.putMsbFirst(code[size_t(s)], len[size_t(s)]);
  BitReader r(buf.data(), w.finish());
  for (int s : syms)
    EXPECT_EQ(dec.decode(r), s);
  // A skewed distribution is length-limited.
  std::vector<uint64_t> fib(40);
  fib[0] = fib[1] = 1;
  for (size_t k = 2; k < fib.size(); ++k)
    fib[k] = fib[k - 1] + fib[k - 2];
  len = huffmanLengths(fib);
  for (uint8_t l : len)
    EXPECT_LE(l, kMaxHuffmanLength);
  EXPECT_EQ(dec.init(len), "");
  // Lengths that violate Kraft are rejected.
  HuffmanDecoder bad;
  EXPECT_NE(bad.init({1, 1, 1}), "");
}

TEST(Coding, CodedMessagesDecodeLikeFixedWidth) {
  for (double density : {1.0, 0.3, 0.01}) {
    std::vector<float> v = sparseGaussian(20000, density, 7);
    Coded fixed = roundTrip(codedSchedule(Coding::FixedWidth, 16, 512), v);
    for (Coding c : {Coding::Huffman, Coding::EliasGaps}) {
      Coded coded = roundTrip(codedSchedule(c, 16, 512), v);
      EXPECT_EQ(coded.sum, fixed.sum)
          << "coding " << int(c) << " density " << density;
      // Never more than fixed width plus the 8-byte method word.
      EXPECT_LE(coded.msg.size(), fixed.msg.size() + 8);
    }
  }
}

TEST(Coding, EntropyCodingsShrinkSuitableData) {
  // Exponential levels on Gaussian data: most indices are small, so Huffman
  // beats 5 bits per coordinate; 1% density: Elias gaps beat both.
  std::vector<float> dense = sparseGaussian(50000, 1.0, 3);
  size_t fixedDense =
      roundTrip(codedSchedule(Coding::FixedWidth, 16, 1024), dense).msg.size();
  size_t huff =
      roundTrip(codedSchedule(Coding::Huffman, 16, 1024), dense).msg.size();
  EXPECT_LT(huff, fixedDense * 0.9);
  std::vector<float> sparse = sparseGaussian(50000, 0.01, 3);
  size_t fixedSparse =
      roundTrip(codedSchedule(Coding::FixedWidth, 16, 1024), sparse).msg.size();
  size_t elias =
      roundTrip(codedSchedule(Coding::EliasGaps, 16, 1024), sparse).msg.size();
  EXPECT_LT(elias, fixedSparse / 4);
}

TEST(Coding, CorruptCodedMessagesRejected) {
  std::mt19937 g(2);
  for (Coding c : {Coding::Huffman, Coding::EliasGaps}) {
    Schedule s = codedSchedule(c, 8, 64);
    std::vector<float> v =
        sparseGaussian(3000, c == Coding::EliasGaps ? 0.05 : 1.0, 4);
    Coded good = roundTrip(s, v);
    CompressorOptions o;
    o.schedule = s;
    auto comp = makeCompressor("layerwise", o);
    // The coded method was chosen (the message is shorter than fixed).
    EXPECT_LT(good.msg.size(), comp->maxMessageBytes(v.size()) - 8);
    unsigned rejected = 0;
    for (int trial = 0; trial < 600; ++trial) {
      std::vector<uint8_t> m = good.msg;
      size_t at = kHeaderBytes + g() % (m.size() - kHeaderBytes);
      m[at] ^= uint8_t(1u << (g() % 8));
      if (trial % 3 == 0)
        m.resize(kHeaderBytes + g() % (m.size() - kHeaderBytes));
      std::unique_ptr<uint8_t[]> buf(new uint8_t[m.size()]);
      std::copy(m.begin(), m.end(), buf.get());
      std::vector<float> sum(v.size(), 2.0f);
      std::string err = comp->decodeAccumulate(buf.get(), m.size(), 1.0f,
                                               sum.data(), v.size(), 3);
      if (!err.empty()) {
        ++rejected;
        for (float x : sum)
          ASSERT_EQ(x, 2.0f) << "sum must be untouched on error";
      }
    }
    EXPECT_GT(rejected, 200u) << "coding " << int(c);
  }
}

TEST(Coding, ExpectedCodeLengths) {
  std::vector<float> v = sparseGaussian(40000, 1.0, 5);
  Schedule s = codedSchedule(Coding::FixedWidth, 16, 1024);
  CodeLengths cl = expectedCodeLengths(s, v.data(), v.size());
  EXPECT_EQ(cl.coords, v.size());
  EXPECT_NEAR(cl.fixedWidth, 5.0, 1e-9);
  EXPECT_GT(cl.entropy, 0.5);
  EXPECT_LE(cl.entropy, 4.0);
  // Huffman is within one bit of the entropy bound and never below it.
  EXPECT_GE(cl.huffman + 1e-9, cl.entropyBound);
  EXPECT_LE(cl.huffman, cl.entropyBound + 1.0);
  // The measured Huffman message is close to the estimate (norms and the
  // method words are not part of the estimate).
  Coded h = roundTrip(codedSchedule(Coding::Huffman, 16, 1024), v);
  double measured =
      8.0 * double(h.msg.size() - kHeaderBytes - 8 - 4 * 40) / v.size();
  EXPECT_NEAR(measured, cl.huffman, 0.05 * cl.huffman);
  // Sparse data: Elias gaps estimate is below fixed width.
  std::vector<float> sp = sparseGaussian(40000, 0.02, 5);
  CodeLengths cs = expectedCodeLengths(s, sp.data(), sp.size());
  EXPECT_LT(cs.eliasGaps, 0.5 * cs.fixedWidth);
  // Index entropy of a constant-index distribution is zero.
  EXPECT_DOUBLE_EQ(entropyBitsWeighted({0.0, 5.0, 0.0}), 0.0);
}

// The per-type functions the compiler's planner uses: on one level type they
// reproduce expectedCodeLengths exactly from the schedule's index counts, and
// closely from a distribution of normalised magnitudes (weighted points).
TEST(Coding, TypeCodeLengthsFromCountsAndPoints) {
  std::vector<float> v = sparseGaussian(20000, 0.05, 9);
  uint32_t n = uint32_t(v.size());
  Schedule s = codedSchedule(Coding::FixedWidth, 8, n); // one bucket
  CodeLengths whole = expectedCodeLengths(s, v.data(), v.size());
  std::vector<std::vector<double>> counts =
      expectedIndexCounts(s, v.data(), v.size());
  CodeLengths one = typeCodeLengths(counts[0], s.types[0].indexBits());
  EXPECT_EQ(one.coords, whole.coords);
  EXPECT_DOUBLE_EQ(one.entropy, whole.entropy);
  EXPECT_DOUBLE_EQ(one.fixedWidth, whole.fixedWidth);
  EXPECT_DOUBLE_EQ(one.huffman, whole.huffman);
  EXPECT_DOUBLE_EQ(one.eliasGaps, whole.eliasGaps);
  EXPECT_DOUBLE_EQ(one.entropyBound, whole.entropyBound);

  // The same from points u = |v_i| / ||v||_2 (the type's one bucket).
  double norm = 0;
  for (float x : v)
    norm += double(x) * x;
  norm = std::sqrt(norm);
  std::vector<float> u;
  for (float x : v)
    u.push_back(float(std::fabs(double(x)) / norm));
  WeightedPoints p = pointsFromSamples(u);
  std::vector<double> pc = expectedIndexCounts(p, s.types[0].levels, n);
  ASSERT_EQ(pc.size(), counts[0].size());
  double sum = 0;
  for (size_t j = 0; j < pc.size(); ++j) {
    sum += pc[j];
    EXPECT_NEAR(pc[j], counts[0][j], 1e-3 * n);
  }
  EXPECT_NEAR(sum, double(n), 1e-6 * n);
  CodeLengths fromPoints =
      expectedCodeLengths(p, s.types[0].levels, s.types[0].indexBits(), n);
  EXPECT_EQ(fromPoints.coords, uint64_t(n));
  EXPECT_NEAR(fromPoints.huffman, whole.huffman, 0.02);
  EXPECT_NEAR(fromPoints.eliasGaps, whole.eliasGaps, 0.02);
  EXPECT_NEAR(fromPoints.fixedWidth, 4.0, 1e-12); // 3 index bits + sign
  // Sparse: the gap code beats fixed width.
  EXPECT_LT(fromPoints.eliasGaps, fromPoints.fixedWidth);
  // No points, no coordinates.
  EXPECT_EQ(
      expectedCodeLengths(WeightedPoints{}, s.types[0].levels, 3, 0.0).coords,
      0u);
}
