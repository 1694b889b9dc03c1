//===- Communicator.h - the collectives the optimisers use ------*- C++ -*-===//
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace qoda::comm {

/// Thrown when a collective fails or times out. The message names the
/// collective, its sequence number and, where it can be determined, the
/// rank that died or hung.
class CommError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// What this worker has sent, counted per algorithm (nccl-tests convention:
/// bytes the worker itself puts on the wire).
struct CommStats {
  std::uint64_t collectives = 0;
  std::uint64_t bytesSent = 0;
};

class Communicator {
public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  /// In-place fp32 sum over all ranks.
  virtual void allreduceSum(float *data, std::size_t count) = 0;
  /// In-place sum of IEEE binary16 values (bit patterns) over all ranks.
  /// Gloo and NCCL sum in half on the wire (every partial sum rounded to
  /// half); this fallback, for communicators without one (single-process
  /// ones), widens to fp32, sums, and rounds the result once.
  virtual void allreduceSumHalf(std::uint16_t *data, std::size_t count);
  /// Every rank contributes `bytes` bytes; `out` receives size()*bytes
  /// bytes, rank r's message at offset r*bytes.
  virtual void allgather(const void *in, std::size_t bytes, void *out) = 0;
  /// Every rank sends `bytes` bytes to every rank: in[r*bytes..] goes to
  /// rank r, out[k*bytes..] comes from rank k.
  virtual void alltoall(const void *in, std::size_t bytes, void *out) = 0;
  virtual void broadcast(void *data, std::size_t bytes, int root) = 0;
  virtual void barrier() = 0;

  const CommStats &stats() const { return stats_; }
  void resetStats() { stats_ = CommStats(); }

protected:
  CommStats stats_;
};

} // namespace qoda::comm
