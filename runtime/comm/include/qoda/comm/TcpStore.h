//===- TcpStore.h - a small TCP key-value store for rendezvous --*- C++ -*-===//
//
// Debian's Gloo has no TCPStore, so this is one: rank 0 runs a
// TcpStoreServer; every rank (rank 0 included) talks to it through a
// TcpStore client, which implements gloo::rendezvous::Store.
//
// Besides set/get/wait, the server remembers which rank each connection
// belongs to (hello) and whether it ended with a goodbye, so a worker whose
// collective failed can ask which ranks died (deadRanks).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <gloo/rendezvous/store.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace qoda::comm {

class TcpStoreServer {
public:
  /// Binds addr:port (port 0 picks one; see port()). Throws
  /// std::runtime_error when the address cannot be bound.
  TcpStoreServer(const std::string &addr, int port);
  /// Waits up to `lingerFor` for every client that said hello to say goodbye
  /// or disconnect, then closes everything.
  ~TcpStoreServer();
  TcpStoreServer(const TcpStoreServer &) = delete;
  TcpStoreServer &operator=(const TcpStoreServer &) = delete;

  int port() const { return port_; }
  std::chrono::milliseconds lingerFor{std::chrono::seconds(10)};

private:
  void acceptLoop();
  void serve(int fd);

  int listenFd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptThread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::vector<char>> data_;
  std::set<int> connected_; ///< ranks with an open connection (after hello)
  std::set<int> dead_;      ///< ranks whose connection closed without bye
  std::vector<int> clientFds_;
  std::vector<std::thread> clientThreads_;
};

class TcpStore : public gloo::rendezvous::Store {
public:
  /// Connects to addr:port, retrying until `timeout` (rank 0 may start
  /// later than the others), then introduces itself as `rank`.
  TcpStore(const std::string &addr, int port, int rank,
           std::chrono::milliseconds timeout);
  ~TcpStore() override;

  void set(const std::string &key, const std::vector<char> &data) override;
  /// Blocks until the key exists (up to the store timeout).
  std::vector<char> get(const std::string &key) override;
  void wait(const std::vector<std::string> &keys) override;
  void wait(const std::vector<std::string> &keys,
            const std::chrono::milliseconds &timeout) override;
  std::vector<char> get(const std::string &key,
                        std::chrono::milliseconds timeout);

  /// Ranks whose connection to the store closed without a goodbye.
  std::vector<int> deadRanks();
  /// Tells the server this rank finished cleanly (called by the destructor).
  void goodbye();

  std::chrono::milliseconds timeout() const { return timeout_; }

private:
  std::vector<char> request(char op, const std::string &key,
                            const std::vector<char> &value,
                            std::chrono::milliseconds wait, char &status);

  std::string where_;
  int fd_ = -1;
  std::chrono::milliseconds timeout_;
  std::mutex mu_; ///< one request at a time per connection
  bool saidGoodbye_ = false;
};

} // namespace qoda::comm
