//===- TcpStore.cpp - a small TCP key-value store for rendezvous
//-----------===//
//
// Wire format, both directions: op/status byte, u32 key length, key, u32
// value length, value (little endian, same-architecture peers).
// Requests: S(et) key value; G(et) key ms; W(ait) keys('\0'-joined) ms;
// H(ello) rank; B(ye); D(ead ranks). Replies: K (ok) + value, T (timeout).
//
//===----------------------------------------------------------------------===//
#include "qoda/comm/TcpStore.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace qoda::comm {

namespace {

using Clock = std::chrono::steady_clock;

bool writeAll(int fd, const void *p, std::size_t n) {
  const char *c = static_cast<const char *>(p);
  while (n) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    c += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

/// Reads exactly n bytes; false on EOF/error/deadline.
bool readAll(int fd, void *p, std::size_t n, Clock::time_point deadline) {
  char *c = static_cast<char *>(p);
  while (n) {
    if (deadline != Clock::time_point::max()) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - Clock::now())
                    .count();
      if (ms <= 0)
        return false;
      pollfd pfd{fd, POLLIN, 0};
      int r = poll(&pfd, 1, static_cast<int>(std::min<long>(ms, 1 << 30)));
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return false;
    }
    ssize_t r = recv(fd, c, n, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    c += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool sendFrame(int fd, char op, const std::string &key,
               const std::vector<char> &value) {
  std::vector<char> buf;
  buf.reserve(9 + key.size() + value.size());
  buf.push_back(op);
  auto put32 = [&](std::uint32_t v) {
    const char *b = reinterpret_cast<const char *>(&v);
    buf.insert(buf.end(), b, b + 4);
  };
  put32(static_cast<std::uint32_t>(key.size()));
  buf.insert(buf.end(), key.begin(), key.end());
  put32(static_cast<std::uint32_t>(value.size()));
  buf.insert(buf.end(), value.begin(), value.end());
  return writeAll(fd, buf.data(), buf.size());
}

bool recvFrame(int fd, char &op, std::string &key, std::vector<char> &value,
               Clock::time_point deadline) {
  std::uint32_t len = 0;
  if (!readAll(fd, &op, 1, deadline) || !readAll(fd, &len, 4, deadline) ||
      len > (1u << 30))
    return false;
  key.resize(len);
  if (len && !readAll(fd, &key[0], len, deadline))
    return false;
  if (!readAll(fd, &len, 4, deadline) || len > (1u << 30))
    return false;
  value.resize(len);
  return !len || readAll(fd, value.data(), len, deadline);
}

std::vector<char> encodeMs(std::chrono::milliseconds ms) {
  std::int64_t v = ms.count();
  const char *b = reinterpret_cast<const char *>(&v);
  return std::vector<char>(b, b + 8);
}

std::int64_t decodeI64(const std::vector<char> &v) {
  std::int64_t x = 0;
  if (v.size() == 8)
    std::memcpy(&x, v.data(), 8);
  return x;
}

// ---- server ----------------------------------------------------------------

/// The listening socket qoda-run bound for this store (QODA_STORE_FD, rank 0
/// only), or -1. qoda-run keeps the port's socket open from the moment it
/// picks the port, so no other process can take the port before the store
/// listens.
int adoptInheritedListener(const std::string &addr, int port) {
  const char *v = std::getenv("QODA_STORE_FD");
  if (!v || !*v)
    return -1;
  std::string text = v;
  char *end = nullptr;
  long fd = std::strtol(v, &end, 10);
  if (*end != '\0' || fd < 3 || fd > 1 << 20)
    throw std::runtime_error(
        "rendezvous store: QODA_STORE_FD='" + text +
        "' is not a file descriptor number >= 3 (qoda-run sets it for rank "
        "0 only; unset it when starting workers another way)");
  // No listening socket for addr:port behind it: the variable was meant
  // for another store (e.g. QODA_MASTER_PORT moved this one), or a process
  // in between closed the descriptor (Python's subprocess does by
  // default). Bind as without qoda-run then.
  int listening = 0;
  socklen_t optLen = sizeof listening;
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_ACCEPTCONN, &listening,
                 &optLen) != 0 ||
      !listening ||
      getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr *>(&a),
                  &len) != 0 ||
      a.sin_family != AF_INET)
    return -1;
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
  if (addr != buf || ntohs(a.sin_port) != port)
    return -1;
  // Adopted once: a second store in this process binds on its own.
  unsetenv("QODA_STORE_FD");
  fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
  return static_cast<int>(fd);
}

} // namespace

