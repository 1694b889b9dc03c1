//===- SchedulePipeline.cpp - model -> schedule for qoda-compile ----------===//
#include "SchedulePipeline.h"

#include "qoda/Target/ScheduleExport.h"
#include "qoda/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory pipelineCat("Schedule pipeline (model input only)");
cl::OptionCategory &qoda::schedulePipelineCategory() { return pipelineCat; }
static cl::opt<double> bitsPerCoordinate(
    "bits-per-coordinate",
    cl::desc("budget: bits per coordinate of the whole message (default 4)"),
    cl::init(0), cl::cat(pipelineCat));
static cl::opt<double>
    compressionRatio("compression-ratio",
                     cl::desc("budget as a compression ratio vs fp32"),
                     cl::init(0), cl::cat(pipelineCat));
static cl::opt<std::string>
    numTypes("num-types", cl::desc("number of layer types, or 'auto'"),
             cl::init("auto"), cl::cat(pipelineCat));
static cl::opt<std::string> gradientProfile(
    "gradient-profile",
    cl::desc("per-parameter gradient histograms (JSON) to plan from"),
    cl::init(""), cl::cat(pipelineCat));

namespace qoda {

std::string pipelineOptionGiven() {
  for (cl::Option *o : {static_cast<cl::Option *>(&bitsPerCoordinate),
                        static_cast<cl::Option *>(&compressionRatio),
                        static_cast<cl::Option *>(&numTypes),
                        static_cast<cl::Option *>(&gradientProfile)})
    if (o->getNumOccurrences())
      return "--" + o->ArgStr.str();
  return "";
}

LogicalResult runSchedulePipeline(ModuleOp module, const std::string &modelPath,
                                  schedule::ScheduleFile &out,
                                  std::string &err) {
  if (bitsPerCoordinate.getNumOccurrences() &&
      compressionRatio.getNumOccurrences()) {
    err = "give either --bits-per-coordinate or --compression-ratio, not "
          "both";
    return failure();
  }
  // The pipeline's own option parser checks the values, so qoda-compile
  // and qoda-opt accept and reject exactly the same settings.
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "num-types=" << numTypes;
  if (bitsPerCoordinate.getNumOccurrences())
    os << " bits-per-coordinate="
       << llvm::format("%.17g", double(bitsPerCoordinate));
  if (compressionRatio.getNumOccurrences())
    os << " compression-ratio="
       << llvm::format("%.17g", double(compressionRatio));
  if (!gradientProfile.empty())
    os << " gradient-profile=" << gradientProfile;
  auto options = SchedulePipelineOptions::createFromString(os.str());
  if (!options) {
    err = "invalid schedule pipeline options: " + os.str();
    return failure();
  }
  PassManager pm(module.getContext());
  buildSchedulePipeline(pm, *options);
  if (failed(pm.run(module))) {
    err = "the schedule pipeline failed on " + modelPath +
          " (see the errors above)";
    return failure();
  }
  FailureOr<schedule::ScheduleFile> s = exportSchedule(module);
  if (failed(s)) {
    err = "cannot export the schedule of " + modelPath;
    return failure();
  }
  out = std::move(*s);
  return success();
}

std::string writeLayerMap(ModuleOp module, const std::string &path) {
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    if (ec)
      return "cannot write " + path + ": " + ec.message();
    if (failed(emitLayerMap(module, os)))
      return "cannot draw the layer map";
  }
  // The picture itself when Graphviz is installed (the .dot is the
  // artefact otherwise).
  llvm::ErrorOr<std::string> dot = llvm::sys::findProgramByName("dot");
  if (!dot)
    return "";
  llvm::SmallString<256> svg(path);
  llvm::sys::path::replace_extension(svg, "svg");
  std::string msg;
  int rc =
      llvm::sys::ExecuteAndWait(*dot, {*dot, "-Tsvg", path, "-o", svg.str()},
                                std::nullopt, {}, 0, 0, &msg);
  if (rc != 0)
    return "dot could not render " + path + " (" +
           (msg.empty() ? "exit status " + std::to_string(rc) : msg) + ")";
  return "";
}

} // namespace qoda
