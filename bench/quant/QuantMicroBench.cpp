// Micro-benchmarks: encode and decode+accumulate of one compressor per
// configuration, plus a read-only sum over the same buffer as the baseline.
// Bytes processed = fp32 input bytes.
//   ./bin/qoda-quant-microbench --benchmark_filter=Encode
#include "qoda/quant/Compressor.h"

#include <benchmark/benchmark.h>

#include <random>

using namespace qoda::quant;

namespace {

std::vector<float> input(size_t n) {
  std::vector<float> v(n);
  std::mt19937 g(1);
  std::normal_distribution<float> d;
  for (float &x : v)
    x = d(g);
  return v;
}

CompressorOptions opts(const benchmark::State &s,
                       Kernel kernel = Kernel::Fast) {
  CompressorOptions o;
  o.bits = unsigned(s.range(1));
  o.bucketSize = 1024;
  o.kernel = kernel;
  return o;
}

void BM_ReadSum(benchmark::State &s) {
  std::vector<float> v = input(size_t(s.range(0)));
  for (auto _ : s) {
    float acc = 0;
    for (float x : v)
      acc += x;
    benchmark::DoNotOptimize(acc);
  }
  s.SetBytesProcessed(int64_t(s.iterations()) * s.range(0) * 4);
}

void BM_Encode(benchmark::State &s, const char *name,
               Kernel kernel = Kernel::Fast) {
  std::vector<float> v = input(size_t(s.range(0)));
  auto c = makeCompressor(name, opts(s, kernel));
  std::vector<uint8_t> out(c->maxMessageBytes(v.size()));
  uint64_t step = 0;
  for (auto _ : s)
    benchmark::DoNotOptimize(
        c->encode(v.data(), v.size(), {1, step++, 0}, out.data()));
  s.SetBytesProcessed(int64_t(s.iterations()) * s.range(0) * 4);
}

void BM_DecodeAccumulate(benchmark::State &s, const char *name) {
  std::vector<float> v = input(size_t(s.range(0))), sum(v.size(), 0.0f);
  auto c = makeCompressor(name, opts(s));
  std::vector<uint8_t> msg(c->maxMessageBytes(v.size()));
  msg.resize(c->encode(v.data(), v.size(), {1, 0, 0}, msg.data()));
  for (auto _ : s) {
    std::string err = c->decodeAccumulate(msg.data(), msg.size(), 0.5f,
                                          sum.data(), v.size(), 0);
    if (!err.empty())
      s.SkipWithError(err.c_str());
  }
  s.SetBytesProcessed(int64_t(s.iterations()) * s.range(0) * 4);
}

void sizes(benchmark::internal::Benchmark *b) {
  for (int64_t n = 16 << 10; n <= (4 << 20); n *= 16)
    for (int64_t bits : {2, 4, 7}) // nuqsgd has at most 7 bits
      b->Args({n, bits});
}

} // namespace

BENCHMARK(BM_ReadSum)->Apply(sizes);
BENCHMARK_CAPTURE(BM_Encode, qsgd, "qsgd")->Apply(sizes);
BENCHMARK_CAPTURE(BM_Encode, qsgd_reference, "qsgd", Kernel::Reference)
    ->Apply(sizes);
BENCHMARK_CAPTURE(BM_Encode, nuqsgd, "nuqsgd")->Apply(sizes);
BENCHMARK_CAPTURE(BM_Encode, cgx_stochastic, "cgx-stochastic")->Apply(sizes);
BENCHMARK_CAPTURE(BM_Encode, orq, "orq")->Apply(sizes);
BENCHMARK_CAPTURE(BM_DecodeAccumulate, qsgd, "qsgd")->Apply(sizes);
BENCHMARK_MAIN();
