//===- NetShaper.h - per-worker network namespaces behind tbf ---*- C++ -*-===//
//
// For `qoda-run --bandwidth`: every worker gets its own network namespace
// with one veth link to a bridge. The bridge lives in a hub namespace that is
// also created here, so nothing is added to the root namespace. Both ends of
// every link get a `tbf` qdisc at the requested rate, so traffic in each
// direction crosses a limited link. Everything is removed by cleanup(),
// which is idempotent and also runs from the destructor.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qoda::launcher {

class NetShaper {
public:
  /// Names are derived from `tag` (normally the launcher's pid) so that
  /// concurrent runs do not collide.
  NetShaper(int numWorkers, std::uint64_t bitsPerSec, int tag);
  ~NetShaper();
  NetShaper(const NetShaper &) = delete;
  NetShaper &operator=(const NetShaper &) = delete;

  /// Creates namespaces, links, addresses and qdiscs. Throws
  /// std::runtime_error naming the failing `ip`/`tc` command.
  void setUp();
  /// Removes everything created so far. Safe to call more than once.
  void cleanup() noexcept;

  /// Private address of worker `rank` inside its namespace.
  std::string address(int rank) const;
  /// Path under /var/run/netns to setns() into for worker `rank`.
  std::string namespacePath(int rank) const;

private:
  std::string workerNs(int rank) const;
  std::string hubNs() const;

  int numWorkers_;
  std::uint64_t bitsPerSec_;
  int tag_;
  std::vector<std::string> createdNs_;
};

/// Runs a command (argv[0] looked up in PATH), returns its exit status, and
/// captures its stderr into `err`.
int runCommand(const std::vector<std::string> &argv, std::string &err);

/// Moves the calling process into the network namespace at `path`.
/// Returns an error message, empty on success.
std::string enterNamespace(const std::string &path);

} // namespace qoda::launcher
