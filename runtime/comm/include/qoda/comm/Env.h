//===- Env.h - torchrun-style rendezvous configuration ----------*- C++ -*-===//
#pragma once

#include <chrono>
#include <map>
#include <string>

namespace qoda::comm {

struct RendezvousConfig {
  std::string masterAddr; ///< where rank 0's store listens (and others dial)
  int port = 0;
  int rank = 0;
  int worldSize = 1;
  /// This worker's own address for the Gloo transport. Defaults to
  /// 127.0.0.1 when MASTER_ADDR is a loopback address; otherwise it must be
  /// given in QODA_LOCAL_ADDR (qoda-run sets it).
  std::string localAddr;
  /// Limit on every store operation and every collective.
  std::chrono::milliseconds timeout{30000};
};

/// Reads MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE (required), and
/// QODA_LOCAL_ADDR, QODA_COMM_TIMEOUT (seconds; optional) from `env`.
/// Throws std::invalid_argument naming the variable, its value and the
/// expected form.
RendezvousConfig
rendezvousFromEnv(const std::map<std::string, std::string> &env);
/// The same, from the process environment.
RendezvousConfig rendezvousFromEnv();

} // namespace qoda::comm
