//===- qoda-opt.cpp - the qoda optimizer driver ---------------------------===//
//
// mlir-opt for qoda. When the input is an ONNX model (binary or textual,
// detected by content), it is imported first; the imported module then goes
// through the requested passes and is printed, exactly as MLIR input would.
//
//===----------------------------------------------------------------------===//
#include "qoda/Import/ONNXImporter.h"
#include "qoda/InitAllDialects.h"
#include "qoda/InitAllPasses.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

using namespace mlir;

/// Finds the positional input file (the first argument not starting with
/// '-' and not the value of a '-o'/'--o' option).
static int findInputArg(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef a(argv[i]);
    if (a == "-o" || a == "--o") {
      ++i;
      continue;
    }
    if (!a.startswith("-") || a == "-")
      return a == "-" ? -1 : i;
  }
  return -1;
}

int main(int argc, char **argv) {
  qoda::registerAllPasses();
  DialectRegistry registry;
  qoda::registerAllDialects(registry);

  int inputIdx = findInputArg(argc, argv);
  if (inputIdx < 0 || !qoda::isONNXFile(argv[inputIdx])) {
    // Not ONNX: plain mlir-opt. An empty file without the .mlir suffix is
    // almost certainly a failed export, so say so instead of printing an
    // empty module.
    if (inputIdx >= 0) {
      uint64_t size = 0;
      if (!llvm::sys::fs::file_size(argv[inputIdx], size) && size == 0 &&
          !llvm::StringRef(argv[inputIdx]).endswith(".mlir")) {
        llvm::errs() << argv[inputIdx]
                     << ": error: file is empty, not an ONNX model or MLIR\n";
        return 1;
      }
    }
    return asMainReturnCode(
        MlirOptMain(argc, argv, "qoda optimizer driver\n", registry));
  }

  // ONNX input: import into a temporary .mlir file, then hand that to
  // MlirOptMain so every mlir-opt option (passes, -o, printing) applies.
  MLIRContext context(registry);
  ScopedDiagnosticHandler diagnostics(&context, qoda::printImportDiagnostic);
  std::string path = argv[inputIdx];
  OwningOpRef<ModuleOp> module = qoda::importONNXFile(path, &context);
  if (!module)
    return 1;
  llvm::SmallString<128> tmp;
  int fd;
  if (llvm::sys::fs::createTemporaryFile("qoda-import", "mlir", fd, tmp)) {
    llvm::errs() << "error: cannot create a temporary file\n";
    return 1;
  }
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    OpPrintingFlags flags;
    flags.enableDebugInfo(false);
    module->print(os, flags);
  }
  std::vector<char *> args(argv, argv + argc);
  std::string tmpStr(tmp);
  args[inputIdx] = tmpStr.data();
  // allow-unregistered-dialect: ONNX string/sequence types print as !onnx.*.
  std::string allow = "--allow-unregistered-dialect";
  args.push_back(allow.data());
  int rc = asMainReturnCode(MlirOptMain((int)args.size(), args.data(),
                                        "qoda optimizer driver\n", registry));
  llvm::sys::fs::remove(tmp);
  return rc;
}
