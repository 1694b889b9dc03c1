// The layer-wise compressor (also qsgd and nuqsgd, which are single-type
// schedules): one message holds every segment of the schedule in order, each
// starting on a byte boundary (docs/quant.md, "Wire format"):
//   cast type (Fp32/Fp16/Bf16)   len values of 4 or 2 bytes
//   Levels, FixedWidth coding    LevelKernel.h segment (norms, index plane,
//                                sign plane)
//   Levels, Huffman / EliasGaps  u64 (bodyBytes << 8 | method), norms, body;
//                                method 0 = fixed-width planes, 1 = Huffman,
//                                2 = Elias-omega gaps; the encoder picks the
//                                shortest of fixed and the type's coding
// Fixed-width level segments are split into bucket-aligned ranges that run
// on `threads` threads; the message does not depend on the thread count.
#include "CompressorImpl.h"
#include "EntropySegment.h"
#include "LevelKernel.h"
#include "Parallel.h"
#include "qoda/quant/Analysis.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>

namespace qoda::quant::detail {

namespace {

/// Coordinates per work item (rounded to whole bucket groups): large enough
/// to amortise thread hand-off, small enough to balance.
constexpr uint64_t kItemCoords = uint64_t(1) << 16;

class LevelCompressor : public Compressor {
public:
  LevelCompressor(std::string name, Schedule s, const CompressorOptions &o)
      : name_(std::move(name)), sched_(std::move(s)), hash_(sched_.hash()),
        kernel_(o.kernel), threads_(o.threads) {
    uint64_t covered =
        sched_.segments.empty()
            ? 0
            : sched_.segments.back().offset + sched_.segments.back().length;
    std::string err = sched_.validate(covered);
    if (!err.empty())
      throw std::invalid_argument(name_ + ": " + err);
    for (const TypeSchedule &t : sched_.types)
      tables_.emplace_back(t.kind == TypeKind::Levels
                               ? t
                               : singleTypeSchedule({0.0f, 1.0f}, 1).types[0]);
  }
  std::string name() const override { return name_; }

  /// Fixed part of a segment (bytes when coded fixed-width, without the
  /// method word of entropy-coded types).
  uint64_t fixedBytes(const Segment &seg) const {
    const TypeSchedule &t = sched_.types[seg.type];
    if (t.kind != TypeKind::Levels)
      return seg.length * castWidth(t.kind);
    return segmentSizes(seg.length, t).total();
  }
  bool entropyCoded(const Segment &seg) const {
    const TypeSchedule &t = sched_.types[seg.type];
    return t.kind == TypeKind::Levels && t.coding != Coding::FixedWidth;
  }
  /// Exact payload if no type is entropy-coded, else an upper bound.
  uint64_t maxPayload(uint64_t n) const {
    uint64_t b = 0;
    for (const Segment &seg : sched_.segmentsFor(n))
      b += fixedBytes(seg) + (entropyCoded(seg) ? 8 : 0);
    return b;
  }
  bool anyEntropy() const {
    for (const TypeSchedule &t : sched_.types)
      if (t.kind == TypeKind::Levels && t.coding != Coding::FixedWidth)
        return true;
    return false;
  }
  size_t maxMessageBytes(uint64_t n) const override {
    return kHeaderBytes + maxPayload(n);
  }

  struct Item {
    size_t seg;
    SegmentRange r;
  };
  /// Bucket-aligned ranges of the fixed-width work of every level segment.
  std::vector<Item> items(const std::vector<Segment> &segs) const {
    std::vector<Item> out;
    for (size_t k = 0; k < segs.size(); ++k) {
      const TypeSchedule &t = sched_.types[segs[k].type];
      if (t.kind != TypeKind::Levels)
        continue;
      uint64_t len = segs[k].length;
      // Range starts must be multiples of the bucket size and of 8.
      uint64_t unit = uint64_t(t.bucketSize) * (8 / std::gcd(t.bucketSize, 8u));
      uint64_t step = std::max<uint64_t>(1, kItemCoords / unit) * unit;
      if (threads_ <= 1)
        step = len ? len : 1;
      for (uint64_t b = 0; b < len || (b == 0 && len == 0); b += step)
        out.push_back({k, {len, segs[k].offset, b, std::min(len, b + step)}});
    }
    return out;
  }

