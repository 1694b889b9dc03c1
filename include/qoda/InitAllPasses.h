//===- InitAllPasses.h - every qoda pass, registered once -------*- C++ -*-===//
//
// qoda-opt registers passes through this header only: a new pass library
// adds one line here (its generated registerXPasses()).
//
//===----------------------------------------------------------------------===//
#ifndef QODA_INITALLPASSES_H
#define QODA_INITALLPASSES_H

#include "qoda/Transforms/Passes.h"

#include "mlir/Transforms/Passes.h"

namespace qoda {

inline void registerAllPasses() {
  // Builtin MLIR transforms (canonicalize, cse, symbol-dce, ...).
  mlir::registerTransformsPasses();
  // qoda passes: layer features, clustering, schedule (+ pipeline).
  qoda::registerQodaPasses();
}

} // namespace qoda

#endif // QODA_INITALLPASSES_H
