// The schedule file: round trip, and every validation error names its place.
#include "qoda/schedule/ScheduleFile.h"

#include <gtest/gtest.h>

using namespace qoda;
using namespace qoda::schedule;

namespace {

ScheduleFile twoTypeSchedule() {
  ScheduleFile s;
  s.model = "tiny";
  s.producer = "test";
  TypeEntry conv;
  conv.name = "conv";
  conv.quant.levels = {0.0f, 0.125f, 0.25f, 0.5f, 1.0f};
  conv.quant.bucketSize = 512;
  conv.bits = conv.quant.indexBits();
  conv.predictedVariance = 0.03;
  TypeEntry small;
  small.name = "small";
  small.quant.kind = quant::TypeKind::Fp32;
  small.bits = 32;
  s.types = {conv, small};
  s.params = {{"conv.weight", 0, 600, {6, 10, 10}, 0, "conv_kernel"},
              {"conv.bias", 600, 6, {6}, 1, "bias"},
              {"fc.weight", 606, 40, {4, 10}, 0, "dense_weight"}};
  s.numCoords = 646;
  s.prediction = {4.2, 0.03, 4.2, 0.09};
  return s;
}

std::string parseError(const std::string &text) {
  ScheduleFile s;
  std::string err;
  EXPECT_FALSE(parseScheduleJson(text, s, err));
  return err;
}

std::string replaced(std::string s, const std::string &from,
                     const std::string &to) {
  size_t pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return s.replace(pos, from.size(), to);
}

} // namespace

TEST(ScheduleFile, RoundTripIsExact) {
  ScheduleFile s = twoTypeSchedule();
  ASSERT_EQ(s.validate(), "");
  std::string text = writeScheduleJson(s);
  ScheduleFile back;
  std::string err;
  ASSERT_TRUE(parseScheduleJson(text, back, err)) << err;
  EXPECT_EQ(writeScheduleJson(back), text);
  EXPECT_EQ(back.quantSchedule().hash(), s.quantSchedule().hash());
  EXPECT_EQ(back.findParam("fc.weight"), 2);
  EXPECT_EQ(back.findParam("missing"), -1);
}

TEST(ScheduleFile, QuantScheduleHasOneSegmentPerTypeRun) {
  quant::Schedule q = twoTypeSchedule().quantSchedule();
  ASSERT_EQ(q.segments.size(), 3u);
  EXPECT_EQ(q.segments[1].type, 1u);
  EXPECT_EQ(q.validate(646), "");
}

TEST(ScheduleFile, RejectsNonJsonAndWrongFormat) {
  EXPECT_NE(parseError("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(parseError("[]").find("expected a JSON object"), std::string::npos);
  std::string text = writeScheduleJson(twoTypeSchedule());
  EXPECT_NE(parseError(replaced(text, "\"qoda-schedule\"", "\"other\""))
                .find("$.format"),
            std::string::npos);
  EXPECT_NE(parseError(replaced(text, "\"version\": 1", "\"version\": 9"))
                .find("version 9"),
            std::string::npos);
}

TEST(ScheduleFile, RejectsLayoutGapsAndBadTypes) {
  std::string text = writeScheduleJson(twoTypeSchedule());
  EXPECT_NE(parseError(replaced(text, "\"offset\": 606", "\"offset\": 607"))
                .find("params[2] ('fc.weight').offset"),
            std::string::npos);
  EXPECT_NE(parseError(replaced(text, "\"type\": 1", "\"type\": 7"))
                .find("params[1] ('conv.bias').type"),
            std::string::npos);
  EXPECT_NE(parseError(replaced(text, "\"numel\": 6,", "\"numel\": 7,"))
                .find("does not match the shape"),
            std::string::npos);
  EXPECT_NE(parseError(replaced(text, "\"num_coords\": 646", "\"num_coords\": 700"))
                .find("num_coords"),
            std::string::npos);
}

TEST(ScheduleFile, RejectsBadLevelsAndEnums) {
  std::string text = writeScheduleJson(twoTypeSchedule());
  EXPECT_NE(parseError(replaced(text, "\"norm\": \"l2\"", "\"norm\": \"l3\""))
                .find("'l3' is not one of l2, linf"),
            std::string::npos);
  EXPECT_NE(parseError(replaced(text, "\"bits\": 3", "\"bits\": 5"))
                .find("$.types[0].bits"),
            std::string::npos);
  // Levels must start at 0 and end at 1: the quant schedule check reports it.
  EXPECT_NE(parseError(replaced(text, "1.0\n", "0.75\n")).find("types:"),
            std::string::npos);
}

TEST(ScheduleFile, DetectsEditsThroughTheHash) {
  std::string text = writeScheduleJson(twoTypeSchedule());
  EXPECT_NE(parseError(replaced(text, "\"bucket\": 512", "\"bucket\": 256"))
                .find("schedule_hash"),
            std::string::npos);
}

TEST(ScheduleFile, LoadNamesTheMissingFile) {
  ScheduleFile s;
  std::string err;
  EXPECT_FALSE(loadScheduleJson("/nonexistent/schedule.json", s, err));
  EXPECT_NE(err.find("/nonexistent/schedule.json"), std::string::npos);
}
