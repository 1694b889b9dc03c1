//===- NcclCommunicator.cpp - Communicator over NCCL
//-----------------------===//
#include "qoda/comm/NcclCommunicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <thread>

namespace qoda::comm {

namespace {

void checkCuda(cudaError_t e, const char *what) {
  if (e != cudaSuccess)
    throw CommError(std::string(what) + ": " + cudaGetErrorString(e));
}

} // namespace

struct NcclCommunicator::Impl {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  float *scratch = nullptr; ///< one float for barrier()
  bool aborted = false;
};

NcclCommunicator::NcclCommunicator(const RendezvousConfig &cfg, int device)
    : rank_(cfg.rank), size_(cfg.worldSize), timeout_(cfg.timeout),
      impl_(std::make_unique<Impl>()) {
  checkCuda(cudaSetDevice(device), "cudaSetDevice");
  checkCuda(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking),
            "cudaStreamCreate");
  checkCuda(cudaMalloc(&impl_->scratch, sizeof(float)), "cudaMalloc");
  if (rank_ == 0)
    server_ = std::make_unique<TcpStoreServer>(cfg.masterAddr, cfg.port);
  store_ =
      std::make_unique<TcpStore>(cfg.masterAddr, cfg.port, rank_, timeout_);
  ncclUniqueId id;
  if (rank_ == 0) {
    if (ncclGetUniqueId(&id) != ncclSuccess)
      throw CommError("ncclGetUniqueId failed");
    store_->set("nccl/id",
                std::vector<char>(reinterpret_cast<char *>(&id),
                                  reinterpret_cast<char *>(&id) + sizeof id));
  }
  std::vector<char> v = store_->get("nccl/id");
  if (v.size() != sizeof id)
    throw CommError("rendezvous: malformed ncclUniqueId");
  std::memcpy(&id, v.data(), sizeof id);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0; // so a hung init or collective can be aborted
  ncclResult_t r =
      ncclCommInitRankConfig(&impl_->comm, size_, id, rank_, &config);
  if (r != ncclSuccess && r != ncclInProgress)
    throw CommError(std::string("ncclCommInitRankConfig: ") +
                    ncclGetErrorString(r));
  finish("NCCL init");
}

NcclCommunicator::~NcclCommunicator() {
  if (impl_->comm)
    impl_->aborted ? ncclCommAbort(impl_->comm) : ncclCommDestroy(impl_->comm);
  if (impl_->scratch)
    cudaFree(impl_->scratch);
  if (impl_->stream)
    cudaStreamDestroy(impl_->stream);
  store_.reset();
  server_.reset();
}

void NcclCommunicator::finish(const char *what) {
  ++seq_;
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (true) {
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(impl_->comm, &async);
    if (async != ncclSuccess && async != ncclInProgress) {
      impl_->aborted = true;
      throw CommError("rank " + std::to_string(rank_) + ": " + what + " #" +
                      std::to_string(seq_) +
                      " failed: " + ncclGetErrorString(async));
    }
    cudaError_t q = cudaStreamQuery(impl_->stream);
    if (async == ncclSuccess && q == cudaSuccess)
      break;
    if (q != cudaSuccess && q != cudaErrorNotReady)
      checkCuda(q, what);
    if (std::chrono::steady_clock::now() > deadline) {
      impl_->aborted = true;
      std::string who;
      try {
        for (int d : store_->deadRanks())
          who +=
              (who.empty() ? "; died: rank " : ", rank ") + std::to_string(d);
      } catch (const std::exception &) {
        who = "; rank 0 (the rendezvous store) is unreachable";
      }
      throw CommError("rank " + std::to_string(rank_) + ": " + what + " #" +
                      std::to_string(seq_) + " did not finish within " +
                      std::to_string(timeout_.count()) + " ms" +
                      (who.empty() ? "; a peer hung" : who));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  ++stats_.collectives;
}

void NcclCommunicator::allreduceSum(float *data, std::size_t count) {
  ncclAllReduce(data, data, count, ncclFloat, ncclSum, impl_->comm,
                impl_->stream);
  finish("allreduce");
  stats_.bytesSent +=
      2 * (size_ - 1) * count * sizeof(float) / static_cast<std::size_t>(size_);
}

void NcclCommunicator::allreduceSumHalf(std::uint16_t *data,
                                        std::size_t count) {
  ncclAllReduce(data, data, count, ncclHalf, ncclSum, impl_->comm,
                impl_->stream);
  finish("allreduce-fp16");
  stats_.bytesSent += 2 * (size_ - 1) * count * sizeof(std::uint16_t) /
                      static_cast<std::size_t>(size_);
}

void NcclCommunicator::allgather(const void *in, std::size_t bytes, void *out) {
  ncclAllGather(in, out, bytes, ncclUint8, impl_->comm, impl_->stream);
  finish("allgather");
  stats_.bytesSent += (size_ - 1) * bytes;
}

void NcclCommunicator::alltoall(const void *in, std::size_t bytes, void *out) {
  ncclGroupStart();
  for (int r = 0; r < size_; ++r) {
    ncclSend(static_cast<const char *>(in) + r * bytes, bytes, ncclUint8, r,
             impl_->comm, impl_->stream);
    ncclRecv(static_cast<char *>(out) + r * bytes, bytes, ncclUint8, r,
             impl_->comm, impl_->stream);
  }
  ncclGroupEnd();
  finish("alltoall");
  stats_.bytesSent += (size_ - 1) * bytes;
}

void NcclCommunicator::broadcast(void *data, std::size_t bytes, int root) {
  if (root < 0 || root >= size_)
    throw std::invalid_argument("broadcast root " + std::to_string(root) +
                                " is not a rank");
  ncclBroadcast(data, data, bytes, ncclUint8, root, impl_->comm, impl_->stream);
  finish("broadcast");
  if (rank_ == root)
    stats_.bytesSent += (size_ - 1) * bytes;
}

void NcclCommunicator::barrier() {
  ncclAllReduce(impl_->scratch, impl_->scratch, 1, ncclFloat, ncclSum,
                impl_->comm, impl_->stream);
  finish("barrier");
}

} // namespace qoda::comm
