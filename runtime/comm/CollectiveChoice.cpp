//===- CollectiveChoice.cpp - measure the link, pick (a) or (b) -----------===//
#include "qoda/comm/Communicator.h"
#include "qoda/comm/CostModel.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <vector>

namespace qoda::comm {

namespace {

double timeAllgather(Communicator &c, std::size_t bytes, int reps,
                     std::vector<char> &in, std::vector<char> &out) {
  c.allgather(in.data(), bytes, out.data()); // warm-up
  c.barrier();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i)
    c.allgather(in.data(), bytes, out.data());
  c.barrier();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
             .count() /
         reps;
}

} // namespace

bool measureAlphaBeta(Communicator &c, std::size_t smallBytes,
                      std::size_t largeBytes, AlphaBeta &out,
                      std::string &why) {
  if (c.size() < 2) {
    why = "one worker: nothing to measure";
    return false;
  }
  std::vector<char> in(largeBytes, 1), buf(largeBytes * c.size());
  double t[2];
  t[0] = timeAllgather(c, smallBytes, 10, in, buf);
  t[1] = timeAllgather(c, largeBytes, 3, in, buf);
  // Every rank fits rank 0's timings, so every rank chooses the same way.
  c.broadcast(t, sizeof t, 0);
  try {
    out = fitAlphaBeta(c.size(), static_cast<double>(smallBytes), t[0],
                       static_cast<double>(largeBytes), t[1]);
  } catch (const std::invalid_argument &e) {
    why = e.what();
    return false;
  }
  return true;
}

CollectiveChoice chooseCollective(Communicator &c, double messageBytes) {
  CollectiveChoice r;
  r.collective = "allgather";
  // Calibrate around the real size: small = 1 KiB, large = the message
  // (at least 64 KiB so the bandwidth term dominates the timing noise).
  std::size_t large = std::max<std::size_t>(
      64 << 10, static_cast<std::size_t>(std::min(messageBytes, 64e6)));
  r.measured = measureAlphaBeta(c, 1024, large, r.model, r.note);
  if (!r.measured)
    return r;
  r.predictedAllgather = predictAllgather(r.model, c.size(), messageBytes);
  r.predictedScatterReduce =
      predictScatterReduceAllgather(r.model, c.size(), messageBytes);
  r.collective = chooseCompressedCollective(r.model, c.size(), messageBytes);
  return r;
}

} // namespace qoda::comm
