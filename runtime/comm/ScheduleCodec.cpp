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
  const quant::TypeKind kinds[] = {quant::TypeKind::Levels,
                                   quant::TypeKind::Fp32, quant::TypeKind::Fp16,
                                   quant::TypeKind::Bf16};
  parts_.clear();
  bytes_ = 8;
  std::size_t largest = 0;
  for (quant::TypeKind kind : kinds) {
    Part p;
    p.kind = kind;
    std::vector<int> remap(full_.types.size(), -1);
    if (kind == quant::TypeKind::Levels)
      for (std::size_t t = 0; t < full_.types.size(); ++t)
        if (full_.types[t].kind == kind) {
          remap[t] = static_cast<int>(p.levels.types.size());
          p.levels.types.push_back(full_.types[t]);
        }
    for (const quant::Segment &s : full_.segmentsFor(total)) {
      if (full_.types[s.type].kind != kind)
        continue;
      std::size_t b = std::max<std::size_t>(s.offset, offset_);
      std::size_t e = std::min<std::size_t>(s.offset + s.length, offset_ + n_);
      if (b >= e)
        continue;
      p.ranges.push_back({b - offset_, e - offset_});
      if (kind == quant::TypeKind::Levels)
        p.levels.segments.push_back(
            {p.coords, e - b, static_cast<std::uint32_t>(remap[s.type])});
      p.coords += e - b;
    }
    if (!p.coords)
      continue;
    quant::CompressorOptions o;
    o.schedule = p.levels;
    p.c = quant::makeCompressor(castName(kind), o);
    p.maxBytes = p.c->maxMessageBytes(p.coords);
    bytes_ += 8 + p.maxBytes;
    largest = std::max(largest, p.coords);
    parts_.push_back(std::move(p));
  }
  scratch_.resize(largest);
}

void ScheduleCodec::encode(const float *v, std::uint8_t *msg) {
  ++step_;
  std::memcpy(msg, &step_, 8);
  std::uint8_t *out = msg + 8;
  for (Part &p : parts_) {
    std::size_t k = 0;
    for (const auto &r : p.ranges)
      for (std::size_t i = r.first; i < r.second; ++i)
        scratch_[k++] = v[i];
    std::uint64_t len =
        p.c->encode(scratch_.data(), p.coords, {seed_, step_, rank_}, out + 8);
    std::memcpy(out, &len, 8);
    std::memset(out + 8 + len, 0, p.maxBytes - len); // deterministic padding
    out += 8 + p.maxBytes;
  }
}

void ScheduleCodec::decodeAccumulate(const std::uint8_t *msg,
                                     float *acc) const {
  std::uint64_t step;
  std::memcpy(&step, msg, 8);
  const std::uint8_t *in = msg + 8;
  for (const Part &p : parts_) {
    std::uint64_t len;
    std::memcpy(&len, in, 8);
    if (len > p.maxBytes)
      throw std::runtime_error(std::string(castName(p.kind)) + " part claims " +
                               std::to_string(len) + " bytes, more than its " +
                               std::to_string(p.maxBytes) + "-byte bound");
    std::fill(scratch_.begin(), scratch_.begin() + p.coords, 0.0f);
    std::string err = p.c->decodeAccumulate(in + 8, len, 1.0f, scratch_.data(),
                                            p.coords, step);
    if (!err.empty())
      throw std::runtime_error(std::string(castName(p.kind)) +
                               " part rejected: " + err);
    std::size_t k = 0;
    for (const auto &r : p.ranges)
      for (std::size_t i = r.first; i < r.second; ++i)
        acc[i] += scratch_[k++];
    in += 8 + p.maxBytes;
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
