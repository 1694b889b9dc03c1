//===- Passes.h - qoda passes -----------------------------------*- C++ -*-===//
//
// qoda-layer-features, qoda-cluster-types, qoda-plan-schedule (declared by
// lib/Transforms/Passes.td) and the qoda-schedule-pipeline that runs them.
//
//===----------------------------------------------------------------------===//
#ifndef QODA_TRANSFORMS_PASSES_H
#define QODA_TRANSFORMS_PASSES_H

#include "dialects/qoda/QodaDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

#include <memory>
#include <string>

namespace qoda {

#define GEN_PASS_DECL
#include "lib/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lib/Transforms/Passes.h.inc"

/// Options of qoda-schedule-pipeline: the union of the passes' options.
struct SchedulePipelineOptions
    : public mlir::PassPipelineOptions<SchedulePipelineOptions> {
  Option<std::string> numTypes{*this, "num-types",
                               llvm::cl::desc("Layer types, or 'auto'"),
                               llvm::cl::init("auto")};
  Option<unsigned> maxTypes{*this, "max-types",
                            llvm::cl::desc("Most types num-types=auto tries"),
                            llvm::cl::init(8)};
  Option<double> typePenalty{
      *this, "type-penalty",
      llvm::cl::desc("Relative variance an extra type must save"),
      llvm::cl::init(0.02)};
  Option<int64_t> smallThreshold{
      *this, "small-threshold",
      llvm::cl::desc("Fewer elements: sent uncompressed"),
      llvm::cl::init(1024)};
  Option<std::string> gradientProfile{*this, "gradient-profile",
                                      llvm::cl::desc("Gradient profile (JSON)"),
                                      llvm::cl::init("")};
  Option<double> bitsPerCoordinate{
      *this, "bits-per-coordinate",
      llvm::cl::desc("Budget in bits per coordinate (default 4)"),
      llvm::cl::init(0)};
  Option<double> compressionRatio{
      *this, "compression-ratio",
      llvm::cl::desc("Budget as a compression ratio against fp32"),
      llvm::cl::init(0)};
  Option<unsigned> bucketSize{*this, "bucket-size",
                              llvm::cl::desc("Coordinates per norm bucket"),
                              llvm::cl::init(1024)};
  Option<unsigned> maxBits{*this, "max-bits",
                           llvm::cl::desc("Widest level index considered"),
                           llvm::cl::init(6)};
  Option<std::string> coding{
      *this, "coding",
      llvm::cl::desc("Index coding: 'fixed' (qoda-compile) or 'auto'"),
      llvm::cl::init("fixed")};
};

/// Adds layer features, clustering and planning to `pm`.
void buildSchedulePipeline(mlir::OpPassManager &pm,
                           const SchedulePipelineOptions &options);

/// Registers the passes and qoda-schedule-pipeline.
void registerQodaPasses();

} // namespace qoda

#endif // QODA_TRANSFORMS_PASSES_H
