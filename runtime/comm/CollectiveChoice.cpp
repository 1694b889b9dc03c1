//===- CollectiveChoice.cpp - measure the link, pick (a) or (b) -----------===//
#include "qoda/comm/Aggregator.h"
#include "qoda/comm/CompressedAggregator.h"
#include "qoda/comm/CostModel.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <vector>

namespace qoda::comm {

namespace {

/// The fastest of `reps` all-gathers (the minimum is the least disturbed
/// by other processes on a shared machine).
double timeAllgather(Communicator &c, std::size_t bytes, int reps,
                     std::vector<char> &in, std::vector<char> &out) {
  c.allgather(in.data(), bytes, out.data()); // warm-up
  double best = 1e300;
  for (int i = 0; i < reps; ++i) {
    c.barrier();
    auto t0 = std::chrono::steady_clock::now();
    c.allgather(in.data(), bytes, out.data());
    best = std::min(best, std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - t0)
                              .count());
  }
  return best;
}

} // namespace

bool measureAlphaBeta(Communicator &c, std::size_t smallBytes,
                      std::size_t largeBytes, AlphaBeta &out,
                      std::string &why) {
  if (c.size() < 2) {
    why = "one worker: nothing to measure";
    return false;
  }
  // A noisy timing can make the large message look no slower than the
  // small one; measure again with a 4x larger one before giving up.
  for (int attempt = 0; attempt < 2; ++attempt, largeBytes *= 4) {
    std::vector<char> in(largeBytes, 1), buf(largeBytes * c.size());
    double t[2];
    t[0] = timeAllgather(c, smallBytes, 10, in, buf);
    t[1] = timeAllgather(c, largeBytes, 3, in, buf);
    // Every rank fits rank 0's timings, so every rank chooses the same way.
    c.broadcast(t, sizeof t, 0);
    try {
      out = fitAlphaBeta(c.size(), static_cast<double>(smallBytes), t[0],
                         static_cast<double>(largeBytes), t[1]);
      return true;
    } catch (const std::invalid_argument &e) {
      why = e.what();
    }
  }
  return false;
}

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

} // namespace

CodecCost measureCodecCost(Communicator &c, MessageCodec &codec) {
  const std::size_t n = codec.dim();
  std::vector<float> v(n), acc(n, 0.0f);
  for (std::size_t i = 0; i < n; ++i) // varied magnitudes and signs
    v[i] = static_cast<float>((i * 2654435761u % 2001) - 1000) * 1e-3f;
  std::vector<std::uint8_t> msg(codec.messageBytes());
  // Every rank times its codec at the same moment, as in a collective, so
  // the timings see the real contention of the local workers for the cores
  // (no guessed share); per rank the median of several repetitions (one
  // encode, then K decodes as collective (a) does), which a single burst of
  // load from another process does not move; then the slowest rank, since
  // a collective waits for it. Every rank gets the same numbers.
  const int reps = 5, K = std::max(1, c.size());
  double mine[2] = {0, 0};
  if (n > 0) {
    codec.encode(v.data(), msg.data()); // warm-up
    std::vector<double> enc, dec;
    c.barrier();
    for (int i = 0; i < reps; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      codec.encode(v.data(), msg.data());
      auto t1 = std::chrono::steady_clock::now();
      for (int k = 0; k < K; ++k)
        codec.decodeAccumulate(msg.data(), acc.data());
      auto t2 = std::chrono::steady_clock::now();
      enc.push_back(std::chrono::duration<double>(t1 - t0).count() / n);
      dec.push_back(std::chrono::duration<double>(t2 - t1).count() / (K * n));
    }
    mine[0] = median(enc);
    mine[1] = median(dec);
  }
  std::vector<double> all(2 * static_cast<std::size_t>(K));
  c.allgather(mine, sizeof mine, all.data());
  CodecCost cost;
  for (int r = 0; r < K; ++r) {
    cost.encode = std::max(cost.encode, all[2 * r]);
    cost.decode = std::max(cost.decode, all[2 * r + 1]);
  }
  return cost;
}

CollectiveChoice chooseCollective(Communicator &c, double messageBytes,
                                  double coords, const CodecCost &codec) {
  CollectiveChoice r;
  r.collective = "allgather";
  r.codec = codec;
  // Calibrate around the real size: small = 1 KiB, large = the message
  // (at least 1 MiB so the bandwidth term dominates the timing noise).
  std::size_t large = std::max<std::size_t>(
      1 << 20, static_cast<std::size_t>(std::min(messageBytes, 64e6)));
  r.measured = measureAlphaBeta(c, 1024, large, r.model, r.note);
  if (!r.measured)
    return r;
  r.predictedAllgather = predictCompressedAllgather(r.model, codec, c.size(),
                                                    coords, messageBytes);
  r.predictedScatterReduce = predictCompressedScatterReduce(
      r.model, codec, c.size(), coords, messageBytes);
  r.collective = r.predictedScatterReduce < r.predictedAllgather
                     ? "scatter-reduce"
                     : "allgather";
  return r;
}

Calibration calibrateCollectives(Communicator &c, Aggregator &a,
                                 Aggregator &b, const float *v, int pairs) {
  if (a.dim() != b.dim())
    throw std::invalid_argument("calibrateCollectives: the two aggregators "
                                "reduce vectors of different lengths");
  std::vector<float> mean(a.dim());
  AggregateStats st;
  auto timed = [&](Aggregator &g) {
    c.barrier();
    auto t0 = std::chrono::steady_clock::now();
    g.mean(v, mean.data(), st);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
        .count();
  };
  timed(a); // warm-up: first-call allocations and connection set-up
  timed(b);
  std::vector<double> t(2 * static_cast<std::size_t>(std::max(pairs, 1)));
  for (std::size_t i = 0; i < t.size(); i += 2) {
    t[i] = timed(a);
    t[i + 1] = timed(b);
  }
  // A collective ends at about the same moment on every rank; rank 0's
  // times decide for all, so no rank can pick differently (and hang).
  c.broadcast(t.data(), t.size() * sizeof(double), 0);
  std::vector<double> ta, tb, ratio;
  for (std::size_t i = 0; i < t.size(); i += 2) {
    ta.push_back(t[i]);
    tb.push_back(t[i + 1]);
    ratio.push_back(t[i] / std::max(t[i + 1], 1e-12));
  }
  Calibration cal;
  cal.allgather = median(ta);
  cal.scatterReduce = median(tb);
  cal.ratio = median(ratio);
  cal.pairs = static_cast<int>(ta.size());
  return cal;
}

void applyCalibration(CollectiveChoice &choice, const Calibration &c,
                      double tie) {
  choice.modelCollective = choice.collective;
  choice.calibrated = true;
  choice.calibration = c;
  bool near = c.ratio > 1 / tie && c.ratio < tie;
  if (!(choice.measured && near))
    choice.collective = c.ratio > 1 ? "scatter-reduce" : "allgather";
}

CollectiveChoice autoCollective(Communicator &comm, MessageCodec &probe,
                                double messageBytes,
                                const AggregatorBuilder &build, const float *v,
                                int pairs) {
  CodecCost cost = measureCodecCost(comm, probe);
  CollectiveChoice c = chooseCollective(
      comm, messageBytes, static_cast<double>(probe.dim()), cost);
  if (pairs > 0 && comm.size() > 1) {
    std::unique_ptr<Aggregator> a = build("allgather");
    std::unique_ptr<Aggregator> b = build("scatter-reduce");
    applyCalibration(c, calibrateCollectives(comm, *a, *b, v, pairs));
  }
  return c;
}

} // namespace qoda::comm