TcpStoreServer::TcpStoreServer(const std::string &addr, int port) {
  listenFd_ = adoptInheritedListener(addr, port);
  if (listenFd_ >= 0) {
    port_ = port;
    acceptThread_ = std::thread([this] { acceptLoop(); });
    return;
  }
  listenFd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listenFd_ < 0)
    throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, addr.c_str(), &a.sin_addr) != 1) {
    close(listenFd_);
    throw std::runtime_error("rendezvous store: '" + addr +
                             "' is not an IPv4 address");
  }
  if (bind(listenFd_, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
      listen(listenFd_, 512) != 0) {
    int e = errno;
    close(listenFd_);
    throw std::runtime_error(
        "rendezvous store: cannot listen on " + addr + ":" +
        std::to_string(port) + ": " + std::strerror(e) +
        " (is another job using MASTER_PORT? pick another port)");
  }
  socklen_t len = sizeof a;
  getsockname(listenFd_, reinterpret_cast<sockaddr *>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptThread_ = std::thread([this] { acceptLoop(); });
}

TcpStoreServer::~TcpStoreServer() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, lingerFor, [&] { return connected_.empty(); });
    stopping_ = true;
    for (int fd : clientFds_)
      shutdown(fd, SHUT_RDWR);
    cv_.notify_all();
  }
  shutdown(listenFd_, SHUT_RDWR);
  close(listenFd_);
  acceptThread_.join();
  for (std::thread &t : clientThreads_)
    t.join();
  for (int fd : clientFds_)
    close(fd);
}

void TcpStoreServer::acceptLoop() {
  while (!stopping_) {
    pollfd pfd{listenFd_, POLLIN, 0};
    int r = poll(&pfd, 1, 200);
    if (r <= 0)
      continue;
    int fd = accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0)
      continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      close(fd);
      break;
    }
    clientFds_.push_back(fd);
    clientThreads_.emplace_back([this, fd] { serve(fd); });
  }
}

void TcpStoreServer::serve(int fd) {
  int rank = -1;
  bool bye = false;
  char op;
  std::string key;
  std::vector<char> value;
  while (recvFrame(fd, op, key, value, Clock::time_point::max())) {
    char status = 'K';
    std::vector<char> reply;
    std::unique_lock<std::mutex> lock(mu_);
    switch (op) {
    case 'S':
      data_[key] = value;
      cv_.notify_all();
      break;
    case 'G':
    case 'W': {
      std::vector<std::string> keys;
      std::size_t start = 0;
      for (std::size_t i = 0; i <= key.size(); ++i)
        if (i == key.size() || key[i] == '\0') {
          keys.push_back(key.substr(start, i - start));
          start = i + 1;
        }
      auto ready = [&] {
        if (stopping_)
          return true;
        for (const std::string &k : keys)
          if (!data_.count(k))
            return false;
        return true;
      };
      if (!cv_.wait_for(lock, std::chrono::milliseconds(decodeI64(value)),
                        ready) ||
          stopping_)
        status = 'T';
      else if (op == 'G')
        reply = data_[key];
      break;
    }
    case 'H':
      rank = static_cast<int>(decodeI64(value));
      connected_.insert(rank);
      dead_.erase(rank);
      break;
    case 'B':
      bye = true;
      connected_.erase(rank);
      cv_.notify_all();
      break;
    case 'D': {
      std::string list;
      for (int r : dead_)
        list += std::to_string(r) + ",";
      reply.assign(list.begin(), list.end());
      break;
    }
    default:
      status = 'E';
    }
    lock.unlock();
    if (!sendFrame(fd, status, "", reply))
      break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (rank >= 0 && !bye) {
    connected_.erase(rank);
    if (!stopping_)
      dead_.insert(rank);
  }
  cv_.notify_all();
}

// ---- client ----------------------------------------------------------------

TcpStore::TcpStore(const std::string &addr, int port, int rank,
                   std::chrono::milliseconds timeout)
    : where_(addr + ":" + std::to_string(port)), timeout_(timeout) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, addr.c_str(), &a.sin_addr) != 1)
    throw std::runtime_error("rendezvous store: '" + addr +
                             "' is not an IPv4 address");
  auto deadline = Clock::now() + timeout;
  std::string lastError;
  while (true) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ >= 0 &&
        connect(fd_, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0)
      break;
    lastError = std::strerror(errno);
    if (fd_ >= 0)
      close(fd_);
    fd_ = -1;
    if (Clock::now() >= deadline)
      throw std::runtime_error(
          "rank " + std::to_string(rank) +
          " could not reach the rendezvous store of rank 0 at " + where_ +
          " within " + std::to_string(timeout.count() / 1000.0) +
          " s (last error: " + lastError +
          "); is rank 0 running, and are MASTER_ADDR/MASTER_PORT right?");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char status;
  std::int64_t r = rank;
  const char *b = reinterpret_cast<const char *>(&r);
  request('H', "", std::vector<char>(b, b + 8), std::chrono::milliseconds(0),
          status);
}

