// `qoda-bench quant --gradients DIR`: variance and bits per coordinate of
// every compressor on real gradients written by bench/record_gradients.py.
// Also fits "layerwise" (one type per tensor, levels by coordinate descent on
// that tensor's histogram) and "global-opt" (one type fitted on the merged
// histogram) so the two can be compared at equal bits, and the layer-wise
// schedule with Huffman and Elias-gap coding. For schedule-based compressors
// it prints the expected code lengths of Analysis.h (index entropy, fixed,
// Huffman, Elias gaps; bits per coordinate for indices and signs only).
// bingrad is measured without its error-feedback memory (a fresh compressor
// per trial), i.e. its one-shot error.
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
    struct Entry {
      std::string name;
      std::string factory;
      CompressorOptions opts;
      bool hasSchedule = false; ///< code lengths from opts.schedule
    };
    std::vector<Entry> entries;
    CompressorOptions o;
    o.bits = b;
    o.bucketSize = bucket;
    for (const char *n :
         {"fp32", "fp16", "bf16", "cgx", "cgx-stochastic", "orq", "bingrad"})
      entries.push_back({n, n, o});
    unsigned s = (1u << b) - 1;
    CompressorOptions q = o;
    q.schedule = singleTypeSchedule(uniformLevels(s), bucket);
    entries.push_back({"qsgd", "qsgd", q, true});
    if (b <= 7) {
      q.schedule = singleTypeSchedule(exponentialLevels(s), bucket);
      entries.push_back({"nuqsgd", "nuqsgd", q, true});
    }
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
    for (Segment &seg : global.segments)
      seg.type = 0;
    q.schedule = global;
    entries.push_back({"global-opt", "layerwise", q, true});
    q.schedule = lw;
    entries.push_back({"layerwise", "layerwise", q, true});
    for (Coding coding : {Coding::Huffman, Coding::EliasGaps}) {
      Schedule coded = lw;
      for (TypeSchedule &t : coded.types)
        t.coding = coding;
      q.schedule = coded;
      entries.push_back(
          {coding == Coding::Huffman ? "layerwise-huffman" : "layerwise-elias",
           "layerwise", q, true});
    }
    for (Entry &e : entries) {
      std::unique_ptr<Compressor> c = makeCompressor(e.factory, e.opts);
      std::vector<uint8_t> msg(c->maxMessageBytes(v.size()));
      double err2 = 0, bytes = 0;
      for (unsigned t = 0; t < trials; ++t) {
        if (e.factory == "bingrad")
          c = makeCompressor(e.factory, e.opts); // no error feedback
        size_t len = c->encode(v.data(), v.size(), {7, t, 0}, msg.data());
        bytes += double(len) / trials;
        std::vector<float> qv(v.size(), 0.0f);
        std::string de =
            c->decodeAccumulate(msg.data(), len, 1.0f, qv.data(), v.size(), t);
        if (!de.empty()) {
          std::fprintf(stderr, "qoda-bench quant: %s: %s\n", e.name.c_str(),
                       de.c_str());
          return 1;
        }
        err2 += squaredDistance(qv.data(), v.data(), v.size()) / trials;
      }
      double bpc = 8.0 * bytes / double(v.size());
      double eps = c->varianceBound();
      CodeLengths cl;
      if (e.hasSchedule)
        cl = expectedCodeLengths(e.opts.schedule, v.data(), v.size());
      if (json) {
        std::printf("{\"gradients\": \"%s\", \"compressor\": \"%s\", "
                    "\"bits\": %u, \"bucket\": %u, \"coords\": %zu, "
                    "\"relative_variance\": %.6g, \"eps_q\": %.6g, "
                    "\"bits_per_coord\": %.4f",
                    dir.c_str(), e.name.c_str(), b, bucket, v.size(),
                    err2 / norm2, eps, bpc);
        if (e.hasSchedule)
          std::printf(", \"index_entropy\": %.4f, \"expected_fixed\": %.4f, "
                      "\"expected_huffman\": %.4f, \"expected_elias\": %.4f, "
                      "\"entropy_bound\": %.4f",
                      cl.entropy, cl.fixedWidth, cl.huffman, cl.eliasGaps,
                      cl.entropyBound);
        std::printf("}\n");
      } else {
        std::printf("%-17s bits=%u bucket=%u E||Q-v||^2/||v||^2=%.4g "
                    "eps_Q=%.4g bits/coord=%.3f",
                    e.name.c_str(), b, bucket, err2 / norm2, eps, bpc);
        if (e.hasSchedule)
          std::printf(" | index H=%.3f expected fixed=%.3f huffman=%.3f "
                      "elias=%.3f bound=%.3f",
                      cl.entropy, cl.fixedWidth, cl.huffman, cl.eliasGaps,
                      cl.entropyBound);
        std::printf("\n");
      }
    }
  }
  return 0;
}
