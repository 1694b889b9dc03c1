// Buffers on the device a model library runs on, for qoda-modellib-check and
// the benchmarks: host memory for QODA_DEVICE_CPU, CUDA memory for
// QODA_DEVICE_CUDA (only when built with QODA_CHECK_CUDA).
#ifndef QODA_UNITTESTS_KERNELS_DEVICEBUFFERS_H
#define QODA_UNITTESTS_KERNELS_DEVICEBUFFERS_H

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#if QODA_CHECK_CUDA
#include <cuda_runtime.h>
#endif

namespace qoda {

template <typename T> class DeviceBuf {
public:
  DeviceBuf(bool cuda, size_t n) : cuda_(cuda), n_(n) {
#if QODA_CHECK_CUDA
    if (cuda_) {
      cudaMalloc(&d_, n * sizeof(T) + 16);
      return;
    }
#endif
    h_.resize(n + 1);
  }
  DeviceBuf(bool cuda, const std::vector<T> &v) : DeviceBuf(cuda, v.size()) {
#if QODA_CHECK_CUDA
    if (cuda_) {
      cudaMemcpy(d_, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice);
      return;
    }
#endif
    std::memcpy(h_.data(), v.data(), v.size() * sizeof(T));
  }
  DeviceBuf(DeviceBuf &&o) noexcept
      : cuda_(o.cuda_), n_(o.n_), h_(std::move(o.h_)), d_(o.d_) {
    o.d_ = nullptr;
  }
  ~DeviceBuf() {
#if QODA_CHECK_CUDA
    if (d_)
      cudaFree(d_);
#endif
  }
  T *ptr() { return cuda_ ? d_ : h_.data(); }
  void copyTo(std::vector<T> &v) {
    v.resize(n_);
#if QODA_CHECK_CUDA
    if (cuda_) {
      cudaMemcpy(v.data(), d_, n_ * sizeof(T), cudaMemcpyDeviceToHost);
      return;
    }
#endif
    std::memcpy(v.data(), h_.data(), n_ * sizeof(T));
  }

private:
  bool cuda_;
  size_t n_;
  std::vector<T> h_;
  T *d_ = nullptr;
};

using DeviceFloats = DeviceBuf<float>;
using DeviceBytes = DeviceBuf<uint8_t>;

class Device {
public:
  explicit Device(bool cuda) : cuda_(cuda) {
    if (!cuda_)
      return;
#if QODA_CHECK_CUDA
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess)
      why_ = std::string("no CUDA device (cudaGetDeviceCount: ") +
             cudaGetErrorString(e) + ")";
    else if (count == 0)
      why_ = "no CUDA device (cudaGetDeviceCount returned 0)";
#else
    why_ = "built without CUDA (no nvcc at configure time)";
#endif
  }
  bool usable() const { return why_.empty(); }
  const std::string &whyNot() const { return why_; }
  DeviceFloats floats(const std::vector<float> &v) { return {cuda_, v}; }
  DeviceBytes bytes(size_t n) { return {cuda_, n}; }
  DeviceBytes bytes(const std::vector<uint8_t> &v) { return {cuda_, v}; }
  void sync() {
#if QODA_CHECK_CUDA
    if (cuda_)
      cudaDeviceSynchronize();
#endif
  }

private:
  bool cuda_;
  std::string why_;
};

inline std::unique_ptr<Device> makeDevice(const std::string &name) {
  return std::make_unique<Device>(name == "cuda");
}

} // namespace qoda

#endif
