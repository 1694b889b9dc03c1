//===- GlooCommunicator.cpp - Communicator over Gloo/TCP
//-------------------===//
//
// Fault handling: Gloo reports a dead peer as an IoException on the pairs
// that talk to it and a hung peer as a timeout, neither naming a rank. So
// every worker publishes how many collectives it has entered to the store
// (a background thread, every 200 ms), and the store server records ranks
// whose connection closed without a goodbye. When a collective fails, the
// worker asks the store which ranks died, or else which ranks are behind,
// and puts that into the CommError.
//
//===----------------------------------------------------------------------===//
#include "qoda/comm/GlooCommunicator.h"

#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/alltoall.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include <csignal>
#include <cstring>
#include <sstream>

namespace qoda::comm {

namespace {

/// Gloo's TCP pairs write with writev, which raises SIGPIPE when the peer
/// has died. Under the default disposition that kills this worker before
/// Gloo can report the error, so a survivor dies by signal 13 instead of
/// throwing a CommError that names the dead rank (the comm.fault.* tests
/// failed that way about once in 20 runs). Ignored unless the program
/// installed a handler of its own (Python ignores it already).
void ignoreSigpipeUnlessHandled() {
  struct sigaction old {};
  if (sigaction(SIGPIPE, nullptr, &old) == 0 &&
      !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
    signal(SIGPIPE, SIG_IGN);
}

} // namespace

GlooCommunicator::GlooCommunicator(const RendezvousConfig &cfg)
    : rank_(cfg.rank), size_(cfg.worldSize), timeout_(cfg.timeout) {
  ignoreSigpipeUnlessHandled();
  if (rank_ == 0)
    server_ = std::make_unique<TcpStoreServer>(cfg.masterAddr, cfg.port);
  store_ =
      std::make_unique<TcpStore>(cfg.masterAddr, cfg.port, rank_, timeout_);
  gloo::transport::tcp::attr attr;
  attr.hostname = cfg.localAddr;
  std::shared_ptr<gloo::transport::Device> dev;
  try {
    dev = gloo::transport::tcp::CreateDevice(attr);
    ctx_ = std::make_shared<gloo::rendezvous::Context>(rank_, size_);
    ctx_->setTimeout(timeout_);
    gloo::rendezvous::PrefixStore prefixed("gloo", *store_);
    ctx_->connectFullMesh(prefixed, dev);
  } catch (const std::exception &e) {
    throw CommError("rank " + std::to_string(rank_) +
                    ": could not connect to the other " +
                    std::to_string(size_ - 1) + " workers via " +
                    cfg.localAddr + ": " + e.what());
  }
  progressThread_ = std::thread([this] { publishProgress(); });
}

GlooCommunicator::~GlooCommunicator() {
  stop_ = true;
  if (progressThread_.joinable())
    progressThread_.join();
  ctx_.reset();
  try {
    if (store_)
      store_->goodbye();
  } catch (...) {
  }
  store_.reset();
  server_.reset(); // waits for the other ranks to say goodbye
}

void GlooCommunicator::publishProgress() {
  std::uint64_t published = ~0ull;
  while (!stop_) {
    std::uint64_t s = seq_.load();
    if (s != published) {
      std::string v = std::to_string(s);
      try {
        store_->set("progress/" + std::to_string(rank_),
                    std::vector<char>(v.begin(), v.end()));
      } catch (...) {
        return; // the store is gone; fail() will say so
      }
      published = s;
    }
    for (int i = 0; i < 4 && !stop_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void GlooCommunicator::fail(const char *what, const std::string &cause) {
  std::uint64_t mine = seq_.load();
  std::ostringstream os;
  os << "rank " << rank_ << ": " << what << " #" << mine << " failed (" << cause
     << "); ";
  if (server_)
    server_->lingerFor = std::chrono::seconds(2);
  // Let the store notice closed connections and peers publish progress.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  try {
    std::vector<int> dead = store_->deadRanks();
    // A closed connection means a peer is gone, but on a loaded machine the
    // store's thread can take a while to see it: poll up to 2.6 s more then
    // (a timeout, a hung peer, does not wait: its report must stay prompt).
    bool peerClosed = cause.find("closed") != std::string::npos ||
                      cause.find("reset") != std::string::npos;
    for (int i = 0; peerClosed && i < 26 && dead.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      dead = store_->deadRanks();
    }
    if (!dead.empty()) {
      os << "rank";
      for (std::size_t i = 0; i < dead.size(); ++i)
        os << (i ? ", " : " ") << dead[i];
      os << (dead.size() == 1 ? " has" : " have")
         << " died (connection closed without shutdown)";
      throw CommError(os.str());
    }
    std::vector<int> behind;
    std::string detail;
    for (int r = 0; r < size_; ++r) {
      if (r == rank_)
        continue;
      std::vector<char> v;
      try {
        v = store_->get("progress/" + std::to_string(r),
                        std::chrono::milliseconds(100));
      } catch (const CommError &) {
        throw;
      } catch (const std::runtime_error &) {
        v.clear(); // never published: it never reached a collective
      }
      std::uint64_t p =
          v.empty() ? 0 : std::stoull(std::string(v.begin(), v.end()));
      if (p < mine) {
        behind.push_back(r);
        detail += " rank " + std::to_string(r) + " is at collective #" +
                  std::to_string(p) + ";";
      }
    }
    if (!behind.empty())
      os << "hung or too slow:" << detail << " this rank is at #" << mine;
    else
      os << "no peer is known dead or behind (network problem?)";
  } catch (const CommError &) {
    throw;
  } catch (const std::exception &) {
    os << "rank 0 (which hosts the rendezvous store) is unreachable: it died "
          "or hung";
  }
  throw CommError(os.str());
}

template <typename F> void GlooCommunicator::run(const char *what, F &&body) {
  ++seq_;
  try {
    body(++tag_);
  } catch (const CommError &) {
    throw;
  } catch (const std::exception &e) {
    fail(what, e.what());
  }
  ++stats_.collectives;
}

void GlooCommunicator::allreduceSum(float *data, std::size_t count) {
  if (count == 0)
    return;
  run("allreduce", [&](std::uint32_t tag) {
    gloo::AllreduceOptions opts(ctx_);
    opts.setOutput(data, count);
    opts.setReduceFunction(
        static_cast<void (*)(void *, const void *, const void *, size_t)>(
            &gloo::sum<float>));
    opts.setTag(tag);
    opts.setTimeout(timeout_);
    gloo::allreduce(opts);
  });
  // Ring allreduce: reduce-scatter plus all-gather, each (K-1)/K of the data.
  stats_.bytesSent +=
      2 * (size_ - 1) * count * sizeof(float) / static_cast<std::size_t>(size_);
}

void GlooCommunicator::allreduceSumHalf(std::uint16_t *data,
                                        std::size_t count) {
  static_assert(sizeof(gloo::float16) == sizeof(std::uint16_t),
                "gloo::float16 is the IEEE binary16 bit pattern");
  if (count == 0)
    return;
  auto *half = reinterpret_cast<gloo::float16 *>(data);
  run("allreduce-fp16", [&](std::uint32_t tag) {
    gloo::AllreduceOptions opts(ctx_);
    opts.setOutput(half, count);
    opts.setReduceFunction(
        static_cast<void (*)(void *, const void *, const void *, size_t)>(
            &gloo::sum<gloo::float16>));
    opts.setTag(tag);
    opts.setTimeout(timeout_);
    gloo::allreduce(opts);
  });
  stats_.bytesSent += 2 * (size_ - 1) * count * sizeof(std::uint16_t) /
                      static_cast<std::size_t>(size_);
}

void GlooCommunicator::allgather(const void *in, std::size_t bytes, void *out) {
  if (size_ == 1) {
    std::memcpy(out, in, bytes);
    return;
  }
  run("allgather", [&](std::uint32_t tag) {
    gloo::AllgatherOptions opts(ctx_);
    // Gloo wants a mutable input pointer; it only reads it.
    opts.setInput(static_cast<char *>(const_cast<void *>(in)), bytes);
    opts.setOutput(static_cast<char *>(out), bytes * size_);
    opts.setTag(tag);
    opts.setTimeout(timeout_);
    gloo::allgather(opts);
  });
  stats_.bytesSent += (size_ - 1) * bytes; // ring: forward K-1 messages
}

void GlooCommunicator::alltoall(const void *in, std::size_t bytes, void *out) {
  if (size_ == 1) {
    std::memcpy(out, in, bytes);
    return;
  }
  run("alltoall", [&](std::uint32_t tag) {
    gloo::AlltoallOptions opts(ctx_);
    opts.setInput(static_cast<char *>(const_cast<void *>(in)), bytes * size_);
    opts.setOutput(static_cast<char *>(out), bytes * size_);
    opts.setTag(tag);
    opts.setTimeout(timeout_);
    gloo::alltoall(opts);
  });
  stats_.bytesSent += (size_ - 1) * bytes;
}

void GlooCommunicator::broadcast(void *data, std::size_t bytes, int root) {
  if (root < 0 || root >= size_)
    throw std::invalid_argument("broadcast root " + std::to_string(root) +
                                " is not a rank of a world of size " +
                                std::to_string(size_));
  run("broadcast", [&](std::uint32_t tag) {
    gloo::BroadcastOptions opts(ctx_);
    opts.setOutput(static_cast<char *>(data), bytes);
    opts.setRoot(root);
    opts.setTag(tag);
    opts.setTimeout(timeout_);
    gloo::broadcast(opts);
  });
  if (rank_ == root)
    stats_.bytesSent += (size_ - 1) * bytes;
}

void GlooCommunicator::barrier() {
  run("barrier", [&](std::uint32_t tag) {
    gloo::BarrierOptions opts(ctx_);
    opts.setTag(tag);
    opts.setTimeout(timeout_);
    gloo::barrier(opts);
  });
}

} // namespace qoda::comm
