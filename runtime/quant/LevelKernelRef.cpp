// Scalar reference of the level-quantizer kernels: the executable
// specification the AVX2 kernel (and any future one) must match bit for bit.
// Written for clarity, one coordinate at a time.
#include "LevelKernel.h"

#include "qoda/quant/Half.h"
#include "qoda/quant/Philox.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace qoda::quant::detail {

LevelTable::LevelTable(const TypeSchedule &t)
    : type(t), indexBits(t.indexBits()), levels(t.levels) {
  size_t L = levels.size();
  for (size_t j = 0; j + 1 < L; ++j)
    invWidth.push_back(1.0f / (levels[j + 1] - levels[j]));
  searchSize = 1;
  while (searchSize < L - 1)
    searchSize *= 2;
  search.assign(searchSize, INFINITY);
  std::copy(levels.begin(), levels.end() - 1, search.begin());
  levels16 = levels;
  levels16.resize(std::max<size_t>(16, L), 0.0f);
  invWidth16 = invWidth;
  invWidth16.resize(std::max<size_t>(16, L), 0.0f);
  uniform = isUniformLevels(levels.data(), L);
}

unsigned LevelTable::interval(float u) const {
  // upper_bound gives the first level > u; the interval starts one before,
  // capped at L-2 so that u = 1 falls into the last interval.
  size_t j = size_t(std::upper_bound(levels.begin(), levels.end(), u) -
                    levels.begin());
  return unsigned(std::min(j - 1, levels.size() - 2));
}

SegmentSizes segmentSizes(uint64_t len, const TypeSchedule &t) {
  SegmentSizes s;
  s.buckets = (len + t.bucketSize - 1) / t.bucketSize;
  s.normBytes = s.buckets * (t.normPrecision == NormPrecision::Fp16 ? 2 : 4);
  s.indexBytes = (len * t.indexBits() + 7) / 8;
  s.signBytes = (len + 7) / 8;
  return s;
}

float bucketNormRef(const float *x, uint64_t len, const TypeSchedule &t,
                    uint16_t *wire) {
  double norm = 0.0;
  if (t.norm == Norm::L2) {
    // Lane k sums the squares of positions p with p % 8 == k (squares of
    // floats are exact in double); the lanes are then added in this order.
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (uint64_t i = 0; i < len; ++i)
      acc[i % 8] += double(x[i]) * double(x[i]);
    double s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) +
               ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    norm = std::sqrt(s);
  } else {
    float m = 0.0f;
    for (uint64_t i = 0; i < len; ++i)
      m = std::fabs(x[i]) > m ? std::fabs(x[i]) : m; // NaN never wins
    norm = m;
  }
  float f = float(norm);
  if (double(f) < norm)
    f = std::nextafter(f, INFINITY);
  if (t.normPrecision == NormPrecision::Fp16) {
    *wire = floatToHalfRoundUp(f);
    return halfToFloat(*wire);
  }
  return f;
}

float readNorm(const uint8_t *norms, uint64_t b, NormPrecision p) {
  if (p == NormPrecision::Fp16) {
    uint16_t h;
    std::memcpy(&h, norms + 2 * b, 2);
    return halfToFloat(h);
  }
  float f;
  std::memcpy(&f, norms + 4 * b, 4);
  return f;
}

namespace {

void writeNorm(uint8_t *norms, uint64_t b, NormPrecision p, float norm,
               uint16_t half) {
  if (p == NormPrecision::Fp16)
    std::memcpy(norms + 2 * b, &half, 2);
  else
    std::memcpy(norms + 4 * b, &norm, 4);
}

void setBits(uint8_t *plane, uint64_t bit, uint32_t value, unsigned width) {
  for (unsigned k = 0; k < width; ++k, ++bit)
    if ((value >> k) & 1u)
      plane[bit / 8] |= uint8_t(1u << (bit % 8));
}

uint32_t getBits(const uint8_t *plane, uint64_t bit, unsigned width) {
  uint32_t v = 0;
  for (unsigned k = 0; k < width; ++k, ++bit)
    v |= uint32_t((plane[bit / 8] >> (bit % 8)) & 1u) << k;
  return v;
}

/// Bytes of plane data owned by a range: [first, last) byte of each plane.
struct RangeBytes {
  uint64_t idxBegin, idxEnd, signBegin, signEnd;
};
RangeBytes rangeBytes(const SegmentRange &r, unsigned ib) {
  return {r.begin * ib / 8, (r.end * ib + 7) / 8, r.begin / 8, (r.end + 7) / 8};
}

} // namespace

