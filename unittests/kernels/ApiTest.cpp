// The C API's argument checks: every misuse is a status plus a message, and
// nothing is written. (Bit-exactness is qoda-modellib-check's job.)
#include "qoda/kernels/ModelLibLoader.h"
#include "qoda/quant/Wire.h"

#include <gtest/gtest.h>

#include <vector>

using namespace qoda;

namespace {
struct Fixture : ::testing::Test {
  void SetUp() override {
    std::string err;
    lib = kernels::ModelLib::open(QODA_MIXED_LIB, err);
    ASSERT_TRUE(lib) << err;
    model = lib->create(QODA_DEVICE_CPU, err);
    ASSERT_TRUE(model) << err;
    n = lib->layout().num_coords;
  }
  const qoda_modellib_api &api() { return lib->api(); }
  std::unique_ptr<kernels::ModelLib> lib;
  std::unique_ptr<kernels::Model> model;
  uint64_t n = 0;
};
} // namespace

using ModelLibApi = Fixture;

TEST_F(ModelLibApi, CpuOnlyLibraryRefusesCuda) {
  std::string err;
  EXPECT_FALSE(lib->create(QODA_DEVICE_CUDA, err));
  EXPECT_NE(err.find("built without CUDA kernels"), std::string::npos) << err;
  EXPECT_NE(err.find("--target cuda"), std::string::npos) << err;
  char buf[64];
  qoda_model *m = reinterpret_cast<qoda_model *>(1);
  EXPECT_EQ(api().create(qoda_device(7), &m, buf, sizeof buf),
            QODA_ERR_ARGUMENT);
  EXPECT_EQ(m, nullptr);
  EXPECT_EQ(api().create(QODA_DEVICE_CPU, nullptr, buf, sizeof buf),
            QODA_ERR_ARGUMENT);
}

TEST_F(ModelLibApi, EncodeChecksBuffers) {
  std::vector<float> v(n, 1.0f);
  std::vector<uint8_t> out(lib->layout().message_bytes);
  uint64_t len = 0;
  EXPECT_EQ(api().encode(model->get(), v.data(), 1, 2, 0, out.data(),
                         out.size() - 1, &len, nullptr),
            QODA_ERR_ARGUMENT);
  EXPECT_NE(model->error().find("a message needs"), std::string::npos);
  EXPECT_EQ(api().encode(model->get(), nullptr, 1, 2, 0, out.data(), out.size(),
                         &len, nullptr),
            QODA_ERR_ARGUMENT);
  int dummy;
  EXPECT_EQ(api().encode(model->get(), v.data(), 1, 2, 0, out.data(),
                         out.size(), &len, &dummy),
            QODA_ERR_ARGUMENT);
  EXPECT_NE(model->error().find("stream must be NULL"), std::string::npos);
  EXPECT_EQ(api().encode(model->get(), v.data(), 1, 2, 0, out.data(),
                         out.size(), &len, nullptr),
            QODA_OK);
  EXPECT_EQ(len, out.size());
  quant::MessageHeader h;
  EXPECT_EQ(quant::readHeader(out.data(), len, h), "");
  EXPECT_EQ(h.step, 2u);
  EXPECT_EQ(h.numCoords, n);
  EXPECT_EQ(h.scheduleHash, api().schedule_hash(model->get()));
}

TEST_F(ModelLibApi, DecodeRejectsNullAndLeavesSum) {
  std::vector<float> sum(n, 2.0f);
  const uint8_t *msgs[1] = {nullptr};
  uint64_t lens[1] = {0};
  EXPECT_EQ(api().decode_accumulate(model->get(), msgs, lens, 1, 1.0f, 0,
                                    sum.data(), nullptr),
            QODA_ERR_ARGUMENT);
  EXPECT_NE(model->error().find("message 0 is NULL"), std::string::npos);
  std::vector<uint8_t> junk(10, 0);
  msgs[0] = junk.data();
  lens[0] = junk.size();
  EXPECT_EQ(api().decode_accumulate(model->get(), msgs, lens, 1, 1.0f, 0,
                                    sum.data(), nullptr),
            QODA_ERR_MESSAGE);
  EXPECT_NE(model->error().find("message 0: message truncated"),
            std::string::npos)
      << model->error();
  for (float x : sum)
    ASSERT_EQ(x, 2.0f);
  // K = 0 is a no-op.
  EXPECT_EQ(api().decode_accumulate(model->get(), nullptr, nullptr, 0, 1.0f, 0,
                                    sum.data(), nullptr),
            QODA_OK);
}

TEST_F(ModelLibApi, SetLevelsValidates) {
  const qoda_model_layout &l = lib->layout();
  // A levels type with interior levels to misorder, and a cast type.
  uint32_t levelsType = l.num_types, castType = l.num_types;
  for (uint32_t t = 0; t < l.num_types; ++t) {
    if (l.types[t].kind == 0 && l.types[t].num_levels >= 4 &&
        levelsType == l.num_types)
      levelsType = t;
    if (l.types[t].kind != 0)
      castType = t;
  }
  ASSERT_LT(levelsType, l.num_types);
  ASSERT_LT(castType, l.num_types);
  ASSERT_EQ(l.types[levelsType].kind, 0u);
  ASSERT_NE(l.types[castType].kind, 0u);
  uint32_t count = l.types[levelsType].num_levels;
  std::vector<float> lv(l.default_levels + l.types[levelsType].level_slot,
                        l.default_levels + l.types[levelsType].level_slot +
                            count);
  uint64_t hash = api().schedule_hash(model->get());
  EXPECT_EQ(api().set_levels(model->get(), l.num_types, lv.data(), count),
            QODA_ERR_ARGUMENT);
  EXPECT_NE(model->error().find("out of range"), std::string::npos);
  EXPECT_EQ(api().set_levels(model->get(), castType, lv.data(), count),
            QODA_ERR_ARGUMENT);
  EXPECT_NE(model->error().find("uncompressed"), std::string::npos);
  EXPECT_EQ(api().set_levels(model->get(), levelsType, lv.data(), count + 1),
            QODA_ERR_ARGUMENT);
  EXPECT_NE(model->error().find("level count is compiled in"),
            std::string::npos);
  std::vector<float> bad = lv;
  std::swap(bad[1], bad[2]);
  EXPECT_EQ(api().set_levels(model->get(), levelsType, bad.data(), count),
            QODA_ERR_ARGUMENT);
  EXPECT_NE(model->error().find("strictly increasing"), std::string::npos);
  EXPECT_EQ(api().schedule_hash(model->get()), hash); // unchanged
  EXPECT_EQ(api().set_levels(model->get(), levelsType, lv.data(), count),
            QODA_OK);
  EXPECT_EQ(api().schedule_hash(model->get()), hash); // same levels
}

TEST_F(ModelLibApi, UpdateChecksBuffers) {
  std::vector<float> a(n, 1.0f);
  EXPECT_EQ(api().qoda_update(model->get(), a.data(), a.data(), nullptr,
                              a.data(), a.data(), 0.1f, 0.1f, nullptr),
            QODA_ERR_ARGUMENT);
  EXPECT_NE(model->error().find("NULL buffer"), std::string::npos);
}
