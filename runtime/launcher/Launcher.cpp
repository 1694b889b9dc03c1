//===- Launcher.cpp - start and supervise K local workers
//------------------===//
//
// One poll() loop owns everything: the workers' stdout/stderr pipes (lines
// are re-emitted with a "[rank N] " prefix), a self-pipe fed by the signal
// handlers (SIGCHLD, SIGINT, SIGTERM), and two deadlines (--timeout and the
// SIGTERM->SIGKILL grace). Each worker runs in its own process group so that
// stopping it also stops whatever it started.
//
//===----------------------------------------------------------------------===//
#include "qoda/launcher/Launcher.h"
#include "qoda/launcher/NetShaper.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace qoda::launcher {

namespace {

int gSignalPipe[2] = {-1, -1};

extern "C" void onSignal(int sig) {
  int saved = errno;
  unsigned char b = static_cast<unsigned char>(sig);
  (void)!write(gSignalPipe[1], &b, 1);
  errno = saved;
}

using Clock = std::chrono::steady_clock;

struct Stream {
  int fd = -1;
  int outFd = 1; // where prefixed lines go
  std::string partial;
};

struct Worker {
  pid_t pid = -1;
  bool running = false;
  int status = 0;
  Stream out, err;
};

void writeAll(int fd, const std::string &s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    off += static_cast<std::size_t>(n);
  }
}

void say(const std::string &msg) { writeAll(2, "qoda-run: " + msg + "\n"); }

std::string describeStatus(int status) {
  if (WIFEXITED(status))
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  int sig = WTERMSIG(status);
  return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) +
         ")";
}

int exitCodeOf(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Emits complete lines of `chunk`, each prefixed; keeps the rest.
void emitLines(Stream &s, const std::string &prefix, const char *data,
               std::size_t n, bool eof) {
  s.partial.append(data, n);
  std::string out;
  std::size_t start = 0, nl;
  while ((nl = s.partial.find('\n', start)) != std::string::npos) {
    out += prefix;
    out.append(s.partial, start, nl - start + 1);
    start = nl + 1;
  }
  s.partial.erase(0, start);
  if (eof && !s.partial.empty()) {
    out += prefix + s.partial + "\n";
    s.partial.clear();
  }
  if (!out.empty())
    writeAll(s.outFd, out);
}

/// Binds a listening socket to a free loopback port and returns it. The
/// socket stays open and is handed to rank 0 (QODA_STORE_FD), whose
/// rendezvous store adopts it: closing it here and letting rank 0 bind the
/// number again would leave a window in which another process (a
/// concurrent job's Gloo pair binding port 0) can take the port.
int listenOnFreePort(int &port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
      listen(fd, 512) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) != 0) {
    int e = errno;
    close(fd);
    throw std::runtime_error(std::string("cannot find a free port: ") +
                             std::strerror(e));
  }
  port = ntohs(a.sin_port);
  return fd;
}

class SignalGuard {
public:
  SignalGuard() {
    if (pipe2(gSignalPipe, O_CLOEXEC | O_NONBLOCK) != 0)
      throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    struct sigaction sa {};
    sa.sa_handler = onSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    for (int s : {SIGCHLD, SIGINT, SIGTERM, SIGHUP})
      sigaction(s, &sa, &old_[s]);
  }
  ~SignalGuard() {
    for (int s : {SIGCHLD, SIGINT, SIGTERM, SIGHUP})
      sigaction(s, &old_[s], nullptr);
    close(gSignalPipe[0]);
    close(gSignalPipe[1]);
  }

private:
  struct sigaction old_[65];
};

