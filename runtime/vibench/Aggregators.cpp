//===- Aggregators.cpp - compressor name -> comm::Aggregator --------------===//
#include "qoda/vibench/Aggregators.h"
#include "qoda/comm/CompressedAggregator.h"
#include "qoda/comm/PipelinedAggregator.h"
#include "qoda/comm/QuantCodec.h"
#include "qoda/comm/ScatterReduceAggregator.h"
#include "qoda/comm/ScheduleCodec.h"

#include <algorithm>
#include <stdexcept>

namespace qoda::vibench {

/// The quantization library's compressors that need no schedule; its
/// "fp16" is offered as "q-fp16" next to the collective's own fp16 codec.
static std::vector<std::string> quantNames() {
  std::vector<std::string> out;
  for (const std::string &n : quant::compressorNames())
    if (n != "layerwise")
      out.push_back(n == "fp16" ? "q-fp16" : n);
  return out;
}

bool refitsLevels(const std::string &compressor) {
  return compressor == "layerwise" || compressor == "global-mqv";
}

bool hiddenCompressorState(const std::string &compressor) {
  return compressor == "orq" || compressor == "bingrad";
}

std::vector<std::string> compressorNames() {
  std::vector<std::string> n = {"none", "fp16"};
  for (const std::string &q : quantNames())
    n.push_back(q);
  n.push_back("global-mqv");
  n.push_back("layerwise");
  return n;
}

std::vector<std::string> collectiveNames() {
  return {"allgather", "pipelined", "scatter-reduce", "auto"};
}

quant::Schedule blockSchedule(const problems::Problem &p, unsigned bits,
                              unsigned bucket, quant::Norm norm) {
  return blockSchedule(p, std::vector<unsigned>(p.blocks().size(), bits),
                       bucket, norm);
}

quant::Schedule blockSchedule(const problems::Problem &p,
                              const std::vector<unsigned> &bits,
                              unsigned bucket, quant::Norm norm) {
  if (bits.size() != p.blocks().size())
    throw std::invalid_argument("layerwise: " + std::to_string(bits.size()) +
                                " bit widths given, but the problem has " +
                                std::to_string(p.blocks().size()) + " blocks");
  quant::Schedule s;
  for (const problems::Block &b : p.blocks()) {
    unsigned w = bits[s.types.size()];
    if (w < 1 || w > 8)
      throw std::invalid_argument("layerwise bit widths must be 1..8, got " +
                                  std::to_string(w));
    quant::TypeSchedule t;
    t.levels = quant::uniformLevels((1u << w) - 1);
    t.bucketSize = bucket;
    t.norm = norm;
    s.segments.push_back(
        {b.offset, b.size, static_cast<std::uint32_t>(s.types.size())});
    s.types.push_back(t);
  }
  return s;
}

namespace {

/// Collective (a), (b) or pipelined over codecs from `make`; `layout` and
/// `codecA` are what (a) uses.
/// `makeComp` builds (b)'s chunk codecs over the layout's compressed
/// coordinates; `make` the pipelined pieces over the whole vector.
std::unique_ptr<comm::Aggregator>
build(const std::string &collective, comm::Communicator &comm, std::size_t dim,
      const comm::CodecFactory &make, const comm::CodecFactory &makeComp,
      std::vector<comm::LayoutSegment> layout,
      std::unique_ptr<comm::MessageCodec> codecA) {
  if (collective == "scatter-reduce")
    return std::make_unique<comm::ScatterReduceAggregator>(
        comm, std::move(layout), makeComp);
  if (collective == "pipelined")
    return std::make_unique<comm::PipelinedAggregator>(
        comm, dim, std::min<std::size_t>(4, dim), make);
  return std::make_unique<comm::CompressedAggregator>(comm, std::move(layout),
                                                      std::move(codecA));
}

} // namespace

std::unique_ptr<comm::Aggregator>
makeAggregator(const AggregatorOptions &o, comm::Communicator &comm,
               const problems::Problem &problem,
               comm::CollectiveChoice *choice) {
  const std::vector<std::string> colls = collectiveNames();
  if (std::find(colls.begin(), colls.end(), o.collective) == colls.end())
    throw std::invalid_argument(
        "unknown collective '" + o.collective +
        "' (expected allgather, pipelined, scatter-reduce or auto)");
  if (o.compressor != "layerwise" && o.schedule)
    throw std::invalid_argument("a schedule applies to --compressor "
                                "layerwise only");
  if (!refitsLevels(o.compressor) && o.refit)
    throw std::invalid_argument("level re-fitting applies to --compressor "
                                "layerwise and global-mqv only");
  const std::size_t dim = problem.dim();
  auto rank = static_cast<std::uint32_t>(comm.rank());
  if (o.compressor == "none")
    return std::make_unique<comm::AllreduceAggregator>(comm, dim);

  std::vector<comm::LayoutSegment> layout;
  for (const problems::Block &b : problem.blocks())
    layout.push_back({{b.name, b.offset, b.size}, true});
  comm::CodecFactory make, makeComp;
  std::unique_ptr<comm::MessageCodec> codecA;
  if (refitsLevels(o.compressor)) {
    // global-mqv: the layer-wise machinery with ONE type over the whole
    // vector, i.e. the best single level sequence (MQV levels fitted to the
    // merged histogram of all coordinates) with one norm per bucket: the
    // global quantizer that layer-wise quantization must beat.
    quant::Schedule s =
        o.schedule ? *o.schedule
        : o.compressor == "global-mqv"
            ? quant::singleTypeSchedule(
                  quant::uniformLevels((1u << o.bits) - 1), o.bucket, o.norm)
        : o.typeBits.empty()
            ? blockSchedule(problem, o.bits, o.bucket, o.norm)
            : blockSchedule(problem, o.typeBits, o.bucket, o.norm);
    std::string err = s.validate(dim);
    if (!err.empty())
      throw std::invalid_argument("the schedule does not fit the " +
                                  std::to_string(dim) +
                                  "-coordinate problem: " + err);
    std::uint64_t seed = o.seed;
    make = [s, seed, rank](std::size_t off, std::size_t n) {
      return std::make_unique<comm::ScheduleCodec>(s, off, n, seed, rank);
    };
    // (a) and (b): fp32/fp16 types through their all-reduce (unless below
    // the size threshold), the rest in the messages.
    comm::RawRouting route = comm::routeUncompressed(s, dim, o.rawAllreduceMin);
    layout = comm::compressedLayout(s, dim, route);
    quant::Schedule cs = comm::compressedSchedule(s, dim, route);
    std::size_t comp = 0;
    for (const comm::LayoutSegment &l : layout)
      comp += l.compressed ? l.segment.size : 0;
    codecA = std::make_unique<comm::ScheduleCodec>(cs, 0, comp, seed, rank);
    makeComp = [cs, seed, rank](std::size_t off, std::size_t n) {
      return std::make_unique<comm::ScheduleCodec>(cs, off, n, seed, rank);
    };
  } else if (o.compressor == "fp16") {
    make = [](std::size_t, std::size_t n) {
      return std::make_unique<comm::Fp16Codec>(n);
    };
    codecA = make(0, dim);
  } else {
    const std::vector<std::string> qn = quantNames();
    if (std::find(qn.begin(), qn.end(), o.compressor) == qn.end()) {
      std::string all;
      for (const std::string &n : compressorNames())
        all += (all.empty() ? "" : ", ") + n;
      throw std::invalid_argument("unknown compressor '" + o.compressor +
                                  "' (expected one of: " + all + ")");
    }
    quant::CompressorOptions q;
    q.bits = o.bits;
    q.bucketSize = o.bucket;
    q.norm = o.norm;
    std::string qname = o.compressor == "q-fp16" ? "fp16" : o.compressor;
    // Error feedback belongs to one encoder and one stream of vectors; in
    // (b) a worker's chunk codec also re-quantizes the reduced chunk.
    if (qname == "bingrad" && o.collective != "allgather" &&
        o.collective != "pipelined")
      throw std::invalid_argument(
          "bingrad (error feedback) runs with --collective allgather or "
          "pipelined only: in scatter-reduce one encoder would mix its own "
          "chunk's residual with the reduced chunk's");
    std::uint64_t seed = o.seed;
    make = [=](std::size_t off, std::size_t n) {
      // Chunks of one worker must not share random streams.
      return std::make_unique<comm::QuantCodec>(
          quant::makeCompressor(qname, q), n,
          seed + 0x9e3779b97f4a7c15ull * off, rank);
    };
    codecA = make(0, dim);
  }

  if (!makeComp)
    makeComp = make; // every coordinate is compressed
  std::string collective = o.collective;
  if (collective == "auto") {
    double msg = static_cast<double>(codecA->messageBytes() +
                                     comm::CompressedAggregator::kHeaderBytes);
    auto probe = make(0, dim); // timing encodes must not advance codecA
    // Scratch (a) and (b) with this run's codecs and layout, timed on the
    // operator at the starting point: the real messages, sizes and
    // collectives; the measurement decides.
    std::size_t comp = codecA->dim();
    std::vector<float> v(dim);
    problem.apply(problem.start().data(), v.data());
    comm::CollectiveChoice c = comm::autoCollective(
        comm, *probe, msg,
        [&](const std::string &coll) {
          return build(coll, comm, dim, make, makeComp, layout,
                       coll == "allgather" ? makeComp(0, comp) : nullptr);
        },
        v.data(), o.calibratePairs);
    collective = c.collective;
    if (choice)
      *choice = c;
  }
  auto agg = build(collective, comm, dim, make, makeComp, std::move(layout),
                   std::move(codecA));
  if (o.refit)
    agg->enableRefit(o.plan, o.refitBins);
  return agg;
}

} // namespace qoda::vibench
