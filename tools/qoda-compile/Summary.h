//===- Summary.h - what qoda-compile tells the user -------------*- C++ -*-===//
#ifndef QODA_COMPILE_SUMMARY_H
#define QODA_COMPILE_SUMMARY_H

#include "qoda/Target/ModelTables.h"
#include "qoda/schedule/ScheduleFile.h"

#include "llvm/Support/raw_ostream.h"

namespace qoda {

/// Types (kind, bits, bucket, parameters, coordinates), the message's bits
/// per coordinate, and the predicted variance against the global quantizer.
void printSummary(const schedule::ScheduleFile &s, const ModelTables &t,
                  llvm::raw_ostream &os);

} // namespace qoda

#endif
