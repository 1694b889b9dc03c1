// Analysis helpers (METHOD 3): the variance bound eps_Q of a schedule, the
// measured variance of a quantization, and the entropy of level indices.
#ifndef QODA_QUANT_ANALYSIS_H
#define QODA_QUANT_ANALYSIS_H

#include "qoda/quant/LevelOpt.h"
#include "qoda/quant/Schedule.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace qoda::quant {

/// eps_Q = max_m (tau_m - 1)^2 / (4 tau_m) + min(d l_1m^2 / 4, l_1m sqrt(d))
/// with d the type's bucket size (q = 2 or inf, so p = 2). The bound holds per
/// bucket, hence for the whole vector. Cast types (TypeKind other than
/// Levels) are skipped: fp32 is exact and fp16/bf16 rounding is not covered.
double epsQ(const TypeSchedule &t);
double epsQ(const Schedule &s);

/// Exact expected squared error E||Q(v) - v||^2 of the stochastic level
/// quantizer under schedule s (computed in closed form, not sampled).
double expectedSquaredError(const Schedule &s, const float *v, uint64_t n);

/// ||a - b||^2.
double squaredDistance(const float *a, const float *b, uint64_t n);

/// Shannon entropy (bits) of a histogram of level indices.
double entropyBits(const std::vector<uint64_t> &counts);
/// The same for real-valued (e.g. expected) counts.
double entropyBitsWeighted(const std::vector<double> &counts);

/// Expected number of coordinates at each level index, per type (empty for
/// cast types), under the stochastic quantizer of schedule s on v (closed
/// form: coordinate i adds 1 - p_i to level j and p_i to level j + 1).
std::vector<std::vector<double>>
expectedIndexCounts(const Schedule &s, const float *v, uint64_t n);

/// Expected bits per coordinate of the level indices and signs (norms and
/// headers excluded), averaged over the coordinates of level types.
struct CodeLengths {
  uint64_t coords = 0;     ///< coordinates of level types
  double entropy = 0;      ///< sum_m d_m H_m / d: entropy of level indices
  double fixedWidth = 0;   ///< indexBits + 1
  double huffman = 0;      ///< Huffman of expected counts + sign if non-zero
  double eliasGaps = 0;    ///< nonzero density x (E omega(gap) + bits + 1)
  double entropyBound = 0; ///< entropy + P(non-zero): no index coding beats
};
/// Elias gaps are estimated with geometric gaps of the type's density of
/// non-zero indices (the positions of non-zeros are modelled as independent).
CodeLengths expectedCodeLengths(const Schedule &s, const float *v, uint64_t n);

/// The per-type part of expectedCodeLengths: code lengths of one level type
/// with `indexBits` index bits from its expected level-index counts (one
/// entry per level; their sum is the type's coordinate count, and coords is
/// it rounded). expectedCodeLengths is the coordinate-weighted combination
/// of these over the level types of a schedule.
CodeLengths typeCodeLengths(const std::vector<double> &counts,
                            unsigned indexBits);

/// Expected level-index counts of the stochastic quantizer with `levels`
/// (sorted, 0 = l_0 < ... < l_last = 1) on a distribution of normalised
/// magnitudes u given as weighted points (e.g. a planner's per-type
/// histogram), scaled so that they sum to numCoords: a point u in
/// [l_j, l_{j+1}] adds w (1 - p) to level j and w p to level j + 1 with
/// p = (u - l_j) / (l_{j+1} - l_j).
std::vector<double> expectedIndexCounts(const WeightedPoints &p,
                                        const std::vector<float> &levels,
                                        double numCoords);

/// typeCodeLengths(expectedIndexCounts(p, levels, numCoords), indexBits):
/// the expected code lengths of a type known only by its distribution.
CodeLengths expectedCodeLengths(const WeightedPoints &p,
                                const std::vector<float> &levels,
                                unsigned indexBits, double numCoords);

} // namespace qoda::quant

#endif
