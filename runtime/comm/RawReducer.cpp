//===- RawReducer.cpp - uncompressed segments of a collective -------------===//
#include "qoda/comm/RawReducer.h"
#include "qoda/comm/SquareSums.h"

#include <cstring>

namespace qoda::comm {

namespace {

std::uint16_t toHalf(float x) {
  _Float16 h = static_cast<_Float16>(x); // round to nearest even
  std::uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}

float fromHalf(std::uint16_t b) {
  _Float16 h;
  std::memcpy(&h, &b, 2);
  return static_cast<float>(h);
}

} // namespace

RawReducer::RawReducer(const std::vector<LayoutSegment> &layout,
                       int worldSize)
    : K_(worldSize) {
  std::size_t n32 = 0, n16 = 0;
  for (const LayoutSegment &s : layout) {
    if (s.compressed || s.segment.size == 0)
      continue;
    (s.half ? f16Ranges_ : f32Ranges_)
        .push_back({s.segment.offset, s.segment.size});
    (s.half ? n16 : n32) += s.segment.size;
  }
  f32_.resize(n32);
  f16_.resize(n16);
  own_.resize(n32 + n16);
  prev_.assign(n32 + n16, 0.0f);
}

void RawReducer::load(const float *v, bool zero, double &sq, double &diff) {
  std::size_t o = 0;
  for (auto [off, n] : f32Ranges_)
    for (std::size_t i = 0; i < n; ++i, ++o)
      f32_[o] = zero ? 0.0f : v[off + i];
  std::copy(f32_.begin(), f32_.end(), own_.begin());
  const float inv = 1.0f / static_cast<float>(K_);
  const float k = static_cast<float>(K_);
  std::size_t h = 0;
  for (auto [off, n] : f16Ranges_)
    for (std::size_t i = 0; i < n; ++i, ++h) {
      f16_[h] = toHalf(zero ? 0.0f : v[off + i] * inv);
      own_[o++] = fromHalf(f16_[h]) * k;
    }
  if (zero)
    return;
  SquareSums s = squareSums(own_.data(), prev_.data(), own_.size());
  sq += s.sq;
  diff += s.diff;
}

void RawReducer::reduce(Communicator &comm) {
  if (!f32_.empty())
    comm.allreduceSum(f32_.data(), f32_.size());
  if (!f16_.empty())
    comm.allreduceSumHalf(f16_.data(), f16_.size());
}

void RawReducer::store(float *mean) const {
  const float inv = 1.0f / static_cast<float>(K_);
  std::size_t o = 0;
  for (auto [off, n] : f32Ranges_)
    for (std::size_t i = 0; i < n; ++i)
      mean[off + i] = f32_[o++] * inv;
  o = 0;
  for (auto [off, n] : f16Ranges_)
    for (std::size_t i = 0; i < n; ++i)
      mean[off + i] = fromHalf(f16_[o++]);
}

} // namespace qoda::comm
