//===- Aggregators.h - compressor name -> comm::Aggregator ------*- C++ -*-===//
#pragma once

#include "qoda/comm/Aggregator.h"
#include "qoda/comm/CostModel.h"
#include "qoda/comm/LevelRefit.h"
#include "qoda/problems/Problem.h"
#include "qoda/quant/Schedule.h"

#include <memory>
#include <string>
#include <vector>

namespace qoda::vibench {

struct AggregatorOptions {
  /// "none" (fp32 all-reduce), "fp16" (the collective's own codec), the
  /// quantization library's compressors ("fp32", "q-fp16", "bf16", "qsgd",
  /// "nuqsgd", "cgx", "cgx-stochastic", "orq", "bingrad": global, one level
  /// sequence or rule, buckets over the whole vector), "global-mqv" (one
  /// level type over the whole vector, `bits` uniform levels re-fitted to
  /// minimise the variance if refit is on) or "layerwise" (the schedule's
  /// types).
  std::string compressor = "none";
  /// "allgather" (a), "scatter-reduce" (b), "pipelined" (a, overlapped) or
  /// "auto" ((a) or (b): calibrated on the collectives themselves, the
  /// alpha-beta model's prediction beside it; see calibratePairs).
  std::string collective = "allgather";
  unsigned bits = 4, bucket = 1024;   ///< global quantizers; layerwise default
  quant::Norm norm = quant::Norm::L2; ///< bucket norm, likewise
  std::uint64_t seed = 1;
  /// layerwise: the schedule (from a schedule file); null: one type per
  /// problem block, `bits` uniform levels (re-fitted if refit is on).
  const quant::Schedule *schedule = nullptr;
  bool refit = false; ///< layerwise and global-mqv only
  comm::RefitPlan plan;
  /// Histogram bins per type for the refit (0: the aggregator's default);
  /// the merge is real traffic, counted in the bytes sent.
  std::size_t refitBins = 0;
  /// layerwise without a schedule: index bits per problem block (empty:
  /// `bits` for every block), so types can get different level counts.
  std::vector<unsigned> typeBits;
  /// Schedule-driven compressors (layerwise; global-mqv has level types
  /// only): fp32 and fp16 types whose coordinates put at least this many
  /// bytes per worker on the wire go through Gloo's fp32 /
  /// fp16 all-reduce in collectives (a) and (b); smaller ones travel as
  /// casts in the message (comm::routeUncompressed). Pipelined (a) keeps
  /// every type in its messages.
  std::uint64_t rawAllreduceMin = 0;
  /// collective "auto": after the model's prediction, time (a) and (b)
  /// themselves for this many alternated pairs (comm::calibrateCollectives)
  /// and take the faster; 0: the model alone decides.
  int calibratePairs = 5;
};

/// Throws std::invalid_argument for unknown names or options that do not
/// fit together. With collective "auto", `choice` (if given) receives the
/// model's numbers.
std::unique_ptr<comm::Aggregator>
makeAggregator(const AggregatorOptions &o, comm::Communicator &comm,
               const problems::Problem &problem,
               comm::CollectiveChoice *choice = nullptr);

/// One type per block of the problem, `bits` index bits of uniform levels.
quant::Schedule blockSchedule(const problems::Problem &p, unsigned bits,
                              unsigned bucket, quant::Norm norm);
/// The same with `bits[b]` index bits for block b (one entry per block;
/// std::invalid_argument otherwise).
quant::Schedule blockSchedule(const problems::Problem &p,
                              const std::vector<unsigned> &bits,
                              unsigned bucket, quant::Norm norm);

std::vector<std::string> compressorNames();
/// layerwise and global-mqv: their level tables can be re-fitted.
bool refitsLevels(const std::string &compressor);
/// Compressors whose state (orq's warm-started levels, bingrad's error
/// feedback) the quantization library keeps internally: such runs cannot be
/// checkpointed bit for bit.
bool hiddenCompressorState(const std::string &compressor);
std::vector<std::string> collectiveNames();

} // namespace qoda::vibench
