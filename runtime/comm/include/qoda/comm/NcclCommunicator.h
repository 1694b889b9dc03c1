//===- NcclCommunicator.h - Communicator over NCCL (GPU workers) -*- C++
//-*-===//
//
// Built only when CUDA is available (QODA_HAVE_CUDA). Bootstrapped through
// the same rendezvous as Gloo: rank 0 creates the ncclUniqueId and shares
// it through the TCP store. All data pointers are DEVICE pointers. NCCL is
// used in non-blocking mode so that a collective that does not finish
// within the timeout can be aborted (ncclCommAbort) and reported instead of
// hanging; the store then says which ranks died.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "qoda/comm/Communicator.h"
#include "qoda/comm/Env.h"
#include "qoda/comm/TcpStore.h"

#include <memory>

namespace qoda::comm {

class NcclCommunicator : public Communicator {
public:
  /// Uses CUDA device `device` (normally LOCAL_RANK).
  NcclCommunicator(const RendezvousConfig &cfg, int device);
  ~NcclCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduceSum(float *data, std::size_t count) override;
  void allreduceSumHalf(std::uint16_t *data, std::size_t count) override;
  void allgather(const void *in, std::size_t bytes, void *out) override;
  void alltoall(const void *in, std::size_t bytes, void *out) override;
  void broadcast(void *data, std::size_t bytes, int root) override;
  void barrier() override;

private:
  struct Impl;
  /// Waits for the enqueued work; throws CommError (after aborting the
  /// communicator) on an NCCL error or when the timeout expires.
  void finish(const char *what);

  int rank_, size_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<TcpStoreServer> server_;
  std::unique_ptr<TcpStore> store_;
  std::unique_ptr<Impl> impl_;
  std::uint64_t seq_ = 0;
};

} // namespace qoda::comm
