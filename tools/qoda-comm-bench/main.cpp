//===- qoda-comm-bench - collective bandwidth, run under qoda-run ---------===//
//
// Measures, in one run on the same workers: the fp32 all-reduce of N floats
// (Gloo ring), the all-gather of N*b/8-byte messages (the transport of
// compressed collective (a) at b bits per coordinate), and the complete
// compressed collectives (a) and (b) (encode + transfer + decode) with each
// compressor given: the quantization library's qsgd/nuqsgd (global) and
// layerwise (a schedule file, or a synthetic one: four level types over the
// four quarters of the vector), and the collective's own fp16 codec.
// Bandwidths follow nccl-tests: algbw = N*4 bytes / time (uncompressed
// bytes, also for the compressed collectives), busbw = algbw * 2(K-1)/K.
// Beside every row: the alpha-beta model's prediction (transport only for
// the raw rows; transport + measured codec cost for the compressed ones),
// and per compressor the collective the model picks, the collective the
// calibration picks (calibrateCollectives: (a) and (b) timed alternately,
// before the rows are timed; what `qoda-bench vi --collective auto` uses)
// and the one the rows measured fastest.
//
//===----------------------------------------------------------------------===//
#include "qoda/comm/CompressedAggregator.h"
#include "qoda/comm/CostModel.h"
#include "qoda/comm/GlooCommunicator.h"
#include "qoda/comm/PipelinedAggregator.h"
#include "qoda/comm/QuantCodec.h"
#include "qoda/comm/ScatterReduceAggregator.h"
#include "qoda/comm/ScheduleCodec.h"
#include "qoda/schedule/ScheduleFile.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace qoda::comm;
namespace quant = qoda::quant;

namespace {

const char kUsage[] =
    "usage: qoda-comm-bench [--size FLOATS] [--iters N] [--bits B]\n"
    "                       [--compressor LIST] [--schedule FILE]\n"
    "                       [--pipelined PIECES] [--calibrate-pairs N] "
    "[--json]\n"
    "                       [--raw-allreduce-min BYTES]\n"
    "  LIST: comma-separated fp16, qsgd, nuqsgd, layerwise (default "
    "qsgd,layerwise)\n"
    "  --pipelined P: also time collective (a) cut into P overlapped pieces\n"
    "  --calibrate-pairs N: alternated (a)/(b) pairs of the calibration "
    "(default 5)\n"
    "  --raw-allreduce-min BYTES: layerwise: fp32/fp16 types of at least "
    "this\n    many bytes per worker go through Gloo's all-reduce (default "
    "0: all)\n"
    "  run under qoda-run -n K";

double number(const std::string &flag, const char *v) {
  char *end = nullptr;
  double d = std::strtod(v, &end);
  if (!*v || *end || !std::isfinite(d) || d <= 0)
    throw std::invalid_argument(flag + " expects a positive number, got '" + v +
                                "'");
  return d;
}

template <typename F>
double timeIt(Communicator &c, int warmup, int iters, F f) {
  for (int i = 0; i < warmup; ++i)
    f();
  c.barrier();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i)
    f();
  c.barrier();
  double t =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count() /
      iters;
  c.broadcast(&t, sizeof t, 0); // every rank reports rank 0's time
  return t;
}

/// Four level types over the four quarters of n coordinates (index bits
/// `bits`, exponential levels, buckets of 1024), as a stand-in for a model's
/// layer types when no schedule file is given.
quant::Schedule syntheticSchedule(std::size_t n, unsigned bits) {
  quant::Schedule s;
  for (std::uint32_t t = 0; t < 4; ++t) {
    quant::TypeSchedule ts;
    ts.levels = t % 2 ? quant::exponentialLevels((1u << bits) - 1)
                      : quant::uniformLevels((1u << bits) - 1);
    s.types.push_back(ts);
    std::size_t b = n * t / 4, e = n * (t + 1) / 4;
    if (e > b)
      s.segments.push_back({b, e - b, t});
  }
  return s;
}

} // namespace

