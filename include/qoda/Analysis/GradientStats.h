//===- GradientStats.h - distributions of normalised gradients --*- C++ -*-===//
//
// The schedule needs, for every trainable parameter p, the distribution of
// the normalised gradient coordinates u = |v_i| / ||v_bucket||_2 in [0, 1],
// each coordinate weighted by w_i = ||v_bucket(i)||^2 / ||v_p||^2 (so that
// sum_i w_i cost(u_i) is exactly E||Q(v_p) - v_p||^2 / ||v_p||^2 for the
// level quantizer's per-coordinate cost), and the gradient energy ||v_p||^2
// that weights p against the other parameters.
//
// Two sources: documented priors per role (no data), or a gradient profile
// recorded from real training steps (examples/models/record_profile.py; the
// format is in docs/clustering.md).
//
//===----------------------------------------------------------------------===//
#ifndef QODA_ANALYSIS_GRADIENTSTATS_H
#define QODA_ANALYSIS_GRADIENTSTATS_H

#include "qoda/Analysis/LayerFeatures.h"
#include "qoda/quant/LevelOpt.h"

#include "mlir/IR/Location.h"
#include "llvm/ADT/StringMap.h"

#include <string>
#include <vector>

namespace qoda::analysis {

/// Bins of u over [0, 1] (linear), in profiles and in the planner.
constexpr unsigned kNumBins = 1024;

/// Weighted histogram of u: per bin the weight sum and the weighted sum of u.
struct UDist {
  std::vector<double> w = std::vector<double>(kNumBins, 0.0);
  std::vector<double> wu = std::vector<double>(kNumBins, 0.0);

  void add(double u, double weight);
  /// this += scale * other.
  void addScaled(const UDist &other, double scale);
  double mass() const;
  /// One point per non-empty bin at its weighted centroid.
  quant::WeightedPoints points() const;
};

struct ParamStats {
  UDist dist;
  double energy = 0; ///< ||v_p||^2 (mean over steps), or the prior's
};

/// The prior of a role: coordinates |x| = |z|^tail (z standard normal),
/// a fraction `zeros` of them exactly 0, and per-coordinate energy `energy`.
struct RolePrior {
  double tail = 1.0;
  double zeros = 0.0;
  double energy = 1.0;
};
RolePrior priorFor(const LayerFeatures &f);
/// The prior's statistics for one parameter under buckets of `bucket`.
ParamStats priorStats(const LayerFeatures &f, unsigned bucket);

/// A recorded gradient profile (docs/clustering.md, "Gradient profiles").
struct GradientProfile {
  std::string path;
  std::string model;
  unsigned bucket = 0;
  int64_t steps = 0;
  struct Entry {
    std::string name;
    std::vector<int64_t> shape;
    ParamStats stats;
  };
  std::vector<Entry> params;
  llvm::StringMap<unsigned> index; ///< name -> params[] index
};

/// Reads and validates a profile. Errors are emitted at `loc` and name the
/// file and the JSON path.
mlir::FailureOr<GradientProfile> loadGradientProfile(llvm::StringRef path,
                                                     mlir::Location loc);

} // namespace qoda::analysis

#endif // QODA_ANALYSIS_GRADIENTSTATS_H
