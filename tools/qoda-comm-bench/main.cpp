//===- qoda-comm-bench - collective bandwidth, run under qoda-run ---------===//
//
// Measures, in one run on the same workers, the fp32 all-reduce of N floats
// (Gloo ring) and the all-gather of N*b/8-byte messages per worker (the
// transport of compressed collective (a) at b bits per coordinate).
// Bandwidths follow nccl-tests: algbw = N*4 bytes / time (uncompressed bytes,
// also for the compressed collective), busbw = algbw * 2(K-1)/K.
//
//===----------------------------------------------------------------------===//
#include "qoda/comm/CompressedAggregator.h"
#include "qoda/comm/CostModel.h"
#include "qoda/comm/GlooCommunicator.h"
#include "qoda/comm/PipelinedAggregator.h"
#include "qoda/comm/ScatterReduceAggregator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

using namespace qoda::comm;

namespace {

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
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
             .count() /
         iters;
}

} // namespace

int main(int argc, char **argv) {
  std::size_t n = 1 << 22;
  int iters = 10, warmup = 2;
  std::vector<double> bits = {4, 8};
  bool json = false;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string f = argv[i];
      if (f == "--json") {
        json = true;
        continue;
      }
      if (i + 1 >= argc)
        throw std::invalid_argument(
            "usage: qoda-comm-bench [--size FLOATS] [--iters N] [--bits B] "
            "[--json]   (under qoda-run -n K)");
      if (f == "--size")
        n = static_cast<std::size_t>(number(f, argv[++i]));
      else if (f == "--iters")
        iters = static_cast<int>(number(f, argv[++i]));
      else if (f == "--bits")
        bits = {number(f, argv[++i])};
      else
        throw std::invalid_argument("unknown option '" + f + "'");
    }
  } catch (const std::exception &e) {
    std::cerr << "qoda-comm-bench: " << e.what() << "\n";
    return 2;
  }
  try {
    GlooCommunicator c(rendezvousFromEnv());
    int K = c.size();
    double busFactor = 2.0 * (K - 1) / K;
    // Calibrate the alpha-beta model on two all-gathers (1 KiB, 1 MiB).
    // Rank 0's timings are broadcast so every rank fits the same model.
    AlphaBeta model;
    bool haveModel = true;
    {
      std::vector<char> in(1 << 20), out((1 << 20) * K);
      double tt[2];
      tt[0] =
          timeIt(c, 2, 20, [&] { c.allgather(in.data(), 1024, out.data()); });
      tt[1] =
          timeIt(c, 1, 5, [&] { c.allgather(in.data(), 1 << 20, out.data()); });
      c.broadcast(tt, sizeof tt, 0);
      try {
        model = fitAlphaBeta(K, 1024, tt[0], 1 << 20, tt[1]);
      } catch (const std::invalid_argument &e) {
        haveModel = false;
        if (c.rank() == 0)
          std::cerr << "no alpha-beta model this run: " << e.what() << "\n";
      }
      if (c.rank() == 0 && haveModel) {
        char line[256];
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
            "\"bits_per_coord\":%g,\"time_s\":%.6g,\"algbw_GBps\":%.4g,"
            "\"busbw_GBps\":%.4g,\"bytes_sent_per_worker\":%llu,"
            "\"model_time_s\":%.6g}",
            what.c_str(), K, n, b, secs, algbw, algbw * busFactor,
            static_cast<unsigned long long>(bytesPerWorker), predicted);
      else
        std::snprintf(
            line, sizeof line,
            "%-22s K=%d N=%zu %5.2f bit/coord  %9.3f ms  algbw %7.3f "
            "GB/s  busbw %7.3f GB/s  sent/worker %llu B  model %9.3f ms",
            what.c_str(), K, n, b, secs * 1e3, algbw, algbw * busFactor,
            static_cast<unsigned long long>(bytesPerWorker), predicted * 1e3);
      std::cout << line << std::endl;
    };
    std::vector<float> v(n, 1.0f);
    c.resetStats();
    double t = timeIt(c, warmup, iters, [&] { c.allreduceSum(v.data(), n); });
    report("allreduce-fp32", 32, t, c.stats().bytesSent / (warmup + iters),
           predictAllreduce(model, K, 4.0 * n));
    for (double b : bits) {
      std::size_t msg = static_cast<std::size_t>(std::ceil(n * b / 8));
      std::vector<char> in(msg, 1), out(msg * K);
      c.resetStats();
      t = timeIt(c, warmup, iters,
                 [&] { c.allgather(in.data(), msg, out.data()); });
      report("allgather-raw", b, t, c.stats().bytesSent / (warmup + iters),
             predictAllgather(model, K, msg));
    }
    // The whole compressed collective (a) with a real codec (fp16):
    // encode, all-gather, decode-accumulate all K.
    {
      CompressedAggregator agg(c, {{{"x", 0, n}, true}},
                               std::make_unique<Fp16Codec>(n));
      std::vector<float> mean(n);
      AggregateStats st;
      c.resetStats();
      t = timeIt(c, warmup, iters,
                 [&] { agg.mean(v.data(), mean.data(), st); });
      report("compressed-a-fp16", 8.0 * agg.messageBytes() / n, t,
             c.stats().bytesSent / (warmup + iters),
             predictAllgather(model, K, agg.messageBytes()));
      PipelinedAggregator pipe(c, n, 8, [](std::size_t, std::size_t d) {
        return std::make_unique<Fp16Codec>(d);
      });
      c.resetStats();
      t = timeIt(c, warmup, iters,
                 [&] { pipe.mean(v.data(), mean.data(), st); });
      report("compressed-a-fp16-pipe8", 8.0 * agg.messageBytes() / n, t,
             c.stats().bytesSent / (warmup + iters),
             predictAllgather(model, K, agg.messageBytes()));
      ScatterReduceAggregator sr(
          c, n, [](std::size_t, std::size_t d) {
            return std::make_unique<Fp16Codec>(d);
          });
      c.resetStats();
      t = timeIt(c, warmup, iters, [&] { sr.mean(v.data(), mean.data(), st); });
      report("compressed-b-fp16", 8.0 * agg.messageBytes() / n, t,
             c.stats().bytesSent / (warmup + iters),
             predictScatterReduceAllgather(model, K, agg.messageBytes()));
      if (c.rank() == 0 && haveModel)
        std::cout << (json ? "{\"model_choice\":\""
                           : "model's choice for this message: ")
                  << chooseCompressedCollective(model, K, agg.messageBytes())
                  << (json ? "\"}" : "") << std::endl;
    }
    return 0;
  } catch (const std::exception &e) {
    std::cerr << "qoda-comm-bench: " << e.what() << "\n";
    return 1;
  }
}
