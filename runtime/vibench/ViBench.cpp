//===- ViBench.cpp - `qoda-bench vi`: monotone VI benchmark ---------------===//
//
// Every worker runs the same optimiser on its own stochastic oracle; the
// iterates stay identical across workers because they only ever use the
// aggregate. Rank 0 reports ||x - x*|| (last iterate and running average)
// against steps, wall time and bytes sent, as JSON lines with --json. Lists
// (--optimizer qoda,qgenx --compressor all --bits 2,4) run every
// combination one after the other on the same workers.
//
//===----------------------------------------------------------------------===//
#include "qoda/vibench/ViBench.h"
#include "qoda/comm/GlooCommunicator.h"
#include "qoda/comm/Serialize.h"
#include "qoda/optim/Optimizer.h"
#include "qoda/problems/Problem.h"
#include "qoda/schedule/ScheduleFile.h"
#include "qoda/vibench/Aggregators.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace qoda::vibench {

namespace {

/// A Communicator for a single worker (no MASTER_ADDR): collectives are
/// identities, so the benchmark runs without qoda-run too.
class LocalCommunicator : public comm::Communicator {
public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduceSum(float *, std::size_t) override { ++stats_.collectives; }
  void allgather(const void *in, std::size_t bytes, void *out) override {
    std::copy(static_cast<const char *>(in),
              static_cast<const char *>(in) + bytes, static_cast<char *>(out));
    ++stats_.collectives;
  }
  void alltoall(const void *in, std::size_t bytes, void *out) override {
    allgather(in, bytes, out);
  }
  void broadcast(void *, std::size_t, int) override {}
  void barrier() override {}
};

struct Args {
  std::string problem = "bilinear", collective = "allgather";
  std::vector<std::string> optimizers{"qoda"}, compressors{"none"};
  std::vector<unsigned> bits{4}; ///< for the quantizers
  optim::OptimConfig opt;
  std::size_t dim = 64;
  bool dimGiven = false;
  long steps = 1000;
  double noiseAbs = 0.1, noiseRel = 0;
  std::uint64_t seed = 1;
  unsigned bucket = 1024;
  quant::Norm norm = quant::Norm::L2;
  std::string schedule; ///< schedule file (layerwise)
  std::string refit = "0,200,1000,5000/10000";
  bool refitGiven = false;
  std::size_t refitBins = 0;      ///< 0: the aggregator's default
  std::vector<unsigned> typeBits; ///< --type-bits (layerwise, per block)
  /// --raw-allreduce-min: fp32/fp16 types below this many bytes per worker
  /// stay in the message (comm::routeUncompressed); -1: not given.
  long long rawAllreduceMin = -1;
  int calibratePairs = 5; ///< --calibrate-pairs (collective auto)
  bool calibrateGiven = false;
  bool json = false;
  int points = 20; ///< log-spaced report points
  std::string onNonFinite = "stop";
  long injectStep = -1; ///< --inject-nan STEP:RANK (fault injection)
  int injectRank = -1;
  std::string checkpoint, resume; ///< path prefixes (".rankN" is appended)
  long checkpointAt = -1;
};

const char kMagic[] = "QODA-VI-CKPT-2";

std::uint64_t fnv1a(const std::vector<float> &x) {
  std::uint64_t h = 1469598103934665603ull;
  const unsigned char *p = reinterpret_cast<const unsigned char *>(x.data());
  for (std::size_t i = 0; i < x.size() * sizeof(float); ++i)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

std::string hex(std::uint64_t v) {
  char b[20];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

double number(const std::string &flag, const std::string &v) {
  std::size_t pos = 0;
  double d = 0;
  try {
    d = std::stod(v, &pos);
  } catch (...) {
    pos = 0;
  }
  if (v.empty() || pos != v.size() || !std::isfinite(d))
    throw std::invalid_argument(flag + " expects a number, got '" + v + "'");
  return d;
}

/// "a,b,c" -> items; "all" -> every known name. Unknown names are errors.
std::vector<std::string> nameList(const std::string &flag, const std::string &v,
                                  const std::vector<std::string> &known) {
  if (v == "all")
    return known;
  std::vector<std::string> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    bool ok = false;
    for (const std::string &k : known)
      ok |= k == item;
    if (!ok) {
      std::string all;
      for (const std::string &k : known)
        all += (all.empty() ? "" : ", ") + k;
      throw std::invalid_argument(flag + ": unknown name '" + item +
                                  "' (expected a list of: " + all +
                                  ", or all)");
    }
    out.push_back(item);
  }
  if (out.empty() || v.back() == ',')
    throw std::invalid_argument(flag + " expects a name or a list, got '" + v +
                                "'");
  return out;
}

Args parse(const std::vector<std::string> &a) {
  Args r;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string &f = a[i];
    if (f == "--json") {
      r.json = true;
      continue;
    }
    if (i + 1 >= a.size())
      throw std::invalid_argument(f == "-h" || f == "--help"
                                      ? viUsage()
                                      : f + " needs a value\n" + viUsage());
    const std::string &v = a[++i];
    if (f == "--problem")
      r.problem = v;
    else if (f == "--optimizer")
      r.optimizers = nameList(f, v, optim::optimizerNames());
    else if (f == "--compressor")
      r.compressors = nameList(f, v, compressorNames());
    else if (f == "--collective")
      r.collective = v;
    else if (f == "--bits") {
      r.bits.clear();
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) {
        double b = number(f, item);
        if (b < 1 || b > 8 || b != std::floor(b))
          throw std::invalid_argument("--bits expects integers 1..8, got '" +
                                      item + "'");
        r.bits.push_back(static_cast<unsigned>(b));
      }
      if (r.bits.empty())
        throw std::invalid_argument("--bits expects a list of integers");
    } else if (f == "--bucket") {
      double b = number(f, v);
      if (b < 1 || b > (1u << 30) || b != std::floor(b))
        throw std::invalid_argument("--bucket expects an integer >= 1");
      r.bucket = static_cast<unsigned>(b);
    } else if (f == "--steps") {
      double s = number(f, v);
      if (s < 1 || s > 1e9 || s != std::floor(s))
        throw std::invalid_argument("--steps expects an integer >= 1");
      r.steps = static_cast<long>(s);
    } else if (f == "--dim") {
      double s = number(f, v);
      if (s < 1 || s != std::floor(s))
        throw std::invalid_argument("--dim expects an integer >= 1");
      r.dim = static_cast<std::size_t>(s);
      r.dimGiven = true;
    } else if (f == "--norm") {
      if (v != "l2" && v != "linf")
        throw std::invalid_argument("--norm expects l2 or linf, got '" + v +
                                    "'");
      r.norm = v == "l2" ? quant::Norm::L2 : quant::Norm::Linf;
    } else if (f == "--schedule")
      r.schedule = v;
    else if (f == "--refit") {
      comm::RefitPlan::parse(v); // validate now, clear error
      r.refit = v;
      r.refitGiven = true;
    } else if (f == "--type-bits") {
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) {
        double b = number(f, item);
        if (b < 1 || b > 8 || b != std::floor(b))
          throw std::invalid_argument(
              "--type-bits expects integers 1..8, got '" + item + "'");
        r.typeBits.push_back(static_cast<unsigned>(b));
      }
      if (r.typeBits.empty() || v.back() == ',')
        throw std::invalid_argument("--type-bits expects a list of integers");
    } else if (f == "--raw-allreduce-min") {
      double b = number(f, v);
      if (b < 0 || b > 1e15 || b != std::floor(b))
        throw std::invalid_argument(
            "--raw-allreduce-min expects a number of bytes >= 0, got '" + v +
            "'");
      r.rawAllreduceMin = static_cast<long long>(b);
    } else if (f == "--calibrate-pairs") {
      double p = number(f, v);
      if (p < 0 || p > 1000 || p != std::floor(p))
        throw std::invalid_argument(
            "--calibrate-pairs expects an integer in [0, 1000], got '" + v +
            "'");
      r.calibratePairs = static_cast<int>(p);
      r.calibrateGiven = true;
    } else if (f == "--refit-bins") {
      double b = number(f, v);
      if (b < 2 || b > (1 << 20) || b != std::floor(b))
        throw std::invalid_argument(
            "--refit-bins expects an integer in [2, 1048576], got '" + v + "'");
      r.refitBins = static_cast<std::size_t>(b);
      r.refitGiven = true;
    } else if (f == "--lr")
      r.opt.lr = number(f, v);
    else if (f == "--lr-gamma")
      r.opt.lrGamma = number(f, v);
    else if (f == "--q")
      r.opt.q = number(f, v);
    else if (f == "--noise-abs")
      r.noiseAbs = number(f, v);
    else if (f == "--noise-rel")
      r.noiseRel = number(f, v);
    else if (f == "--seed")
      r.seed = static_cast<std::uint64_t>(number(f, v));
    else if (f == "--points") {
      r.points = static_cast<int>(number(f, v));
      if (r.points < 1)
        throw std::invalid_argument("--points expects an integer >= 1");
    } else if (f == "--checkpoint") {
      r.checkpoint = v;
    } else if (f == "--checkpoint-at") {
      double c = number(f, v);
      if (c < 1 || c != std::floor(c))
        throw std::invalid_argument("--checkpoint-at expects a step >= 1");
      r.checkpointAt = static_cast<long>(c);
    } else if (f == "--resume") {
      r.resume = v;
    } else if (f == "--on-nonfinite") {
      if (v != "stop" && v != "skip")
        throw std::invalid_argument(
            "--on-nonfinite expects stop or skip, got '" + v + "'");
      r.onNonFinite = v;
    } else if (f == "--inject-nan") {
      long step = -1;
      int rank = -1;
      char tail = 0;
      if (std::sscanf(v.c_str(), "%ld:%d%c", &step, &rank, &tail) != 2 ||
          step < 1 || rank < 0)
        throw std::invalid_argument(
            "--inject-nan expects STEP:RANK (e.g. 5:1), got '" + v + "'");
      r.injectStep = step;
      r.injectRank = rank;
    } else
      throw std::invalid_argument("unknown option '" + f + "'\n" + viUsage());
  }
  if ((r.checkpointAt > 0) != !r.checkpoint.empty())
    throw std::invalid_argument(
        "--checkpoint PATH and --checkpoint-at STEP go together");
  std::size_t runs = r.optimizers.size() * r.compressors.size() * r.bits.size();
  if (runs > 1 && (!r.checkpoint.empty() || !r.resume.empty()))
    throw std::invalid_argument(
        "--checkpoint/--resume take one optimizer, compressor and --bits");
  bool layerwise = false, refits = false;
  for (const std::string &c : r.compressors) {
    layerwise |= c == "layerwise";
    refits |= refitsLevels(c);
    if (hiddenCompressorState(c) &&
        (!r.checkpoint.empty() || !r.resume.empty()))
      throw std::invalid_argument(
          "--checkpoint/--resume cannot restore " + c +
          "'s internal state (kept inside the quantization library)");
  }
  if (!r.typeBits.empty() && (!layerwise || !r.schedule.empty()))
    throw std::invalid_argument("--type-bits sets the bit width of every "
                                "problem block for --compressor layerwise "
                                "without --schedule");
  if (!r.schedule.empty() && !layerwise)
    throw std::invalid_argument("--schedule is used by --compressor "
                                "layerwise; add it to --compressor");
  if (r.calibrateGiven && r.collective != "auto")
    throw std::invalid_argument("--calibrate-pairs applies to --collective "
                                "auto");
  if (r.rawAllreduceMin >= 0 && !layerwise)
    throw std::invalid_argument("--raw-allreduce-min routes the fp32/fp16 "
                                "types of --compressor layerwise; add it to "
                                "--compressor");
  if (r.refitGiven && !refits)
    throw std::invalid_argument("--refit is used by --compressor layerwise "
                                "and global-mqv; add one to --compressor");
  return r;
}

double seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

/// Everything one (optimizer, compressor, bits) run needs.
struct Run {
  const Args &a;
  comm::Communicator &comm;
  const problems::Problem &problem;
  const schedule::ScheduleFile *file; ///< --schedule, else null
  std::string optimizer, compressor;
  unsigned bits;
  int index, total; ///< position in the sweep, for the progress display
};

void runOne(const Run &r) {
  const Args &a = r.a;
  comm::Communicator &comm = r.comm;
  const problems::Problem &problem = r.problem;
  comm.barrier(); // runs of a sweep start together
  comm.resetStats();
  problems::Oracle oracle(problem, {a.noiseAbs, a.noiseRel}, a.seed,
                          comm.rank());
  AggregatorOptions ao;
  ao.compressor = r.compressor;
  ao.collective = a.collective;
  ao.bits = r.bits;
  ao.bucket = a.bucket;
  ao.norm = a.norm;
  ao.seed = a.seed;
  ao.calibratePairs = a.calibratePairs;
  quant::Schedule sched;
  if (refitsLevels(r.compressor)) {
    if (r.file && r.compressor == "layerwise") {
      sched = r.file->quantSchedule();
      ao.schedule = &sched;
    }
    ao.plan = comm::RefitPlan::parse(a.refit);
    ao.refit = !ao.plan.steps.empty();
    ao.refitBins = a.refitBins;
    if (r.compressor == "layerwise")
      ao.typeBits = a.typeBits;
    if (a.rawAllreduceMin >= 0)
      ao.rawAllreduceMin = static_cast<std::uint64_t>(a.rawAllreduceMin);
  }
  bool lead = comm.rank() == 0;
  comm::CollectiveChoice choice;
  auto agg = makeAggregator(ao, comm, problem, &choice);
  // Bytes count the run's traffic only, not collective auto's measurements.
  comm.resetStats();
  if (lead && a.collective == "auto") {
    std::ostringstream l;
    if (a.json)
      l << "{\"collective_choice\":\"" << choice.collective
        << "\",\"model_measured\":" << (choice.measured ? "true" : "false")
        << ",\"alpha_us\":" << choice.model.alpha * 1e6
        << ",\"beta_GBps\":" << choice.model.beta / 1e9
        << ",\"encode_ns_per_coord\":" << choice.codec.encode * 1e9
        << ",\"decode_ns_per_coord\":" << choice.codec.decode * 1e9
        << ",\"model_allgather_s\":" << choice.predictedAllgather
        << ",\"model_scatter_reduce_s\":" << choice.predictedScatterReduce;
    if (a.json && choice.calibrated)
      l << ",\"model_choice\":\"" << choice.modelCollective
        << "\",\"calibration_pairs\":" << choice.calibration.pairs
        << ",\"measured_allgather_s\":" << choice.calibration.allgather
        << ",\"measured_scatter_reduce_s\":"
        << choice.calibration.scatterReduce
        << ",\"measured_ratio_a_over_b\":" << choice.calibration.ratio;
    if (a.json)
      l << "}";
    else
      l << "collective auto: " << choice.collective
        << (choice.measured ? "" : " (no model: " + choice.note + ")")
        << "; model (alpha " << choice.model.alpha * 1e6 << " us, beta "
        << choice.model.beta / 1e9 << " GB/s; codec "
        << choice.codec.encode * 1e9 << "/" << choice.codec.decode * 1e9
        << " ns/coord encode/decode) predicts (a) "
        << choice.predictedAllgather * 1e3 << " ms, (b) "
        << choice.predictedScatterReduce * 1e3 << " ms per call";
    if (!a.json && choice.calibrated)
      l << " (model's pick " << choice.modelCollective << "); measured over "
        << choice.calibration.pairs << " alternated pairs: (a) "
        << choice.calibration.allgather * 1e3 << " ms, (b) "
        << choice.calibration.scatterReduce * 1e3
        << " ms per call, median ratio (a)/(b) " << choice.calibration.ratio;
    std::cout << l.str() << std::endl;
  }
  std::string collective =
      a.collective == "auto" ? choice.collective : a.collective;
  std::vector<comm::Segment> layout;
  if (r.file)
    for (const schedule::ParamEntry &p : r.file->params)
      layout.push_back({p.name, p.offset, p.numel});
  else
    for (const problems::Block &b : problem.blocks())
      layout.push_back({b.name, b.offset, b.size});
  agg->setLayout(layout);
  agg->setNonFinitePolicy(a.onNonFinite == "skip"
                              ? comm::NonFinitePolicy::Skip
                              : comm::NonFinitePolicy::Stop);
  optim::OptimConfig oc = a.opt;
  oc.name = r.optimizer;
  auto opt = optim::makeOptimizer(oc, problem.start(), *agg);
  long step = 0;
  double oracleSeconds = 0, stepSeconds = 0;
  optim::OracleFn fn = [&](const float *x, float *out) {
    auto t = std::chrono::steady_clock::now();
    oracle(x, out);
    if (step == a.injectStep && comm.rank() == a.injectRank)
      out[problem.dim() - 1] = std::nanf("");
    oracleSeconds += seconds(t);
  };

  bool progress = lead && isatty(1) && isatty(2);
  std::vector<double> avg(problem.dim(), 0.0);
  std::vector<float> avgF(problem.dim());
  auto t0 = std::chrono::steady_clock::now();
  long nextReport = 1, first = 1;
  double ratio = std::pow(static_cast<double>(a.steps), 1.0 / a.points);
  std::string rankSuffix = ".rank" + std::to_string(comm.rank());
  if (!a.resume.empty()) {
    std::string path = a.resume + rankSuffix;
    std::ifstream in(path, std::ios::binary);
    if (!in)
      throw std::runtime_error("cannot open checkpoint " + path);
    if (comm::readString(in) != kMagic)
      throw std::runtime_error(path + " is not a qoda-bench vi checkpoint "
                                      "of this version");
    if (comm::readPod<int>(in) != comm.size())
      throw std::runtime_error(path + " was written by a run with another "
                                      "number of workers");
    first = comm::readPod<long>(in) + 1;
    nextReport = comm::readPod<long>(in);
    comm::readVec(in, avg);
    opt->load(in);
    agg->load(in);
    oracle.loadState(comm::readString(in));
  }
  // The progress line is redrawn at most 5 times a second, and after every
  // report line (which erases it first).
  auto lastDraw = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  auto drawProgress = [&](long t) {
    std::cerr << "\r\033[K[run " << r.index << "/" << r.total << " "
              << r.optimizer << "/" << r.compressor << " step " << t << "/"
              << a.steps << "]" << std::flush;
    lastDraw = std::chrono::steady_clock::now();
  };
  std::string tag = "\"optimizer\":\"" + r.optimizer + "\",\"compressor\":\"" +
                    r.compressor + "\",\"bits\":" + std::to_string(r.bits);
  for (long t = first; t <= a.steps; ++t) {
    step = t;
    auto ts = std::chrono::steady_clock::now();
    opt->step(fn);
    stepSeconds += seconds(ts);
    const std::vector<float> &x = opt->x();
    for (std::size_t i = 0; i < avg.size(); ++i)
      avg[i] += (x[i] - avg[i]) / static_cast<double>(t);
    if (t == a.checkpointAt) {
      std::string path = a.checkpoint + rankSuffix;
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      comm::writeString(out, kMagic);
      comm::writePod(out, comm.size());
      comm::writePod(out, t);
      long nr = t == nextReport
                    ? std::max(t + 1, static_cast<long>(std::ceil(
                                          static_cast<double>(t) * ratio)))
                    : nextReport;
      comm::writePod(out, nr);
      comm::writeVec(out, avg);
      opt->save(out);
      agg->save(out);
      comm::writeString(out, oracle.saveState());
      if (!out.flush())
        throw std::runtime_error("cannot write checkpoint " + path);
    }
    if (progress && t < a.steps && seconds(lastDraw) > 0.2)
      drawProgress(t);
    if (t != nextReport && t != a.steps)
      continue;
    nextReport = std::max(
        t + 1, static_cast<long>(std::ceil(static_cast<double>(t) * ratio)));
    if (!lead)
      continue;
    for (std::size_t i = 0; i < avg.size(); ++i)
      avgF[i] = static_cast<float>(avg[i]);
    double wall = seconds(t0);
    double dist = problem.distance(x.data());
    double avgDist = problem.distance(avgF.data());
    const comm::CommStats &st = comm.stats();
    if (!std::isfinite(dist))
      throw std::runtime_error("the iterate diverged (non-finite) at step " +
                               std::to_string(t) + " with " + r.optimizer +
                               "/" + r.compressor + "; lower --lr");
    std::ostringstream line;
    if (a.json)
      line << "{\"step\":" << t << "," << tag << ",\"distance\":" << dist
           << ",\"avg_distance\":" << avgDist << ",\"wall_s\":" << wall
           << ",\"bytes_sent\":" << st.bytesSent
           << ",\"bits_sent\":" << st.bytesSent * 8
           << ",\"collectives\":" << st.collectives << "}";
    else
      line << r.optimizer << "/" << r.compressor << " step " << t << "  dist "
           << dist << "  avg-dist " << avgDist << "  wall " << wall
           << " s  sent " << st.bytesSent << " B";
    if (progress)
      std::cerr << "\r\033[K";
    std::cout << line.str() << std::endl;
    if (progress && t < a.steps)
      drawProgress(t);
  }
  const comm::LevelRefitter *refit = agg->refitter();
  if (lead) {
    const comm::CommStats &st = comm.stats();
    double wall = seconds(t0);
    // Over the steps this process ran (a resumed run starts later).
    double ran = static_cast<double>(std::max(1L, a.steps - first + 1));
    double perStep = static_cast<double>(st.bytesSent) / ran;
    double calls = ran * opt->collectivesPerStep();
    // What the step costs besides the oracle: the collectives with their
    // encode/decode (the optimiser's own vector updates are O(dim)).
    double aggPerCall = (stepSeconds - oracleSeconds) / calls;
    double bitsPerCoord = 8.0 * static_cast<double>(st.bytesSent) /
                          (calls * static_cast<double>(problem.dim()));
    double model = collective == "scatter-reduce"
                       ? choice.predictedScatterReduce
                       : choice.predictedAllgather;
    std::ostringstream line;
    if (a.json) {
      line << "{\"summary\":true,\"problem\":\"" << a.problem << "\"," << tag
           << ",\"collective\":\"" << collective
           << "\",\"workers\":" << comm.size() << ",\"dim\":" << problem.dim()
           << ",\"steps\":" << a.steps
           << ",\"collectives_per_step\":" << opt->collectivesPerStep()
           << ",\"bytes_sent_per_step\":" << perStep
           << ",\"sent_bits_per_coord\":" << bitsPerCoord
           << ",\"aggregate_s_per_call\":" << aggPerCall;
      if (a.collective == "auto" && choice.measured)
        line << ",\"model_s_per_call\":" << model;
      if (refit)
        line << ",\"refits\":" << refit->refits() << ",\"levels_hash\":\""
             << hex(refit->levelsHash()) << "\"";
      line << ",\"skipped_steps\":" << opt->skippedSteps()
           << ",\"distance\":" << problem.distance(opt->x().data())
           << ",\"x_fnv1a\":\"" << std::hex << fnv1a(opt->x()) << std::dec
           << "\",\"wall_s\":" << wall << "}";
    } else {
      line << r.optimizer << "/" << r.compressor << " on " << a.problem << " ("
           << collective << "): " << opt->collectivesPerStep()
           << " collective(s)/step, " << perStep << " B sent/step/worker ("
           << bitsPerCoord << " bit/coord/call), " << aggPerCall * 1e3
           << " ms/call";
      if (a.collective == "auto" && choice.measured)
        line << " (model " << model * 1e3 << " ms)";
      if (refit)
        line << ", " << refit->refits() << " level refit(s)";
      line << ", final distance " << problem.distance(opt->x().data());
    }
    std::cout << line.str() << std::endl;
  }
  // Every rank's final state, so tests can check that all ranks agree.
  if (a.json) {
    std::ostringstream l;
    l << "{\"final\":true,\"rank\":" << comm.rank() << "," << tag
      << ",\"x_fnv1a\":\"" << std::hex << fnv1a(opt->x()) << std::dec << "\"";
    if (refit)
      l << ",\"levels_hash\":\"" << hex(refit->levelsHash()) << "\"";
    l << "}";
    std::cout << l.str() << std::endl;
  }
}

} // namespace

