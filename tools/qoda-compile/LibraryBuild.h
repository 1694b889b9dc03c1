//===- LibraryBuild.h - compile generated sources into a library -*- C++
//-*-===//
#ifndef QODA_COMPILE_LIBRARYBUILD_H
#define QODA_COMPILE_LIBRARYBUILD_H

#include <string>
#include <vector>

namespace qoda {

struct LibraryBuild {
  std::string cxx;  ///< C++ compiler (name on PATH or path)
  std::string nvcc; ///< CUDA compiler, used when cudaSource is set
  std::string cppSource;
  std::string cudaSource; ///< empty: CPU-only library
  std::string output;     ///< libqoda_<model>.so
  std::string logFile;    ///< compiler output goes here
  std::string march;      ///< -march of the CPU kernels (x86-64[-vN])
};

/// Runs the compilers; "" on success, else what failed (the command, its
/// exit status and the tail of its output) and what to do.
std::string buildLibrary(const LibraryBuild &b);

} // namespace qoda

#endif
