//===- LibraryBuild.cpp - compile generated sources into a library --------===//
//
// The generated sources include runtime/kernels and runtime/quant headers
// and link the quantization library statically (schedule hash, wire header,
// fp16 conversions: one definition shared with the runtime). Their paths are
// those of the qoda build that built this tool (QODA_* definitions).
//
//===----------------------------------------------------------------------===//
#include "LibraryBuild.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include <optional>

namespace qoda {

namespace {

std::string findTool(const std::string &name, const char *what, const char *how,
                     std::string &err) {
  if (name.find('/') != std::string::npos) {
    if (llvm::sys::fs::can_execute(name))
      return name;
    err = std::string(what) + " '" + name +
          "' does not exist or is not "
          "executable; " +
          how;
    return "";
  }
  llvm::ErrorOr<std::string> p = llvm::sys::findProgramByName(name);
  if (!p) {
    err = std::string(what) + " '" + name + "' was not found on PATH; " + how;
    return "";
  }
  return *p;
}

std::string tail(const std::string &file, size_t bytes) {
  auto buf = llvm::MemoryBuffer::getFile(file);
  if (!buf)
    return "";
  llvm::StringRef s = (*buf)->getBuffer();
  return s.size() > bytes ? "...\n" + s.take_back(bytes).str() : s.str();
}

std::string run(const std::vector<std::string> &cmd, const std::string &log) {
  std::vector<llvm::StringRef> args(cmd.begin(), cmd.end());
  llvm::StringRef logRef(log);
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, logRef, logRef};
  std::string msg;
  int rc = llvm::sys::ExecuteAndWait(cmd[0], args, std::nullopt, redirects, 0,
                                     0, &msg);
  if (rc == 0)
    return "";
  std::string line;
  for (const std::string &a : cmd)
    line += (line.empty() ? "" : " ") + a;
  return "command failed (" +
         (msg.empty() ? "exit status " + std::to_string(rc) : msg) +
         "): " + line + "\n" + tail(log, 4000) + "(full output in " + log + ")";
}

} // namespace

std::string buildLibrary(const LibraryBuild &b) {
  std::string err;
  std::string cxx =
      findTool(b.cxx, "C++ compiler", "install one or pass --cxx=PATH", err);
  if (cxx.empty())
    return err;
  std::vector<std::string> common = {"-std=c++17",
                                     "-O3",
                                     "-ffp-contract=off",
                                     "-fPIC",
                                     "-I" QODA_KERNELS_INCLUDE_DIR,
                                     "-I" QODA_QUANT_INCLUDE_DIR};
  std::vector<std::string> link = {cxx};
  link.insert(link.end(), common.begin(), common.end());
  // The library records its -march; the loader refuses it on a CPU that
  // lacks the features instead of dying of an illegal instruction.
  link.insert(link.end(), {"-march=" + b.march,
                           "-DQODA_MODELLIB_CPU_ARCH=\"" + b.march + "\"",
                           "-fvisibility=hidden", "-shared", b.cppSource});
  if (!b.cudaSource.empty()) {
    std::string nvcc =
        findTool(b.nvcc, "CUDA compiler",
                 "install the CUDA toolkit, pass --nvcc=PATH, or build "
                 "with --target cpu",
                 err);
    if (nvcc.empty())
      return err;
    llvm::SmallString<256> obj(b.output);
    llvm::sys::path::replace_extension(obj, "cuda.o");
    // -fmad=false: no contraction of a*b+c into fma, so GPU arithmetic
    // rounds exactly like the CPU kernels (byte-identical messages).
    std::vector<std::string> cu = {nvcc,
                                   "-std=c++17",
                                   "-O3",
                                   "-fmad=false",
                                   "-Xcompiler",
                                   "-fPIC,-fvisibility=hidden",
                                   "-gencode",
                                   "arch=compute_80,code=sm_80",
                                   "-gencode",
                                   "arch=compute_90,code=sm_90",
                                   "-I" QODA_KERNELS_INCLUDE_DIR,
                                   "-I" QODA_QUANT_INCLUDE_DIR,
                                   "-c",
                                   b.cudaSource,
                                   "-o",
                                   std::string(obj)};
    if (std::string e = run(cu, b.logFile); !e.empty())
      return e;
    llvm::SmallString<256> cudaRoot(nvcc);
    llvm::sys::path::remove_filename(cudaRoot); // bin
    llvm::sys::path::remove_filename(cudaRoot); // CUDA root
    llvm::SmallString<256> cudaLib(cudaRoot);
    llvm::sys::path::append(cudaLib, "lib64");
    link.insert(link.end(), {"-DQODA_MODELLIB_CUDA=1", std::string(obj),
                             "-L" + std::string(cudaLib),
                             "-Wl,-rpath," + std::string(cudaLib), "-lcudart"});
  }
  link.insert(link.end(), {QODA_QUANT_LIBRARY, "-Wl,--exclude-libs,ALL",
                           "-pthread", "-o", b.output});
  return run(link, b.logFile);
}

} // namespace qoda
