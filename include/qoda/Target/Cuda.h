//===- Cuda.h - schedule -> CUDA source of a model library ----*- C++ -*-===//
//
// emitCuda writes the CUDA half of libqoda_<model>.so: the per-type device
// dispatch over the kernels of runtime/kernels/.../CudaKernels.cuh (one
// launch over all segments, bucket -> segment lookup table), compiled by nvcc
// next to the C++ half (emitCpp) built with QODA_MODELLIB_CUDA=1.
//
//===----------------------------------------------------------------------===//
#ifndef QODA_TARGET_CUDA_H
#define QODA_TARGET_CUDA_H

#include "qoda/schedule/ScheduleFile.h"

#include "mlir/Support/LogicalResult.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace qoda {

/// Emits the CUDA source. On failure nothing is written to `os` and the
/// reason goes to `*error` (or llvm::errs() when error is null).
mlir::LogicalResult emitCuda(const schedule::ScheduleFile &s,
                             llvm::raw_ostream &os,
                             std::string *error = nullptr);

} // namespace qoda

#endif
