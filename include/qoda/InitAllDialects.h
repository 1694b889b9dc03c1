//===- InitAllDialects.h - every dialect a qoda tool reads ------*- C++ -*-===//
#ifndef QODA_INITALLDIALECTS_H
#define QODA_INITALLDIALECTS_H

#include "dialects/qoda/QodaDialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"

namespace qoda {

inline void registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<qoda::QodaDialect, mlir::func::FuncDialect>();
}

} // namespace qoda

#endif // QODA_INITALLDIALECTS_H
