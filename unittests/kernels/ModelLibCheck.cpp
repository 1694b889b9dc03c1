// qoda-modellib-check: checks a generated model library against the
// quantization library's "layerwise" compressor on the same schedule, bit for
// bit: encoded messages (several inputs and keys, after re-fitting levels
// too), decode-accumulate of K messages, rejection of corrupted or foreign
// messages with the sum left unchanged, and the fused QODA update against
// its formula. Used by ctest (mixed schedules) and lit (exported models).
//
//   qoda-modellib-check LIB SCHEDULE.json [--device cpu|cuda]
//       [--reference fast|scalar|both] [--k K] [--inputs 1..4]
//
// --inputs: how many of the four kinds of input vector to encode (fewer
// for large models in slow CI).
// Exit 0: all equal; 1: a mismatch or error (printed); 77: --device cuda
// and no usable GPU (ctest SKIP_RETURN_CODE).
#include "DeviceBuffers.h"

#include "qoda/kernels/MessagePlan.h"
#include "qoda/kernels/ModelLibLoader.h"
#include "qoda/quant/Compressor.h"
#include "qoda/quant/Wire.h"
#include "qoda/schedule/ScheduleFile.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace qoda;

namespace {

int failures = 0;

void fail(const std::string &what) {
  std::fprintf(stderr, "MISMATCH: %s\n", what.c_str());
  ++failures;
}

/// Inputs that exercise every branch: gaussian, heavy-tailed with exact
/// zeros and negative zeros, tiny/huge magnitudes, a NaN-free mix of
/// constant runs (ties at levels).
std::vector<float> makeInput(uint64_t n, int kind, unsigned seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(n);
  for (uint64_t i = 0; i < n; ++i) {
    float x = nd(g);
    switch (kind) {
    case 0:
      v[i] = x;
      break;
    case 1:
      v[i] = (i % 7 == 0) ? 0.0f : (i % 11 == 0 ? -0.0f : x * x * x);
      break;
    case 2:
      v[i] = x * std::ldexp(1.0f, int(i % 31) - 25); // fp16 norms stay finite
      break;
    default:
      v[i] = (i / 37) % 3 == 0 ? 0.5f : ((i / 37) % 3 == 1 ? -0.25f : x);
    }
  }
  return v;
}

std::string firstDiff(const std::vector<uint8_t> &a,
                      const std::vector<uint8_t> &b) {
  if (a.size() != b.size())
    return "sizes " + std::to_string(a.size()) + " vs " +
           std::to_string(b.size());
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i])
      return "first difference at byte " + std::to_string(i) + " (" +
             std::to_string(a[i]) + " vs " + std::to_string(b[i]) + ")";
  return "";
}

bool sameBits(const std::vector<float> &a, const std::vector<float> &b,
              std::string &where) {
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], 4) != 0) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "coordinate %zu: %.9g vs %.9g", i,
                    double(a[i]), double(b[i]));
      where = buf;
      return false;
    }
  return true;
}

struct Checker {
  const kernels::ModelLib &lib;
  kernels::Model &model;
  Device &dev;
  uint64_t n;
  std::vector<std::unique_ptr<quant::Compressor>> refs;
  std::vector<std::string> refNames;

  std::vector<uint8_t> encodeLib(const std::vector<float> &v,
                                 const quant::EncodeKey &k) {
    std::vector<uint8_t> out(lib.layout().message_bytes);
    uint64_t len = 0;
    DeviceBytes dOut = dev.bytes(out.size());
    DeviceFloats dV = dev.floats(v);
    qoda_status st =
        model.api().encode(model.get(), dV.ptr(), k.seed, k.step, k.rank,
                           dOut.ptr(), out.size(), &len, nullptr);
    if (st != QODA_OK) {
      fail("encode: " + model.error());
      return {};
    }
    dev.sync();
    dOut.copyTo(out);
    out.resize(len);
    return out;
  }

