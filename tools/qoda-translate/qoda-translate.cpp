//===- qoda-translate.cpp - emitters of planned qoda modules --------------===//
//
// mlir-translate for qoda: reads a module planned by qoda-opt
// (--qoda-schedule-pipeline) and writes one of the registered targets
// (include/qoda/InitAllTranslations.h), e.g. --emit-schedule-json.
//
//===----------------------------------------------------------------------===//
#include "qoda/InitAllTranslations.h"

#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  qoda::registerAllTranslations();
  return mlir::failed(mlir::mlirTranslateMain(argc, argv, "qoda translator\n"))
             ? 1
             : 0;
}
