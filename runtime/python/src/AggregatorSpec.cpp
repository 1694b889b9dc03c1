//===- AggregatorSpec.cpp - Python options -> comm::Aggregator ------------===//
#include "AggregatorSpec.h"

#include "qoda/comm/CompressedAggregator.h"
#include "qoda/comm/CostModel.h"
#include "qoda/comm/LevelRefit.h"
#include "qoda/comm/ModelLibCodec.h"
#include "qoda/comm/QuantCodec.h"
#include "qoda/comm/ScatterReduceAggregator.h"
#include "qoda/comm/ScheduleCodec.h"
#include "qoda/quant/Compressor.h"

#include <algorithm>
#include <random>
#include <stdexcept>

namespace qoda::python {

namespace {

std::string joined(const std::vector<std::string> &v) {
  std::string s;
  for (const std::string &x : v)
    s += (s.empty() ? "" : ", ") + x;
  return s;
}

/// The library's "fp16" is offered as "q-fp16", next to the collective's
/// own "fp16" codec (the same naming as qoda-bench vi).
std::string libraryName(const std::string &c) {
  return c == "q-fp16" ? "fp16" : c;
}

std::vector<comm::Segment> namedLayout(const std::vector<LayoutEntry> &l) {
  std::vector<comm::Segment> out;
  std::size_t off = 0;
  for (const LayoutEntry &e : l) {
    out.push_back({e.name, off, e.size});
    off += e.size;
  }
  return out;
}

/// How the compressed part of the vector is encoded, before the collective
/// is chosen: so collective (a), (b) and the scratch pair that times them
/// for collective "auto" are built from one description.
struct CodecPlan {
  std::size_t dim = 0;        ///< coordinates of the whole vector
  std::size_t compressed = 0; ///< of them, in the messages
  bool layerwise = false;
  /// Layer-wise: compressed and fp32/fp16 segments (RawReducer); global
  /// compressors: the parameters, 1-D ones possibly uncompressed.
  std::vector<comm::LayoutSegment> layout;
  /// Codec over compressed coordinates [offset, offset + n).
  comm::CodecFactory make;
  /// Compiled model libraries: one codec over the whole vector, (a) only.
  std::unique_ptr<comm::MessageCodec> library;
  /// Why collective (b) cannot run this plan ("" when it can).
  std::string noScatterReduce;

