//===- ModelTables.cpp - schedule -> constant tables of a model library ---===//
#include "qoda/Target/ModelTables.h"

#include "qoda/kernels/MessagePlan.h"
#include "qoda/quant/Wire.h"

#include "llvm/Support/Format.h"

#include <cstdio>

using namespace mlir;

namespace qoda {

namespace {
/// Names the parameters of segment [first, last] for comments.
std::string noteFor(const schedule::ScheduleFile &s, size_t first,
                    size_t last) {
  if (first == last)
    return s.params[first].name;
  return s.params[first].name + " .. " + s.params[last].name + " (" +
         std::to_string(last - first + 1) + " parameters)";
}
} // namespace

FailureOr<ModelTables> buildModelTables(const schedule::ScheduleFile &s,
                                        std::string &error) {
  std::string err = s.validate();
  if (!err.empty()) {
    error = "invalid schedule: " + err;
    return failure();
  }
  ModelTables t;
  t.model = s.model;
  quant::Schedule qs = s.quantSchedule();
  t.scheduleHash = qs.hash();
  t.numCoords = s.numCoords;
  for (size_t m = 0; m < s.types.size(); ++m) {
    const quant::TypeSchedule &q = s.types[m].quant;
    std::string where =
        "type " + std::to_string(m) + " ('" + s.types[m].name + "'): ";
    qoda_type_info ti{};
    ti.kind = uint32_t(q.kind);
    ti.level_slot = uint32_t(t.levels.size());
    // Kept for cast types too: the schedule hash covers every field.
    ti.bucket = q.bucketSize;
    ti.norm = uint32_t(q.norm);
    ti.norm_precision = uint32_t(q.normPrecision);
    ti.coding = uint32_t(q.coding);
    if (q.kind == quant::TypeKind::Levels) {
      if (q.coding != quant::Coding::FixedWidth) {
        error = where + "coding '" + schedule::codingName(q.coding) +
                "' has no generated kernel (only 'fixed'); change the "
                "type's coding or use the runtime's generic path";
        return failure();
      }
      if (q.bucketSize > kMaxGeneratedBucket) {
        error = where + "bucket " + std::to_string(q.bucketSize) +
                " exceeds the generated kernels' maximum of " +
                std::to_string(kMaxGeneratedBucket);
        return failure();
      }
      ti.index_bits = q.indexBits();
      ti.num_levels = uint32_t(q.levels.size());
      t.levels.insert(t.levels.end(), q.levels.begin(), q.levels.end());
    }
    t.types.push_back(ti);
    t.typeNames.push_back(s.types[m].name);
  }
  // One segment per run of adjacent parameters of one type, exactly as
  // ScheduleFile::quantSchedule() merges them (the hash covers segments).
  size_t p = 0;
  uint32_t bucket = 0;
  for (const quant::Segment &seg : qs.segments) {
    while (p < s.params.size() && s.params[p].numel == 0)
      ++p;
    size_t first = p;
    uint64_t covered = 0;
    while (p < s.params.size() && covered < seg.length)
      covered += s.params[p++].numel;
    qoda_segment_info si{seg.offset, seg.length, seg.type, bucket};
    const qoda_type_info &ti = t.types[seg.type];
    if (ti.kind == uint32_t(quant::TypeKind::Levels))
      bucket += uint32_t((seg.length + ti.bucket - 1) / ti.bucket);
    t.segments.push_back(si);
    t.segmentNotes.push_back(noteFor(s, first, p ? p - 1 : 0));
  }
  kernels::MessagePlan plan = kernels::planMessage(
      t.types.data(), t.segments.data(), uint32_t(t.segments.size()));
  t.messageBytes = quant::kHeaderBytes + plan.payloadBytes;
  return t;
}

std::string cpuKernelName(const qoda_type_info &t) {
  if (t.kind != uint32_t(quant::TypeKind::Levels))
    return "CastKernel<" + std::to_string(t.kind) + ">";
  return "LevelsKernel<" + std::to_string(t.index_bits) + ", " +
         std::to_string(t.bucket) + ", " + std::to_string(t.norm) + ", " +
         std::to_string(t.norm_precision) + ", " +
         std::to_string(t.num_levels) + ">";
}

std::string hexFloat(float f) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%af", double(f));
  return buf;
}

std::string cString(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\%03o", c);
      out += b;
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

void printLayoutTables(const ModelTables &t, llvm::raw_ostream &os) {
  os << "// kind, index_bits, num_levels, bucket, norm, norm_precision, "
        "coding, level_slot\n";
  os << "const qoda_type_info kTypes[] = {\n";
  for (size_t m = 0; m < t.types.size(); ++m) {
    const qoda_type_info &ti = t.types[m];
    os << "    {" << ti.kind << ", " << ti.index_bits << ", " << ti.num_levels
       << ", " << ti.bucket << ", " << ti.norm << ", " << ti.norm_precision
       << ", " << ti.coding << ", " << ti.level_slot << "}, // type " << m
       << " '" << t.typeNames[m] << "'\n";
  }
  os << "};\n\n// offset, length, type, first_bucket\n";
  os << "const qoda_segment_info kSegments[] = {\n";
  for (size_t i = 0; i < t.segments.size(); ++i) {
    const qoda_segment_info &s = t.segments[i];
    os << "    {" << s.offset << "ull, " << s.length << "ull, " << s.type
       << ", " << s.first_bucket << "}, // " << t.segmentNotes[i] << "\n";
  }
  os << "};\n\n";
  // An empty array is ill-formed: keep one unused entry when no type has
  // levels.
  os << "const float kDefaultLevels[] = {";
  if (t.levels.empty())
    os << "0.0f";
  for (size_t i = 0; i < t.levels.size(); ++i)
    os << (i ? "," : "") << (i % 4 == 0 ? "\n    " : " ")
       << hexFloat(t.levels[i]);
  os << "};\n\n";
  os << "const qoda_model_layout kLayout = {\n"
     << "    QODA_MODELLIB_ABI_VERSION,\n"
     << "    QODA_TARGET_CPU | (QODA_MODELLIB_CUDA ? QODA_TARGET_CUDA : 0u),\n"
     << "    " << cString(t.model) << ",\n"
     << "    QODA_MODELLIB_CPU_ARCH, // set by qoda-compile (-march)\n"
     << "    0x" << llvm::format_hex_no_prefix(t.scheduleHash, 16)
     << "ull, // schedule hash\n"
     << "    " << t.numCoords << "ull, // coordinates\n"
     << "    " << t.messageBytes << "ull, // message bytes\n"
     << "    " << t.types.size() << ", " << t.segments.size()
     << ", kTypes, kSegments, kDefaultLevels};\n";
}

} // namespace qoda
