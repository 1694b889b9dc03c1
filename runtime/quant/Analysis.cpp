// eps_Q bound, exact expected error, entropy and expected code lengths.
#include "qoda/quant/Analysis.h"

#include "Coding.h"
#include "LevelKernel.h"

#include <algorithm>
#include <cmath>

namespace qoda::quant {

double epsQ(const TypeSchedule &t) {
  if (t.kind != TypeKind::Levels)
    return 0.0;
  const std::vector<float> &l = t.levels;
  double tau = 1.0;
  for (size_t j = 1; j + 1 < l.size(); ++j)
    tau = std::max(tau, double(l[j + 1]) / double(l[j]));
  double l1 = l.size() > 1 ? l[1] : 1.0, d = t.bucketSize;
  return (tau - 1) * (tau - 1) / (4 * tau) +
         std::min(d * l1 * l1 / 4, l1 * std::sqrt(d));
}

double epsQ(const Schedule &s) {
  double e = 0;
  for (const TypeSchedule &t : s.types)
    e = std::max(e, epsQ(t));
  return e;
}

namespace {

/// Calls f(type, j, p) for every coordinate of a level type: the coordinate
/// goes to level j + 1 with probability p, else to level j. Returns the
/// squared bucket norm through f's caller when needed.
template <typename F>
void forEachRounding(const Schedule &s, const float *v, uint64_t n, F &&f) {
  for (const Segment &seg : s.segmentsFor(n)) {
    const TypeSchedule &t = s.types[seg.type];
    if (t.kind != TypeKind::Levels)
      continue;
    detail::LevelTable lt(t);
    for (uint64_t b = 0; b < seg.length; b += t.bucketSize) {
      uint64_t len = std::min<uint64_t>(t.bucketSize, seg.length - b);
      const float *x = v + seg.offset + b;
      uint16_t wire;
      double norm = detail::bucketNormRef(x, len, t, &wire);
      for (uint64_t i = 0; i < len; ++i) {
        double u =
            norm > 0 ? std::min(1.0, std::fabs(double(x[i])) / norm) : 0.0;
        unsigned j = lt.interval(float(u));
        double p = (u - t.levels[j]) / (double(t.levels[j + 1]) - t.levels[j]);
        f(seg.type, j, std::clamp(p, 0.0, 1.0), u, norm);
      }
    }
  }
}

} // namespace

double expectedSquaredError(const Schedule &s, const float *v, uint64_t n) {
  double total = 0;
  forEachRounding(
      s, v, n, [&](uint32_t m, unsigned j, double, double u, double norm) {
        const std::vector<float> &l = s.types[m].levels;
        total += norm * norm * (double(l[j + 1]) - u) * (u - double(l[j]));
      });
  return total;
}

double squaredDistance(const float *a, const float *b, uint64_t n) {
  double s = 0;
  for (uint64_t i = 0; i < n; ++i)
    s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return s;
}

double entropyBitsWeighted(const std::vector<double> &counts) {
  double total = 0, h = 0;
  for (double c : counts)
    total += c;
  for (double c : counts)
    if (c > 0)
      h -= c / total * std::log2(c / total);
  return h;
}

double entropyBits(const std::vector<uint64_t> &counts) {
  return entropyBitsWeighted(std::vector<double>(counts.begin(), counts.end()));
}

std::vector<std::vector<double>>
expectedIndexCounts(const Schedule &s, const float *v, uint64_t n) {
  std::vector<std::vector<double>> counts(s.types.size());
  for (size_t m = 0; m < s.types.size(); ++m)
    if (s.types[m].kind == TypeKind::Levels)
      counts[m].assign(s.types[m].levels.size(), 0.0);
  forEachRounding(s, v, n,
                  [&](uint32_t m, unsigned j, double p, double, double) {
                    counts[m][j] += 1 - p;
                    counts[m][j + 1] += p;
                  });
  return counts;
}

namespace {

/// Total bits (not per coordinate) of one type's expected level-index counts
/// `c` at `ib` index bits: entropy, fixed, huffman, elias, bound. Returns the
/// type's coordinate count (sum of c); 0 when empty.
double typeCodeBits(const std::vector<double> &c, unsigned ib, double bits[5]) {
  double d = 0;
  for (double x : c)
    d += x;
  if (c.empty() || d <= 0)
    return 0;
  double h = entropyBitsWeighted(c), nonzero = (d - c[0]) / d;
  std::vector<uint8_t> len = detail::huffmanLengths(c);
  double huff = 0;
  for (size_t j = 0; j < c.size(); ++j)
    huff += c[j] / d * len[j];
  // E[omega(G)] for G geometric with success probability `nonzero`.
  double omega = 0, mass = 0;
  if (nonzero > 0) {
    double q = 1.0;
    for (uint64_t g = 1; mass < 1 - 1e-12 && g < (uint64_t(1) << 26); ++g) {
      double pg = nonzero * q;
      omega += pg * detail::eliasOmegaBits(g);
      mass += pg;
      q *= 1 - nonzero;
    }
  }
  bits[0] += d * h;
  bits[1] += d * (ib + 1);
  bits[2] += d * (huff + nonzero);
  bits[3] += d * nonzero * (omega + ib + 1) +
             detail::eliasOmegaBits(uint64_t(d * nonzero) + 1);
  bits[4] += d * (h + nonzero);
  return d;
}

void finish(CodeLengths &r, const double bits[5]) {
  if (!r.coords)
    return;
  double d = double(r.coords);
  r.entropy = bits[0] / d;
  r.fixedWidth = bits[1] / d;
  r.huffman = bits[2] / d;
  r.eliasGaps = bits[3] / d;
  r.entropyBound = bits[4] / d;
}

} // namespace

CodeLengths expectedCodeLengths(const Schedule &s, const float *v, uint64_t n) {
  CodeLengths r;
  std::vector<std::vector<double>> counts = expectedIndexCounts(s, v, n);
  double bits[5] = {0, 0, 0, 0, 0}; // entropy, fixed, huffman, elias, bound
  for (size_t m = 0; m < s.types.size(); ++m) {
    double d = typeCodeBits(counts[m], s.types[m].indexBits(), bits);
    if (d > 0)
      r.coords += uint64_t(std::llround(d));
  }
  finish(r, bits);
  return r;
}

CodeLengths typeCodeLengths(const std::vector<double> &counts,
                            unsigned indexBits) {
  CodeLengths r;
  double bits[5] = {0, 0, 0, 0, 0};
  double d = typeCodeBits(counts, indexBits, bits);
  if (d > 0)
    r.coords = uint64_t(std::llround(d));
  finish(r, bits);
  return r;
}

std::vector<double> expectedIndexCounts(const WeightedPoints &p,
                                        const std::vector<float> &levels,
                                        double numCoords) {
  std::vector<double> counts(levels.size(), 0.0);
  if (levels.size() < 2)
    return counts;
  double total = 0;
  for (double w : p.weight)
    total += w;
  if (total <= 0 || numCoords <= 0)
    return counts;
  double scale = numCoords / total;
  for (size_t i = 0; i < p.value.size(); ++i) {
    double u = std::clamp(p.value[i], 0.0, 1.0), w = p.weight[i] * scale;
    // Interval j with levels[j] <= u < levels[j + 1] (u = 1: the last one).
    size_t j = size_t(std::upper_bound(levels.begin(), levels.end(), float(u)) -
                      levels.begin());
    j = std::min(std::max<size_t>(j, 1), levels.size() - 1) - 1;
    double lo = levels[j], hi = levels[j + 1];
    double q = hi > lo ? std::clamp((u - lo) / (hi - lo), 0.0, 1.0) : 0.0;
    counts[j] += w * (1 - q);
    counts[j + 1] += w * q;
  }
  return counts;
}

CodeLengths expectedCodeLengths(const WeightedPoints &p,
                                const std::vector<float> &levels,
                                unsigned indexBits, double numCoords) {
  return typeCodeLengths(expectedIndexCounts(p, levels, numCoords), indexBits);
}

} // namespace qoda::quant