std::string viUsage() {
  std::string opts, comps;
  for (const std::string &n : optim::optimizerNames())
    opts += (opts.empty() ? "" : "|") + n;
  for (const std::string &n : compressorNames())
    comps += (comps.empty() ? "" : "|") + n;
  return "usage: qoda-bench vi [--problem bilinear|quadratic|blocks|hetero] "
         "[--optimizer LIST] [--compressor LIST] [--bits LIST] "
         "[--collective allgather|pipelined|scatter-reduce|auto] "
         "[--bucket N] [--norm l2|linf] [--schedule FILE] [--refit PLAN|none] "
         "[--refit-bins N] [--type-bits B1,B2,...] "
         "[--raw-allreduce-min BYTES] [--calibrate-pairs N] "
         "[--steps N] "
         "[--dim D] [--lr LR] [--lr-gamma LR] [--q Q] "
         "[--noise-abs S] [--noise-rel S] [--seed N] [--points P] "
         "[--on-nonfinite stop|skip] [--inject-nan STEP:RANK] "
         "[--checkpoint PATH --checkpoint-at STEP] [--resume PATH] [--json]\n"
         "  optimizers: " +
         opts + "\n  compressors: " + comps +
         "\n  LIST: comma-separated names or 'all'; every combination runs "
         "in turn.\n  PLAN: level refit steps, e.g. 0,200,1000,5000/10000 "
         "(the default: then every 10000), optionally @W: fit on the W "
         "steps up to each refit (default 10) or @all.\n"
         "Run under qoda-run -n K for K workers; alone it runs one worker.";
}

