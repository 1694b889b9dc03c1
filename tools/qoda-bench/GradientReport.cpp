// `qoda-bench quant --gradients DIR`: variance and bits per coordinate of
// every compressor on real gradients written by bench/record_gradients.py.
// Also fits "layerwise" (one type per tensor, levels by coordinate descent on
// that tensor's histogram) and "global-opt" (one type fitted on the merged
// histogram) so the two can be compared at equal bits.
#include "GradientReport.h"

#include "qoda/quant/Analysis.h"
#include "qoda/quant/Compressor.h"
#include "qoda/quant/LevelOpt.h"

#include <cstdio>
#include <fstream>
#include <sstream>

using namespace qoda::quant;

namespace {

struct Tensor {
  std::string name;
  std::vector<float> data;
};

std::string loadGradients(const std::string &dir, std::vector<Tensor> &out) {
  std::ifstream m(dir + "/manifest.txt");
  if (!m)
    return "cannot open " + dir +
           "/manifest.txt (run bench/record_gradients.py DIR first)";
  std::string line;
  while (std::getline(m, line)) {
    std::istringstream is(line);
    Tensor t;
    size_t count = 0;
    if (!(is >> t.name >> count) || count == 0)
      return "bad manifest line '" + line + "' (want '<file> <count>')";
    std::ifstream f(dir + "/" + t.name, std::ios::binary | std::ios::ate);
    if (!f || size_t(f.tellg()) != count * 4)
      return dir + "/" + t.name + ": missing or not " +
             std::to_string(count * 4) + " bytes";
    f.seekg(0);
    t.data.resize(count);
    f.read(reinterpret_cast<char *>(t.data.data()), std::streamsize(count * 4));
    out.push_back(std::move(t));
  }
  return out.empty() ? "manifest lists no tensors" : "";
}

/// Levels fitted to one histogram with 2^bits levels.
std::vector<float> fit(const Histogram &h, unsigned bits) {
  WeightedPoints p = pointsFromHistogram(h);
  unsigned levels = 1u << bits;
  if (p.value.size() + 2 < levels)
    return uniformLevels(levels - 1); // too little data to fit
  return coordinateDescent(p, quantileLevels(p, levels));
}

} // namespace

int runGradientReport(const std::string &dir, const std::vector<unsigned> &bits,
                      uint32_t bucket, bool json) {
  std::vector<Tensor> ts;
  std::string err = loadGradients(dir, ts);
  if (!err.empty()) {
    std::fprintf(stderr, "qoda-bench quant --gradients: %s\n", err.c_str());
    return 2;
  }
  std::vector<float> v;
  Schedule layout;
  for (const Tensor &t : ts) {
    layout.segments.push_back(
        {v.size(), t.data.size(), uint32_t(layout.segments.size())});
    v.insert(v.end(), t.data.begin(), t.data.end());
  }
  double norm2 = 0;
  for (float x : v)
    norm2 += double(x) * x;
  const unsigned trials = 20;
  for (unsigned b : bits) {
    std::vector<std::pair<std::string, std::unique_ptr<Compressor>>> cs;
    CompressorOptions o;
    o.bits = b;
    o.bucketSize = bucket;
    for (const char *n : {"fp32", "fp16", "bf16", "qsgd", "nuqsgd"})
      cs.emplace_back(n, makeCompressor(n, o));
    // Layer-wise: one type per tensor; global: the same segments, one type.
    Schedule lw = layout, global = layout;
    Histogram all;
    for (size_t k = 0; k < ts.size(); ++k) {
      Histogram h;
      h.addVector(ts[k].data.data(), ts[k].data.size(), bucket, false);
      all.merge(h);
      TypeSchedule t;
      t.levels = fit(h, b);
      t.bucketSize = bucket;
      lw.types.push_back(t);
    }
    TypeSchedule g;
    g.levels = fit(all, b);
    g.bucketSize = bucket;
    global.types = {g};
    for (Segment &s : global.segments)
      s.type = 0;
    o.schedule = lw;
    cs.emplace_back("layerwise", makeCompressor("layerwise", o));
    o.schedule = global;
    cs.emplace_back("global-opt", makeCompressor("layerwise", o));
    for (auto &[name, c] : cs) {
      std::vector<uint8_t> msg(c->maxMessageBytes(v.size()));
      double err2 = 0;
      size_t len = 0;
      for (unsigned t = 0; t < trials; ++t) {
        len = c->encode(v.data(), v.size(), {7, t, 0}, msg.data());
        std::vector<float> q(v.size(), 0.0f);
        std::string e =
            c->decodeAccumulate(msg.data(), len, 1.0f, q.data(), v.size(), t);
        if (!e.empty()) {
          std::fprintf(stderr, "qoda-bench quant: %s: %s\n", name.c_str(),
                       e.c_str());
          return 1;
        }
        err2 += squaredDistance(q.data(), v.data(), v.size()) / trials;
      }
      double bpc = 8.0 * double(len) / double(v.size());
      double eps = c->varianceBound();
      if (json)
        std::printf("{\"gradients\": \"%s\", \"compressor\": \"%s\", "
                    "\"bits\": %u, \"bucket\": %u, \"coords\": %zu, "
                    "\"relative_variance\": %.6g, \"eps_q\": %.6g, "
                    "\"bits_per_coord\": %.4f}\n",
                    dir.c_str(), name.c_str(), b, bucket, v.size(),
                    err2 / norm2, eps, bpc);
      else
        std::printf("%-10s bits=%u bucket=%u E||Q-v||^2/||v||^2=%.4g "
                    "eps_Q=%.4g bits/coord=%.3f\n",
                    name.c_str(), b, bucket, err2 / norm2, eps, bpc);
    }
  }
  return 0;
}