TcpStore::~TcpStore() {
  try {
    goodbye();
  } catch (...) {
  }
  if (fd_ >= 0)
    close(fd_);
}

void TcpStore::goodbye() {
  if (saidGoodbye_)
    return;
  saidGoodbye_ = true;
  char status;
  request('B', "", {}, std::chrono::milliseconds(0), status);
}

std::vector<char> TcpStore::request(char op, const std::string &key,
                                    const std::vector<char> &value,
                                    std::chrono::milliseconds wait,
                                    char &status) {
  std::lock_guard<std::mutex> lock(mu_);
  // The server answers a wait when it ends; allow it time to do so.
  auto deadline = Clock::now() + wait + std::chrono::seconds(10);
  std::string rkey;
  std::vector<char> reply;
  if (!sendFrame(fd_, op, key, value) ||
      !recvFrame(fd_, status, rkey, reply, deadline))
    throw std::runtime_error("lost the connection to the rendezvous store at " +
                             where_ + " (rank 0 died or is unreachable)");
  return reply;
}

void TcpStore::set(const std::string &key, const std::vector<char> &data) {
  char status;
  request('S', key, data, std::chrono::milliseconds(0), status);
}

std::vector<char> TcpStore::get(const std::string &key,
                                std::chrono::milliseconds timeout) {
  char status;
  std::vector<char> v = request('G', key, encodeMs(timeout), timeout, status);
  if (status != 'K')
    throw std::runtime_error("rendezvous store: key '" + key +
                             "' did not appear within " +
                             std::to_string(timeout.count()) + " ms");
  return v;
}

std::vector<char> TcpStore::get(const std::string &key) {
  return get(key, timeout_);
}

void TcpStore::wait(const std::vector<std::string> &keys) {
  wait(keys, timeout_);
}

void TcpStore::wait(const std::vector<std::string> &keys,
                    const std::chrono::milliseconds &timeout) {
  std::string joined;
  for (std::size_t i = 0; i < keys.size(); ++i)
    joined += (i ? std::string(1, '\0') : std::string()) + keys[i];
  char status;
  request('W', joined, encodeMs(timeout), timeout, status);
  if (status != 'K') {
    std::ostringstream os;
    for (const std::string &k : keys)
      os << " '" << k << "'";
    throw std::runtime_error("rendezvous store: keys" + os.str() +
                             " did not all appear within " +
                             std::to_string(timeout.count()) + " ms");
  }
}

std::vector<int> TcpStore::deadRanks() {
  char status;
  std::vector<char> v =
      request('D', "", {}, std::chrono::milliseconds(0), status);
  std::vector<int> out;
  std::string s(v.begin(), v.end());
  std::size_t start = 0, comma;
  while ((comma = s.find(',', start)) != std::string::npos) {
    out.push_back(std::stoi(s.substr(start, comma - start)));
    start = comma + 1;
  }
  return out;
}

} // namespace qoda::comm
