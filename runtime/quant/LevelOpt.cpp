// Level optimisation: coordinate descent, exact DP, BinGrad split.
#include "qoda/quant/LevelOpt.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace qoda::quant {

void Histogram::add(float u) {
  double x = std::min(1.0, std::max(0.0, double(u)));
  size_t b = std::min(bins() - 1, size_t(x * double(bins())));
  count[b] += 1.0;
  sum[b] += x;
  sumSq[b] += x * x;
}

void Histogram::addVector(const float *v, size_t n, uint32_t bucketSize,
                          bool linf) {
  // Called on every coordinate of every observed vector, so it is written
  // for the compiler to vectorise the norm: eight independent float lanes
  // (a bucket's sum of squares loses nothing that matters to a histogram
  // bin), the bin index and the bin sums per coordinate after it.
  const double scale = double(bins());
  const size_t last = bins() - 1;
  for (size_t b = 0; b < n; b += bucketSize) {
    const size_t e = std::min(n, b + size_t(bucketSize));
    float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = b;
    for (; i + 8 <= e; i += 8)
      for (int l = 0; l < 8; ++l)
        lane[l] = linf ? std::max(lane[l], std::fabs(v[i + l]))
                       : lane[l] + v[i + l] * v[i + l];
    double norm = 0.0;
    for (int l = 0; l < 8; ++l)
      norm = linf ? std::max(norm, double(lane[l])) : norm + double(lane[l]);
    for (; i < e; ++i)
      norm = linf ? std::max(norm, double(std::fabs(v[i])))
                  : norm + double(v[i]) * double(v[i]);
    if (!linf)
      norm = std::sqrt(norm);
    const double inv = norm > 0 ? 1.0 / norm : 0.0;
    for (i = b; i < e; ++i) {
      double x = std::min(1.0, double(std::fabs(v[i])) * inv);
      size_t bin = std::min(last, size_t(x * scale));
      count[bin] += 1.0;
      sum[bin] += x;
      sumSq[bin] += x * x;
    }
  }
}

void Histogram::merge(const Histogram &o) {
  if (o.bins() != bins())
    throw std::invalid_argument("Histogram::merge: bin counts differ");
  for (size_t i = 0; i < bins(); ++i) {
    count[i] += o.count[i];
    sum[i] += o.sum[i];
    sumSq[i] += o.sumSq[i];
  }
}

double Histogram::total() const {
  double t = 0;
  for (double c : count)
    t += c;
  return t;
}

WeightedPoints pointsFromHistogram(const Histogram &h) {
  WeightedPoints p;
  for (size_t i = 0; i < h.bins(); ++i)
    if (h.count[i] > 0) {
      p.value.push_back(h.sum[i] / h.count[i]);
      p.weight.push_back(h.count[i]);
    }
  return p;
}

WeightedPoints pointsFromSamples(std::vector<float> s) {
  std::sort(s.begin(), s.end());
  WeightedPoints p;
  for (float x : s) {
    if (!p.value.empty() && p.value.back() == double(x))
      p.weight.back() += 1.0;
    else {
      p.value.push_back(x);
      p.weight.push_back(1.0);
    }
  }
  return p;
}

double mqvCost(const WeightedPoints &p, const std::vector<float> &l) {
  double c = 0;
  for (size_t i = 0; i < p.value.size(); ++i) {
    double u = p.value[i];
    size_t j =
        size_t(std::upper_bound(l.begin(), l.end(), float(u)) - l.begin());
    j = std::min(std::max<size_t>(j, 1), l.size() - 1);
    c += p.weight[i] * (double(l[j]) - u) * (u - double(l[j - 1]));
  }
  return c;
}

namespace {
/// Prefix sums of w, w x, w x^2 for O(1) interval costs.
struct Prefix {
  std::vector<double> s0{0}, s1{0}, s2{0};
  explicit Prefix(const WeightedPoints &p) {
    for (size_t i = 0; i < p.value.size(); ++i) {
      double w = p.weight[i], x = p.value[i];
      s0.push_back(s0.back() + w);
      s1.push_back(s1.back() + w * x);
      s2.push_back(s2.back() + w * x * x);
    }
  }
};
} // namespace

