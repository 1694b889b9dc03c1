// The schedule file: the contract between the compiler and the runtime.
//
// qoda-translate --emit-schedule-json writes it, the code generator bakes it
// into a model library, and the runtime reads it to run with its generic
// kernels. docs/schedule.md is the schema. The parser validates everything
// (layout tiles the flat buffer, every type is usable) and reports what is
// wrong and where; it never throws.
#ifndef QODA_SCHEDULE_SCHEDULEFILE_H
#define QODA_SCHEDULE_SCHEDULEFILE_H

#include "qoda/quant/Schedule.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qoda::schedule {

constexpr const char *kFormatName = "qoda-schedule";
constexpr int kFormatVersion = 1;

/// One layer type of the schedule.
struct TypeEntry {
  std::string name;            ///< e.g. "attention", "conv_stage", "small"
  quant::TypeSchedule quant;   ///< kind, levels, bucket, norm, coding
  unsigned bits = 0;           ///< index bits (Levels), 32/16 for casts
  double predictedVariance = 0; ///< expected ||Q(v)-v||^2 / ||v||^2 of the type
};

/// One trainable parameter in the flat gradient layout.
struct ParamEntry {
  std::string name;            ///< ONNX initializer / graph input name
  uint64_t offset = 0;         ///< first coordinate in the flat buffer
  uint64_t numel = 0;
  std::vector<int64_t> shape;
  uint32_t type = 0;           ///< index into ScheduleFile::types
  std::string role;            ///< e.g. "conv_kernel", "dense_weight", "bias"
};

/// What the compiler predicts for the schedule and for the best single global
/// quantizer at the same budget.
struct Prediction {
  double bitsPerCoord = 0;
  double variance = 0;
  double globalBitsPerCoord = 0;
  double globalVariance = 0;
};

struct ScheduleFile {
  std::string model;
  std::string producer;
  uint64_t numCoords = 0;
  std::vector<TypeEntry> types;
  std::vector<ParamEntry> params; ///< in layout order
  Prediction prediction;

  /// The quantization schedule of the whole flat buffer: one segment per
  /// parameter (adjacent parameters of one type merged).
  quant::Schedule quantSchedule() const;
  /// Empty if consistent (layout tiles [0, numCoords) in order, types valid),
  /// else the first problem found.
  std::string validate() const;
  /// Index of the parameter called `name`, or -1.
  int64_t findParam(const std::string &name) const;
};

/// Serialises to the documented JSON (stable key order, 2-space indent).
std::string writeScheduleJson(const ScheduleFile &s);
/// Parses and validates. On failure returns false and sets `error` to a
/// message naming the JSON path of the problem (e.g. "params[3].offset: ...").
bool parseScheduleJson(const std::string &text, ScheduleFile &out,
                       std::string &error);
/// Reads `path` and parses it; errors are prefixed with the path.
bool loadScheduleJson(const std::string &path, ScheduleFile &out,
                      std::string &error);

/// Names used in the JSON for the enums.
const char *kindName(quant::TypeKind k);
const char *normName(quant::Norm n);
const char *normPrecisionName(quant::NormPrecision p);
const char *codingName(quant::Coding c);

} // namespace qoda::schedule

#endif
