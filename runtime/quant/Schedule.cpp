// Schedule validation, hashing and standard level sequences.
#include "qoda/quant/Schedule.h"

#include <cmath>
#include <cstring>

namespace qoda::quant {

unsigned TypeSchedule::indexBits() const {
  unsigned b = 0;
  while ((size_t(1) << b) < levels.size())
    ++b;
  return b;
}

std::string Schedule::validate(uint64_t n) const {
  if (types.empty())
    return "schedule has no types";
  for (size_t m = 0; m < types.size(); ++m) {
    const TypeSchedule &t = types[m];
    std::string where = "type " + std::to_string(m) + ": ";
    if (t.kind != TypeKind::Levels) {
      if (uint8_t(t.kind) > uint8_t(TypeKind::Bf16))
        return where + "unknown kind";
      continue;
    }
    if (t.levels.size() < 2 || t.levels.size() > 256)
      return where + "needs 2..256 levels (including 0 and 1)";
    if (t.levels.front() != 0.0f || t.levels.back() != 1.0f)
      return where + "levels must start at 0 and end at 1";
    for (size_t j = 1; j < t.levels.size(); ++j)
      if (!(t.levels[j] > t.levels[j - 1]))
        return where + "levels must be strictly increasing";
    if (t.bucketSize == 0)
      return where + "bucket size must be positive";
    if (uint8_t(t.coding) > uint8_t(Coding::EliasGaps))
      return where + "unknown coding";
  }
  uint64_t next = 0;
  for (const Segment &s : segmentsFor(n)) {
    if (s.offset != next)
      return "segments must tile [0, n) in order without gaps";
    if (s.type >= types.size())
      return "segment type index out of range";
    next = s.offset + s.length;
  }
  if (next != n)
    return "segments cover " + std::to_string(next) +
           " coordinates, vector has " + std::to_string(n);
  return "";
}

std::vector<Segment> Schedule::segmentsFor(uint64_t n) const {
  if (segments.empty())
    return {Segment{0, n, 0}};
  return segments;
}

namespace {
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void bytes(const void *p, size_t n) {
    const auto *c = static_cast<const uint8_t *>(p);
    for (size_t i = 0; i < n; ++i)
      h = (h ^ c[i]) * 1099511628211ull;
  }
  template <typename T> void val(T v) { bytes(&v, sizeof v); }
};
} // namespace

bool Schedule::sameLayout(const Schedule &o) const {
  if (o.types.size() != types.size() || o.segments.size() != segments.size())
    return false;
  for (size_t t = 0; t < types.size(); ++t)
    if (o.types[t].kind != types[t].kind ||
        o.types[t].levels.size() != types[t].levels.size())
      return false;
  for (size_t i = 0; i < segments.size(); ++i)
    if (o.segments[i].offset != segments[i].offset ||
        o.segments[i].length != segments[i].length ||
        o.segments[i].type != segments[i].type)
      return false;
  return true;
}

uint64_t Schedule::hash() const {
  Fnv f;
  f.val(uint64_t(types.size()));
  for (const TypeSchedule &t : types) {
    f.val(uint8_t(t.kind));
    f.val(uint64_t(t.levels.size()));
    f.bytes(t.levels.data(), t.levels.size() * sizeof(float));
    f.val(t.bucketSize);
    f.val(uint8_t(t.norm));
    f.val(uint8_t(t.normPrecision));
    f.val(uint8_t(t.coding));
  }
  f.val(uint64_t(segments.size()));
  for (const Segment &s : segments) {
    f.val(s.offset);
    f.val(s.length);
    f.val(s.type);
  }
  return f.h;
}

std::vector<float> uniformLevels(unsigned s) {
  std::vector<float> l(s + 1);
  for (unsigned j = 0; j <= s; ++j)
    l[j] = float(j) / float(s);
  l[s] = 1.0f;
  return l;
}

std::vector<float> exponentialLevels(unsigned s) {
  std::vector<float> l{0.0f};
  for (int j = int(s) - 1; j >= 0; --j)
    l.push_back(std::ldexp(1.0f, -j));
  return l;
}

Schedule singleTypeSchedule(std::vector<float> levels, uint32_t bucketSize,
                            Norm norm, NormPrecision prec) {
  Schedule s;
  TypeSchedule t;
  t.levels = std::move(levels);
  t.bucketSize = bucketSize;
  t.norm = norm;
  t.normPrecision = prec;
  s.types.push_back(std::move(t));
  return s;
}

} // namespace qoda::quant