namespace {
/// The cost-minimising position of a level between neighbours a < b: the
/// data point where the slope of the (piecewise linear, convex) cost changes
/// sign. Slope just right of x_k: sum_{i<=k} w (x_i - a) - sum_{i>k} w (b -
/// x_i), increasing in k: binary search. Returns NAN if no point lies in
/// (a, b) or the point is not representable strictly inside as a float.
float bestLevel(const std::vector<double> &x, const Prefix &pre, float af,
                float bf) {
  double a = af, b = bf;
  size_t lo = size_t(std::upper_bound(x.begin(), x.end(), a) - x.begin());
  size_t hi = size_t(std::lower_bound(x.begin(), x.end(), b) - x.begin());
  if (lo >= hi)
    return NAN;
  auto slope = [&](size_t k) {
    double l0 = pre.s0[k + 1] - pre.s0[lo], l1 = pre.s1[k + 1] - pre.s1[lo];
    double r0 = pre.s0[hi] - pre.s0[k + 1], r1 = pre.s1[hi] - pre.s1[k + 1];
    return (l1 - a * l0) - (b * r0 - r1);
  };
  size_t first = lo, last = hi - 1;
  while (first < last) {
    size_t mid = (first + last) / 2;
    if (slope(mid) >= 0)
      last = mid;
    else
      first = mid + 1;
  }
  float c = float(x[first]);
  return (c > af && c < bf) ? c : NAN;
}

/// One pass of single-level moves; true if the cost went down.
bool sweep(const WeightedPoints &p, const Prefix &pre, std::vector<float> &l) {
  bool changed = false;
  double cur = mqvCost(p, l);
  for (size_t j = 1; j + 1 < l.size(); ++j) {
    float c = bestLevel(p.value, pre, l[j - 1], l[j + 1]);
    if (std::isnan(c) || c == l[j])
      continue;
    // Accept only real improvements (float rounding of the level could
    // otherwise make it worse by a hair, or cycle between ties).
    std::vector<float> trial = l;
    trial[j] = c;
    double t = mqvCost(p, trial);
    if (t < cur) {
      l = std::move(trial);
      cur = t;
      changed = true;
    }
  }
  return changed;
}

/// Escape from a coordinate-wise local minimum: remove one level and insert
/// it at the best position of another interval, if that lowers the cost.
bool relocate(const WeightedPoints &p, const Prefix &pre,
              std::vector<float> &l) {
  double cur = mqvCost(p, l);
  std::vector<float> best;
  double bestCost = cur;
  for (size_t j = 1; j + 1 < l.size(); ++j) {
    std::vector<float> rest = l;
    rest.erase(rest.begin() + long(j));
    for (size_t k = 0; k + 1 < rest.size(); ++k) {
      float c = bestLevel(p.value, pre, rest[k], rest[k + 1]);
      if (std::isnan(c))
        continue;
      std::vector<float> trial = rest;
      trial.insert(trial.begin() + long(k) + 1, c);
      double t = mqvCost(p, trial);
      if (t < bestCost) {
        bestCost = t;
        best = std::move(trial);
      }
    }
  }
  if (best.empty())
    return false;
  l = std::move(best);
  return true;
}
} // namespace

std::vector<float> coordinateDescent(const WeightedPoints &p,
                                     std::vector<float> l, unsigned maxSweeps) {
  Prefix pre(p);
  for (unsigned it = 0; it < maxSweeps; ++it)
    if (!sweep(p, pre, l) && !relocate(p, pre, l))
      break;
  return l;
}

std::vector<float> sweepLevels(const WeightedPoints &p, std::vector<float> l,
                               unsigned maxSweeps) {
  if (p.value.empty() || l.size() <= 2)
    return l;
  Prefix pre(p);
  double cur = mqvCost(p, l);
  for (unsigned it = 0; it < maxSweeps; ++it) {
    std::vector<float> next = l;
    for (size_t j = 1; j + 1 < next.size(); ++j) {
      float c = bestLevel(p.value, pre, next[j - 1], next[j + 1]);
      if (!std::isnan(c))
        next[j] = c;
    }
    if (next == l)
      break;
    double c = mqvCost(p, next);
    if (!(c < cur)) // float rounding of a level can make ties: stop there
      break;
    cur = c;
    l = std::move(next);
  }
  return l;
}

