// Single-process tests of the schedule codec, the layout split of
// collective (a) and the refit plan.
#include "qoda/comm/ScheduleCodec.h"
#include "qoda/comm/LevelRefit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace qoda::comm;
namespace q = qoda::quant;

namespace {
/// Levels type 0 on [0, 100) and [130, 200), fp32 type 1 on [100, 110),
/// fp16 type 2 on [110, 130).
q::Schedule mixed() {
  q::Schedule s;
  q::TypeSchedule lv, f32, f16;
  lv.levels = q::uniformLevels(3);
  lv.bucketSize = 32;
  f32.kind = q::TypeKind::Fp32;
  f16.kind = q::TypeKind::Fp16;
  s.types = {lv, f32, f16};
  s.segments = {{0, 100, 0}, {100, 10, 1}, {110, 20, 2}, {130, 70, 0}};
  return s;
}
} // namespace

TEST(ScheduleCodec, CastPartsAreExactAndLevelsUnbiasedInRange) {
  ScheduleCodec codec(mixed(), 0, 200, 5, 0);
  std::vector<float> v(200);
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = 0.25f * static_cast<float>(int(i % 7) - 3); // exact in fp16
  std::vector<std::uint8_t> msg(codec.messageBytes());
  codec.encode(v.data(), msg.data());
  std::vector<float> out(200, 0.0f);
  codec.decodeAccumulate(msg.data(), out.data());
  for (std::size_t i = 100; i < 130; ++i)
    EXPECT_EQ(out[i], v[i]) << i; // fp32 and fp16 casts of exact values
  for (std::size_t i : {0u, 50u, 150u, 199u}) // levels: sign kept or zero
    EXPECT_TRUE(out[i] == 0 || (out[i] > 0) == (v[i] > 0)) << i;
}

TEST(ScheduleCodec, ChunkMessagesHaveFixedSize) {
  // A chunk that starts inside a segment and covers parts of three.
  ScheduleCodec chunk(mixed(), 90, 50, 5, 1);
  std::vector<float> v(50, 1.0f), acc(50, 0.0f);
  std::vector<std::uint8_t> msg(chunk.messageBytes());
  chunk.encode(v.data(), msg.data());
  chunk.decodeAccumulate(msg.data(), acc.data());
  for (std::size_t i = 10; i < 40; ++i) // coordinates 100..129: casts
    EXPECT_EQ(acc[i], 1.0f);
  EXPECT_THROW(ScheduleCodec(mixed(), 150, 60, 5, 1), std::invalid_argument);
}

