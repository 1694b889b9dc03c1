// `qoda-bench quant`: throughput of the quantization kernels against plain
// memory passes measured in the same run (the machine is shared and noisy, so
// only ratios to the same-run baselines are meaningful). GB/s counts fp32
// input bytes (4 n). The baselines run on one thread; kernels on --threads.
#include "GradientReport.h"
#include "qoda/quant/Compressor.h"
// The encoder's Philox generator, both builds (philox_gbps).
#include "qoda/quant/LevelVec.h"
#define QODA_LEVELVEC_AVX512VL 1
#include "qoda/quant/LevelVec.h"

#include <algorithm>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

using namespace qoda::quant;

namespace {

struct Options {
  bool json = false;
  bool quick = false;
  size_t minSize = 64 << 10;
  size_t maxSize = size_t(256) << 20;
  std::vector<std::string> compressors{"qsgd"};
  std::vector<unsigned> bits{4};
  std::vector<unsigned> threads{1};
  Kernel kernel = Kernel::Fast;
  uint32_t bucket = 1024;
  unsigned peers = 4;
  double minSeconds = 0.2;
  std::string gradients; ///< directory from bench/record_gradients.py
};

void usage(FILE *out) {
  std::fprintf(
      out,
      "usage: qoda-bench quant [--json] [--quick] [--min-size BYTES]\n"
      "         [--max-size BYTES] [--compressors a,b,...] [--bits b,...]\n"
      "         [--bucket N] [--peers K] [--min-time SECONDS]\n"
      "         [--threads t,...] [--kernel fast|reference]\n"
      "       qoda-bench quant --gradients DIR [--json] [--bits b,...]\n"
      "         [--bucket N]   (variance and bits/coord on recorded "
      "gradients)\n"
      "Sizes (fp32 input bytes; K/M/G suffixes) go up by 4x from min to max.\n"
      "--quick: 64 KiB..1 MiB, 10 ms per measurement (smoke test).\n"
      "layerwise: segments of 256 Ki coordinates alternating between a\n"
      "uniform-levels type and a non-uniform one ((j/s)^2), both with\n"
      "2^bits levels and the given bucket.\n"
      "GB/s count fp32 input bytes (4 per coordinate); *_cpu_gbps per CPU\n"
      "second of the process. read/memcpy: one-thread passes over the input.\n"
      "philox_gbps / philox_cpu_gbps: the level encoder's vector Philox\n"
      "generator alone (the build the encoder picks on this CPU) making the\n"
      "16 random bits of every coordinate, consumed by an xor-fold: a bound\n"
      "no quantize kernel can beat; philox_time_over_read_cpu: its CPU time\n"
      "over the read pass's (quantize at 0.5x read has a budget of 2.0).\n"
      "The philox fields are null on a CPU without AVX2.\n");
}

/// The `layerwise` configuration of the throughput runs: what a schedule of
/// many tensors looks like to the kernels, i.e. short segments switching
/// between a type that takes the uniform rule and one that needs the
/// interval search.
Schedule layerwiseBenchSchedule(size_t n, unsigned bits, uint32_t bucket) {
  unsigned s = (1u << bits) - 1;
  Schedule sc;
  TypeSchedule uniform;
  uniform.levels = uniformLevels(s);
  uniform.bucketSize = bucket;
  TypeSchedule curved = uniform;
  for (unsigned j = 1; j < s; ++j)
    curved.levels[j] = float(j) * float(j) / (float(s) * float(s));
  sc.types = {uniform, curved};
  const size_t seg = size_t(1) << 18;
  for (size_t at = 0, k = 0; at < n; at += seg, ++k)
    sc.segments.push_back({at, std::min(seg, n - at), uint32_t(k % 2)});
  return sc;
}

bool parseSize(const char *s, size_t &out) {
  char *end;
  double v = std::strtod(s, &end);
  if (end == s || v <= 0)
    return false;
  double mult = 1;
  if (*end == 'K' || *end == 'k')
    mult = 1024.0, ++end;
  else if (*end == 'M' || *end == 'm')
    mult = 1024.0 * 1024, ++end;
  else if (*end == 'G' || *end == 'g')
    mult = 1024.0 * 1024 * 1024, ++end;
  if (*end)
    return false;
  out = size_t(v * mult);
  return out >= 4;
}

std::vector<std::string> splitList(const char *s) {
  std::vector<std::string> out;
  std::string cur;
  for (const char *p = s;; ++p) {
    if (*p == ',' || !*p) {
      if (!cur.empty())
        out.push_back(cur);
      cur.clear();
      if (!*p)
        break;
    } else {
      cur += *p;
    }
  }
  return out;
}

/// Seconds per call: wall clock, and CPU time of the whole process (all
/// threads). On a shared, oversubscribed machine the wall clock mostly
/// measures scheduling; the CPU time measures the work (for one thread the
/// two agree on an idle machine).
struct Timing {
  double wall = 0, cpu = 0;
};

double processCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

/// Repeats f until minSeconds of wall time have passed.
template <typename F> Timing timeIt(F &&f, double minSeconds) {
  using Clock = std::chrono::steady_clock;
  f(); // warm-up (page faults, caches)
  unsigned reps = 0;
  auto t0 = Clock::now();
  double c0 = processCpuSeconds();
  double elapsed = 0;
  do {
    f();
    ++reps;
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (elapsed < minSeconds);
  return {elapsed / reps, (processCpuSeconds() - c0) / reps};
}

volatile float gSink;        // keeps the read pass from being optimised away
volatile uint32_t gWordSink; // the same for the generator pass

/// The level encoder's vector Philox generator alone for coordinates
/// [0, n), in the build encodeSegment picks on this CPU, its output consumed
/// (xor-folded); false when this CPU has no AVX2 (no vector generator).
bool philoxPass(size_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  namespace lv = levelvec;
  if (lv::cpuHasAvx512vl())
    gWordSink = lv::avx512vl::philoxFold({1, 0, 0}, 0, n);
  else if (lv::cpuHasAvx2())
    gWordSink = lv::avx2::philoxFold({1, 0, 0}, 0, n);
  else
    return false;
  return true;
#else
  (void)n;
  return false;
#endif
}

/// The read baseline: a sum over the buffer that runs at the memory's (or
/// the cache's) read bandwidth. A plain scalar loop with a few float
/// accumulators is bound by the add latency instead (one 4-wide add chain:
/// ~18 GB/s on this machine at every size, against 22 GB/s from DRAM and
/// 50-80 GB/s from cache with independent vector accumulators), which
/// would make every kernel look closer to "read" than it is.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) float readPassAvx2(const float *v, size_t n) {
  __m256 acc[8];
  for (__m256 &a : acc)
    a = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (int k = 0; k < 8; ++k)
      acc[k] = _mm256_add_ps(acc[k], _mm256_loadu_ps(v + i + 8 * k));
  for (int k = 1; k < 8; ++k)
    acc[0] = _mm256_add_ps(acc[0], acc[k]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc[0]);
  float s = 0;
  for (float x : lanes)
    s += x;
  for (; i < n; ++i)
    s += v[i];
  return s;
}
#endif

float readPass(const float *v, size_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx2"))
    return readPassAvx2(v, n);
#endif
  float s[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k)
      s[k] += v[i + k];
  for (; i < n; ++i)
    s[0] += v[i];
  return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

} // namespace

int runQuantBench(int argc, char **argv) {
  Options o;
  bool maxGiven = false;
  std::string throughputOnly; ///< an option --gradients mode does not use
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char *what) -> const char * {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "qoda-bench quant: %s needs a value\n", what);
        std::exit(2);
      }
      return argv[++i];
    };
    auto bad = [&](const std::string &what, const char *v) {
      std::fprintf(stderr, "qoda-bench quant: bad value '%s' for %s\n", v,
                   what.c_str());
      usage(stderr);
      return 2;
    };
    if (a == "--json") {
      o.json = true;
    } else if (a == "--gradients") {
      o.gradients = value("--gradients");
    } else if (a == "--quick") {
      throughputOnly = a;
      o.quick = true;
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--min-size") {
      throughputOnly = a;
      const char *v = value("--min-size");
      if (!parseSize(v, o.minSize))
        return bad(a, v);
    } else if (a == "--max-size") {
      throughputOnly = a;
      const char *v = value("--max-size");
      if (!parseSize(v, o.maxSize))
        return bad(a, v);
      maxGiven = true;
    } else if (a == "--compressors") {
      throughputOnly = a;
      o.compressors = splitList(value("--compressors"));
    } else if (a == "--bits") {
      const char *v = value("--bits");
      o.bits.clear();
      for (const std::string &b : splitList(v)) {
        int x = std::atoi(b.c_str());
        if (x < 1 || x > 8)
          return bad(a, v);
        o.bits.push_back(unsigned(x));
      }
    } else if (a == "--threads") {
      throughputOnly = a;
      const char *v = value("--threads");
      o.threads.clear();
      for (const std::string &t : splitList(v)) {
        int x = std::atoi(t.c_str());
        if (x < 1 || x > 256)
          return bad(a, v);
        o.threads.push_back(unsigned(x));
      }
      if (o.threads.empty())
        return bad(a, v);
    } else if (a == "--kernel") {
      throughputOnly = a;
      std::string v = value("--kernel");
      if (v == "fast")
        o.kernel = Kernel::Fast;
      else if (v == "reference")
        o.kernel = Kernel::Reference;
      else
        return bad(a, v.c_str());
    } else if (a == "--bucket") {
      const char *v = value("--bucket");
      long x = std::atol(v);
      if (x < 1 || x > (1 << 24))
        return bad(a, v);
      o.bucket = uint32_t(x);
    } else if (a == "--peers") {
      throughputOnly = a;
      const char *v = value("--peers");
      int x = std::atoi(v);
      if (x < 1 || x > 64)
        return bad(a, v);
      o.peers = unsigned(x);
    } else if (a == "--min-time") {
      throughputOnly = a;
      const char *v = value("--min-time");
      o.minSeconds = std::atof(v);
      if (!(o.minSeconds > 0 && o.minSeconds < 60))
        return bad(a, v);
    } else {
      std::fprintf(stderr, "qoda-bench quant: unknown option '%s'\n",
                   a.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (!o.gradients.empty()) {
    if (!throughputOnly.empty()) {
      std::fprintf(stderr,
                   "qoda-bench quant: %s does not apply with --gradients "
                   "(which takes --json, --bits and --bucket)\n",
                   throughputOnly.c_str());
      return 2;
    }
    return runGradientReport(o.gradients, o.bits, o.bucket, o.json);
  }
  if (o.quick) {
    o.minSeconds = 0.01;
    if (!maxGiven)
      o.maxSize = 1 << 20;
  }
  if (o.minSize > o.maxSize) {
    std::fprintf(stderr, "qoda-bench quant: --min-size exceeds --max-size\n");
    return 2;
  }

  for (size_t bytes = o.minSize; bytes <= o.maxSize; bytes *= 4) {
    size_t n = bytes / 4;
    std::vector<float> v(n), dst(n), sum(n, 0.0f);
    std::mt19937 g(1);
    std::normal_distribution<float> d;
    for (float &x : v)
      x = d(g);
    Timing tRead =
        timeIt([&] { gSink = readPass(v.data(), n); }, o.minSeconds);
    Timing tCopy =
        timeIt([&] { std::memcpy(dst.data(), v.data(), n * 4); }, o.minSeconds);
    // The bound no kernel choice removes: 16 random bits per coordinate.
    const bool havePhilox = philoxPass(1);
    Timing tPhilox;
    if (havePhilox)
      tPhilox = timeIt([&] { philoxPass(n); }, o.minSeconds);
    for (const std::string &name : o.compressors) {
      for (unsigned b : o.bits) {
        for (unsigned th : o.threads) {
          CompressorOptions co;
          co.bits = b;
          co.bucketSize = o.bucket;
          co.threads = th;
          co.kernel = o.kernel;
          if (name == "layerwise")
            co.schedule = layerwiseBenchSchedule(n, b, o.bucket);
          std::unique_ptr<Compressor> c;
          try {
            c = makeCompressor(name, co);
          } catch (const std::exception &e) {
            std::fprintf(stderr, "qoda-bench quant: %s\n", e.what());
            return 2;
          }
          std::vector<std::vector<uint8_t>> msgs(o.peers);
          for (unsigned k = 0; k < o.peers; ++k) {
            msgs[k].resize(c->maxMessageBytes(n));
            msgs[k].resize(c->encode(v.data(), n, {1, 0, k}, msgs[k].data()));
          }
          std::vector<uint8_t> out(c->maxMessageBytes(n));
          Timing tQuant = timeIt(
              [&] {
                c->encode(v.data(), n, {1, 0, 0}, out.data());
              },
              o.minSeconds);
          std::string err;
          Timing tDecode = timeIt(
              [&] {
                for (unsigned k = 0; k < o.peers && err.empty(); ++k)
                  err = c->decodeAccumulate(msgs[k].data(), msgs[k].size(),
                                            1.0f / o.peers, sum.data(), n, 0);
              },
              o.minSeconds);
          if (!err.empty()) {
            std::fprintf(stderr, "qoda-bench quant: decode failed: %s\n",
                         err.c_str());
            return 1;
          }
          double gb = double(n) * 4 / 1e9;
          // decode_accumulate_gbps: fp32 bytes of all K peers' vectors per
          // second, i.e. K * 4 n / time.
          double bitsPerCoord = 8.0 * double(msgs[0].size()) / double(n);
          std::string kernel =
              o.kernel == Kernel::Reference ? "reference" : fastKernelName();
          double q = gb / tQuant.wall, d = gb * o.peers / tDecode.wall,
                 r = gb / tRead.wall, m = gb / tCopy.wall;
          double qc = gb / tQuant.cpu, dc = gb * o.peers / tDecode.cpu,
                 rc = gb / tRead.cpu, mc = gb / tCopy.cpu;
          // Generator GB/s (wall, CPU) as JSON numbers, or null without one.
          char ph[96] = "null", phc[96] = "null", phr[96] = "null";
          if (havePhilox) {
            std::snprintf(ph, sizeof ph, "%.3f", gb / tPhilox.wall);
            std::snprintf(phc, sizeof phc, "%.3f", gb / tPhilox.cpu);
            std::snprintf(phr, sizeof phr, "%.4f", tPhilox.cpu / tRead.cpu);
          }
          if (o.json)
            std::printf(
                "{\"compressor\": \"%s\", \"bits\": %u, \"bucket\": %u, "
                "\"threads\": %u, \"kernel\": \"%s\", \"bytes\": %zu, "
                "\"peers\": %u, \"bits_per_coord\": %.4f, "
                "\"quantize_gbps\": %.3f, \"decode_accumulate_gbps\": %.3f, "
                "\"read_gbps\": %.3f, \"memcpy_gbps\": %.3f, "
                "\"quantize_over_read\": %.4f, "
                "\"decode_accumulate_over_read\": %.4f, "
                "\"quantize_cpu_gbps\": %.3f, "
                "\"decode_accumulate_cpu_gbps\": %.3f, "
                "\"read_cpu_gbps\": %.3f, \"memcpy_cpu_gbps\": %.3f, "
                "\"quantize_over_read_cpu\": %.4f, \"philox_gbps\": %s, "
                "\"philox_cpu_gbps\": %s, \"philox_time_over_read_cpu\": "
                "%s}\n",
                name.c_str(), b, o.bucket, th, kernel.c_str(), bytes, o.peers,
                bitsPerCoord, q, d, r, m, q / r, d / r, qc, dc, rc, mc, qc / rc,
                ph, phc, phr);
          else
            std::printf("%-14s bits=%u bucket=%u threads=%u kernel=%s "
                        "size=%zuB quantize=%.2f decode_acc=%.2f read=%.2f "
                        "memcpy=%.2f GB/s (quantize/read=%.3f; CPU time: "
                        "quantize=%.2f read=%.2f philox=%s GB/s)\n",
                        name.c_str(), b, o.bucket, th, kernel.c_str(), bytes, q,
                        d, r, m, q / r, qc, rc, phc);
          std::fflush(stdout);
        }
      }
    }
  }
  return 0;
}