int main(int argc, char **argv) {
  std::size_t n = 1 << 22;
  int iters = 10, warmup = 2;
  unsigned bits = 4;
  bool json = false;
  std::vector<std::string> compressors = {"qsgd", "layerwise"};
  std::string schedulePath;
  std::size_t pieces = 0;
  int pairs = 5;
  double rawMin = 0;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string f = argv[i];
      if (f == "--json") {
        json = true;
        continue;
      }
      if (f == "-h" || f == "--help") {
        std::cout << kUsage << "\n";
        return 0;
      }
      if (i + 1 >= argc)
        throw std::invalid_argument(f + " needs a value\n" + kUsage);
      if (f == "--size")
        n = static_cast<std::size_t>(number(f, argv[++i]));
      else if (f == "--iters")
        iters = static_cast<int>(number(f, argv[++i]));
      else if (f == "--bits") {
        double b = number(f, argv[++i]);
        if (b > 8 || b != std::floor(b))
          throw std::invalid_argument("--bits expects an integer 1..8");
        bits = static_cast<unsigned>(b);
      } else if (f == "--compressor") {
        compressors.clear();
        std::stringstream ss(argv[++i]);
        std::string c;
        while (std::getline(ss, c, ',')) {
          if (c != "fp16" && c != "qsgd" && c != "nuqsgd" && c != "layerwise")
            throw std::invalid_argument("unknown compressor '" + c + "'\n" +
                                        kUsage);
          compressors.push_back(c);
        }
      } else if (f == "--pipelined") {
        double p = number(f, argv[++i]);
        if (p < 2 || p != std::floor(p))
          throw std::invalid_argument("--pipelined expects an integer >= 2");
        pieces = static_cast<std::size_t>(p);
      } else if (f == "--calibrate-pairs") {
        double p = number(f, argv[++i]);
        if (p > 1000 || p != std::floor(p))
          throw std::invalid_argument(
              "--calibrate-pairs expects an integer in [1, 1000]");
        pairs = static_cast<int>(p);
      } else if (f == "--raw-allreduce-min") {
        const char *v = argv[++i];
        char *end = nullptr;
        rawMin = std::strtod(v, &end);
        if (!*v || *end || !(rawMin >= 0) || rawMin > 1e15)
          throw std::invalid_argument(
              std::string("--raw-allreduce-min expects bytes >= 0, got '") +
              v + "'");
      } else if (f == "--schedule")
        schedulePath = argv[++i];
      else
        throw std::invalid_argument("unknown option '" + f + "'\n" + kUsage);
    }
  } catch (const std::exception &e) {
    std::cerr << "qoda-comm-bench: " << e.what() << "\n";
    return 2;
  }
  try {
    quant::Schedule sched;
    if (!schedulePath.empty()) {
      qoda::schedule::ScheduleFile file;
      std::string err;
      if (!qoda::schedule::loadScheduleJson(schedulePath, file, err))
        throw std::invalid_argument(err);
      sched = file.quantSchedule();
      n = file.numCoords; // the schedule fixes the vector length
    } else {
      sched = syntheticSchedule(n, bits);
    }
    GlooCommunicator c(rendezvousFromEnv());
    int K = c.size();
    double busFactor = 2.0 * (K - 1) / K;
    // Calibrate the alpha-beta model on all-gathers of 1 KiB and 1 MiB.
    AlphaBeta model;
    std::string why;
    bool haveModel = measureAlphaBeta(c, 1024, 1 << 20, model, why);
    if (c.rank() == 0) {
      char line[256];
      if (!haveModel)
        std::cerr << "no alpha-beta model this run: " << why << "\n";
      else {
        std::snprintf(line, sizeof line,
                      json ? "{\"model\":\"alpha-beta\",\"alpha_us\":%.4g,"
                             "\"beta_GBps\":%.4g}"
                           : "alpha-beta model: alpha %.4g us, beta %.4g GB/s",
                      model.alpha * 1e6, model.beta / 1e9);
        std::cout << line << std::endl;
      }
    }
    auto report = [&](const std::string &what, double b, double secs,
                      std::uint64_t bytesPerWorker, double predicted) {
      if (c.rank() != 0)
        return;
      if (!haveModel)
        predicted = std::nan(""); // printed as nan: no prediction
      double algbw = static_cast<double>(n) * 4 / secs / 1e9;
      char line[512];
      if (json)
        std::snprintf(
            line, sizeof line,
            "{\"collective\":\"%s\",\"workers\":%d,\"floats\":%zu,"
            "\"bits_per_coord\":%.4g,\"time_s\":%.6g,\"algbw_GBps\":%.4g,"
            "\"busbw_GBps\":%.4g,\"bytes_sent_per_worker\":%llu,"
            "\"model_time_s\":%.6g}",
            what.c_str(), K, n, b, secs, algbw, algbw * busFactor,
            static_cast<unsigned long long>(bytesPerWorker), predicted);
      else
        std::snprintf(
            line, sizeof line,
            "%-24s K=%d N=%zu %6.3f bit/coord %9.3f ms  algbw %7.3f "
            "GB/s  busbw %7.3f GB/s  sent/worker %10llu B  model %9.3f ms",
            what.c_str(), K, n, b, secs * 1e3, algbw, algbw * busFactor,
            static_cast<unsigned long long>(bytesPerWorker), predicted * 1e3);
      std::cout << line << std::endl;
    };
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) // a gradient-like spread of values
      v[i] = static_cast<float>(((i * 2654435761u) % 2001) - 1000.0) * 1e-3f *
             (1 + c.rank());
    std::vector<float> work(v);
    c.resetStats();
    double t = timeIt(c, warmup, iters, [&] {
      std::copy(v.begin(), v.end(), work.begin());
      c.allreduceSum(work.data(), n);
    });
    report("allreduce-fp32", 32, t, c.stats().bytesSent / (warmup + iters),
           predictAllreduce(model, K, 4.0 * n));
    {
      std::size_t msg = (n * (bits + 1) + 7) / 8; // index bits + sign
      std::vector<char> in(msg, 1), out(msg * K);
      c.resetStats();
      t = timeIt(c, warmup, iters,
                 [&] { c.allgather(in.data(), msg, out.data()); });
      report("allgather-raw", bits + 1, t,
             c.stats().bytesSent / (warmup + iters),
             predictAllgather(model, K, msg));
    }
    auto rank = static_cast<std::uint32_t>(c.rank());
    for (const std::string &name : compressors) {
      CodecFactory make;
      if (name == "fp16")
        make = [](std::size_t, std::size_t d) {
          return std::make_unique<Fp16Codec>(d);
        };
      else if (name == "layerwise")
        make = [&](std::size_t off, std::size_t d) {
          return std::make_unique<ScheduleCodec>(sched, off, d, 1, rank);
        };
      else
        make = [&, name](std::size_t off, std::size_t d) {
          quant::CompressorOptions o;
          o.bits = bits;
          return std::make_unique<QuantCodec>(quant::makeCompressor(name, o), d,
                                              1 + off, rank);
        };
      auto probe = make(0, n);
      CodecCost cost = measureCodecCost(c, *probe);
      // Collectives (a) and (b) over the whole vector; with a schedule, its
      // fp32/fp16 types go through their all-reduces from --raw-allreduce-min
      // bytes on (routeUncompressed), the rest is compressed.
      std::vector<LayoutSegment> layout = {{{"x", 0, n}, true}};
      CodecFactory makeComp = make;
      if (name == "layerwise") {
        RawRouting route =
            routeUncompressed(sched, n, static_cast<std::uint64_t>(rawMin));
        layout = compressedLayout(sched, n, route);
        auto cs = std::make_shared<quant::Schedule>(
            compressedSchedule(sched, n, route));
        makeComp = [cs, rank](std::size_t off, std::size_t d) {
          return std::make_unique<ScheduleCodec>(*cs, off, d, 1, rank);
        };
      }
      std::size_t comp = 0, n32 = 0, n16 = 0;
      for (const LayoutSegment &l : layout) {
        comp += l.compressed ? l.segment.size : 0;
        n32 += !l.compressed && !l.half ? l.segment.size : 0;
        n16 += l.half ? l.segment.size : 0;
      }
      // The model's time of those all-reduces, added to (a) and (b).
      double rawPredicted =
          (n32 ? predictAllreduce(model, K, 4.0 * n32) : 0) +
          (n16 ? predictAllreduce(model, K, 2.0 * n16) : 0);
      CompressedAggregator a(c, layout, makeComp(0, comp));
      double msgA = static_cast<double>(a.messageBytes());
      double bitsA = 8.0 * msgA / n;
      std::vector<float> mean(n);
      AggregateStats st;
      ScatterReduceAggregator b(c, layout, makeComp);
      // The calibration's pick, measured before the rows (as a run would).
      Calibration cal = calibrateCollectives(c, a, b, v.data(), pairs);
      c.resetStats();
      double ta =
          timeIt(c, warmup, iters, [&] { a.mean(v.data(), mean.data(), st); });
      double pa =
          predictCompressedAllgather(model, cost, K, double(comp), msgA) +
          rawPredicted;
      report("compressed-a-" + name, bitsA, ta,
             c.stats().bytesSent / (warmup + iters), pa);
      if (pieces) {
        // Transport as (a) in P all-gathers; the codec work overlaps it.
        PipelinedAggregator p(c, n, pieces, make);
        c.resetStats();
        double tp = timeIt(c, warmup, iters,
                           [&] { p.mean(v.data(), mean.data(), st); });
        report("compressed-a-pipe" + std::to_string(pieces) + "-" + name, bitsA,
               tp, c.stats().bytesSent / (warmup + iters), pa);
      }
      c.resetStats();
      double tb =
          timeIt(c, warmup, iters, [&] { b.mean(v.data(), mean.data(), st); });
      double pb =
          predictCompressedScatterReduce(model, cost, K, double(comp), msgA) +
          rawPredicted;
      report("compressed-b-" + name, bitsA, tb,
             c.stats().bytesSent / (warmup + iters), pb);
      if (c.rank() == 0) {
        std::string pick = !haveModel ? "none"
                           : pb < pa  ? "scatter-reduce"
                                      : "allgather";
        CollectiveChoice choice;
        choice.measured = haveModel;
        choice.collective = haveModel ? pick : "allgather";
        applyCalibration(choice, cal);
        std::string calPick = choice.collective;
        std::string fastest = tb < ta ? "scatter-reduce" : "allgather";
        char line[768];
        if (json)
          std::snprintf(
              line, sizeof line,
              "{\"compressor\":\"%s\",\"encode_ns_per_coord\":%.4g,"
              "\"decode_ns_per_coord\":%.4g,\"model_choice\":\"%s\","
              "\"calibrated_choice\":\"%s\",\"calibration_pairs\":%d,"
              "\"calibration_a_s\":%.6g,\"calibration_b_s\":%.6g,"
              "\"calibration_ratio_a_over_b\":%.4g,"
              "\"measured_fastest\":\"%s\",\"measured_ratio_a_over_b\":%.4g}",
              name.c_str(), cost.encode * 1e9, cost.decode * 1e9,
              pick.c_str(), calPick.c_str(), cal.pairs, cal.allgather,
              cal.scatterReduce, cal.ratio, fastest.c_str(), ta / tb);
        else
          std::snprintf(
              line, sizeof line,
              "%s: codec encode %.4g ns/coord, decode %.4g ns/coord; "
              "model picks %s; calibration picks %s ((a) %.3f ms, (b) "
              "%.3f ms, median ratio %.3f over %d pairs); measured "
              "fastest %s (ratio (a)/(b) %.3f)",
              name.c_str(), cost.encode * 1e9, cost.decode * 1e9,
              pick.c_str(), calPick.c_str(), cal.allgather * 1e3,
              cal.scatterReduce * 1e3, cal.ratio, cal.pairs, fastest.c_str(),
              ta / tb);
        std::cout << line << std::endl;
      }
    }
    return 0;
  } catch (const std::exception &e) {
    std::cerr << "qoda-comm-bench: " << e.what() << "\n";
    return 1;
  }
}
