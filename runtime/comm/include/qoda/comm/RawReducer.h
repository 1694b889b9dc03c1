//===- RawReducer.h - uncompressed segments of a collective -----*- C++ -*-===//
//
// The segments of a layout that are not in the compressed message: `fp32`
// ones are summed by the fp32 all-reduce, `fp16` ones (LayoutSegment::half)
// by Gloo's fp16 all-reduce, in the same step as the compressed collective,
// (a) or (b). Each worker's fp16 values are scaled by 1/K before they are
// rounded to half (as PyTorch's fp16 compression hook does), so the ring's
// partial sums stay in half's range whenever the mean does; the mean is the
// half sum read back as fp32. Vhat_k (for QODA's step sizes) is what this
// worker contributes: its fp32 values, or K times its rounded half values.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "qoda/comm/CompressedAggregator.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace qoda::comm {

class RawReducer {
public:
  RawReducer(const std::vector<LayoutSegment> &layout, int worldSize);

  std::size_t fp32Coords() const { return f32_.size(); }
  std::size_t fp16Coords() const { return f16_.size(); }
  bool empty() const { return f32_.empty() && f16_.empty(); }

  /// Takes this worker's uncompressed coordinates of `v` (zeros when
  /// `zero`: a worker with a NaN/Inf sends zeros) and adds its
  /// ||Vhat_k||^2 and ||Vhat_k - Vhat_k^prev||^2 over them to sq and diff.
  void load(const float *v, bool zero, double &sq, double &diff);
  /// The all-reduces (none for a kind without coordinates).
  void reduce(Communicator &comm);
  /// Writes the mean of the K workers into the uncompressed coordinates.
  void store(float *mean) const;
  /// This call's Vhat_k becomes the previous one (after a kept step).
  void commit() { prev_ = own_; }

  /// The previous Vhat_k over the uncompressed coordinates (checkpoints).
  std::vector<float> &previous() { return prev_; }
  const std::vector<float> &previous() const { return prev_; }

private:
  using Ranges = std::vector<std::pair<std::size_t, std::size_t>>;
  Ranges f32Ranges_, f16Ranges_; ///< (offset, size) in the full vector
  int K_;
  std::vector<float> f32_;
  std::vector<std::uint16_t> f16_;
  std::vector<float> own_, prev_; ///< fp32 coordinates, then fp16 ones
};

} // namespace qoda::comm
