//===- ScheduleCodec.cpp - the layer-wise codec of a schedule -------------===//
#include "qoda/comm/ScheduleCodec.h"
#include "qoda/comm/Serialize.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace qoda::comm {

namespace {

std::uint64_t coveredBy(const quant::Schedule &s, std::uint64_t atLeast) {
  if (s.segments.empty())
    return atLeast; // one implicit segment of type 0 over everything
  return s.segments.back().offset + s.segments.back().length;
}

const char *castName(quant::TypeKind k) {
  switch (k) {
  case quant::TypeKind::Fp32:
    return "fp32";
  case quant::TypeKind::Fp16:
    return "fp16";
  case quant::TypeKind::Bf16:
    return "bf16";
  case quant::TypeKind::Levels:
    break;
  }
  return "layerwise";
}

} // namespace

ScheduleCodec::ScheduleCodec(const quant::Schedule &full, std::size_t offset,
                             std::size_t n, std::uint64_t seed,
                             std::uint32_t rank)
    : full_(full), offset_(offset), n_(n),
      // Chunks of one worker must not share random streams: fold the chunk
      // offset into the key's seed.
      seed_(seed + 0x9e3779b97f4a7c15ull * offset), rank_(rank) {
  build();
}

void ScheduleCodec::build() {
  std::uint64_t total = coveredBy(full_, offset_ + n_);
  std::string err = full_.validate(total);
  if (!err.empty())
    throw std::invalid_argument("schedule: " + err);
  if (offset_ + n_ > total)
    throw std::invalid_argument(
        "schedule covers " + std::to_string(total) + " coordinates; codec " +
        "range [" + std::to_string(offset_) + ", " +
        std::to_string(offset_ + n_) + ") lies outside it");
  // Every levels run carries all levels types (renumbered in order), so a
  // run's schedule, and the hash in its header, only depends on its
  // segments.
  quant::Schedule levelTypes;
  std::vector<std::uint32_t> remap(full_.types.size(), 0);
  for (std::size_t t = 0; t < full_.types.size(); ++t)
    if (full_.types[t].kind == quant::TypeKind::Levels) {
      remap[t] = static_cast<std::uint32_t>(levelTypes.types.size());
      levelTypes.types.push_back(full_.types[t]);
    }
  runs_.clear();
  for (const quant::Segment &s : full_.segmentsFor(total)) {
    std::size_t b = std::max<std::size_t>(s.offset, offset_);
    std::size_t e = std::min<std::size_t>(s.offset + s.length, offset_ + n_);
    if (b >= e)
      continue;
    quant::TypeKind kind = full_.types[s.type].kind;
    if (runs_.empty() || runs_.back().kind != kind) {
      Run r;
      r.kind = kind;
      r.begin = b - offset_;
      if (kind == quant::TypeKind::Levels)
        r.levels.types = levelTypes.types;
      runs_.push_back(std::move(r));
    }
    Run &r = runs_.back();
    if (kind == quant::TypeKind::Levels)
      r.levels.segments.push_back({r.coords, e - b, remap[s.type]});
    r.coords += e - b;
  }
  bytes_ = 8;
  for (Run &r : runs_) {
    quant::CompressorOptions o;
    o.schedule = r.levels;
    r.c = quant::makeCompressor(castName(r.kind), o);
    r.maxBytes = r.c->maxMessageBytes(r.coords);
    // Runs must not share random streams either (the first run keeps the
    // chunk's seed).
    r.seed = seed_ + 0x9e3779b97f4a7c15ull * r.begin;
    bytes_ += 8 + r.maxBytes;
  }
}

void ScheduleCodec::encode(const float *v, std::uint8_t *msg) {
  ++step_;
  std::memcpy(msg, &step_, 8);
  std::uint8_t *out = msg + 8;
  for (Run &r : runs_) {
    std::uint64_t len = r.c->encode(v + r.begin, r.coords,
                                    {r.seed, step_, rank_}, out + 8);
    std::memcpy(out, &len, 8);
    std::memset(out + 8 + len, 0, r.maxBytes - len); // deterministic padding
    out += 8 + r.maxBytes;
  }
}