  /// Returns the status; sum is updated in place.
  qoda_status decodeLib(const std::vector<std::vector<uint8_t>> &msgs, float w,
                        uint64_t step, std::vector<float> &sum) {
    std::vector<DeviceBytes> dm;
    std::vector<const uint8_t *> ptrs;
    std::vector<uint64_t> lens;
    for (const auto &m : msgs) {
      dm.push_back(dev.bytes(m));
      lens.push_back(m.size());
    }
    for (auto &d : dm)
      ptrs.push_back(d.ptr());
    DeviceFloats dSum = dev.floats(sum);
    qoda_status st = model.api().decode_accumulate(
        model.get(), ptrs.data(), lens.data(), uint32_t(msgs.size()), w, step,
        dSum.ptr(), nullptr);
    dev.sync();
    dSum.copyTo(sum);
    return st;
  }

  void checkRound(const std::vector<float> &v, const quant::EncodeKey &key,
                  uint32_t k, const std::string &label) {
    std::vector<std::vector<uint8_t>> libMsgs;
    for (uint32_t r = 0; r < k; ++r) {
      quant::EncodeKey kr = key;
      kr.rank = key.rank + r;
      std::vector<uint8_t> mine = encodeLib(v, kr);
      for (size_t c = 0; c < refs.size(); ++c) {
        std::vector<uint8_t> ref(refs[c]->maxMessageBytes(n));
        ref.resize(refs[c]->encode(v.data(), n, kr, ref.data()));
        std::string d = firstDiff(mine, ref);
        if (!d.empty())
          fail(label + " rank " + std::to_string(kr.rank) +
               ": message differs from the " + refNames[c] +
               " reference: " + d);
      }
      libMsgs.push_back(std::move(mine));
    }
    // Decode-accumulate K messages on top of a non-zero sum.
    std::vector<float> start = makeInput(n, 0, 99);
    float w = 1.0f / float(k);
    std::vector<float> refSum = start;
    for (const auto &m : libMsgs) {
      std::string e = refs[0]->decodeAccumulate(m.data(), m.size(), w,
                                                refSum.data(), n, key.step);
      if (!e.empty())
        fail(label + ": the reference rejects the library's message: " + e);
    }
    std::vector<float> libSum = start;
    if (decodeLib(libMsgs, w, key.step, libSum) != QODA_OK)
      fail(label + ": decode_accumulate: " + model.error());
    std::string where;
    if (!sameBits(libSum, refSum, where))
      fail(label + ": decode_accumulate differs from the reference at " +
           where);
  }

  /// Corrupted / foreign messages are rejected and leave sum unchanged.
  void checkRejects(const std::vector<float> &v, uint64_t step) {
    std::vector<uint8_t> good = encodeLib(v, {1, step, 0});
    std::vector<float> sum = makeInput(n, 0, 5), before = sum;
    auto expectReject = [&](std::vector<uint8_t> bad, uint64_t st,
                            const std::string &what) {
      std::string refErr = refs[0]->decodeAccumulate(bad.data(), bad.size(),
                                                     1.0f, sum.data(), n, st);
      std::vector<std::vector<uint8_t>> two = {good, bad};
      qoda_status s = decodeLib(two, 1.0f, st, sum);
      std::string where;
      if (s != QODA_ERR_MESSAGE)
        fail(what + ": accepted (status " + std::to_string(s) + ")");
      else if (model.error().empty())
        fail(what + ": rejected without a message");
      if (refErr.empty())
        fail(what + ": the reference accepts it (test is wrong)");
      if (!sameBits(sum, before, where))
        fail(what + ": sum changed at " + where);
    };
    auto bad = good;
    bad[8] ^= 1; // schedule hash
    expectReject(bad, step, "foreign schedule hash");
    expectReject(good, step + 1, "wrong step");
    bad = good;
    bad.pop_back();
    expectReject(bad, step, "truncated message");
    // Corrupt the first levels segment (NaN norm, negative zero) and the
    // first one whose level count is not a power of two (index too large).
    const qoda_model_layout &l = lib.layout();
    kernels::MessagePlan plan =
        kernels::planMessage(l.types, l.segments, l.num_segments);
    bool nanDone = false, rangeDone = false;
    for (uint32_t s = 0; s < l.num_segments; ++s) {
      const qoda_type_info &t = l.types[l.segments[s].type];
      const kernels::SegmentPlan &sp = plan.segments[s];
      uint64_t at = quant::kHeaderBytes + sp.begin;
      uint64_t idx = quant::kHeaderBytes + sp.index;
      uint64_t sign = quant::kHeaderBytes + sp.sign;
      if (t.kind != 0 || l.segments[s].length < 8)
        continue;
      if (!nanDone) {
        nanDone = true;
        bad = good;
        if (t.norm_precision == 0) {
          float nan = NAN;
          std::memcpy(&bad[at], &nan, 4);
        } else {
          bad[at] = 0xff, bad[at + 1] = 0x7f; // fp16 NaN
        }
        expectReject(bad, step, "NaN bucket norm");
        // Indices 0 with sign bits set: "negative zero" codes.
        bad = good;
        for (unsigned b = 0; b < t.index_bits; ++b)
          bad[idx + b] = 0;
        bad[sign] = 0xff;
        expectReject(bad, step, "negative zero code");
      }
      if (!rangeDone && t.num_levels < (1u << t.index_bits)) {
        rangeDone = true;
        bad = good;
        for (unsigned b = 0; b < t.index_bits; ++b)
          bad[idx + b] = 0xff; // 8 indices of all ones >= num_levels
        expectReject(bad, step, "level index out of range");
      }
    }
  }

