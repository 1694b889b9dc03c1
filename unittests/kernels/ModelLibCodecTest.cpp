// comm::ModelLibCodec (encode/decode through a generated model library)
// against comm::ScheduleCodec (the quantization library's generic kernels)
// on the same schedule: equal messages byte for byte and equal aggregates
// bit for bit, for K = 3 workers over several steps; two libraries laid out
// one after the other (a GAN's generator and critic); re-fitted levels; and
// the errors (no library in the directory, a schedule the library was not
// generated for).
#include "qoda/comm/ModelLibCodec.h"
#include "qoda/comm/ScheduleCodec.h"
#include "qoda/schedule/ScheduleFile.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

using namespace qoda;
using comm::ModelLibCodec;
using comm::ScheduleCodec;

namespace {

schedule::ScheduleFile load(const char *path) {
  schedule::ScheduleFile s;
  std::string err;
  EXPECT_TRUE(schedule::loadScheduleJson(path, s, err)) << err;
  return s;
}

std::vector<float> vec(std::size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = d(g) * (i % 97 == 0 ? 30.0f : 1.0f) * (i % 11 == 0 ? 0.0f : 1.0f);
  return v;
}

std::vector<std::uint8_t> bytes(const std::vector<float> &v) {
  std::vector<std::uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

ModelLibCodec::Library levelsLib() {
  schedule::ScheduleFile f = load(QODA_LEVELS_SCHEDULE);
  return {comm::findModelLibrary(QODA_LEVELS_LIB_DIR), f.quantSchedule(),
          f.numCoords};
}

} // namespace

TEST(ModelLibCodec, MessagesAndAggregateEqualScheduleCodec) {
  ModelLibCodec::Library l = levelsLib();
  const std::size_t n = l.numCoords;
  const unsigned K = 3;
  std::vector<std::unique_ptr<ModelLibCodec>> lib;
  std::vector<std::unique_ptr<ScheduleCodec>> ref;
  for (unsigned r = 0; r < K; ++r) {
    lib.push_back(std::make_unique<ModelLibCodec>(
        std::vector<ModelLibCodec::Library>{l}, 7, r));
    ref.push_back(std::make_unique<ScheduleCodec>(l.schedule, 0, n, 7, r));
  }
  ASSERT_EQ(lib[0]->dim(), n);
  ASSERT_EQ(lib[0]->messageBytes(), ref[0]->messageBytes());
  EXPECT_EQ(lib[0]->schedule()->hash(), l.schedule.hash());
  for (unsigned step = 0; step < 4; ++step) {
    std::vector<std::vector<std::uint8_t>> ml(K), mr(K);
    for (unsigned r = 0; r < K; ++r) {
      std::vector<float> v = vec(n, 100 * step + r);
      ml[r].resize(lib[r]->messageBytes());
      mr[r].resize(ref[r]->messageBytes());
      lib[r]->encode(v.data(), ml[r].data());
      ref[r]->encode(v.data(), mr[r].data());
      ASSERT_EQ(ml[r], mr[r]) << "step " << step << " rank " << r;
    }
    // Every worker decodes all K messages in rank order.
    for (unsigned me = 0; me < K; ++me) {
      std::vector<float> al(n, 0.0f), ar(n, 0.0f);
      for (unsigned r = 0; r < K; ++r) {
        lib[me]->decodeAccumulate(ml[r].data(), al.data());
        ref[me]->decodeAccumulate(mr[r].data(), ar.data());
      }
      ASSERT_EQ(bytes(al), bytes(ar)) << "step " << step << " decoder " << me;
      // All K in one call (bucket by bucket): the same bits.
      std::vector<const std::uint8_t *> at;
      for (unsigned r = 0; r < K; ++r)
        at.push_back(ml[r].data());
      std::vector<float> batched(n, 0.0f);
      lib[me]->decodeAccumulateAll(at.data(), K, batched.data());
      ASSERT_EQ(bytes(batched), bytes(ar)) << "step " << step;
      double norm = 0;
      for (float x : al)
        norm += double(x) * x;
      EXPECT_GT(norm, 0.0);
    }
  }
}

TEST(ModelLibCodec, TwoLibrariesAreTwoParts) {
  ModelLibCodec::Library l = levelsLib();
  const std::size_t n = l.numCoords;
  ModelLibCodec two({l, l}, 3, 1);
  ScheduleCodec one(l.schedule, 0, n, 3, 1);
  ASSERT_EQ(two.dim(), 2 * n);
  ASSERT_EQ(two.messageBytes(), 2 * one.messageBytes() - 8);
  EXPECT_EQ(two.schedule()->types.size(), 2 * l.schedule.types.size());
  std::vector<float> v = vec(2 * n, 5);
  std::vector<std::uint8_t> m(two.messageBytes()), a(one.messageBytes()),
      b(one.messageBytes());
  two.encode(v.data(), m.data());
  one.encode(v.data(), a.data()); // step 1, first half
  ScheduleCodec second(l.schedule, 0, n, 3, 1);
  second.encode(v.data() + n, b.data()); // step 1, second half
  const std::size_t part = one.messageBytes() - 8;
  EXPECT_EQ(0, std::memcmp(m.data(), a.data(), 8)); // the step
  EXPECT_EQ(0, std::memcmp(m.data() + 8, a.data() + 8, part));
  EXPECT_EQ(0, std::memcmp(m.data() + 8 + part, b.data() + 8, part));
  std::vector<float> acc(2 * n, 0.0f), ref(2 * n, 0.0f);
  two.decodeAccumulate(m.data(), acc.data());
  one.decodeAccumulate(a.data(), ref.data());
  second.decodeAccumulate(b.data(), ref.data() + n);
  EXPECT_EQ(bytes(acc), bytes(ref));
}

TEST(ModelLibCodec, BatchOfMessagesFromDifferentSteps) {
  // A worker that skipped a non-finite vector encodes one step behind the
  // others: a batch then holds two steps and must still decode each message
  // as its own step, and a bad message is named by its index.
  ModelLibCodec::Library l = levelsLib();
  const std::size_t n = l.numCoords;
  ModelLibCodec a({l}, 7, 0), b({l}, 7, 1), dec({l}, 7, 2);
  std::vector<float> v = vec(n, 9);
  std::vector<std::uint8_t> ma(a.messageBytes()), mb(b.messageBytes());
  a.encode(v.data(), ma.data());
  a.encode(v.data(), ma.data()); // step 2
  b.encode(v.data(), mb.data()); // step 1
  std::vector<const std::uint8_t *> at = {ma.data(), mb.data(), ma.data()};
  std::vector<float> one(n, 0.0f), all(n, 0.0f);
  for (const std::uint8_t *m : at)
    dec.decodeAccumulate(m, one.data());
  dec.decodeAccumulateAll(at.data(), at.size(), all.data());
  EXPECT_EQ(bytes(one), bytes(all));
  std::uint64_t huge = ~0ull;
  std::memcpy(mb.data() + 8, &huge, 8);
  try {
    dec.decodeAccumulateAll(at.data(), at.size(), all.data());
    ADD_FAILURE() << "bad length accepted";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("message 1 part claims"),
              std::string::npos)
        << e.what();
  }
}

