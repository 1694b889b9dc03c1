// Fixed-size histogram of normalised coordinates u = |v_i| / ||bucket|| in
// [0, 1], one per type. Bins hold count, sum u and sum u^2 (as doubles of
// integer-valued or exactly-merged data), so workers merge by elementwise sum
// (e.g. an allreduce of the arrays) and then all fit identical levels.
#ifndef QODA_QUANT_HISTOGRAM_H
#define QODA_QUANT_HISTOGRAM_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace qoda::quant {

struct Histogram {
  explicit Histogram(size_t bins = 1024)
      : count(bins, 0.0), sum(bins, 0.0), sumSq(bins, 0.0) {}
  std::vector<double> count, sum, sumSq;

  size_t bins() const { return count.size(); }
  void add(float u);
  /// Adds the normalised coordinates of v under the given bucket size/norm
  /// (q = 2 or q = inf; pass linf = true for the latter).
  void addVector(const float *v, size_t n, uint32_t bucketSize, bool linf);
  /// Elementwise sum; bin counts must match.
  void merge(const Histogram &other);
  double total() const;
};

} // namespace qoda::quant

#endif
