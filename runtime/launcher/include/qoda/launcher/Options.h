//===- Options.h - qoda-run command line ------------------------*- C++ -*-===//
//
// The parsed command line of qoda-run. Parsing is separate from launching so
// that every error path is testable without starting processes.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qoda::launcher {

struct Options {
  int numWorkers = 0;
  /// 0 means: pick a free port on the master address.
  int port = 0;
  /// Link rate in bits per second; 0 means unshaped (no namespaces).
  std::uint64_t bandwidthBitsPerSec = 0;
  /// The rate as the user wrote it (passed to tc unchanged in messages).
  std::string bandwidthText;
  /// Whole-job wall-clock limit in seconds; 0 means none.
  double timeoutSec = 0;
  /// Seconds between SIGTERM and SIGKILL when stopping workers.
  double graceSec = 5;
  /// Let the other workers run on when one fails (they must then notice
  /// the failure themselves); used to test the runtime's fault handling.
  bool keepGoing = false;
  std::vector<std::string> command;
};

/// Parses argv (without the program name). Throws std::invalid_argument with
/// a message that says what was wrong and what to write instead.
Options parseOptions(const std::vector<std::string> &args);

/// Parses a tc-style rate ("100mbit", "1gbit", "500kbit", "2000000bit").
/// Throws std::invalid_argument on anything else.
std::uint64_t parseRate(const std::string &text);

std::string usage();

} // namespace qoda::launcher
