//===- CppTranslation.cpp - qoda-translate --emit-cpp / --emit-cuda -------===//
//
// The emitters take a schedule::ScheduleFile; on a planned module they get
// it from exportSchedule, so qoda-translate produces exactly the source
// qoda-compile would for the same module.
//
//===----------------------------------------------------------------------===//
#include "qoda/InitAllDialects.h"
#include "qoda/Target/Cpp.h"
#include "qoda/Target/Cuda.h"
#include "qoda/Target/ScheduleExport.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Tools/mlir-translate/Translation.h"

using namespace mlir;

namespace qoda {

namespace {
using Emitter = LogicalResult (*)(const schedule::ScheduleFile &,
                                  llvm::raw_ostream &, std::string *);

LogicalResult translate(ModuleOp module, llvm::raw_ostream &os, Emitter e) {
  FailureOr<schedule::ScheduleFile> s = exportSchedule(module);
  if (failed(s))
    return failure(); // exportSchedule emitted the error
  std::string err;
  if (failed(e(*s, os, &err)))
    return module.emitError(err);
  return success();
}
} // namespace

void registerCppTranslation() {
  TranslateFromMLIRRegistration reg(
      "emit-cpp", "Write the C++ source of the model library (docs/codegen.md)",
      [](ModuleOp module, llvm::raw_ostream &os) {
        return translate(module, os, emitCpp);
      },
      [](DialectRegistry &registry) { registerAllDialects(registry); });
}

void registerCudaTranslation() {
  TranslateFromMLIRRegistration reg(
      "emit-cuda",
      "Write the CUDA source of the model library (docs/codegen.md)",
      [](ModuleOp module, llvm::raw_ostream &os) {
        return translate(module, os, emitCuda);
      },
      [](DialectRegistry &registry) { registerAllDialects(registry); });
}

} // namespace qoda
