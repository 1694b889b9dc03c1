// qoda-kernels-bench: a generated model library's CPU kernels against the
// quantization library's generic path (the "layerwise" compressor, one
// thread: its fast AVX2 kernel and its scalar reference kernel) on the same
// schedule and input, in one run; the three messages must be equal. GB/s count
// fp32 input bytes (4 * num_coords per encode or per decoded message); best
// of --reps runs (paths alternate within each run). read_gbps is a plain
// sum over the same buffer.
//
//   qoda-kernels-bench LIB SCHEDULE.json [--reps R]
#include "qoda/kernels/ModelLibLoader.h"
#include "qoda/quant/Compressor.h"
#include "qoda/schedule/ScheduleFile.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace qoda;

namespace {
double seconds(const std::function<void()> &f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(t1 - t0).count();
}
} // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s LIB SCHEDULE.json [--reps R]\n", argv[0]);
    return 1;
  }
  int reps = 5;
  if (argc == 5 && std::string(argv[3]) == "--reps")
    reps = std::max(1, std::atoi(argv[4]));
  schedule::ScheduleFile sf;
  std::string err;
  if (!schedule::loadScheduleJson(argv[2], sf, err)) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  auto lib = kernels::ModelLib::open(argv[1], err);
  if (!lib ||
      !(err = lib->checkSchedule(sf.quantSchedule().hash(), sf.numCoords))
           .empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  auto model = lib->create(QODA_DEVICE_CPU, err);
  if (!model) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  uint64_t n = sf.numCoords;
  std::vector<float> v(n), sum(n, 0.0f);
  std::mt19937 g(1);
  std::normal_distribution<float> nd;
  for (float &x : v)
    x = nd(g);
  quant::CompressorOptions o;
  o.schedule = sf.quantSchedule();
  o.threads = 1;
  auto generic = quant::makeCompressor("layerwise", o);
  // The generic path's scalar reference kernel: the same library without
  // its hand-written AVX2, for scale.
  quant::CompressorOptions os = o;
  os.kernel = quant::Kernel::Reference;
  auto scalar = quant::makeCompressor("layerwise", os);
  std::vector<uint8_t> c(scalar->maxMessageBytes(n));
  std::vector<uint8_t> a(lib->layout().message_bytes),
      b(generic->maxMessageBytes(n));
  uint64_t len = 0;
  const qoda_modellib_api &api = model->api();
  double gb = 4.0 * double(n) / 1e9;

  // Each repetition times every path once, alternating, and the best time
  // of each path is kept: on a shared machine load changes between
  // repetitions, and alternating exposes both paths to the same load.
  volatile float sink = 0;
  size_t blen = 0;
  const uint8_t *msgs[1] = {a.data()};
  uint64_t lens[1] = {0};
  double tRead = 1e30, tGenEnc = 1e30, tLibEnc = 1e30, tGenDec = 1e30,
         tLibDec = 1e30, tRefEnc = 1e30, tRefDec = 1e30;
  size_t clen = 0;
  for (int r = 0; r < reps; ++r) {
    tRead = std::min(tRead, seconds([&] {
                       float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                       for (uint64_t i = 0; i + 4 <= n; i += 4) {
                         s0 += v[i], s1 += v[i + 1], s2 += v[i + 2],
                             s3 += v[i + 3];
                       }
                       sink = s0 + s1 + s2 + s3;
                     }));
    tGenEnc = std::min(tGenEnc, seconds([&] {
                         api.encode(model->get(), v.data(), 1, 2, 0, a.data(),
                                    a.size(), &len, nullptr);
                       }));
    tLibEnc =
        std::min(tLibEnc, seconds([&] {
                   blen = generic->encode(v.data(), n, {1, 2, 0}, b.data());
                 }));
    lens[0] = len;
    tGenDec = std::min(tGenDec, seconds([&] {
                         api.decode_accumulate(model->get(), msgs, lens, 1,
                                               1.0f, 2, sum.data(), nullptr);
                       }));
    tLibDec = std::min(tLibDec, seconds([&] {
                         generic->decodeAccumulate(b.data(), blen, 1.0f,
                                                   sum.data(), n, 2);
                       }));
    tRefEnc =
        std::min(tRefEnc, seconds([&] {
                   clen = scalar->encode(v.data(), n, {1, 2, 0}, c.data());
                 }));
    tRefDec = std::min(tRefDec, seconds([&] {
                         scalar->decodeAccumulate(c.data(), clen, 1.0f,
                                                  sum.data(), n, 2);
                       }));
  }
  bool same = len == blen && std::memcmp(a.data(), b.data(), len) == 0 &&
              len == clen && std::memcmp(a.data(), c.data(), len) == 0;
  std::printf("model %s: %llu coordinates, %u segments, %u types, message "
              "%llu bytes (%.3f bits/coord), generic fast kernel: %s, "
              "messages equal: %s\n",
              lib->layout().model, (unsigned long long)n,
              lib->layout().num_segments, lib->layout().num_types,
              (unsigned long long)len, 8.0 * double(len) / double(n),
              quant::fastKernelName().c_str(), same ? "yes" : "NO");
  std::printf("| path | quantize+pack GB/s | decode-accumulate GB/s |\n"
              "|---|---|---|\n");
  std::printf("| generated (libqoda_%s.so, %s) | %.2f | %.2f |\n",
              lib->layout().model, lib->layout().cpu_arch, gb / tGenEnc,
              gb / tGenDec);
  std::printf("| generic (layerwise, 1 thread, %s kernel) | %.2f | %.2f |\n",
              quant::fastKernelName().c_str(), gb / tLibEnc, gb / tLibDec);
  std::printf("| generic, scalar reference kernel | %.2f | %.2f |\n",
              gb / tRefEnc, gb / tRefDec);
  std::printf("| read (sum, same buffer) | %.2f | |\n", gb / tRead);
  std::printf("{\"model\": \"%s\", \"coords\": %llu, \"generated_quantize_"
              "gbps\": %.3f, \"generated_decode_accumulate_gbps\": %.3f, "
              "\"generic_quantize_gbps\": %.3f, \"generic_decode_accumulate_"
              "gbps\": %.3f, \"scalar_quantize_gbps\": %.3f, "
              "\"scalar_decode_accumulate_gbps\": %.3f, \"read_gbps\": "
              "%.3f, \"cpu_arch\": \"%s\", \"messages_equal\": %s}\n",
              lib->layout().model, (unsigned long long)n, gb / tGenEnc,
              gb / tGenDec, gb / tLibEnc, gb / tLibDec, gb / tRefEnc,
              gb / tRefDec, gb / tRead, lib->layout().cpu_arch,
              same ? "true" : "false");
  return same ? 0 : 1;
}
