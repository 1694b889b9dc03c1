//===- ONNXImporter.h - ONNX model -> qoda dialect --------------*- C++ -*-===//
#ifndef QODA_IMPORT_ONNXIMPORTER_H
#define QODA_IMPORT_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

namespace qoda {

/// True when `path` holds an ONNX model: a .onnx/.onnxtxt name, textual ONNX
/// (starts with `<` after comments) or a binary ModelProto by its first
/// field tag. MLIR text is never taken for ONNX.
bool isONNXFile(llvm::StringRef path);

/// Imports the ONNX model (binary or textual) at `path` into a new module
/// holding one qoda.model. On failure, emits an error naming the file and
/// returns null. Never throws.
mlir::OwningOpRef<mlir::ModuleOp> importONNXFile(llvm::StringRef path,
                                                 mlir::MLIRContext *context);

/// Prints diagnostics as "error: FILE: message" (the import has no line
/// numbers to show), for tools that import without MlirOptMain's handler.
mlir::LogicalResult printImportDiagnostic(mlir::Diagnostic &diag);

} // namespace qoda

#endif // QODA_IMPORT_ONNXIMPORTER_H