  void checkUpdate() {
    std::vector<float> mean = makeInput(n, 0, 1), y = makeInput(n, 0, 2),
                       x1 = makeInput(n, 0, 3);
    float eta = 0.0123f, gamma = 0.0456f;
    std::vector<float> ry(n), rx(n), rh(n);
    for (uint64_t i = 0; i < n; ++i) { // METHOD 2, in float
      ry[i] = y[i] - mean[i];
      rx[i] = x1[i] + eta * ry[i];
      rh[i] = rx[i] - gamma * mean[i];
    }
    DeviceFloats dm = dev.floats(mean), dy = dev.floats(y),
                 dx1 = dev.floats(x1), dx = dev.floats(y), dh = dev.floats(y);
    if (model.api().qoda_update(model.get(), dm.ptr(), dy.ptr(), dx1.ptr(),
                                dx.ptr(), dh.ptr(), eta, gamma,
                                nullptr) != QODA_OK) {
      fail("qoda_update: " + model.error());
      return;
    }
    dev.sync();
    std::vector<float> gy(n), gx(n), gh(n);
    dy.copyTo(gy);
    dx.copyTo(gx);
    dh.copyTo(gh);
    std::string where;
    if (!sameBits(gy, ry, where) || !sameBits(gx, rx, where) ||
        !sameBits(gh, rh, where))
      fail("qoda_update differs from its formula at " + where);
  }
};

} // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s LIB SCHEDULE.json [--device cpu|cuda] "
                 "[--reference fast|scalar|both] [--k K] [--inputs 1..4]\n",
                 argv[0]);
    return 1;
  }
  std::string device = "cpu", reference = "both";
  uint32_t k = 3, inputs = 4;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--device")
      device = argv[i + 1];
    else if (a == "--reference")
      reference = argv[i + 1];
    else if (a == "--k")
      k = uint32_t(std::stoul(argv[i + 1]));
    else if (a == "--inputs")
      inputs = uint32_t(std::stoul(argv[i + 1]));
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 1;
    }
  }
  if ((device != "cpu" && device != "cuda") ||
      (reference != "fast" && reference != "scalar" && reference != "both") ||
      k == 0 || inputs < 1 || inputs > 4) {
    std::fprintf(stderr, "bad --device, --reference, --k or --inputs\n");
    return 1;
  }
  std::unique_ptr<Device> dev = makeDevice(device);
  if (!dev->usable()) {
    std::printf("SKIP: %s\n", dev->whyNot().c_str());
    return 77;
  }
  schedule::ScheduleFile sf;
  std::string err;
  if (!schedule::loadScheduleJson(argv[2], sf, err)) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  auto lib = kernels::ModelLib::open(argv[1], err);
  if (!lib) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  quant::Schedule qs = sf.quantSchedule();
  err = lib->checkSchedule(qs.hash(), sf.numCoords);
  if (!err.empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  auto model =
      lib->create(device == "cuda" ? QODA_DEVICE_CUDA : QODA_DEVICE_CPU, err);
  if (!model) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  uint64_t n = sf.numCoords;
  Checker c{*lib, *model, *dev, n, {}, {}};
  auto makeRefs = [&](const quant::Schedule &s) {
    c.refs.clear();
    c.refNames.clear();
    for (auto kind : {quant::Kernel::Fast, quant::Kernel::Reference}) {
      bool fast = kind == quant::Kernel::Fast;
      if (reference != "both" && (reference == "fast") != fast)
        continue;
      quant::CompressorOptions o;
      o.schedule = s;
      o.kernel = kind;
      c.refs.push_back(quant::makeCompressor("layerwise", o));
      c.refNames.push_back(fast ? "fast (" + quant::fastKernelName() + ")"
                                : "scalar");
    }
  };
  makeRefs(qs);
  if (lib->layout().message_bytes != c.refs[0]->maxMessageBytes(n))
    fail("message size " + std::to_string(lib->layout().message_bytes) +
         " vs the reference's " +
         std::to_string(c.refs[0]->maxMessageBytes(n)));
  for (int kind = 0; kind < int(inputs); ++kind)
    c.checkRound(makeInput(n, kind, 10 + kind),
                 {0x1234567890abcdefull + uint64_t(kind),
                  uint64_t(kind * 1000 + 7), uint32_t(kind)},
                 k, "input " + std::to_string(kind));
  c.checkRejects(makeInput(n, 0, 42), 3);
  c.checkUpdate();

  // Re-fitted levels: every levels type gets new levels (same count).
  for (size_t t = 0; t < qs.types.size(); ++t) {
    quant::TypeSchedule &ts = qs.types[t];
    if (ts.kind != quant::TypeKind::Levels)
      continue;
    for (size_t j = 1; j + 1 < ts.levels.size(); ++j)
      ts.levels[j] = std::sqrt(ts.levels[j]); // keeps order, 0 and 1
    if (model->api().set_levels(model->get(), uint32_t(t), ts.levels.data(),
                                uint32_t(ts.levels.size())) != QODA_OK)
      fail("set_levels: " + model->error());
  }
  makeRefs(qs);
  if (model->api().schedule_hash(model->get()) != qs.hash())
    fail("schedule hash after set_levels differs from the reference's");
  c.checkRound(makeInput(n, 0, 77), {7, 12345, 1}, k, "re-fitted levels");

  // Re-fitted to exactly uniform levels j/s: every type now takes the
  // uniform rounding rule (the flag follows set_levels, not the schedule).
  for (size_t t = 0; t < qs.types.size(); ++t) {
    quant::TypeSchedule &ts = qs.types[t];
    if (ts.kind != quant::TypeKind::Levels)
      continue;
    ts.levels = quant::uniformLevels(unsigned(ts.levels.size() - 1));
    if (model->api().set_levels(model->get(), uint32_t(t), ts.levels.data(),
                                uint32_t(ts.levels.size())) != QODA_OK)
      fail("set_levels: " + model->error());
  }
  makeRefs(qs);
  if (model->api().schedule_hash(model->get()) != qs.hash())
    fail("schedule hash after uniform set_levels differs from the reference's");
  c.checkRound(makeInput(n, 1, 78), {8, 54321, 2}, k, "uniform levels");

  if (failures) {
    std::fprintf(stderr, "%d mismatches\n", failures);
    return 1;
  }
  // The vector build this process's CPU checks pick (the library and the
  // generated kernels share them, qoda/quant/LevelVecTypes.h).
  std::printf("OK %s: %" PRIu64 " coordinates, %u segments, %u types, "
              "device %s, reference %s, vector build %s, library built for "
              "%s: messages, decode-accumulate (K=%u), rejections, update and "
              "re-fitted levels equal\n",
              lib->layout().model, n, lib->layout().num_segments,
              lib->layout().num_types, device.c_str(), reference.c_str(),
              quant::fastKernelName().c_str(), lib->layout().cpu_arch, k);
  return 0;
}
