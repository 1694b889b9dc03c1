// Malformed messages are rejected with an error and never read out of
// bounds (this suite is also run under AddressSanitizer, build-quant-asan).
#include "qoda/quant/Wire.h"
#include "qoda/quant/Compressor.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

using namespace qoda::quant;

namespace {

struct Fixture {
  std::unique_ptr<Compressor> c;
  std::vector<float> v;
  std::vector<uint8_t> msg;
  static constexpr uint64_t kStep = 4;
  explicit Fixture(const char *name, unsigned bits = 2) {
    CompressorOptions o;
    o.bits = bits;
    o.bucketSize = 32;
    c = makeCompressor(name, o);
    std::mt19937 g(1);
    std::normal_distribution<float> d;
    v.resize(100);
    for (float &x : v)
      x = d(g);
    msg.resize(c->maxMessageBytes(v.size()));
    msg.resize(c->encode(v.data(), v.size(), {3, kStep, 0}, msg.data()));
  }
  std::string decode(const std::vector<uint8_t> &m, uint64_t n = 100,
                     uint64_t step = kStep) {
    std::vector<float> sum(n, 1.0f);
    // Exact-size heap copy so ASan catches any read past the end.
    std::unique_ptr<uint8_t[]> buf(new uint8_t[m.size() ? m.size() : 1]);
    if (!m.empty())
      std::memcpy(buf.get(), m.data(), m.size());
    std::string err =
        c->decodeAccumulate(buf.get(), m.size(), 1.0f, sum.data(), n, step);
    if (!err.empty())
      for (float x : sum)
        EXPECT_EQ(x, 1.0f) << "sum must be untouched on error";
    return err;
  }
};

} // namespace

TEST(Wire, ValidMessageDecodes) {
  for (const char *name : {"fp32", "fp16", "bf16", "qsgd", "nuqsgd"})
    EXPECT_EQ(Fixture(name).decode(Fixture(name).msg), "") << name;
}

TEST(Wire, TruncatedAndOversizedRejected) {
  for (const char *name : {"fp32", "fp16", "qsgd", "nuqsgd"}) {
    Fixture f(name);
    for (size_t len : {size_t(0), size_t(3), kHeaderBytes - 1, kHeaderBytes,
                       f.msg.size() - 1}) {
      std::vector<uint8_t> m(f.msg.begin(), f.msg.begin() + len);
      EXPECT_NE(f.decode(m), "") << name << " truncated to " << len;
    }
    std::vector<uint8_t> big = f.msg;
    big.push_back(0);
    EXPECT_NE(f.decode(big), "") << name << " oversized";
  }
}

TEST(Wire, HeaderFieldsChecked) {
  Fixture f("qsgd");
  auto patched = [&](size_t off, uint8_t val) {
    std::vector<uint8_t> m = f.msg;
    m[off] = val;
    return m;
  };
  EXPECT_NE(f.decode(patched(0, 'X')).find("magic"), std::string::npos);
  EXPECT_NE(f.decode(patched(4, 1)).find("version"), std::string::npos);
  EXPECT_NE(f.decode(patched(6, 1)).find("compressor"), std::string::npos);
  EXPECT_NE(f.decode(patched(7, 1)).find("reserved"), std::string::npos);
  EXPECT_NE(f.decode(patched(8, f.msg[8] ^ 1)).find("schedule"),
            std::string::npos);
  EXPECT_NE(f.decode(f.msg, 100, 5).find("step"), std::string::npos);
  EXPECT_NE(f.decode(f.msg, 99).find("coordinates"), std::string::npos);
  // Payload length field that disagrees with the schedule (buffer matches).
  std::vector<uint8_t> m = f.msg;
  m.push_back(0);
  uint64_t payload = m.size() - kHeaderBytes;
  std::memcpy(m.data() + 32, &payload, 8);
  EXPECT_NE(f.decode(m).find("expected from the configuration"),
            std::string::npos);
  // A different schedule (other bits) has another hash.
  Fixture g("qsgd", 3);
  EXPECT_NE(f.decode(g.msg), "");
}

TEST(Wire, CorruptIndexAndNormRejected) {
  // qsgd with 2 bits has 4 levels (2 index bits): every index is valid, so
  // use 3 levels via a layerwise schedule with 2 index bits and one spare.
  CompressorOptions o;
  o.schedule = singleTypeSchedule({0.0f, 0.5f, 1.0f}, 32);
  auto c = makeCompressor("layerwise", o);
  std::vector<float> v(64, 0.25f);
  std::vector<uint8_t> m(c->maxMessageBytes(64));
  m.resize(c->encode(v.data(), 64, {1, 0, 0}, m.data()));
  std::vector<float> sum(64, 0.0f);
  ASSERT_EQ(c->decodeAccumulate(m.data(), m.size(), 1, sum.data(), 64, 0), "");
  std::vector<uint8_t> bad = m;
  bad[kHeaderBytes + 8] |= 0x3; // first code = index 3 of 3 levels
  EXPECT_NE(c->decodeAccumulate(bad.data(), bad.size(), 1, sum.data(), 64, 0)
                .find("level index"),
            std::string::npos);
  bad = m;
  float nan = NAN;
  std::memcpy(bad.data() + kHeaderBytes, &nan, 4);
  EXPECT_NE(c->decodeAccumulate(bad.data(), bad.size(), 1, sum.data(), 64, 0)
                .find("norm"),
            std::string::npos);
}

TEST(Wire, RandomCorruptionNeverCrashes) {
  Fixture f("nuqsgd", 3);
  std::mt19937 g(5);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<uint8_t> m = f.msg;
    int flips = 1 + int(g() % 4);
    for (int k = 0; k < flips; ++k)
      m[g() % m.size()] ^= uint8_t(1u << (g() % 8));
    if (g() % 4 == 0)
      m.resize(g() % (m.size() + 8));
    f.decode(m); // error or success, never out of bounds (ASan)
  }
}

TEST(Schedule, SameLayoutAllowsOnlyNewLevelValues) {
  Schedule a = singleTypeSchedule(uniformLevels(3), 1024);
  a.segments = {{0, 100, 0}};
  Schedule b = a;
  b.types[0].levels = {0.0f, 0.1f, 0.4f, 1.0f};
  EXPECT_TRUE(a.sameLayout(b));
  Schedule c = a;
  c.types[0].levels = uniformLevels(4);
  EXPECT_FALSE(a.sameLayout(c)) << "level count changed";
  Schedule d = a;
  d.segments[0].length = 99;
  EXPECT_FALSE(a.sameLayout(d)) << "segment changed";
  Schedule e = a;
  e.types[0].kind = TypeKind::Fp16;
  EXPECT_FALSE(a.sameLayout(e)) << "kind changed";
}
