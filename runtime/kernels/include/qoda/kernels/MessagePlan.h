// Where each segment's data lies in a message of the "layerwise" format
// (docs/quant.md, "Wire format"): the one place the generated kernels encode
// that layout. Computed once per model on the host from the schedule tables
// and shared by the CPU and CUDA kernels, so every segment (and bucket) can
// be encoded or decoded independently of the others.
#ifndef QODA_KERNELS_MESSAGEPLAN_H
#define QODA_KERNELS_MESSAGEPLAN_H

#include "qoda/kernels/ModelLibABI.h"

#include <cstdint>
#include <vector>

namespace qoda::kernels {

enum : uint32_t {
  kKindLevels = 0,
  kKindFp32 = 1,
  kKindFp16 = 2,
  kKindBf16 = 3
};

/// Byte size of one cast coordinate (0 for levels types).
inline uint32_t castWidth(uint32_t kind) {
  return kind == kKindFp32 ? 4 : (kind == kKindLevels ? 0 : 2);
}

/// Payload-relative byte positions of one segment's parts.
struct SegmentPlan {
  uint64_t begin = 0; ///< first byte of the segment (norms / cast values)
  uint64_t index = 0; ///< index plane (levels)
  uint64_t sign = 0;  ///< sign plane (levels)
  uint64_t end = 0;   ///< one past its last byte
};

struct MessagePlan {
  std::vector<SegmentPlan> segments;
  uint64_t payloadBytes = 0;
};

/// Segments follow each other in order, each on a byte boundary. A levels
/// segment of len coordinates: ceil(len / bucket) norms (fp32 or fp16), the
/// index plane (len * index_bits bits, LSB first, zero-padded to a byte),
/// the sign plane (len bits, likewise). A cast segment: len values of 4
/// (fp32) or 2 (fp16, bf16) bytes.
inline MessagePlan planMessage(const qoda_type_info *types,
                               const qoda_segment_info *segs, uint32_t nsegs) {
  MessagePlan p;
  p.segments.resize(nsegs);
  uint64_t at = 0;
  for (uint32_t s = 0; s < nsegs; ++s) {
    const qoda_type_info &t = types[segs[s].type];
    uint64_t len = segs[s].length;
    SegmentPlan &sp = p.segments[s];
    sp.begin = at;
    if (t.kind == kKindLevels) {
      uint64_t buckets = (len + t.bucket - 1) / t.bucket;
      sp.index = at + buckets * (t.norm_precision ? 2 : 4);
      sp.sign = sp.index + (len * t.index_bits + 7) / 8;
      sp.end = sp.sign + (len + 7) / 8;
    } else {
      sp.index = sp.sign = sp.end = at + len * castWidth(t.kind);
    }
    at = sp.end;
  }
  p.payloadBytes = at;
  return p;
}

} // namespace qoda::kernels

#endif