std::vector<float> quantileLevels(const WeightedPoints &p, unsigned numLevels) {
  if (numLevels < 2)
    throw std::invalid_argument("quantileLevels: need >= 2 levels");
  // Mass w * u: the error of a coordinate grows with u, so levels are spread
  // by first moment rather than by count (count quantiles crowd near 0).
  double total = 0;
  for (size_t i = 0; i < p.value.size(); ++i)
    total += p.weight[i] * p.value[i];
  std::vector<float> l{0.0f};
  double acc = 0;
  size_t i = 0;
  for (unsigned j = 1; j + 1 < numLevels; ++j) {
    double target = total * j / (numLevels - 1);
    while (i < p.value.size() && acc + p.weight[i] * p.value[i] < target) {
      acc += p.weight[i] * p.value[i];
      ++i;
    }
    float x = i < p.value.size() ? float(p.value[i]) : 1.0f;
    if (x > l.back() && x < 1.0f)
      l.push_back(x);
  }
  // Too few distinct quantiles: fill the largest gaps with midpoints.
  l.push_back(1.0f);
  while (l.size() < numLevels) {
    size_t g = 0;
    for (size_t k = 1; k + 1 < l.size(); ++k)
      if (l[k + 1] - l[k] > l[g + 1] - l[g])
        g = k;
    l.insert(l.begin() + long(g) + 1, 0.5f * (l[g] + l[g + 1]));
  }
  return l;
}

std::vector<float> exactOptimalLevels(const WeightedPoints &p,
                                      unsigned numLevels) {
  if (numLevels < 2)
    throw std::invalid_argument("exactOptimalLevels: need >= 2 levels");
  WeightedPoints c;
  if (p.value.empty() || p.value.front() > 0.0) {
    c.value.push_back(0.0);
    c.weight.push_back(0.0);
  }
  c.value.insert(c.value.end(), p.value.begin(), p.value.end());
  c.weight.insert(c.weight.end(), p.weight.begin(), p.weight.end());
  if (c.value.back() < 1.0) {
    c.value.push_back(1.0);
    c.weight.push_back(0.0);
  }
  size_t m = c.value.size();
  if (m < numLevels)
    throw std::invalid_argument(
        "exactOptimalLevels: fewer distinct points than levels");
  Prefix pre(c);
  auto cost = [&](size_t a, size_t b) {
    double xa = c.value[a], xb = c.value[b];
    double s0 = pre.s0[b] - pre.s0[a + 1], s1 = pre.s1[b] - pre.s1[a + 1],
           s2 = pre.s2[b] - pre.s2[a + 1];
    return -s2 + (xa + xb) * s1 - xa * xb * s0;
  };
  const double inf = std::numeric_limits<double>::infinity();
  unsigned k = numLevels - 1; // intervals
  std::vector<std::vector<double>> dp(k + 1, std::vector<double>(m, inf));
  std::vector<std::vector<size_t>> arg(k + 1, std::vector<size_t>(m, 0));
  for (size_t b = 1; b < m; ++b)
    dp[1][b] = cost(0, b);
  for (unsigned t = 2; t <= k; ++t)
    for (size_t b = t; b < m; ++b)
      for (size_t a = t - 1; a < b; ++a) {
        double v = dp[t - 1][a] + cost(a, b);
        if (v < dp[t][b]) {
          dp[t][b] = v;
          arg[t][b] = a;
        }
      }
  std::vector<float> l(numLevels);
  size_t b = m - 1;
  for (unsigned t = k; t >= 1; --t) {
    l[t] = float(c.value[b]);
    b = t > 1 ? arg[t][b] : 0;
  }
  l[0] = 0.0f;
  l[k] = 1.0f;
  return l;
}

BinarySplit binGradSplit(std::vector<float> s) {
  if (s.empty())
    throw std::invalid_argument("binGradSplit: no samples");
  std::sort(s.begin(), s.end());
  size_t n = s.size();
  double total = 0, totalSq = 0;
  for (float x : s) {
    total += x;
    totalSq += double(x) * x;
  }
  BinarySplit best{double(s[0]), total / n, total / n,
                   totalSq - total * total / n};
  double left = 0;
  for (size_t k = 1; k < n; ++k) {
    left += s[k - 1];
    if (s[k] == s[k - 1])
      continue; // equal values must map to the same side
    double right = total - left;
    double sse = totalSq - left * left / k - right * right / (n - k);
    if (sse < best.sse)
      best = {0.5 * (double(s[k - 1]) + s[k]), left / k, right / (n - k), sse};
  }
  return best;
}

} // namespace qoda::quant
