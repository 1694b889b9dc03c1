//===- ViBench.h - `qoda-bench vi`: monotone VI benchmark -------*- C++ -*-===//
#pragma once

#include <string>
#include <vector>

namespace qoda::vibench {

/// Runs the benchmark as one worker (rendezvous from the environment; with
/// no MASTER_ADDR set it runs as a single worker). `args` excludes "vi".
/// Returns the process exit status; errors go to stderr.
int runViBench(const std::vector<std::string> &args);

std::string viUsage();

} // namespace qoda::vibench
