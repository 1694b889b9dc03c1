//===- ModelTables.h - schedule -> constant tables of a model library -----===//
//
// The constant tables a generated model library is built from (segments,
// types, default levels, message size), derived from a schedule file once
// and shared by the C++ and CUDA emitters so both bake the same layout.
//
//===----------------------------------------------------------------------===//
#ifndef QODA_TARGET_MODELTABLES_H
#define QODA_TARGET_MODELTABLES_H

#include "qoda/kernels/ModelLibABI.h"
#include "qoda/schedule/ScheduleFile.h"

#include "mlir/Support/LogicalResult.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace qoda {

/// Largest bucket the generated kernels accept (they keep one bucket of
/// codes and random words on the stack / in shared memory).
constexpr uint32_t kMaxGeneratedBucket = 8192;

struct ModelTables {
  std::string model;
  uint64_t scheduleHash = 0;
  uint64_t numCoords = 0;
  uint64_t messageBytes = 0;
  std::vector<qoda_type_info> types;
  std::vector<std::string> typeNames;
  std::vector<qoda_segment_info> segments;
  /// Parameters of each segment ("a.weight" or "a.weight .. c.bias (3)").
  std::vector<std::string> segmentNotes;
  std::vector<float> levels; ///< default levels of all types, by level_slot
};

/// Builds the tables, or fails with `error` naming the offending type or
/// parameter when the schedule is invalid or uses something the generated
/// kernels do not implement.
mlir::FailureOr<ModelTables> buildModelTables(const schedule::ScheduleFile &s,
                                              std::string &error);

/// The C++ template instantiation of a type's CPU kernel, e.g.
/// "LevelsKernel<3, 1024, 0, 0, 8>" or "CastKernel<1>".
std::string cpuKernelName(const qoda_type_info &t);

/// A float as a C/C++ hexadecimal literal (exact), e.g. "0x1.8p-1f".
std::string hexFloat(float f);
/// A C/C++ string literal for `s` (quotes and escapes added).
std::string cString(const std::string &s);

/// Prints the tables shared by both emitters: kTypes, kSegments,
/// kDefaultLevels, kLayout (everything but the kernels), in namespace scope.
void printLayoutTables(const ModelTables &t, llvm::raw_ostream &os);

} // namespace qoda

#endif
