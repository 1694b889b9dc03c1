// NCCL communicator at K = 1 per GPU: allreduce, allgather, alltoall,
// broadcast on device buffers. Exits 77 (skipped) without a GPU.
#include "qoda/comm/NcclCommunicator.h"

#include <cuda_runtime.h>

#include <iostream>
#include <vector>

int main() {
  int devices = 0;
  cudaError_t err = cudaGetDeviceCount(&devices);
  if (err != cudaSuccess || devices == 0) {
    std::cout << "skipped: no usable CUDA GPU on this machine ("
              << (err != cudaSuccess ? cudaGetErrorString(err) : "0 devices")
              << "); the NCCL communicator is compiled and linked but only "
                 "runs where a GPU is present\n";
    return 77;
  }
  try {
    auto cfg = qoda::comm::rendezvousFromEnv();
    qoda::comm::NcclCommunicator c(cfg, cfg.rank % devices);
    const std::size_t n = 1000;
    std::vector<float> h(n);
    for (std::size_t i = 0; i < n; ++i)
      h[i] = static_cast<float>(i % 7);
    float *d = nullptr, *g = nullptr;
    cudaMalloc(&d, n * sizeof(float));
    cudaMalloc(&g, n * sizeof(float) * c.size());
    cudaMemcpy(d, h.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    c.allreduceSum(d, n);
    c.allgather(d, n * sizeof(float), g);
    c.broadcast(d, n * sizeof(float), 0);
    c.barrier();
    std::vector<float> back(n * c.size());
    cudaMemcpy(back.data(), g, back.size() * sizeof(float),
               cudaMemcpyDeviceToHost);
    for (std::size_t i = 0; i < back.size(); ++i)
      if (back[i] != h[i % n] * c.size()) {
        std::cerr << "mismatch at " << i << "\n";
        return 1;
      }
    std::cout << "nccl ok\n";
    return 0;
  } catch (const std::exception &e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