  std::unique_ptr<comm::Aggregator> build(const std::string &collective,
                                          comm::Communicator &comm) {
    if (library) {
      std::vector<comm::LayoutSegment> all = {{{"all", 0, dim}, true}};
      return std::make_unique<comm::CompressedAggregator>(comm, std::move(all),
                                                          std::move(library));
    }
    if (collective == "scatter-reduce") {
      if (!noScatterReduce.empty())
        throw std::invalid_argument(noScatterReduce);
      if (layerwise)
        return std::make_unique<comm::ScatterReduceAggregator>(comm, layout,
                                                               make);
      return std::make_unique<comm::ScatterReduceAggregator>(comm, dim, make);
    }
    if (compressed == 0 && !layerwise)
      throw std::invalid_argument(
          "every parameter is sent uncompressed (all are 1-D and "
          "uncompressed_1d=True): use compressor 'none'");
    return std::make_unique<comm::CompressedAggregator>(comm, layout,
                                                        make(0, compressed));
  }
};

CodecPlan planCodecs(const AggregatorSpec &spec, comm::Communicator &comm,
                     std::size_t dim) {
  const auto rank = static_cast<std::uint32_t>(comm.rank());
  const std::uint64_t seed = spec.seed;
  CodecPlan p;
  p.dim = dim;
  if (spec.compressor == "layerwise") {
    p.layerwise = true;
    quant::Schedule s = concatSchedules(spec.schedules);
    std::string err = s.validate(dim);
    if (!err.empty())
      throw std::invalid_argument("the schedule files do not fit the " +
                                  std::to_string(dim) +
                                  " parameters' coordinates: " + err);
    if (!spec.libraries.empty()) {
      // The libraries send cast types (fp32 included) inside their
      // messages: one compressed segment, collective (a).
      std::vector<comm::ModelLibCodec::Library> libs;
      for (std::size_t i = 0; i < spec.libraries.size(); ++i)
        libs.push_back({spec.libraries[i], spec.schedules[i].quantSchedule(),
                        spec.schedules[i].numCoords});
      p.library = std::make_unique<comm::ModelLibCodec>(libs, seed, rank);
      p.compressed = dim;
      p.noScatterReduce = "compiled model libraries encode the whole vector "
                          "and cannot be cut into chunks";
      return p;
    }
    // fp32/fp16 types through their all-reduces (unless below the
    // threshold), the rest in the messages, as qoda-bench vi.
    comm::RawRouting route = comm::routeUncompressed(
        s, dim,
        static_cast<std::uint64_t>(
            spec.rawAllreduceMin < 0 ? kDefaultRawAllreduceMin
                                     : spec.rawAllreduceMin));
    p.layout = comm::compressedLayout(s, dim, route);
    quant::Schedule cs = comm::compressedSchedule(s, dim, route);
    p.compressed = comm::checkLayout(p.layout).compressed;
    p.make = [cs, seed, rank](std::size_t off, std::size_t n) {
      return std::make_unique<comm::ScheduleCodec>(cs, off, n, seed, rank);
    };
    return p;
  }
  if (spec.compressor == "fp16") {
    p.make = [](std::size_t, std::size_t n) {
      return std::make_unique<comm::Fp16Codec>(n);
    };
  } else {
    quant::CompressorOptions q;
    q.bits = spec.bits;
    q.bucketSize = spec.bucket;
    q.norm = spec.norm == "linf" ? quant::Norm::Linf : quant::Norm::L2;
    std::string name = libraryName(spec.compressor);
    quant::makeCompressor(name, q); // bad bits/bucket fail here, clearly
    p.make = [=](std::size_t off, std::size_t n) {
      // Chunks of one worker must not share random streams.
      return std::make_unique<comm::QuantCodec>(
          quant::makeCompressor(name, q), n,
          seed + 0x9e3779b97f4a7c15ull * off, rank);
    };
  }
  std::size_t off = 0;
  for (const LayoutEntry &e : spec.layout) {
    p.layout.push_back({{e.name, off, e.size}, e.compressed});
    off += e.size;
    p.compressed += e.compressed ? e.size : 0;
  }
  if (p.compressed != dim)
    p.noScatterReduce =
        "collective 'scatter-reduce' compresses every coordinate; send no "
        "parameter uncompressed (uncompressed_1d=False) or use collective "
        "'allgather'";
  return p;
}

/// Collective "auto": the alpha-beta model with this run's codec cost
/// (comm::chooseCollective), then both collectives timed on scratch
/// aggregators built from the same plan, alternated (the measurement
/// decides outside the tie band, comm::applyCalibration). Every rank gets
/// rank 0's timings, so every rank picks the same collective.
comm::CollectiveChoice pickCollective(CodecPlan &plan,
                                      comm::Communicator &comm) {
  comm::CollectiveChoice c;
  c.collective = "allgather";
  if (!plan.noScatterReduce.empty()) {
    c.note = plan.noScatterReduce + ": (a) is the only collective";
    return c;
  }
  if (comm.size() < 2) {
    c.note = "one worker: no collective to choose";
    return c;
  }
  std::unique_ptr<comm::MessageCodec> probe = plan.make(0, plan.compressed);
  double msg = static_cast<double>(probe->messageBytes() +
                                   comm::CompressedAggregator::kHeaderBytes);
  // The codecs' speed does not depend on the values: a fixed synthetic
  // vector (gradient-like scale) stands in for the first gradient.
  std::vector<float> v(plan.dim);
  std::mt19937 gen(static_cast<std::uint32_t>(comm.rank()) + 1);
  std::normal_distribution<float> normal(0.0f, 1e-2f);
  for (float &x : v)
    x = normal(gen);
  return comm::autoCollective(
      comm, *probe, msg,
      [&](const std::string &coll) { return plan.build(coll, comm); },
      v.data(), /*pairs=*/5);
}

} // namespace

std::vector<std::string> compressorChoices() {
  std::vector<std::string> n = {"none", "fp16"};
  for (const std::string &q : quant::compressorNames())
    if (q != "layerwise")
      n.push_back(q == "fp16" ? "q-fp16" : q);
  n.push_back("layerwise");
  return n;
}

quant::Schedule
concatSchedules(const std::vector<schedule::ScheduleFile> &files) {
  quant::Schedule out;
  std::uint64_t base = 0;
  for (const schedule::ScheduleFile &f : files) {
    quant::Schedule s = f.quantSchedule();
    auto firstType = static_cast<std::uint32_t>(out.types.size());
    for (const quant::TypeSchedule &t : s.types)
      out.types.push_back(t);
    for (const quant::Segment &seg : s.segmentsFor(f.numCoords))
      out.segments.push_back(
          {base + seg.offset, seg.length, firstType + seg.type});
    base += f.numCoords;
  }
  return out;
}

std::unique_ptr<comm::Aggregator>
buildAggregator(const AggregatorSpec &spec, comm::Communicator &comm,
                comm::CollectiveChoice *choice) {
  std::size_t dim = 0;
  for (const LayoutEntry &e : spec.layout)
    dim += e.size;
  if (dim == 0)
    throw std::invalid_argument("there are no coordinates to optimise (no "
                                "parameters, or only empty ones)");
  const std::vector<std::string> choices = compressorChoices();
  if (std::find(choices.begin(), choices.end(), spec.compressor) ==
      choices.end())
    throw std::invalid_argument("unknown compressor '" + spec.compressor +
                                "' (expected one of: " + joined(choices) + ")");
  if (spec.collective != "allgather" && spec.collective != "scatter-reduce" &&
      spec.collective != "auto")
    throw std::invalid_argument("unknown collective '" + spec.collective +
                                "' (expected allgather, scatter-reduce or "
                                "auto)");
  if (spec.onNonFinite != "stop" && spec.onNonFinite != "skip")
    throw std::invalid_argument("unknown on_nonfinite '" + spec.onNonFinite +
                                "' (expected stop or skip)");
  if (spec.norm != "l2" && spec.norm != "linf")
    throw std::invalid_argument("unknown norm '" + spec.norm +
                                "' (expected l2 or linf)");
  const bool layerwise = spec.compressor == "layerwise";
  if (layerwise && spec.schedules.empty())
    throw std::invalid_argument(
        "compressor 'layerwise' needs a schedule file for every parameter "
        "group (qoda-compile writes OUT/schedule.json)");
  if (!layerwise && !spec.schedules.empty())
    throw std::invalid_argument("a schedule applies to compressor "
                                "'layerwise' only, not '" +
                                spec.compressor + "'");
  if (!spec.libraries.empty() && !layerwise)
    throw std::invalid_argument("a compiled model library applies to "
                                "compressor 'layerwise' only, not '" +
                                spec.compressor + "'");
  if (!spec.libraries.empty() &&
      spec.libraries.size() != spec.schedules.size())
    throw std::invalid_argument(
        "every parameter group needs its compiled model library (got " +
        std::to_string(spec.libraries.size()) + " libraries for " +
        std::to_string(spec.schedules.size()) + " schedules)");
  if (!spec.libraries.empty() && spec.collective == "scatter-reduce")
    throw std::invalid_argument(
        "compiled model libraries encode the whole vector and cannot be cut "
        "into chunks: use collective 'allgather', not '" +
        spec.collective + "'");
  if (spec.rawAllreduceMin < -1)
    throw std::invalid_argument(
        "raw_allreduce_min expects a number of bytes >= 0, got " +
        std::to_string(spec.rawAllreduceMin));
  if (spec.rawAllreduceMin >= 0 && !layerwise)
    throw std::invalid_argument("raw_allreduce_min routes the fp32/fp16 "
                                "types of compressor 'layerwise' only, not '" +
                                spec.compressor + "'");
  // The libraries' message layout is fixed when they are generated (their
  // schedule hash is checked): every type, fp16 and fp32 included, is
  // encoded in it, so the runtime cannot take types out of the message.
  if (spec.rawAllreduceMin >= 0 && !spec.libraries.empty())
    throw std::invalid_argument(
        "raw_allreduce_min does not apply to compiled model libraries: they "
        "send every type, fp32 and fp16 included, inside their messages; "
        "drop raw_allreduce_min or the library");
  if (!layerwise && spec.refit != "none")
    throw std::invalid_argument("level re-fitting applies to compressor "
                                "'layerwise' only");
  // Parse the plan before any collective, so a typo fails on every rank.
  comm::RefitPlan plan = comm::RefitPlan::parse(spec.refit);

  std::unique_ptr<comm::Aggregator> agg;
  if (spec.compressor == "none") {
    agg = std::make_unique<comm::AllreduceAggregator>(comm, dim);
  } else {
    CodecPlan codecs = planCodecs(spec, comm, dim);
    std::string collective = spec.collective;
    if (collective == "auto") {
      comm::CollectiveChoice c = pickCollective(codecs, comm);
      collective = c.collective;
      if (choice)
        *choice = c;
    }
    agg = codecs.build(collective, comm);
  }
  agg->setLayout(namedLayout(spec.layout));
  agg->setNonFinitePolicy(spec.onNonFinite == "skip"
                              ? comm::NonFinitePolicy::Skip
                              : comm::NonFinitePolicy::Stop);
  if (spec.refit != "none")
    agg->enableRefit(plan);
  return agg;
}

} // namespace qoda::python