  size_t encode(const float *v, uint64_t n, const EncodeKey &key,
                uint8_t *out) override {
    std::string err = sched_.validate(n);
    if (!err.empty())
      throw std::invalid_argument(name_ + ": " + err);
    std::vector<Segment> segs = sched_.segmentsFor(n);
    bool entropy = anyEntropy();
    // Without entropy coding every segment goes straight into the message;
    // with it, level segments are first quantized into `fixed` (laid out as
    // if all were fixed-width) and then coded.
    uint8_t *base = out + kHeaderBytes;
    if (entropy) {
      scratch_.resize(maxPayload(n));
      base = scratch_.data();
    }
    std::vector<uint64_t> offs(segs.size());
    uint64_t off = 0;
    for (size_t k = 0; k < segs.size(); ++k) {
      offs[k] = off;
      off += fixedBytes(segs[k]);
    }
    std::vector<Item> work = items(segs);
    parallelFor(threads_, work.size(), [&](size_t w) {
      const Item &it = work[w];
      const Segment &seg = segs[it.seg];
      encodeSegment(tables_[seg.type],
                    {v + seg.offset, it.r, key, base + offs[it.seg]}, kernel_);
    });
    uint64_t payload = 0;
    uint8_t *p = out + kHeaderBytes;
    for (size_t k = 0; k < segs.size(); ++k) {
      const Segment &seg = segs[k];
      const TypeSchedule &t = sched_.types[seg.type];
      if (t.kind != TypeKind::Levels) {
        encodeCast(t.kind, v + seg.offset, seg.length, p + payload, kernel_);
      } else if (entropyCoded(seg)) {
        payload += codeEntropySegment(tables_[seg.type], seg.length,
                                      base + offs[k], p + payload);
        continue;
      } else if (entropy) {
        std::memcpy(p + payload, base + offs[k], fixedBytes(seg));
      }
      payload += fixedBytes(seg);
    }
    MessageHeader h;
    h.compressor = CompressorId::Levels;
    h.scheduleHash = hash_;
    h.step = key.step;
    h.numCoords = n;
    h.payloadBytes = payload;
    writeHeader(h, out);
    stats_.messages++;
    stats_.coords += n;
    stats_.bytes += kHeaderBytes + payload;
    return kHeaderBytes + payload;
  }

  std::string decodeAccumulate(const uint8_t *msg, size_t size, float weight,
                               float *sum, uint64_t n,
                               uint64_t step) const override {
    std::string err = sched_.validate(n);
    if (!err.empty())
      return name_ + ": " + err;
    MessageHeader h;
    bool entropy = anyEntropy();
    err = checkHeader(msg, size, CompressorId::Levels, hash_, n, step,
                      maxPayload(n), entropy, h);
    if (!err.empty())
      return err;
    std::vector<Segment> segs = sched_.segmentsFor(n);
    // Locate every segment's fixed-width bytes (entropy-coded ones are
    // decoded into `planes` first); all checks happen before any
    // accumulation, so a bad message leaves sum untouched.
    std::vector<const uint8_t *> at(segs.size());
    std::vector<std::vector<uint8_t>> planes(segs.size());
    const uint8_t *p = msg + kHeaderBytes, *end = msg + size;
    for (size_t k = 0; k < segs.size(); ++k) {
      const Segment &seg = segs[k];
      if (entropyCoded(seg)) {
        uint64_t used = 0;
        err = decodeEntropySegment(tables_[seg.type], seg.length, seg.offset, p,
                                   uint64_t(end - p), planes[k], used);
        if (!err.empty())
          return err;
        at[k] = planes[k].data();
        p += used;
        continue;
      }
      uint64_t bytes = fixedBytes(seg);
      if (uint64_t(end - p) < bytes)
        return "message truncated in the segment at coordinate " +
               std::to_string(seg.offset);
      at[k] = p;
      p += bytes;
    }
    if (p != end)
      return "message has " + std::to_string(end - p) +
             " bytes after the last segment";
    std::vector<Item> work = items(segs);
    std::vector<std::string> errs(work.size());
    parallelFor(threads_, work.size(), [&](size_t w) {
      const Item &it = work[w];
      errs[w] = validateSegment(tables_[segs[it.seg].type], at[it.seg], it.r,
                                kernel_);
    });
    for (const std::string &e : errs)
      if (!e.empty())
        return e;
    for (size_t k = 0; k < segs.size(); ++k) {
      const TypeSchedule &t = sched_.types[segs[k].type];
      if (t.kind != TypeKind::Levels)
        accumulateCast(t.kind, at[k], segs[k].length, weight,
                       sum + segs[k].offset, kernel_);
    }
    parallelFor(threads_, work.size(), [&](size_t w) {
      const Item &it = work[w];
      const Segment &seg = segs[it.seg];
      accumulateSegment(tables_[seg.type], at[it.seg], it.r, weight,
                        sum + seg.offset, kernel_);
    });
    return "";
  }

  double varianceBound() const override {
    // fp32 segments are exact; fp16/bf16 rounding is not covered by eps_Q,
    // so a schedule with such a type claims no bound.
    for (const TypeSchedule &t : sched_.types)
      if (t.kind == TypeKind::Fp16 || t.kind == TypeKind::Bf16)
        return -1.0;
    return epsQ(sched_);
  }
  bool unbiased() const override {
    for (const TypeSchedule &t : sched_.types)
      if (t.kind != TypeKind::Levels && t.kind != TypeKind::Fp32)
        return false;
    return true;
  }

private:
  std::string name_;
  Schedule sched_;
  uint64_t hash_;
  Kernel kernel_;
  unsigned threads_;
  std::vector<LevelTable> tables_;
  std::vector<uint8_t> scratch_;
};

} // namespace

std::unique_ptr<Compressor> makeLevels(const std::string &name, Schedule s,
                                       const CompressorOptions &o) {
  return std::make_unique<LevelCompressor>(name, std::move(s), o);
}

} // namespace qoda::quant::detail
