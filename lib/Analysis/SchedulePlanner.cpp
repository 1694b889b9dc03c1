//===- SchedulePlanner.cpp - layer types, levels and bit allocation -------===//
#include "qoda/Analysis/SchedulePlanner.h"
#include "qoda/quant/Analysis.h"
#include "qoda/quant/Schedule.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace qoda::analysis {

static std::string formatNum(double v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// ---- level fitting ------------------------------------------------------

std::vector<float> fitLevelsFast(const quant::WeightedPoints &p,
                                 std::vector<float> l, unsigned maxSweeps) {
  return quant::sweepLevels(p, std::move(l), maxSweeps);
}

static std::vector<float> initialLevels(const quant::WeightedPoints &p,
                                        unsigned bits) {
  unsigned n = 1u << bits;
  if (p.value.empty()) {
    std::vector<float> l = quant::uniformLevels(n - 1);
    return l;
  }
  return quant::quantileLevels(p, n);
}

// ---- planner ------------------------------------------------------------

SchedulePlanner::SchedulePlanner(std::vector<PlanParam> params,
                                 PlannerOptions opts)
    : params_(std::move(params)), opts_(opts) {
  opts_.maxBits = std::max(1u, std::min(opts_.maxBits, 8u));
  for (const PlanParam &p : params_) {
    totalEnergy_ += p.stats.energy;
    numCoords_ += p.f.numel;
    if (p.small)
      smallCoords_ += p.f.numel;
  }
}

SchedulePlanner::Table &
SchedulePlanner::tableFor(const std::vector<unsigned> &members) {
  auto it = tables_.find(members);
  if (it != tables_.end())
    return it->second;
  Table t;
  UDist dist;
  for (unsigned i : members) {
    t.energy += params_[i].stats.energy;
    t.numel += params_[i].f.numel;
  }
  for (unsigned i : members) {
    double s = t.energy > 0 ? params_[i].stats.energy / t.energy
                            : 1.0 / double(members.size());
    dist.addScaled(params_[i].stats.dist, s);
  }
  t.points = dist.points();
  t.levels.resize(opts_.maxBits);
  t.cost.assign(opts_.maxBits, -1.0); // < 0: not fitted yet
  return tables_.emplace(members, std::move(t)).first->second;
}

void SchedulePlanner::fit(Table &t, unsigned b) {
  if (t.cost[b - 1] >= 0)
    return;
  std::vector<float> best = fitLevelsFast(t.points, initialLevels(t.points, b));
  double bestCost = quant::mqvCost(t.points, best);
  // Warm start from the global quantizer's levels too: the type's levels
  // are then never worse than the global ones on its own distribution.
  const auto &global = globalLevels();
  if (b - 1 < global.size()) {
    std::vector<float> g = fitLevelsFast(t.points, global[b - 1]);
    double gc = quant::mqvCost(t.points, g);
    if (gc < bestCost) {
      best = std::move(g);
      bestCost = gc;
    }
  }
  // Narrow indices: polish with the library's coordinate descent, whose
  // relocation moves leave the local minima the sweeps can stop in (cheap
  // at <= 16 levels; wider tables are polished only once chosen).
  if (b <= 4 && best.size() > 2 && !t.points.value.empty()) {
    std::vector<float> l = quant::coordinateDescent(t.points, best, 100);
    double c = quant::mqvCost(t.points, l);
    if (c < bestCost) {
      best = std::move(l);
      bestCost = c;
    }
  }
  t.levels[b - 1] = std::move(best);
  t.cost[b - 1] = bestCost;
}

double SchedulePlanner::costAt(Table &t, unsigned b) {
  fit(t, b);
  return t.cost[b - 1];
}

const std::vector<float> &SchedulePlanner::levelsAt(Table &t, unsigned b) {
  fit(t, b);
  return t.levels[b - 1];
}

const std::vector<std::vector<float>> &SchedulePlanner::globalLevels() {
  if (!globalLevels_.empty())
    return globalLevels_;
  double energy = 0;
  for (const PlanParam &p : params_)
    if (!p.small)
      energy += p.stats.energy;
  unsigned count = 0;
  for (const PlanParam &p : params_)
    count += p.small ? 0 : 1;
  UDist dist;
  for (const PlanParam &p : params_)
    if (!p.small)
      dist.addScaled(p.stats.dist,
                     energy > 0 ? p.stats.energy / energy : 1.0 / count);
  quant::WeightedPoints pts = dist.points();
  for (unsigned b = 1; b <= opts_.maxBits; ++b)
    globalLevels_.push_back(fitLevelsFast(pts, initialLevels(pts, b)));
  return globalLevels_;
}

std::vector<int64_t>
SchedulePlanner::bucketsPerType(const std::vector<int> &typeOf,
                                unsigned numTypes) const {
  // Buckets restart at every segment: a run of adjacent parameters of one
  // type (docs/schedule.md).
  std::vector<int64_t> nb(numTypes, 0);
  int64_t bucket = opts_.bucket;
  for (size_t i = 0; i < params_.size();) {
    int t = typeOf[i];
    int64_t len = 0;
    size_t j = i;
    while (j < params_.size() && typeOf[j] == t)
      len += params_[j++].f.numel;
    if (t >= 0)
      nb[t] += (len + bucket - 1) / bucket;
    i = j;
  }
  return nb;
}

double SchedulePlanner::minimumBudget() const {
  std::vector<int> typeOf;
  int64_t compressed = 0;
  for (const PlanParam &p : params_) {
    typeOf.push_back(p.small ? -1 : 0);
    compressed += p.small ? 0 : p.f.numel;
  }
  int64_t nb = bucketsPerType(typeOf, 1)[0];
  double bits = 2.0 * compressed + 32.0 * nb + 32.0 * smallCoords_;
  return numCoords_ ? bits / numCoords_ : 0.0;
}

mlir::FailureOr<SchedulePlan>
SchedulePlanner::plan(const std::vector<int> &typeOf, unsigned numTypes,
                      bool polish, std::string &error) {
  SchedulePlan out;
  out.numCoords = numCoords_;
  out.smallCoords = smallCoords_;
  if (numCoords_ == 0) {
    error = "the model has no trainable parameters";
    return mlir::failure();
  }
  double budget = opts_.budgetBits * double(numCoords_);

  // Per type: members, table, sizes.
  std::vector<std::vector<unsigned>> members(numTypes);
  for (size_t i = 0; i < params_.size(); ++i)
    if (typeOf[i] >= 0)
      members[typeOf[i]].push_back(unsigned(i));
  std::vector<Table *> tables;
  for (unsigned m = 0; m < numTypes; ++m)
    tables.push_back(&tableFor(members[m]));
  std::vector<int64_t> nb = bucketsPerType(typeOf, numTypes);
  double fixed = 32.0 * double(smallCoords_);
  int64_t compressed = 0;
  for (unsigned m = 0; m < numTypes; ++m) {
    fixed += double(tables[m]->numel) + 32.0 * double(nb[m]); // sign + norms
    compressed += tables[m]->numel;
  }
  double avail = budget - fixed; // for level indices
  if (avail + 1e-6 < double(compressed)) {
    error = "a budget of " + formatNum(opts_.budgetBits) +
            " bits per coordinate is below what this schedule needs (" +
            formatNum((fixed + double(compressed)) / numCoords_) +
            ": 1 index bit and a sign bit per compressed coordinate, a 32-bit "
            "norm per bucket, 32 bits per uncompressed coordinate)";
    return mlir::failure();
  }
  auto shareOf = [&](unsigned m) {
    return totalEnergy_ > 0 ? tables[m]->energy / totalEnergy_ : 0.0;
  };

  // Knapsack (L-GreCo style): choose bits b_m per type minimising
  // sum_m share_m * cost_m(b_m) subject to sum_m numel_m * b_m <= avail.
  // Exact: a dynamic program over the Pareto front of (index bits used,
  // variance) after each type; dominated partial choices are dropped, so the
  // front stays small (at most maxBits^M, in practice hundreds).
  struct State {
    double bits, var;
    int prev;
    unsigned char b;
  };
  const size_t kMaxStates = 1 << 16;
  std::vector<std::vector<State>> front(numTypes + 1);
  front[0].push_back({0.0, 0.0, -1, 0});
  for (unsigned m = 0; m < numTypes; ++m) {
    std::vector<State> next;
    for (size_t i = 0; i < front[m].size(); ++i)
      for (unsigned b = 1; b <= opts_.maxBits; ++b) {
        double w = front[m][i].bits + double(tables[m]->numel) * b;
        if (w > avail + 1e-6)
          continue;
        next.push_back({w, front[m][i].var + shareOf(m) * costAt(*tables[m], b),
                        int(i), (unsigned char)b});
      }
    std::sort(next.begin(), next.end(), [](const State &x, const State &y) {
      if (x.bits != y.bits)
        return x.bits < y.bits;
      if (x.var != y.var)
        return x.var < y.var;
      return x.prev != y.prev ? x.prev < y.prev : x.b < y.b;
    });
    std::vector<State> pruned;
    for (const State &st : next)
      if (pruned.empty() || st.var < pruned.back().var)
        pruned.push_back(st);
    if (pruned.size() > kMaxStates) {
      // Thin deterministically, keeping the cheapest state and every k-th.
      std::vector<State> thin;
      size_t step = (pruned.size() + kMaxStates - 1) / kMaxStates;
      for (size_t i = 0; i < pruned.size(); i += step)
        thin.push_back(pruned[i]);
      if (thin.back().bits != pruned.back().bits)
        thin.push_back(pruned.back());
      pruned = std::move(thin);
    }
    front[m + 1] = std::move(pruned);
  }
  std::vector<unsigned> bits(numTypes, 1);
  if (!front[numTypes].empty()) {
    // The front is sorted by bits with decreasing variance: the last state
    // has the least variance.
    int idx = int(front[numTypes].size()) - 1;
    for (unsigned m = numTypes; m > 0; --m) {
      const State &st = front[m][idx];
      bits[m - 1] = st.b;
      idx = st.prev;
    }
  }

  double totalBits = fixed;
  for (unsigned m = 0; m < numTypes; ++m) {
    Table &t = *tables[m];
    TypePlan tp;
    tp.bits = bits[m];
    tp.levels = levelsAt(t, bits[m]);
    tp.variance = costAt(t, bits[m]);
    if (polish && tp.levels.size() > 2 && !t.points.value.empty()) {
      // The library's coordinate descent (with relocation moves) from the
      // fast fit: it only ever lowers the cost.
      // Relocation moves cost O(levels^2 * points) each: bounded rounds
      // for wide indices.
      std::vector<float> l =
          quant::coordinateDescent(t.points, tp.levels, tp.bits <= 4 ? 50 : 4);
      double c = quant::mqvCost(t.points, l);
      if (c < tp.variance) {
        tp.levels = std::move(l);
        tp.variance = c;
      }
    }
    tp.energyShare = shareOf(m);
    tp.numel = t.numel;
    // Coding: fixed width unless auto coding finds a shorter expected code
    // (expected level-index counts of the type's distribution; ties stay
    // fixed, then huffman).
    tp.codeBits = double(bits[m]) + 1.0;
    if (opts_.autoCoding && t.numel > 0 && !t.points.value.empty()) {
      quant::CodeLengths cl = quant::expectedCodeLengths(
          t.points, tp.levels, tp.bits, double(t.numel));
      if (cl.coords) {
        if (cl.huffman < tp.codeBits - 1e-9) {
          tp.codeBits = cl.huffman;
          tp.coding = "huffman";
        }
        if (cl.eliasGaps < tp.codeBits - 1e-9) {
          tp.codeBits = cl.eliasGaps;
          tp.coding = "elias-gaps";
        }
      }
    }
    tp.predictedBits =
        t.numel > 0 ? tp.codeBits + 32.0 * double(nb[m]) / double(t.numel)
                    : 0.0;
    // The sign bit is already in `fixed`.
    totalBits += double(t.numel) * (tp.codeBits - 1.0);
    out.variance += tp.energyShare * tp.variance;
    out.types.push_back(std::move(tp));
  }
  out.bitsPerCoord = totalBits / double(numCoords_);

  // The best single global quantizer at the same budget: one level sequence
  // (MQV-optimal for the merged distribution) and the widest index that fits.
  std::vector<int> globalType;
  std::vector<unsigned> all;
  for (size_t i = 0; i < params_.size(); ++i) {
    globalType.push_back(params_[i].small ? -1 : 0);
    if (!params_[i].small)
      all.push_back(unsigned(i));
  }
  if (!all.empty()) {
    int64_t gnb = bucketsPerType(globalType, 1)[0];
    double gfixed = 32.0 * smallCoords_ + double(compressed) + 32.0 * gnb;
    Table &gt = tableFor(all);
    const auto &gl = globalLevels();
    unsigned gb = 0;
    for (unsigned b = 1; b <= opts_.maxBits; ++b)
      if (gfixed + double(compressed) * b <= budget + 1e-6)
        gb = b;
    if (gb == 0)
      gb = 1; // cannot happen when the layer-wise plan fits; be safe
    out.globalBits = gb;
    out.globalLevels = gl[gb - 1];
    double share = totalEnergy_ > 0 ? gt.energy / totalEnergy_ : 0.0;
    out.globalVariance = share * quant::mqvCost(gt.points, out.globalLevels);
    out.globalBitsPerCoord =
        (gfixed + double(compressed) * gb) / double(numCoords_);
  } else {
    out.globalBitsPerCoord = out.bitsPerCoord;
  }
  return out;
}

// ---- clustering ----------------------------------------------------------

mlir::FailureOr<double>
SchedulePlanner::relaxedVariance(const std::vector<int> &typeOf,
                                 unsigned numTypes, std::string &error) {
  // Same budget accounting as plan().
  std::vector<std::vector<unsigned>> members(numTypes);
  for (size_t i = 0; i < params_.size(); ++i)
    if (typeOf[i] >= 0)
      members[typeOf[i]].push_back(unsigned(i));
  std::vector<int64_t> nb = bucketsPerType(typeOf, numTypes);
  double fixed = 32.0 * double(smallCoords_);
  double compressed = 0;
  std::vector<Table *> tables;
  for (unsigned m = 0; m < numTypes; ++m) {
    tables.push_back(&tableFor(members[m]));
    fixed += double(tables[m]->numel) + 32.0 * double(nb[m]);
    compressed += double(tables[m]->numel);
  }
  double avail = opts_.budgetBits * double(numCoords_) - fixed - compressed;
  if (avail < -1e-6) {
    error = "a budget of " + formatNum(opts_.budgetBits) +
            " bits per coordinate is below what this schedule needs (" +
            formatNum((fixed + compressed) / double(numCoords_)) +
            " bits per coordinate at 1 index bit)";
    return mlir::failure();
  }
  // Lower convex hull of each type's (bits, share * cost) curve; greedy over
  // hull segments by variance saved per bit is optimal for convex curves,
  // the last segment taken fractionally.
  struct Seg {
    double perBit, bits, gain;
    unsigned m;
  };
  std::vector<Seg> segs;
  double total = 0;
  for (unsigned m = 0; m < numTypes; ++m) {
    Table &t = *tables[m];
    double share = totalEnergy_ > 0 ? t.energy / totalEnergy_ : 0.0;
    std::vector<std::pair<double, double>> hull; // (bits, weighted cost)
    for (unsigned b = 1; b <= opts_.maxBits; ++b) {
      std::pair<double, double> pt{double(b), share * costAt(t, b)};
      if (!hull.empty() && pt.second >= hull.back().second)
        continue; // no gain from more bits
      while (hull.size() >= 2) {
        auto [x1, y1] = hull[hull.size() - 2];
        auto [x2, y2] = hull.back();
        // Drop the middle point when it lies above the chord.
        if ((y2 - y1) * (pt.first - x1) >= (pt.second - y1) * (x2 - x1))
          hull.pop_back();
        else
          break;
      }
      hull.push_back(pt);
    }
    total += hull.front().second;
    for (size_t i = 1; i < hull.size(); ++i) {
      double bits = (hull[i].first - hull[i - 1].first) * double(t.numel);
      double gain = hull[i - 1].second - hull[i].second;
      segs.push_back({gain / bits, bits, gain, m});
    }
  }
  std::stable_sort(segs.begin(), segs.end(), [](const Seg &a, const Seg &b) {
    return a.perBit > b.perBit;
  });
  // Segments of one type come out in order because its hull is convex.
  for (const Seg &sg : segs) {
    if (avail <= 0)
      break;
    double take = std::min(1.0, avail / sg.bits);
    total -= take * sg.gain;
    avail -= take * sg.bits;
  }
  return std::max(0.0, total);
}

std::string atomKey(const LayerFeatures &f) {
  std::string k = f.role;
  if (!f.block.empty())
    return k + "|" + f.block + ".*." + f.blockMember;
  k += "|" + f.kernel;
  if (f.position == "first" || f.position == "last")
    k += "|" + f.position;
  return k;
}

mlir::FailureOr<Clustering> SchedulePlanner::cluster(unsigned numTypes,
                                                     unsigned maxTypes,
                                                     double penalty,
                                                     std::string &error) {
  Clustering c;
  c.atomOf.assign(params_.size(), -1);
  std::map<std::string, int> keyIndex;
  std::vector<std::vector<unsigned>> atoms;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (params_[i].small)
      continue;
    std::string key = atomKey(params_[i].f);
    auto [it, inserted] = keyIndex.insert({key, int(atoms.size())});
    if (inserted) {
      atoms.emplace_back();
      c.atomKeys.push_back(key);
    }
    atoms[it->second].push_back(unsigned(i));
    c.atomOf[i] = it->second;
  }
  unsigned A = atoms.size();
  auto assignmentFor = [&](const std::vector<std::vector<unsigned>> &groups) {
    std::vector<int> typeOf(params_.size(), -1);
    // Types are numbered by first appearance in the layout.
    std::vector<int> groupOfAtom(A, -1);
    for (size_t g = 0; g < groups.size(); ++g)
      for (unsigned a : groups[g])
        groupOfAtom[a] = int(g);
    std::vector<int> renumber(groups.size(), -1);
    int next = 0;
    for (size_t i = 0; i < params_.size(); ++i) {
      if (c.atomOf[i] < 0)
        continue;
      int g = groupOfAtom[c.atomOf[i]];
      if (renumber[g] < 0)
        renumber[g] = next++;
      typeOf[i] = renumber[g];
    }
    return typeOf;
  };
  if (A == 0) {
    c.assignment.push_back(std::vector<int>(params_.size(), -1));
    c.variance.push_back(0);
    c.score.push_back(0);
    c.chosen = 0;
    return c;
  }

  // Agglomerative merging by the increase of expected variance at b0 index
  // bits, the width a uniform split of the budget gives.
  double perCoord = opts_.budgetBits - 1.0 - 32.0 / opts_.bucket;
  unsigned b0 = unsigned(
      std::max(1.0, std::min(double(opts_.maxBits), std::floor(perCoord))));
  auto membersOf = [&](const std::vector<unsigned> &group) {
    std::vector<unsigned> m;
    for (unsigned a : group)
      m.insert(m.end(), atoms[a].begin(), atoms[a].end());
    llvm::sort(m);
    return m;
  };
  auto costOf = [&](const std::vector<unsigned> &group) {
    Table &t = tableFor(membersOf(group));
    double share = totalEnergy_ > 0 ? t.energy / totalEnergy_ : 0.0;
    return share * costAt(t, b0);
  };
  std::vector<std::vector<unsigned>> groups;
  for (unsigned a = 0; a < A; ++a)
    groups.push_back({a});
  // partitions[k-1] = groups when k remain.
  std::vector<std::vector<std::vector<unsigned>>> partitions(A);
  partitions[A - 1] = groups;
  while (groups.size() > 1) {
    double best = std::numeric_limits<double>::infinity();
    size_t bi = 0, bj = 1;
    for (size_t i = 0; i < groups.size(); ++i)
      for (size_t j = i + 1; j < groups.size(); ++j) {
        std::vector<unsigned> u = groups[i];
        u.insert(u.end(), groups[j].begin(), groups[j].end());
        llvm::sort(u);
        // Merging never lowers the optimum; a negative difference is a
        // level fit that stopped early, so count it as free.
        double d =
            std::max(0.0, costOf(u) - costOf(groups[i]) - costOf(groups[j]));
        // Relative tolerance: merges that cost nothing (identical
        // distributions) tie, and ties go to the first pair.
        if (std::isinf(best) || d < best - 1e-12 * std::max(1.0, best)) {
          best = d;
          bi = i;
          bj = j;
        }
      }
    groups[bi].insert(groups[bi].end(), groups[bj].begin(), groups[bj].end());
    llvm::sort(groups[bi]);
    groups.erase(groups.begin() + long(bj));
    partitions[groups.size() - 1] = groups;
  }

  unsigned kmax = numTypes ? std::min(numTypes, A) : std::min(maxTypes, A);
  kmax = std::max(1u, kmax);
  unsigned kmin = numTypes ? kmax : 1;
  for (unsigned k = 1; k <= kmax; ++k) {
    c.assignment.push_back(assignmentFor(partitions[k - 1]));
    if (k < kmin) {
      c.variance.push_back(0);
      c.score.push_back(0);
      continue;
    }
    auto v = relaxedVariance(c.assignment.back(), k, error);
    if (failed(v))
      return mlir::failure();
    c.variance.push_back(*v);
  }
  if (numTypes) {
    c.chosen = kmax;
    c.score.assign(kmax, 0.0);
    return c;
  }
  double v1 = c.variance[0];
  c.chosen = 1;
  for (unsigned k = 1; k <= kmax; ++k) {
    double rel = v1 > 0 ? c.variance[k - 1] / v1 : 1.0;
    c.score.push_back(rel + penalty * double(k - 1));
    if (c.score.back() < c.score[c.chosen - 1] - 1e-12)
      c.chosen = k;
  }
  return c;
}

} // namespace qoda::analysis
