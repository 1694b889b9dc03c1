//===- ScheduleExport.h - schedule JSON and layer map -----------*- C++ -*-===//
//
// The emitters of a planned module (after qoda-schedule-pipeline):
//  * exportSchedule builds the runtime's schedule::ScheduleFile from the IR
//    (qoda.layer_type, qoda.schedule, and the trainable qoda.params in IR
//    order as the flat layout); the code generators consume that struct;
//  * --emit-schedule-json writes it (docs/schedule.md);
//  * --emit-layer-map writes a Graphviz picture of the layers coloured by
//    type, with a legend.
//
//===----------------------------------------------------------------------===//
#ifndef QODA_TARGET_SCHEDULEEXPORT_H
#define QODA_TARGET_SCHEDULEEXPORT_H

#include "qoda/schedule/ScheduleFile.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/Support/raw_ostream.h"

namespace qoda {

/// The schedule of the single qoda.model in `module`. Emits an error (and
/// fails) when the module holds no or several models, when the model has not
/// been planned, or when the result would not validate.
mlir::FailureOr<qoda::schedule::ScheduleFile>
exportSchedule(mlir::ModuleOp module);

/// exportSchedule + writeScheduleJson.
mlir::LogicalResult emitScheduleJson(mlir::ModuleOp module,
                                     llvm::raw_ostream &os);

/// Graphviz (dot) layer map: every node using a trainable parameter, filled
/// with its type's colour, connected by data flow; a legend lists the types.
mlir::LogicalResult emitLayerMap(mlir::ModuleOp module, llvm::raw_ostream &os);

/// qoda-translate registrations (--emit-schedule-json, --emit-layer-map).
void registerScheduleJsonTranslation();
void registerLayerMapTranslation();

} // namespace qoda

#endif // QODA_TARGET_SCHEDULEEXPORT_H
