//===- SchedulePipeline.h - model -> schedule for qoda-compile --*- C++ -*-===//
//
// qoda-compile's budget options (--bits-per-coordinate, --compression-ratio,
// --num-types, --gradient-profile) and the compiler pipeline they configure
// (qoda-schedule-pipeline of lib/Transforms, then exportSchedule).
//
//===----------------------------------------------------------------------===//
#ifndef QODA_COMPILE_SCHEDULEPIPELINE_H
#define QODA_COMPILE_SCHEDULEPIPELINE_H

#include "qoda/schedule/ScheduleFile.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/CommandLine.h"

#include <string>

namespace qoda {

/// The category of the budget options, so --help shows them and hides
/// LLVM's own.
llvm::cl::OptionCategory &schedulePipelineCategory();

/// The first pipeline option given on the command line ("--num-types",
/// ...), or "" if none.
std::string pipelineOptionGiven();

/// Runs the schedule pipeline on the imported `module` and exports the
/// schedule. Diagnostics go to the context's handler; `err` gets a summary.
mlir::LogicalResult runSchedulePipeline(mlir::ModuleOp module,
                                        const std::string &modelPath,
                                        schedule::ScheduleFile &out,
                                        std::string &err);

/// Writes the Graphviz layer map of a planned module, and renders it to
/// SVG next to it when `dot` is on PATH; "" or the error.
std::string writeLayerMap(mlir::ModuleOp module, const std::string &path);

} // namespace qoda

#endif
