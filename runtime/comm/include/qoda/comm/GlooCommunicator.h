//===- GlooCommunicator.h - Communicator over Gloo/TCP ----------*- C++ -*-===//
#pragma once

#include "qoda/comm/Communicator.h"
#include "qoda/comm/Env.h"
#include "qoda/comm/TcpStore.h"

#include <atomic>
#include <memory>
#include <thread>

namespace gloo {
class Context;
namespace rendezvous {
class Context;
}
} // namespace gloo

namespace qoda::comm {

class GlooCommunicator : public Communicator {
public:
  /// Rendezvous: rank 0 starts the store on cfg.masterAddr:cfg.port; every
  /// rank connects, then a full Gloo TCP mesh is built on cfg.localAddr.
  explicit GlooCommunicator(const RendezvousConfig &cfg);
  ~GlooCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduceSum(float *data, std::size_t count) override;
  void allreduceSumHalf(std::uint16_t *data, std::size_t count) override;
  void allgather(const void *in, std::size_t bytes, void *out) override;
  void alltoall(const void *in, std::size_t bytes, void *out) override;
  void broadcast(void *data, std::size_t bytes, int root) override;
  void barrier() override;

private:
  template <typename F> void run(const char *what, F &&body);
  [[noreturn]] void fail(const char *what, const std::string &cause);
  void publishProgress();

  int rank_, size_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<TcpStoreServer> server_; // rank 0 only; outlives store_
  std::unique_ptr<TcpStore> store_;
  std::shared_ptr<gloo::rendezvous::Context> ctx_;
  std::uint32_t tag_ = 0;
  std::atomic<std::uint64_t> seq_{0};
  std::atomic<bool> stop_{false};
  std::unique_ptr<TcpStore> progressStore_; // separate connection
  std::thread progressThread_;
};

} // namespace qoda::comm