void ScheduleCodec::decodeAccumulate(const std::uint8_t *msg,
                                     float *acc) const {
  decodeAccumulateAll(&msg, 1, acc);
}

void ScheduleCodec::decodeAccumulateAll(const std::uint8_t *const *msgs,
                                        std::size_t k, float *acc) const {
  std::size_t at = 8; // after the step
  for (const Run &r : runs_) {
    for (std::size_t m = 0; m < k; ++m) {
      std::uint64_t step, len;
      std::memcpy(&step, msgs[m], 8);
      std::memcpy(&len, msgs[m] + at, 8);
      if (len > r.maxBytes)
        throw std::runtime_error(std::string(castName(r.kind)) +
                                 " run at coordinate " +
                                 std::to_string(offset_ + r.begin) +
                                 " claims " + std::to_string(len) +
                                 " bytes, more than its " +
                                 std::to_string(r.maxBytes) + "-byte bound");
      std::string err = r.c->decodeAccumulate(msgs[m] + at + 8, len, 1.0f,
                                              acc + r.begin, r.coords, step);
      if (!err.empty())
        throw std::runtime_error(std::string(castName(r.kind)) +
                                 " run at coordinate " +
                                 std::to_string(offset_ + r.begin) +
                                 " rejected: " + err);
    }
    at += 8 + r.maxBytes;
  }
}

void ScheduleCodec::setSchedule(const quant::Schedule &s) {
  if (!full_.sameLayout(s))
    throw std::invalid_argument("ScheduleCodec::setSchedule: new levels must "
                                "keep the layout, kinds and level counts");
  full_ = s;
  build(); // message size is unchanged: it depends on the counts only
}

void ScheduleCodec::save(std::ostream &os) const { writePod(os, step_); }

void ScheduleCodec::load(std::istream &is) {
  step_ = readPod<std::uint64_t>(is);
}

namespace {
bool allreduced(quant::TypeKind k, RawRouting r) {
  return (k == quant::TypeKind::Fp32 && r.fp32) ||
         (k == quant::TypeKind::Fp16 && r.fp16);
}
} // namespace

RawRouting routeUncompressed(const quant::Schedule &full, std::uint64_t n,
                             std::uint64_t minBytes) {
  std::uint64_t b32 = 0, b16 = 0;
  for (const quant::Segment &s : full.segmentsFor(n)) {
    quant::TypeKind k = full.types.at(s.type).kind;
    b32 += k == quant::TypeKind::Fp32 ? 4 * s.length : 0;
    b16 += k == quant::TypeKind::Fp16 ? 2 * s.length : 0;
  }
  return {b32 > 0 && b32 >= minBytes, b16 > 0 && b16 >= minBytes};
}

std::vector<LayoutSegment> compressedLayout(const quant::Schedule &full,
                                            std::uint64_t n,
                                            RawRouting route) {
  std::vector<LayoutSegment> out;
  for (const quant::Segment &s : full.segmentsFor(n)) {
    quant::TypeKind k = full.types.at(s.type).kind;
    bool raw = allreduced(k, route);
    out.push_back({{"segment@" + std::to_string(s.offset), s.offset, s.length},
                   !raw,
                   raw && k == quant::TypeKind::Fp16});
  }
  return out;
}

quant::Schedule compressedSchedule(const quant::Schedule &full,
                                   std::uint64_t n, RawRouting route) {
  quant::Schedule out;
  out.types = full.types;
  std::uint64_t pos = 0;
  for (const quant::Segment &s : full.segmentsFor(n)) {
    if (allreduced(full.types.at(s.type).kind, route))
      continue;
    out.segments.push_back({pos, s.length, s.type});
    pos += s.length;
  }
  return out;
}

} // namespace qoda::comm
