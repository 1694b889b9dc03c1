//===- SchedulePlanner.h - layer types, levels and bit allocation -*- C++
//-*-===//
//
// The schedule model of docs/clustering.md:
//  * per type, MQV-optimal levels for the type's distribution of u
//    (energy-weighted merge of its parameters' distributions), fitted for
//    every index width 1..maxBits;
//  * bits per type under a global budget by an L-GreCo-style knapsack that
//    minimises the total expected variance E||Q(v)-v||^2 / ||v||^2;
//  * the best single global quantizer at the same budget, for comparison;
//  * clustering into types: agglomerative merging of parameter groups by the
//    increase of expected variance, M chosen by that variance at the budget
//    plus a penalty per extra type.
// Everything is deterministic: no randomness, fixed iteration orders.
//
//===----------------------------------------------------------------------===//
#ifndef QODA_ANALYSIS_SCHEDULEPLANNER_H
#define QODA_ANALYSIS_SCHEDULEPLANNER_H

#include "qoda/Analysis/GradientStats.h"

#include <map>
#include <string>
#include <vector>

namespace qoda::analysis {

struct PlannerOptions {
  double budgetBits = 4.0; ///< bits per coordinate, everything counted
  unsigned bucket = 1024;  ///< coordinates per norm bucket
  unsigned maxBits = 6;    ///< widest level index considered
  /// false: every type codes its indices fixed-width (what qoda-compile's
  /// kernels support). true: per type the shortest expected code of fixed
  /// width, Huffman of level indices and Elias-omega gaps (docs/clustering.md).
  bool autoCoding = false;
};

struct PlanParam {
  LayerFeatures f;
  ParamStats stats;
  bool small = false; ///< sent uncompressed (fp32)
};

struct TypePlan {
  unsigned bits = 0;
  std::vector<float> levels;
  double variance = 0;    ///< E||Q(v)-v||^2/||v||^2 of the type's gradient
  double energyShare = 0; ///< ||v_type||^2 / ||v||^2
  int64_t numel = 0;
  std::string coding = "fixed"; ///< fixed, huffman or elias-gaps
  /// Expected bits per coordinate of the type's indices and signs with its
  /// coding (bits + 1 for fixed width).
  double codeBits = 0;
  /// The same plus the type's bucket norms: its predicted bits per
  /// coordinate on the wire.
  double predictedBits = 0;
};

struct SchedulePlan {
  std::vector<TypePlan> types; ///< compressed types, by index
  int64_t numCoords = 0, smallCoords = 0;
  double bitsPerCoord = 0, variance = 0;
  unsigned globalBits = 0;
  std::vector<float> globalLevels;
  double globalBitsPerCoord = 0, globalVariance = 0;
};

struct Clustering {
  /// Atom (group of parameters that always share a type) of each compressed
  /// parameter, and each atom's key.
  std::vector<int> atomOf;
  std::vector<std::string> atomKeys;
  /// For k = 1..candidates: type of every parameter (-1 = uncompressed),
  /// the layer-wise variance at the budget, and the criterion's score.
  std::vector<std::vector<int>> assignment;
  std::vector<double> variance, score;
  unsigned chosen = 1; ///< k picked (1-based)
};

class SchedulePlanner {
public:
  SchedulePlanner(std::vector<PlanParam> params, PlannerOptions opts);

  const std::vector<PlanParam> &params() const { return params_; }
  const PlannerOptions &options() const { return opts_; }

  /// Plans levels and bits for the assignment `typeOf` (one entry per
  /// parameter; -1 for uncompressed ones, else 0..numTypes-1). `polish`
  /// refines the chosen levels with qoda_quant's coordinate descent. On
  /// failure (budget infeasible) returns failure and sets `error`.
  mlir::FailureOr<SchedulePlan> plan(const std::vector<int> &typeOf,
                                     unsigned numTypes, bool polish,
                                     std::string &error);

  /// Clusters the compressed parameters. numTypes = 0: automatic, choosing k
  /// in 1..maxTypes minimising variance(k)/variance(1) + penalty * (k - 1).
  mlir::FailureOr<Clustering> cluster(unsigned numTypes, unsigned maxTypes,
                                      double penalty, std::string &error);

  /// Expected variance of the assignment at the budget with bit widths
  /// relaxed to the lower convex hull of each type's variance-vs-bits curve
  /// (fractional widths). The clustering criterion uses it, so that a type
  /// earns its keep by its distribution, not by rounding one width.
  mlir::FailureOr<double> relaxedVariance(const std::vector<int> &typeOf,
                                          unsigned numTypes,
                                          std::string &error);

  /// The smallest budget (bits per coordinate) a schedule of this model can
  /// meet: 1 index bit + sign for compressed coordinates, norms, fp32 rest.
  double minimumBudget() const;

private:
  struct Table {
    std::vector<std::vector<float>> levels; ///< [bits - 1], fitted lazily
    std::vector<double> cost; ///< relative variance [bits - 1]; < 0: not yet
    double energy = 0;
    int64_t numel = 0;
    quant::WeightedPoints points;
  };
  Table &tableFor(const std::vector<unsigned> &members);
  /// Fits the levels of `t` at `b` index bits (once).
  void fit(Table &t, unsigned b);
  double costAt(Table &t, unsigned b);
  const std::vector<float> &levelsAt(Table &t, unsigned b);
  const std::vector<std::vector<float>> &globalLevels();
  /// Total bits of a layout (types per parameter, -1 = fp32) given the index
  /// bits per type, and the number of norm buckets per type.
  std::vector<int64_t> bucketsPerType(const std::vector<int> &typeOf,
                                      unsigned numTypes) const;

  std::vector<PlanParam> params_;
  PlannerOptions opts_;
  double totalEnergy_ = 0;
  int64_t numCoords_ = 0, smallCoords_ = 0;
  std::map<std::vector<unsigned>, Table> tables_;
  std::vector<std::vector<float>> globalLevels_;
};

/// The atom key of a parameter: role, plus its place in a repeated block
/// (block and member name) or its kernel and first/last position.
std::string atomKey(const LayerFeatures &f);

/// Fast MQV level fit (closed-form coordinate sweeps, no relocation) from
/// `init`; never increases the cost. Exposed for tests.
std::vector<float> fitLevelsFast(const quant::WeightedPoints &p,
                                 std::vector<float> init,
                                 unsigned maxSweeps = 200);

} // namespace qoda::analysis

#endif // QODA_ANALYSIS_SCHEDULEPLANNER_H
