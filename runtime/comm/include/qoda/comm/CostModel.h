//===- CostModel.h - alpha-beta model of the collectives --------*- C++ -*-===//
//
// T = (number of rounds) * alpha + (bytes a worker sends) / beta, with
// alpha the per-message latency (s) and beta the link rate (bytes/s), both
// measured (see qoda-comm-bench). Ring algorithms, K workers:
//   fp32 all-reduce of B bytes:       2(K-1) alpha + 2(K-1)/K * B / beta
//   all-gather of m-byte messages (a): (K-1) alpha + (K-1) * m / beta
//   scatter-reduce + all-gather (b):  2(K-1) alpha + 2(K-1)/K * m / beta
//                                     (m: the compressed size of the whole
//                                     vector; chunks re-quantized)
// The compressed collectives also encode and decode on the CPU; with the
// codec's measured seconds per coordinate (CodecCost), per worker and N
// coordinates:
//   (a): encode N, decode (K+1) N (all K messages, and its own for QODA's
//        step-size statistics)
//   (b): encode N (1 + 1/K) (K chunks, then the reduced one), decode 2N
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace qoda::comm {

class Communicator;

struct AlphaBeta {
  double alpha = 0; ///< seconds per message round
  double beta = 0;  ///< bytes per second per link
};

double predictAllreduce(const AlphaBeta &m, int workers, double bytes);
double predictAllgather(const AlphaBeta &m, int workers, double messageBytes);
double predictScatterReduceAllgather(const AlphaBeta &m, int workers,
                                     double messageBytes);

/// Seconds per coordinate of a codec's encode and decode (measured).
struct CodecCost {
  double encode = 0, decode = 0;
};
/// Collective (a) / (b) including the codec's work (see above).
double predictCompressedAllgather(const AlphaBeta &m, const CodecCost &c,
                                  int workers, double coords,
                                  double messageBytes);
double predictCompressedScatterReduce(const AlphaBeta &m, const CodecCost &c,
                                      int workers, double coords,
                                      double messageBytes);

/// "allgather" or "scatter-reduce" (whichever the model predicts faster).
std::string chooseCompressedCollective(const AlphaBeta &m, int workers,
                                       double messageBytes);

/// Fits alpha and beta from two all-gather timings at message sizes
/// small < large (seconds per collective). Throws std::invalid_argument when
/// the timings do not give a positive alpha and beta.
AlphaBeta fitAlphaBeta(int workers, double smallBytes, double smallTime,
                       double largeBytes, double largeTime);

/// Measures the link: all-gathers of `smallBytes` and `largeBytes` per
/// worker (the fastest of a few after a warm-up; if the fit fails, once more
/// with a 4x larger message), rank 0's timings broadcast so
/// every rank fits the same model and makes the same choice. Returns false
/// and sets `why` when the timings give no positive alpha/beta. A
/// collective on every rank (call it on all at the same point).
bool measureAlphaBeta(Communicator &comm, std::size_t smallBytes,
                      std::size_t largeBytes, AlphaBeta &out, std::string &why);

class MessageCodec;
/// Times `codec` (a scratch instance: encoding advances its random key) on
/// a synthetic vector of its own size, on every rank at once (so the
/// contention of local workers for the cores is measured, not guessed):
/// per rank the median of 5 repetitions of one encode and K decodes, then
/// the slowest rank's numbers (a collective waits for it), the same on
/// every rank. A collective on every rank.
CodecCost measureCodecCost(Communicator &comm, MessageCodec &codec);

class Aggregator;

/// Calibration of the choice on the collectives themselves.
struct Calibration {
  double allgather = 0, scatterReduce = 0; ///< median seconds per call
  /// Median over the pairs of t(a) / t(b): above 1, (b) was faster.
  double ratio = 0;
  int pairs = 0;
};

/// Times the complete collectives (encode + transfer + decode) `a` (an
/// all-gather aggregator) and `b` (scatter-reduce), built by the caller
/// with the run's codecs, layout and sizes (scratch instances: calls
/// advance their codecs' random keys and previous-vector state), on the
/// vector `v`: one warm-up call of each, then `pairs` pairs (a, b)
/// alternated, each call started after a barrier. Alternating pairs see
/// the same load, so a burst from another process slows both and moves
/// their ratio less than it moves either time; the median ratio over pairs
/// decides. Rank 0's timings are broadcast, so every rank gets the same
/// numbers (a collective on every rank).
Calibration calibrateCollectives(Communicator &comm, Aggregator &a,
                                 Aggregator &b, const float *v, int pairs = 5);

/// The automatic choice between collectives (a) and (b) for one message.
struct CollectiveChoice {
  std::string collective; ///< "allgather" or "scatter-reduce"
  AlphaBeta model;
  CodecCost codec;
  double predictedAllgather = 0, predictedScatterReduce = 0; ///< seconds
  bool measured = false; ///< false: the fit failed, (a) chosen by default
  std::string note;      ///< why there is no model, if so
  /// With calibrate(): the measured times, which decide; the model's pick
  /// stays in modelCollective, its prediction beside the measurement.
  bool calibrated = false;
  Calibration calibration;
  std::string modelCollective;
};

/// Replaces the model's pick by the measured one: (b) when the median ratio
/// t(a)/t(b) is above 1. [choice] Within the tie band 1/tie < ratio < tie
/// the model's pick stays (when there is a model): five pairs on this
/// loaded machine scatter by about +-20% around the true ratio, so inside
/// the band the measurement cannot order the two and flipping the model's
/// pick on it was wrong more often than right (docs/perf.md, 100 picks);
/// outside it the measurement guards against a model whose separately
/// timed inputs were off. Identical on every rank (the inputs are).
void applyCalibration(CollectiveChoice &choice, const Calibration &c,
                      double tie = 1.2);
/// Measures the link with messages of about the compressed size and picks
/// the collective the model (transport + the given codec cost for `coords`
/// coordinates) predicts faster; identical on every rank.
CollectiveChoice chooseCollective(Communicator &comm, double messageBytes,
                                  double coords = 0,
                                  const CodecCost &codec = {});

/// Builds the run's aggregator for collective "allgather" or
/// "scatter-reduce" (fresh codecs each call).
using AggregatorBuilder =
    std::function<std::unique_ptr<Aggregator>(const std::string &)>;

/// Collective "auto", the whole procedure every front end runs: the codec
/// cost measured on `probe` (a scratch codec of the run's kind over
/// probe.dim() coordinates), the model fitted around `messageBytes`
/// (chooseCollective), then, when pairs > 0 and K > 1, both collectives
/// built by `build` as scratch instances and timed on `v`
/// (calibrateCollectives, applyCalibration). Identical on every rank; a
/// collective on every rank.
CollectiveChoice autoCollective(Communicator &comm, MessageCodec &probe,
                                double messageBytes,
                                const AggregatorBuilder &build, const float *v,
                                int pairs);

} // namespace qoda::comm
