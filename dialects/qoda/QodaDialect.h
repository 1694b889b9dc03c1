//===- QodaDialect.h - the qoda dialect -------------------------*- C++ -*-===//
#ifndef QODA_DIALECT_QODADIALECT_H
#define QODA_DIALECT_QODADIALECT_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/qoda/QodaOpsDialect.h.inc"

#define GET_OP_CLASSES
#include "dialects/qoda/QodaOps.h.inc"

#endif // QODA_DIALECT_QODADIALECT_H
