//===- qoda-compile.cpp - ONNX model -> libqoda_<model>.so ----------------===//
//
//   qoda-compile model.onnx -o OUT/ [--bits-per-coordinate B |
//       --compression-ratio R] [--num-types auto|N] [--gradient-profile F]
//       [--target cpu|cuda|all]
//   qoda-compile [model.onnx] --schedule FILE.json -o OUT/ [--target ...]
//
// Gets a schedule (from the compiler pipeline, or a given schedule file,
// checked against the model when one is given), writes OUT/schedule.json,
// the generated sources and builds OUT/libqoda_<model>.so, then prints a
// summary. Every failure is one "error:" line saying what to do, exit 1.
//
//===----------------------------------------------------------------------===//
#include "LibraryBuild.h"
#include "ModelMatch.h"
#include "SchedulePipeline.h"
#include "Summary.h"

#include "qoda/Import/ONNXImporter.h"
#include "qoda/InitAllDialects.h"
#include "qoda/Target/Cpp.h"
#include "qoda/Target/Cuda.h"
#include "qoda/Target/ModelTables.h"
#include "qoda/kernels/ModelLibLoader.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
using namespace qoda;
namespace cl = llvm::cl;

static cl::OptionCategory compileCat("qoda-compile options");

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.onnx>"),
                                      cl::init(""), cl::cat(compileCat));
static cl::opt<std::string> outDir("o", cl::desc("output directory"),
                                   cl::value_desc("OUT"), cl::init(""),
                                   cl::cat(compileCat));
static cl::opt<std::string>
    scheduleFile("schedule",
                 cl::desc("compile this schedule (JSON, docs/schedule.md) "
                          "instead of running the schedule pipeline"),
                 cl::value_desc("FILE.json"), cl::init(""),
                 cl::cat(compileCat));
static cl::opt<std::string>
    target("target",
           cl::desc("kernels to build: cpu, cuda or all (cuda and "
                    "all both build the CPU and CUDA kernels: the "
                    "library's host half is C++)"),
           cl::init("cpu"), cl::cat(compileCat));
static cl::opt<std::string> cxx("cxx", cl::desc("C++ compiler"), cl::init(""),
                                cl::cat(compileCat));
static cl::opt<std::string> nvcc("nvcc", cl::desc("CUDA compiler"),
                                 cl::init(QODA_DEFAULT_NVCC),
                                 cl::cat(compileCat));
static cl::opt<std::string>
    march("march",
          cl::desc("CPU the kernels are compiled for: x86-64, x86-64-v2, "
                   "x86-64-v3 (AVX2), x86-64-v4, or auto (x86-64-v3 when this "
                   "machine has it, else x86-64)"),
          cl::init("auto"), cl::cat(compileCat));
static cl::opt<bool>
    emitOnly("emit-only",
             cl::desc("write the schedule and sources, do not build"),
             cl::init(false), cl::cat(compileCat));

static int fail(const std::string &msg) {
  llvm::errs() << "qoda-compile: error: " << msg << "\n";
  return 1;
}

/// A file-name-safe model name for libqoda_<model>.so.
static std::string libName(const std::string &model) {
  std::string n;
  for (char c : model)
    n += (std::isalnum((unsigned char)c) || c == '_') ? c : '_';
  return n.empty() ? "model" : n;
}