TEST(ModelLibCodec, RefittedLevelsStayEqual) {
  ModelLibCodec::Library l = levelsLib();
  ModelLibCodec lib({l}, 9, 0);
  ScheduleCodec ref(l.schedule, 0, l.numCoords, 9, 0);
  quant::Schedule s = *lib.schedule();
  for (quant::TypeSchedule &t : s.types)
    for (std::size_t j = 1; j + 1 < t.levels.size(); ++j)
      t.levels[j] = std::sqrt(t.levels[j]);
  lib.setSchedule(s);
  ref.setSchedule(s);
  std::vector<float> v = vec(l.numCoords, 77);
  std::vector<std::uint8_t> a(lib.messageBytes()), b(ref.messageBytes());
  lib.encode(v.data(), a.data());
  ref.encode(v.data(), b.data());
  EXPECT_EQ(a, b);
}

TEST(ModelLibCodec, ClearErrors) {
  ModelLibCodec::Library l = levelsLib();
  ModelLibCodec::Library other = l;
  other.schedule.types[0].levels[1] = 0.3f; // not what was compiled
  try {
    ModelLibCodec c({other}, 0, 0);
    FAIL() << "a schedule the library was not generated for was accepted";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find(l.path), std::string::npos)
        << e.what();
  }
  try {
    comm::findModelLibrary(QODA_LEVELS_SCHEDULE "-no-such-dir");
    FAIL();
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("qoda-compile"), std::string::npos)
        << e.what();
  }
}
