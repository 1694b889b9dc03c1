//===- AggregatorSpec.h - Python options -> comm::Aggregator ----*- C++ -*-===//
//
// What the Python binding asks for, in plain C++ (no pybind11 here), so the
// choice of collective and codec is one function over the runtime's public
// API: the fp32 all-reduce, a global compressor of the quantization library,
// the collective's fp16 codec, or the layer-wise codec of one or more
// schedule files (a GAN has one per model, concatenated in layout order).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "qoda/comm/Aggregator.h"
#include "qoda/comm/CostModel.h"
#include "qoda/schedule/ScheduleFile.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qoda::python {

/// One parameter of the flat vector, in layout order.
struct LayoutEntry {
  std::string name;
  std::size_t size = 0;
  /// Global compressors only: false sends it through the fp32 all-reduce
  /// (Q-GenX practice for biases and norms). Layer-wise runs take this
  /// from the schedule's types instead.
  bool compressed = true;
};

/// raw_allreduce_min when not given: fp32/fp16 types below 16 KiB per
/// worker travel in the message. [choice] An all-reduce of its own costs
/// 2(K-1) latencies every step; in the message a type costs (K-1) B bytes
/// instead of 2(K-1)/K B. The message wins below B = 2 alpha beta / (1 -
/// 2/K) (docs/runtime.md): 13 KB at 100 Mbit/s and K = 8 with alpha = 0.4
/// ms, 200 KB at 1 Gbit/s and K = 4, more on faster links; the biases and
/// norms of most layers are far below, and the WGAN's optimiser step went
/// from 24.6 to 19.3 ms at K = 4, 1 Gbit/s (docs/perf.md).
constexpr std::int64_t kDefaultRawAllreduceMin = 16 * 1024;

struct AggregatorSpec {
  std::vector<LayoutEntry> layout;
  /// "none" (fp32 all-reduce), "fp16" (the collective's codec), a name of
  /// quant::compressorNames() except "layerwise" ("fp16" of the library is
  /// "q-fp16"), or "layerwise" (needs `schedules`).
  std::string compressor = "none";
  unsigned bits = 4;
  std::uint32_t bucket = 1024;
  std::string norm = "l2"; ///< l2 | linf
  /// Layer-wise: schedule files whose parameters, concatenated, are the
  /// layout (same sizes in the same order; names are checked by the caller).
  std::vector<schedule::ScheduleFile> schedules;
  /// Layer-wise: compiled model libraries (libqoda_<model>.so), one per
  /// schedule file and generated from it; when given, the messages are
  /// encoded and decoded by them (comm::ModelLibCodec) instead of the
  /// quantization library's generic kernels.
  std::vector<std::string> libraries;
  std::string collective = "allgather"; ///< allgather | scatter-reduce | auto
  /// Layer-wise with the schedule codec: fp32 and fp16 types putting at
  /// least this many bytes per worker on the wire go through their own
  /// all-reduce (comm::routeUncompressed, as qoda-bench vi's
  /// --raw-allreduce-min), the others travel as casts in the message.
  /// -1: not given (kDefaultRawAllreduceMin); given with a non-layer-wise
  /// compressor or compiled libraries it is an error.
  std::int64_t rawAllreduceMin = -1;
  std::uint64_t seed = 0;
  std::string refit = "none";       ///< a comm::RefitPlan text, layer-wise only
  std::string onNonFinite = "stop"; ///< stop | skip
};

/// The compressor names build() accepts.
std::vector<std::string> compressorChoices();

/// One quant::Schedule over the concatenation of `files` (types appended,
/// segments shifted by the coordinates before each file).
quant::Schedule
concatSchedules(const std::vector<schedule::ScheduleFile> &files);

/// Builds the aggregator; throws std::invalid_argument with a message
/// naming the bad option and the valid choices. With collective "auto",
/// `choice` (when given) receives what was measured and picked.
std::unique_ptr<comm::Aggregator>
buildAggregator(const AggregatorSpec &spec, comm::Communicator &comm,
                comm::CollectiveChoice *choice = nullptr);

} // namespace qoda::python
