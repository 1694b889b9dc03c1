// ModelLib::open and checkSchedule: a generated library loads; a missing
// file, a library that is not a model library, one of another ABI version,
// and a schedule mismatch are clear errors naming the file and the fix.
#include "qoda/kernels/ModelLibLoader.h"
#include "qoda/schedule/ScheduleFile.h"

#include <gtest/gtest.h>

using namespace qoda;

namespace {
schedule::ScheduleFile load(const char *path) {
  schedule::ScheduleFile s;
  std::string err;
  EXPECT_TRUE(schedule::loadScheduleJson(path, s, err)) << err;
  return s;
}
} // namespace

TEST(ModelLibLoader, LoadsGeneratedLibraryWithItsLayout) {
  std::string err;
  auto lib = kernels::ModelLib::open(QODA_MIXED_LIB, err);
  ASSERT_TRUE(lib) << err;
  schedule::ScheduleFile s = load(QODA_MIXED_SCHEDULE);
  const qoda_model_layout &l = lib->layout();
  EXPECT_EQ(l.abi_version, QODA_MODELLIB_ABI_VERSION);
  EXPECT_STREQ(l.model, "mixed_test");
  EXPECT_EQ(l.num_coords, s.numCoords);
  EXPECT_EQ(l.targets, QODA_TARGET_CPU);
  quant::Schedule q = s.quantSchedule();
  EXPECT_EQ(l.schedule_hash, q.hash());
  ASSERT_EQ(l.num_segments, q.segments.size());
  for (size_t i = 0; i < q.segments.size(); ++i) {
    EXPECT_EQ(l.segments[i].offset, q.segments[i].offset);
    EXPECT_EQ(l.segments[i].length, q.segments[i].length);
    EXPECT_EQ(l.segments[i].type, q.segments[i].type);
  }
  ASSERT_EQ(l.num_types, q.types.size());
  for (size_t t = 0; t < q.types.size(); ++t) {
    EXPECT_EQ(l.types[t].kind, uint32_t(q.types[t].kind));
    for (size_t j = 0; j < q.types[t].levels.size(); ++j)
      EXPECT_EQ(l.default_levels[l.types[t].level_slot + j],
                q.types[t].levels[j]);
  }
  EXPECT_EQ(lib->checkSchedule(q.hash(), s.numCoords), "");
}

TEST(ModelLibLoader, MissingFileIsAClearError) {
  std::string err;
  EXPECT_FALSE(kernels::ModelLib::open("/nonexistent/libqoda_x.so", err));
  EXPECT_NE(err.find("/nonexistent/libqoda_x.so: cannot load"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("qoda-compile"), std::string::npos) << err;
}

TEST(ModelLibLoader, RejectsLibraryWithoutEntryPoints) {
  std::string err;
  EXPECT_FALSE(kernels::ModelLib::open(QODA_NOT_MODELLIB, err));
  EXPECT_NE(err.find("not a qoda model library"), std::string::npos) << err;
}

TEST(ModelLibLoader, RejectsOtherAbiVersionNamingBoth) {
  std::string err;
  EXPECT_FALSE(kernels::ModelLib::open(QODA_WRONG_ABI_LIB, err));
  EXPECT_NE(
      err.find("ABI version " + std::to_string(QODA_MODELLIB_ABI_VERSION + 1)),
      std::string::npos)
      << err;
  EXPECT_NE(
      err.find("needs version " + std::to_string(QODA_MODELLIB_ABI_VERSION)),
      std::string::npos)
      << err;
}

TEST(ModelLibLoader, ScheduleMismatchSaysHowToFix) {
  std::string err;
  auto lib = kernels::ModelLib::open(QODA_MIXED_LIB, err);
  ASSERT_TRUE(lib) << err;
  schedule::ScheduleFile s = load(QODA_MIXED_SCHEDULE);
  std::string e = lib->checkSchedule(s.quantSchedule().hash() ^ 1, s.numCoords);
  EXPECT_NE(e.find("built for schedule"), std::string::npos) << e;
  EXPECT_NE(e.find("qoda-compile --schedule"), std::string::npos) << e;
  e = lib->checkSchedule(s.quantSchedule().hash(), s.numCoords + 1);
  EXPECT_NE(e.find("coordinates"), std::string::npos) << e;
  // Another model's schedule (odd_bucket) has another hash and size.
  schedule::ScheduleFile other = load(QODA_ODD_SCHEDULE);
  EXPECT_NE(lib->checkSchedule(other.quantSchedule().hash(), other.numCoords),
            "");
}

TEST(ModelLibLoader, CpuArchCheck) {
  EXPECT_EQ(kernels::checkCpuArch("x86-64"), "");
  std::string e = kernels::checkCpuArch("x86-64-v99");
  EXPECT_NE(e.find("unknown CPU architecture 'x86-64-v99'"), std::string::npos)
      << e;
  EXPECT_NE(e.find("--march"), std::string::npos) << e;
  EXPECT_NE(kernels::checkCpuArch(""), "");
  // The library under test was built for the machine running the tests
  // (qoda-compile --march auto), so its recorded arch passes.
  std::string err;
  auto lib = kernels::ModelLib::open(QODA_MIXED_LIB, err);
  ASSERT_TRUE(lib) << err;
  EXPECT_EQ(kernels::checkCpuArch(lib->layout().cpu_arch), "");
}