int runViBench(const std::vector<std::string> &argv) {
  Args a;
  try {
    a = parse(argv);
  } catch (const std::invalid_argument &e) {
    std::cerr << "qoda-bench vi: " << e.what() << "\n";
    return 2;
  }
  try {
    schedule::ScheduleFile file;
    if (!a.schedule.empty()) {
      std::string err;
      if (!schedule::loadScheduleJson(a.schedule, file, err))
        throw std::invalid_argument(err);
      if (a.dimGiven && a.dim != file.numCoords)
        throw std::invalid_argument(
            "--dim " + std::to_string(a.dim) + " but " + a.schedule +
            " describes " + std::to_string(file.numCoords) +
            " coordinates (leave --dim out to take it from the schedule)");
      a.dim = file.numCoords;
    }
    std::unique_ptr<comm::Communicator> comm;
    if (std::getenv("MASTER_ADDR"))
      comm =
          std::make_unique<comm::GlooCommunicator>(comm::rendezvousFromEnv());
    else
      comm = std::make_unique<LocalCommunicator>();
    auto problem = problems::makeProblem(a.problem, a.dim, a.seed);
    // Runs that ignore --bits happen once, not once per value.
    struct Combo {
      std::string opt, comp;
      unsigned bits;
    };
    std::vector<Combo> combos;
    for (const std::string &o : a.optimizers)
      for (const std::string &c : a.compressors)
        for (unsigned b : a.bits) {
          bool usesBits =
              c == "qsgd" || c == "nuqsgd" || c == "cgx" ||
              c == "cgx-stochastic" || c == "orq" || c == "global-mqv" ||
              (c == "layerwise" && a.schedule.empty() && a.typeBits.empty());
          if (usesBits || b == a.bits.front())
            combos.push_back({o, c, usesBits ? b : 0});
        }
    int index = 0, total = static_cast<int>(combos.size());
    for (const Combo &c : combos)
      runOne({a, *comm, *problem, a.schedule.empty() ? nullptr : &file, c.opt,
              c.comp, c.bits, ++index, total});
    comm->barrier();
    return 0;
  } catch (const std::invalid_argument &e) {
    std::cerr << "qoda-bench vi: " << e.what() << "\n";
    return 2;
  } catch (const std::exception &e) {
    std::cerr << "qoda-bench vi: " << e.what() << "\n";
    return 1;
  }
}

} // namespace qoda::vibench
