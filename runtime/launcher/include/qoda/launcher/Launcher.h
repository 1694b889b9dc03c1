//===- Launcher.h - start and supervise K local workers ---------*- C++ -*-===//
#pragma once

#include "qoda/launcher/Options.h"

namespace qoda::launcher {

/// Runs the job described by `opts` and returns qoda-run's exit status:
/// 0 when every worker exited 0; the failing worker's exit code (or 128+sig)
/// when one failed; 128+sig when qoda-run itself received SIGINT/SIGTERM;
/// 124 when --timeout expired. Messages go to stderr prefixed "qoda-run: ".
int runJob(const Options &opts);

} // namespace qoda::launcher