TEST(ScheduleCodec, AllMessagesAtOnceEqualOneByOne) {
  // Whole range and a chunk cutting three segments: levels, cast and levels
  // runs, each decoded in place, k messages per call.
  for (auto [offset, n] : {std::pair<std::size_t, std::size_t>{0, 200},
                           {90, 50}}) {
    const unsigned K = 3;
    std::vector<std::vector<std::uint8_t>> msgs;
    std::vector<const std::uint8_t *> at;
    for (unsigned r = 0; r < K; ++r) {
      ScheduleCodec c(mixed(), offset, n, 5, r);
      std::vector<float> v(n);
      for (std::size_t i = 0; i < n; ++i)
        v[i] = std::sin(0.37f * float(i + 1) * float(r + 1));
      msgs.emplace_back(c.messageBytes());
      c.encode(v.data(), msgs.back().data());
    }
    for (auto &m : msgs)
      at.push_back(m.data());
    ScheduleCodec dec(mixed(), offset, n, 5, 0);
    std::vector<float> one(n, 0.0f), all(n, 0.0f);
    for (unsigned r = 0; r < K; ++r)
      dec.decodeAccumulate(msgs[r].data(), one.data());
    dec.decodeAccumulateAll(at.data(), K, all.data());
    EXPECT_EQ(0, std::memcmp(one.data(), all.data(), 4 * n)) << offset;
    // A bad length in the last message is reported with its run.
    std::uint64_t huge = ~0ull;
    std::memcpy(msgs[K - 1].data() + 8, &huge, 8);
    try {
      dec.decodeAccumulateAll(at.data(), K, all.data());
      ADD_FAILURE() << "bad length accepted";
    } catch (const std::runtime_error &e) {
      EXPECT_NE(std::string(e.what()).find("run at coordinate " +
                                           std::to_string(offset)),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(ScheduleCodec, SetScheduleKeepsLayout) {
  ScheduleCodec codec(mixed(), 0, 200, 5, 0);
  std::size_t bytes = codec.messageBytes();
  q::Schedule s = mixed();
  s.types[0].levels = {0.0f, 0.1f, 0.4f, 1.0f};
  codec.setSchedule(s);
  EXPECT_EQ(codec.messageBytes(), bytes);
  EXPECT_EQ(codec.schedule()->types[0].levels, s.types[0].levels);
  s.types[0].levels = {0.0f, 0.5f, 1.0f}; // another level count
  EXPECT_THROW(codec.setSchedule(s), std::invalid_argument);
}

TEST(ScheduleCodec, CollectiveALayoutSendsFp32Uncompressed) {
  std::vector<LayoutSegment> l = compressedLayout(mixed(), 200);
  ASSERT_EQ(l.size(), 4u);
  EXPECT_TRUE(l[0].compressed);
  EXPECT_FALSE(l[1].compressed); // the fp32 type
  EXPECT_TRUE(l[2].compressed);  // fp16 travels as a cast in the message
  q::Schedule c = compressedSchedule(mixed(), 200);
  ASSERT_EQ(c.segments.size(), 3u);
  EXPECT_EQ(c.segments[1].offset, 100u);
  EXPECT_EQ(c.segments[2].offset, 120u);
  EXPECT_EQ(c.validate(190), "");
}

// fp32 (10 coords, 40 B) and fp16 (20 coords, 40 B) types leave the message
// for their all-reduces from a size threshold on; bf16 never does.
TEST(ScheduleCodec, UncompressedRoutingFollowsTheThreshold) {
  RawRouting all = routeUncompressed(mixed(), 200, 0);
  EXPECT_TRUE(all.fp32);
  EXPECT_TRUE(all.fp16);
  RawRouting at40 = routeUncompressed(mixed(), 200, 40);
  EXPECT_TRUE(at40.fp32 && at40.fp16);
  RawRouting above = routeUncompressed(mixed(), 200, 41);
  EXPECT_FALSE(above.fp32 || above.fp16);
  std::vector<LayoutSegment> l = compressedLayout(mixed(), 200, all);
  ASSERT_EQ(l.size(), 4u);
  EXPECT_FALSE(l[1].compressed);
  EXPECT_FALSE(l[1].half);
  EXPECT_FALSE(l[2].compressed);
  EXPECT_TRUE(l[2].half);
  EXPECT_TRUE(l[3].compressed);
  q::Schedule c = compressedSchedule(mixed(), 200, all);
  ASSERT_EQ(c.segments.size(), 2u);
  EXPECT_EQ(c.segments[1].offset, 100u);
  EXPECT_EQ(c.validate(170), "");
  // Kinds that are absent are never routed.
  q::Schedule levelsOnly = mixed();
  levelsOnly.segments = {{0, 200, 0}};
  RawRouting none = routeUncompressed(levelsOnly, 200, 0);
  EXPECT_FALSE(none.fp32 || none.fp16);
}

TEST(RefitPlan, ParseAndDue) {
  RefitPlan d = RefitPlan::parse("0,200,1000,5000/10000");
  EXPECT_EQ(d.str(), RefitPlan().str());
  for (std::uint64_t s : {0u, 200u, 1000u, 5000u, 15000u, 25000u})
    EXPECT_TRUE(d.due(s)) << s;
  for (std::uint64_t s : {1u, 199u, 10000u, 14999u})
    EXPECT_FALSE(d.due(s)) << s;
  RefitPlan e = RefitPlan::parse("/50");
  EXPECT_TRUE(e.due(0));
  EXPECT_TRUE(e.due(100));
  EXPECT_FALSE(e.due(75));
  EXPECT_TRUE(RefitPlan::parse("none").steps.empty());
  for (const char *bad : {"", "5,3", "1,,2", "a", "0/0", "3,", "0,5@0",
                          "0,5@", "0,5@x", "@5", "none@5", "/50@-1"})
    EXPECT_THROW(RefitPlan::parse(bad), std::invalid_argument) << bad;
}

TEST(RefitPlan, NextDueAndWindow) {
  RefitPlan d = RefitPlan::parse("0,50,200/500@10");
  EXPECT_EQ(d.window, 10u);
  EXPECT_EQ(d.str(), "0,50,200/500"); // 10 is the default window
  EXPECT_EQ(d.nextDue(0), 0u);
  EXPECT_EQ(d.nextDue(1), 50u);
  EXPECT_EQ(d.nextDue(50), 50u);
  EXPECT_EQ(d.nextDue(51), 200u);
  EXPECT_EQ(d.nextDue(201), 700u);
  EXPECT_EQ(d.nextDue(700), 700u);
  EXPECT_EQ(d.nextDue(701), 1200u);
  // Observed: the 10 completed-step counts up to each due one.
  EXPECT_TRUE(d.observes(0));
  EXPECT_FALSE(d.observes(1));
  EXPECT_FALSE(d.observes(40));
  for (std::uint64_t s = 41; s <= 50; ++s)
    EXPECT_TRUE(d.observes(s)) << s;
  EXPECT_FALSE(d.observes(51));
  EXPECT_FALSE(d.observes(690));
  EXPECT_TRUE(d.observes(691));
  RefitPlan listed = RefitPlan::parse("0,100@3");
  EXPECT_EQ(listed.str(), "0,100@3");
  EXPECT_TRUE(listed.observes(98));
  EXPECT_FALSE(listed.observes(97));
  EXPECT_EQ(listed.nextDue(101), UINT64_MAX);
  EXPECT_FALSE(listed.observes(101)); // no refit will come: no binning
  RefitPlan all = RefitPlan::parse("/50@all");
  EXPECT_EQ(all.window, 0u);
  EXPECT_EQ(all.str(), "0/50@all");
  EXPECT_TRUE(all.observes(1));
  EXPECT_TRUE(all.observes(49));
  EXPECT_EQ(RefitPlan::parse(all.str()).str(), all.str());
}
