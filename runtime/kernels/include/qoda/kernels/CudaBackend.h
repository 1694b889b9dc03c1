// The CUDA half of a generated model library, as seen from its C++ half.
// Plain C++ (no CUDA types), so ModelLibImpl.h compiles with any C++ compiler;
// the definitions come from CudaKernels.cuh, instantiated by the generated
// .cu source. A library built without CUDA (QODA_MODELLIB_CUDA 0) gets
// definitions that report exactly that; create() refuses QODA_DEVICE_CUDA
// before any of them can be reached.
#ifndef QODA_KERNELS_CUDABACKEND_H
#define QODA_KERNELS_CUDABACKEND_H

#include "qoda/kernels/CpuKernels.h"
#include "qoda/kernels/MessagePlan.h"
#include "qoda/kernels/ModelLibABI.h"

#include <string>
#include <vector>

#ifndef QODA_MODELLIB_CUDA
#define QODA_MODELLIB_CUDA 0
#endif

namespace qoda::kernels {

struct CudaState;

#if QODA_MODELLIB_CUDA
CudaState *cudaCreate(const qoda_model_layout &l, const MessagePlan &plan,
                      const std::vector<LevelData> &levels, std::string &err);
void cudaDestroy(CudaState *s);
bool cudaSetLevels(CudaState *s, uint32_t type, const LevelData &d,
                   std::string &err);
/// `header` is the finished 40-byte host header; out is device memory.
bool cudaEncode(CudaState *s, const uint8_t *header, const float *v,
                uint64_t seed, uint64_t step, uint32_t rank, uint8_t *out,
                void *stream, std::string &err);
qoda_status cudaDecode(CudaState *s, const uint8_t *const *msgs,
                       const uint64_t *lens, uint32_t k, float weight,
                       uint64_t step, uint64_t hash, float *sum, void *stream,
                       std::string &err);
bool cudaUpdate(CudaState *s, const float *mean, float *y, const float *x1,
                float *x, float *xHalf, float eta, float gamma, void *stream,
                std::string &err);
#else
inline const char *kNoCuda = "library built without CUDA kernels";
inline CudaState *cudaCreate(const qoda_model_layout &, const MessagePlan &,
                             const std::vector<LevelData> &, std::string &err) {
  err = kNoCuda;
  return nullptr;
}
inline void cudaDestroy(CudaState *) {}
inline bool cudaSetLevels(CudaState *, uint32_t, const LevelData &,
                          std::string &err) {
  err = kNoCuda;
  return false;
}
inline bool cudaEncode(CudaState *, const uint8_t *, const float *, uint64_t,
                       uint64_t, uint32_t, uint8_t *, void *,
                       std::string &err) {
  err = kNoCuda;
  return false;
}
inline qoda_status cudaDecode(CudaState *, const uint8_t *const *,
                              const uint64_t *, uint32_t, float, uint64_t,
                              uint64_t, float *, void *, std::string &err) {
  err = kNoCuda;
  return QODA_ERR_UNSUPPORTED;
}
inline bool cudaUpdate(CudaState *, const float *, float *, const float *,
                       float *, float *, float, float, void *,
                       std::string &err) {
  err = kNoCuda;
  return false;
}
#endif

} // namespace qoda::kernels

#endif