void encodeSegmentRef(const LevelTable &lt, const SegmentEncode &e) {
  const TypeSchedule &t = lt.type;
  const unsigned ib = lt.indexBits;
  SegmentSizes sz = segmentSizes(e.r.len, t);
  uint8_t *norms = e.out, *idx = e.out + sz.normBytes,
          *sign = idx + sz.indexBytes;
  RangeBytes rb = rangeBytes(e.r, ib);
  std::memset(idx + rb.idxBegin, 0, rb.idxEnd - rb.idxBegin);
  std::memset(sign + rb.signBegin, 0, rb.signEnd - rb.signBegin);
  for (uint64_t b0 = e.r.begin; b0 < e.r.end; b0 += t.bucketSize) {
    uint64_t b1 = std::min<uint64_t>(b0 + t.bucketSize, e.r.len);
    uint16_t half = 0;
    float norm = bucketNormRef(e.v + b0, b1 - b0, t, &half);
    writeNorm(norms, b0 / t.bucketSize, t.normPrecision, norm, half);
    float inv = norm > 0.0f ? 1.0f / norm : 0.0f;
    for (uint64_t i = b0; i < b1; ++i) {
      float x = e.v[i];
      float u = std::min(std::fabs(x) * inv, 1.0f);
      if (std::isnan(u))
        u = 1.0f; // as the vector min(u, 1), which returns 1 for NaN
      unsigned j;
      float p;
      if (lt.uniform) {
        // Uniform levels j/s: the interval and the fraction come from t =
        // u * s directly (t - j is exact), no search and no table.
        unsigned s = unsigned(lt.numLevels() - 1);
        float t = u * float(s);
        j = std::min(unsigned(t), s - 1);
        p = t - float(j);
      } else {
        j = lt.interval(u);
        p = (u - lt.levels[j]) * lt.invWidth[j];
      }
      uint64_t g = e.r.coord0 + i; // global coordinate
      float r = uniformFromBits16(randomBits16(
          philoxBlock(e.key.seed, e.key.step, e.key.rank, g >> 3), g));
      uint32_t q = r < p ? j + 1 : j;
      setBits(idx, i * ib, q, ib);
      if (q != 0 && std::signbit(x))
        setBits(sign, i, 1, 1);
    }
  }
}

std::string validateSegmentRef(const LevelTable &lt, const uint8_t *seg,
                               const SegmentRange &r) {
  const TypeSchedule &t = lt.type;
  const unsigned ib = lt.indexBits;
  SegmentSizes sz = segmentSizes(r.len, t);
  const uint8_t *idx = seg + sz.normBytes, *sign = idx + sz.indexBytes;
  for (uint64_t b0 = r.begin; b0 < r.end; b0 += t.bucketSize) {
    float norm = readNorm(seg, b0 / t.bucketSize, t.normPrecision);
    if (!(norm >= 0.0f) || !std::isfinite(norm))
      return "bucket at coordinate " + std::to_string(r.coord0 + b0) +
             " has an invalid norm";
  }
  for (uint64_t i = r.begin; i < r.end; ++i) {
    uint32_t q = getBits(idx, i * ib, ib);
    if (q >= lt.numLevels())
      return "level index " + std::to_string(q) + " at coordinate " +
             std::to_string(r.coord0 + i) + " exceeds the type's " +
             std::to_string(lt.numLevels()) + " levels";
    if (q == 0 && getBits(sign, i, 1))
      return "negative zero code at coordinate " + std::to_string(r.coord0 + i);
  }
  if (r.end == r.len) {
    if (getBits(idx, r.len * ib, unsigned(sz.indexBytes * 8 - r.len * ib)) ||
        getBits(sign, r.len, unsigned(sz.signBytes * 8 - r.len)))
      return "non-zero padding bits after coordinate " +
             std::to_string(r.coord0 + r.len - 1);
  }
  return "";
}

void accumulateSegmentRef(const LevelTable &lt, const uint8_t *seg,
                          const SegmentRange &r, float weight, float *sum) {
  const TypeSchedule &t = lt.type;
  const unsigned ib = lt.indexBits;
  SegmentSizes sz = segmentSizes(r.len, t);
  const uint8_t *idx = seg + sz.normBytes, *sign = idx + sz.indexBytes;
  for (uint64_t b0 = r.begin; b0 < r.end; b0 += t.bucketSize) {
    uint64_t b1 = std::min<uint64_t>(b0 + t.bucketSize, r.len);
    float scale = weight * readNorm(seg, b0 / t.bucketSize, t.normPrecision);
    for (uint64_t i = b0; i < b1; ++i) {
      float x = scale * lt.levels[getBits(idx, i * ib, ib)];
      sum[i] += getBits(sign, i, 1) ? -x : x;
    }
  }
}

void encodeSegment(const LevelTable &lt, const SegmentEncode &e, Kernel k) {
  if (k == Kernel::Fast && avx2Available() && lt.type.bucketSize % 8 == 0) {
    if (avx512Available())
      encodeSegmentAvx512(lt, e);
    else
      encodeSegmentAvx2(lt, e);
  } else
    encodeSegmentRef(lt, e);
}

std::string validateSegment(const LevelTable &lt, const uint8_t *seg,
                            const SegmentRange &r, Kernel k) {
  if (k == Kernel::Fast && avx2Available() && lt.type.bucketSize % 8 == 0)
    return validateSegmentAvx2(lt, seg, r);
  return validateSegmentRef(lt, seg, r);
}

void accumulateSegment(const LevelTable &lt, const uint8_t *seg,
                       const SegmentRange &r, float weight, float *sum,
                       Kernel k) {
  if (k == Kernel::Fast && avx2Available() && lt.type.bucketSize % 8 == 0)
    accumulateSegmentAvx2(lt, seg, r, weight, sum);
  else
    accumulateSegmentRef(lt, seg, r, weight, sum);
}

} // namespace qoda::quant::detail
