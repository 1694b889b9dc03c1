// Level optimisation (METHOD 3-4). Data are weighted points (value, weight)
// in [0, 1]: the centroids of a merged Histogram, or raw sorted samples.
//  - mqvCost: the MQV objective sum_i w_i (l_{j+1} - u_i)(u_i - l_j).
//  - coordinateDescent: closed-form CD (each level set to the point where
//    the derivative of the cost changes sign, found by binary search on prefix
//    sums), plus a relocation move (take one level out, put it in the best
//    other interval) to leave coordinate-wise local minima; every accepted
//    move lowers the cost. Used online (fast, warm-startable).
//  - exactOptimalLevels: dynamic program, O(s n^2), exact optimum with levels
//    restricted to data points plus {0,1} (optimal for discrete data because
//    the cost is piecewise linear in each level). Used to verify CD.
//  - binGradSplit: BinGrad's optimal two-value biased quantizer.
#ifndef QODA_QUANT_LEVELOPT_H
#define QODA_QUANT_LEVELOPT_H

#include "qoda/quant/Histogram.h"

#include <vector>

namespace qoda::quant {

struct WeightedPoints {
  std::vector<double> value;  ///< strictly increasing, within [0, 1]
  std::vector<double> weight; ///< >= 0
};

/// Points from histogram bins: one point per non-empty bin at its centroid.
WeightedPoints pointsFromHistogram(const Histogram &h);
/// Points from samples (sorted and deduplicated, weight = multiplicity).
WeightedPoints pointsFromSamples(std::vector<float> samples);

/// MQV cost of `levels` (sorted, containing 0 and 1) on the points.
double mqvCost(const WeightedPoints &p, const std::vector<float> &levels);

/// Coordinate descent from `init` (sorted, l_0 = 0, last = 1). Returns the
/// refined levels (same count); stops when neither a sweep nor a relocation
/// lowers the cost, or after maxSweeps rounds.
std::vector<float> coordinateDescent(const WeightedPoints &p,
                                     std::vector<float> init,
                                     unsigned maxSweeps = 1000);

/// The cheap variant of coordinateDescent for planners that fit levels many
/// times (the compiler's bit allocation): whole sweeps of closed-form
/// single-level moves, the cost checked once per sweep, no relocation. Never
/// increases the cost; stops when a sweep changes nothing or does not lower
/// it.
std::vector<float> sweepLevels(const WeightedPoints &p, std::vector<float> init,
                               unsigned maxSweeps = 200);

/// Starting levels for coordinateDescent: 0, the quantiles j/(numLevels-1)
/// of the first-moment mass w*u (deduplicated, gaps filled by midpoints), 1.
std::vector<float> quantileLevels(const WeightedPoints &p, unsigned numLevels);

/// Exact optimum with `numLevels` levels (>= 2, including 0 and 1).
std::vector<float> exactOptimalLevels(const WeightedPoints &p,
                                      unsigned numLevels);

struct BinarySplit {
  double threshold; ///< values < threshold map to low, others to high
  double low, high;
  double sse; ///< sum of squared errors of the split
};
/// Exact optimal two-value quantizer of signed samples (minimum SSE over all
/// split positions of the sorted data, O(n log n)).
BinarySplit binGradSplit(std::vector<float> samples);

} // namespace qoda::quant

#endif