pid_t startWorker(const Options &opts, int rank, const std::string &masterAddr,
                  int port, const std::string &localAddr,
                  const std::string &nsPath, int storeFd, Worker &w) {
  int outPipe[2], errPipe[2];
  if (pipe2(outPipe, O_CLOEXEC) != 0 || pipe2(errPipe, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  // Signals stay blocked from fork until the child has dropped qoda-run's
  // handlers: otherwise a SIGTERM meant for the new worker would run
  // qoda-run's handler in the child and look like an interrupt of qoda-run.
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, nullptr);
    throw std::runtime_error(std::string("fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    setpgid(0, 0);
    // If qoda-run itself is SIGKILLed, its workers must not live on.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s : {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGPIPE})
      sigaction(s, &dfl, nullptr);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(outPipe[1], 1);
    dup2(errPipe[1], 2);
    if (!nsPath.empty()) {
      std::string e = enterNamespace(nsPath);
      if (!e.empty()) {
        dprintf(2, "qoda-run: %s\n", e.c_str());
        _exit(127);
      }
    }
    if (storeFd >= 0) {
      // Only this worker inherits the store's listening socket.
      fcntl(storeFd, F_SETFD, 0);
      setenv("QODA_STORE_FD", std::to_string(storeFd).c_str(), 1);
    } else {
      unsetenv("QODA_STORE_FD");
    }
    setenv("MASTER_ADDR", masterAddr.c_str(), 1);
    setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    setenv("RANK", std::to_string(rank).c_str(), 1);
    setenv("WORLD_SIZE", std::to_string(opts.numWorkers).c_str(), 1);
    setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
    setenv("LOCAL_WORLD_SIZE", std::to_string(opts.numWorkers).c_str(), 1);
    setenv("QODA_LOCAL_ADDR", localAddr.c_str(), 1);
    std::vector<char *> args;
    for (const std::string &a : opts.command)
      args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    dprintf(2, "qoda-run: cannot execute '%s': %s\n", args[0],
            std::strerror(errno));
    _exit(127);
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
  setpgid(pid, pid); // also in the parent: no race with the first kill()
  close(outPipe[1]);
  close(errPipe[1]);
  w.pid = pid;
  w.running = true;
  w.out.fd = outPipe[0];
  w.out.outFd = 1;
  w.err.fd = errPipe[0];
  w.err.outFd = 2;
  return pid;
}

} // namespace

int runJob(const Options &opts) {
  SignalGuard guard;
  std::unique_ptr<NetShaper> shaper;
  std::string masterAddr = "127.0.0.1";
  int port = opts.port;
  int storeFd = -1; // listening socket for rank 0's store (picked port)
  if (opts.bandwidthBitsPerSec) {
    shaper = std::make_unique<NetShaper>(opts.numWorkers,
                                         opts.bandwidthBitsPerSec, getpid());
    try {
      shaper->setUp();
    } catch (const std::exception &e) {
      say(std::string("cannot set up --bandwidth ") + opts.bandwidthText +
          ": " + e.what());
      shaper->cleanup();
      return 1;
    }
    masterAddr = shaper->address(0);
    if (!port)
      port = 29500; // rank 0's namespace is fresh, so any port is free
  } else if (!port) {
    try {
      storeFd = listenOnFreePort(port);
    } catch (const std::exception &e) {
      say(e.what());
      return 1;
    }
  }

  std::vector<Worker> workers(static_cast<std::size_t>(opts.numWorkers));
  int stopSignal = 0;  // SIGINT/SIGTERM received by qoda-run
  int failedRank = -1; // first worker that failed
  bool timedOut = false;
  bool stopping = false;
  Clock::time_point killAt{};
  Clock::time_point deadline =
      opts.timeoutSec > 0
          ? Clock::now() + std::chrono::milliseconds(
                               static_cast<long>(opts.timeoutSec * 1000))
          : Clock::time_point::max();

  auto signalAll = [&](int sig) {
    for (Worker &w : workers)
      if (w.running)
        kill(-w.pid, sig);
  };
  auto beginStop = [&](int sig) {
    if (!stopping) {
      stopping = true;
      killAt = Clock::now() + std::chrono::milliseconds(
                                  static_cast<long>(opts.graceSec * 1000));
    }
    signalAll(sig);
  };

  // A signal that arrived while namespaces were being set up.
  unsigned char pending[16];
  ssize_t np = read(gSignalPipe[0], pending, sizeof pending);
  for (ssize_t i = 0; i < np; ++i)
    if (pending[i] == SIGINT || pending[i] == SIGTERM || pending[i] == SIGHUP) {
      say("interrupted before the workers started");
      if (storeFd >= 0)
        close(storeFd);
      return 128 + pending[i];
    }

  try {
    for (int r = 0; r < opts.numWorkers; ++r)
      startWorker(opts, r, masterAddr, port,
                  shaper ? shaper->address(r) : std::string("127.0.0.1"),
                  shaper ? shaper->namespacePath(r) : std::string(),
                  r == 0 ? storeFd : -1, workers[static_cast<std::size_t>(r)]);
  } catch (const std::exception &e) {
    say(std::string("cannot start workers: ") + e.what());
    beginStop(SIGKILL);
  }
  // Rank 0 holds it now; keeping it here would let connections queue on a
  // socket nobody accepts from if rank 0 dies.
  if (storeFd >= 0)
    close(storeFd);

  auto anyRunning = [&] {
    for (const Worker &w : workers)
      if (w.running)
        return true;
    return false;
  };
  auto anyOpen = [&] {
    for (const Worker &w : workers)
      if (w.out.fd >= 0 || w.err.fd >= 0)
        return true;
    return false;
  };
  // Once every worker has exited, its pipes are drained for at most this long
  // (a grandchild may still hold them open).
  Clock::time_point drainUntil = Clock::time_point::max();

  while (anyRunning() || (anyOpen() && Clock::now() < drainUntil)) {
    std::vector<pollfd> fds{{gSignalPipe[0], POLLIN, 0}};
    std::vector<Stream *> streams{nullptr};
    std::vector<int> ranks{-1};
    for (std::size_t r = 0; r < workers.size(); ++r)
      for (Stream *s : {&workers[r].out, &workers[r].err})
        if (s->fd >= 0) {
          fds.push_back({s->fd, POLLIN, 0});
          streams.push_back(s);
          ranks.push_back(static_cast<int>(r));
        }
    Clock::time_point next = deadline;
    if (stopping && killAt < next)
      next = killAt;
    if (drainUntil < next)
      next = drainUntil;
    int waitMs = -1;
    if (next != Clock::time_point::max()) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    next - Clock::now())
                    .count();
      waitMs = static_cast<int>(std::max<long>(0, std::min<long>(ms, 1000)));
    }
    int n = poll(fds.data(), fds.size(), waitMs);
    if (n < 0 && errno != EINTR) {
      say(std::string("poll: ") + std::strerror(errno));
      beginStop(SIGKILL);
    }
    for (std::size_t i = 1; n > 0 && i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      char buf[65536];
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR)
        continue;
      std::string prefix = "[rank " + std::to_string(ranks[i]) + "] ";
      if (got <= 0) {
        emitLines(*streams[i], prefix, buf, 0, true);
        close(streams[i]->fd);
        streams[i]->fd = -1;
      } else {
        emitLines(*streams[i], prefix, buf, static_cast<std::size_t>(got),
                  false);
      }
    }
    if (n > 0 && (fds[0].revents & POLLIN)) {
      unsigned char sigs[64];
      ssize_t got = read(gSignalPipe[0], sigs, sizeof sigs);
      for (ssize_t i = 0; i < got; ++i) {
        int sig = sigs[i];
        if (sig == SIGCHLD)
          continue;
        if (stopSignal) { // second interrupt: do not wait any longer
          say("second interrupt; killing the workers");
          signalAll(SIGKILL);
          continue;
        }
        stopSignal = sig;
        say(std::string("received ") + strsignal(sig) +
            "; forwarding it to the workers");
        beginStop(sig == SIGHUP ? SIGTERM : sig);
      }
    }
    // Reap.
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      for (std::size_t r = 0; r < workers.size(); ++r) {
        Worker &w = workers[r];
        if (w.pid != pid)
          continue;
        w.running = false;
        w.status = status;
        bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (failed && !stopping && opts.keepGoing) {
          if (failedRank < 0)
            failedRank = static_cast<int>(r);
          say("rank " + std::to_string(r) + " " + describeStatus(status));
        } else if (failed && failedRank < 0 && !stopping) {
          failedRank = static_cast<int>(r);
          say("rank " + std::to_string(r) + " " + describeStatus(status) +
              "; stopping the other workers");
          beginStop(SIGTERM);
        }
        kill(-w.pid, SIGKILL); // anything the worker left behind
      }
    }
    if (!anyRunning() && drainUntil == Clock::time_point::max())
      drainUntil = Clock::now() + std::chrono::milliseconds(500);
    Clock::time_point now = Clock::now();
    if (!timedOut && now >= deadline && anyRunning()) {
      timedOut = true;
      say("job exceeded --timeout " + std::to_string(opts.timeoutSec) +
          " s; stopping the workers");
      beginStop(SIGTERM);
    }
    if (stopping && now >= killAt && anyRunning()) {
      say("workers still running after the grace period; killing them");
      signalAll(SIGKILL);
      killAt = Clock::time_point::max();
    }
  }
  for (Worker &w : workers)
    for (Stream *s : {&w.out, &w.err})
      if (s->fd >= 0) {
        emitLines(*s, "", "", 0, true);
        close(s->fd);
      }
  if (shaper)
    shaper->cleanup();

  if (stopSignal)
    return 128 + stopSignal;
  if (timedOut)
    return 124;
  if (failedRank >= 0) {
    int code = exitCodeOf(workers[static_cast<std::size_t>(failedRank)].status);
    return code == 0 ? 1 : code;
  }
  for (std::size_t r = 0; r < workers.size(); ++r)
    if (workers[r].pid < 0)
      return 1; // a worker could not be started
  return 0;
}

} // namespace qoda::launcher
