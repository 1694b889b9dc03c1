//===- LocalCommunicator.h - the communicator of a lone worker --*- C++ -*-===//
//
// A script started without qoda-run or torchrun (no MASTER_ADDR) is one
// worker: collectives are identities. This keeps `python3 train.py` working
// for debugging with exactly the code path of a K-worker run (the codecs
// still encode and decode every message).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "qoda/comm/Communicator.h"

#include <algorithm>

namespace qoda::python {

class LocalCommunicator : public comm::Communicator {
public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduceSum(float *, std::size_t) override { ++stats_.collectives; }
  void allgather(const void *in, std::size_t bytes, void *out) override {
    std::copy_n(static_cast<const char *>(in), bytes, static_cast<char *>(out));
    ++stats_.collectives;
  }
  void alltoall(const void *in, std::size_t bytes, void *out) override {
    allgather(in, bytes, out);
  }
  void broadcast(void *, std::size_t, int) override {}
  void barrier() override {}
};

} // namespace qoda::python