static std::string writeFile(const std::string &path, const std::string &text) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return "cannot write " + path + ": " + ec.message();
  os << text;
  os.close();
  if (os.has_error())
    return "cannot write " + path + ": " + os.error().message();
  return "";
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions({&compileCat, &schedulePipelineCategory()});
  cl::ParseCommandLineOptions(
      argc, argv,
      "qoda-compile: ONNX model -> layer-wise schedule -> generated "
      "quantization kernels (libqoda_<model>.so)\n");

  if (outDir.empty())
    return fail("no output directory: pass -o OUT/");
  if (target != "cpu" && target != "cuda" && target != "all")
    return fail("--target must be cpu, cuda or all, got '" + target + "'");
  std::string arch = march;
  if (arch == "auto")
    arch = kernels::checkCpuArch("x86-64-v3").empty() ? "x86-64-v3" : "x86-64";
  if (arch != "x86-64" && arch != "x86-64-v2" && arch != "x86-64-v3" &&
      arch != "x86-64-v4")
    return fail("--march must be auto, x86-64, x86-64-v2, x86-64-v3 or "
                "x86-64-v4, got '" +
                arch + "'");
  if (inputFile.empty() && scheduleFile.empty())
    return fail("nothing to compile: give a model (model.onnx) or "
                "--schedule FILE.json");

  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  ScopedDiagnosticHandler diagnostics(&context, printImportDiagnostic);
  OwningOpRef<ModuleOp> module;
  if (!inputFile.empty()) {
    module = importONNXFile(inputFile, &context);
    if (!module)
      return 1; // the importer said why
  }

  schedule::ScheduleFile sched;
  std::string err;
  if (!scheduleFile.empty()) {
    if (std::string opt = pipelineOptionGiven(); !opt.empty())
      return fail(opt + " configures the schedule pipeline and has no "
                        "effect with --schedule (the schedule fixes types "
                        "and bits); drop one of them");
    if (!schedule::loadScheduleJson(scheduleFile, sched, err))
      return fail(err);
    if (module) {
      err = matchScheduleToModel(sched, *module);
      if (!err.empty())
        return fail(scheduleFile + " does not match " + inputFile + ": " + err +
                    "; regenerate the schedule for this model");
    }
  } else if (failed(runSchedulePipeline(*module, inputFile, sched, err))) {
    return fail(err);
  }

  std::string tableErr;
  FailureOr<ModelTables> tables = buildModelTables(sched, tableErr);
  if (failed(tables))
    return fail((scheduleFile.empty() ? inputFile : scheduleFile) + ": " +
                tableErr);

  if (std::error_code ec = llvm::sys::fs::create_directories(outDir))
    return fail("cannot create output directory '" + outDir +
                "': " + ec.message());
  auto inOut = [&](const std::string &name) {
    llvm::SmallString<256> p(outDir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  };
  // libqoda_<model>.so: the model file's name when there is one (exporters
  // often give every graph the same name, e.g. PyTorch's "torch_jit").
  std::string name = libName(
      inputFile.empty() ? sched.model : llvm::sys::path::stem(inputFile).str());
  if (std::string e =
          writeFile(inOut("schedule.json"), schedule::writeScheduleJson(sched));
      !e.empty())
    return fail(e + " (is the output directory writable?)");
  if (module && scheduleFile.empty()) { // only a planned module has types
    if (std::string e = writeLayerMap(*module, inOut("layer_map.dot"));
        !e.empty())
      return fail(e);
  }

  std::string cpp, cu;
  {
    llvm::raw_string_ostream os(cpp);
    if (failed(emitCpp(sched, os, &err)))
      return fail(err);
  }
  bool cuda = target != "cpu";
  if (cuda) {
    llvm::raw_string_ostream os(cu);
    if (failed(emitCuda(sched, os, &err)))
      return fail(err);
  }
  LibraryBuild b;
  b.cppSource = inOut(name + ".cpp");
  if (std::string e = writeFile(b.cppSource, cpp); !e.empty())
    return fail(e);
  if (cuda) {
    b.cudaSource = inOut(name + ".cu");
    if (std::string e = writeFile(b.cudaSource, cu); !e.empty())
      return fail(e);
  }
  printSummary(sched, *tables, llvm::outs());
  if (emitOnly) {
    llvm::outs() << "wrote " << outDir << " (sources only: --emit-only)\n";
    return 0;
  }
  const char *envCxx = std::getenv("CXX");
  b.cxx = !cxx.empty() ? cxx.getValue() : (envCxx && *envCxx ? envCxx : "c++");
  b.nvcc = nvcc;
  b.output = inOut("libqoda_" + name + ".so");
  b.logFile = inOut("build.log");
  b.march = arch;
  if (std::string e = buildLibrary(b); !e.empty())
    return fail(e);
  llvm::outs() << "built " << b.output << " (CPU kernels for " << arch
               << (cuda ? ", CUDA kernels for sm_80 and sm_90" : "") << ")\n";
  return 0;
}
