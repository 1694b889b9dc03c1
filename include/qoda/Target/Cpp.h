//===- Cpp.h - schedule -> C++ source of a model library ------*- C++ -*-===//
//
// emitCpp writes the CPU half of libqoda_<model>.so: the schedule's constant
// tables and the kernels of runtime/kernels instantiated for each type's
// compile-time constants, plus the exported C API (ModelLibABI.h).
//
//===----------------------------------------------------------------------===//
#ifndef QODA_TARGET_CPP_H
#define QODA_TARGET_CPP_H

#include "qoda/schedule/ScheduleFile.h"

#include "mlir/Support/LogicalResult.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace qoda {

/// Emits the C++ source. On failure nothing is written to `os` and the
/// reason goes to `*error` (or llvm::errs() when error is null).
mlir::LogicalResult emitCpp(const schedule::ScheduleFile &s,
                            llvm::raw_ostream &os,
                            std::string *error = nullptr);

/// qoda-translate --emit-cpp (schedule from the planned module) and
/// --emit-cuda; defined in lib/Target/Cpp/CppTranslation.cpp.
void registerCppTranslation();
void registerCudaTranslation();

} // namespace qoda

#endif
