//===- ModelMatch.h - does a schedule fit an ONNX model? --------*- C++ -*-===//
#ifndef QODA_COMPILE_MODELMATCH_H
#define QODA_COMPILE_MODELMATCH_H

#include "qoda/schedule/ScheduleFile.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace qoda {

/// "" when the schedule's parameters are exactly the model's trainable
/// parameters (same names, same shapes), else the first difference.
std::string matchScheduleToModel(const schedule::ScheduleFile &s,
                                 mlir::ModuleOp module);

} // namespace qoda

#endif
