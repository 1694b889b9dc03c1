//===- NetShaper.cpp - per-worker network namespaces behind tbf
//------------===//
#include "qoda/launcher/NetShaper.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace qoda::launcher {

int runCommand(const std::vector<std::string> &argv, std::string &err) {
  int fds[2];
  if (pipe(fds) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  // As for workers: no qoda-run signal handler may run in the child.
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
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s : {SIGCHLD, SIGINT, SIGTERM, SIGHUP})
      sigaction(s, &dfl, nullptr);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(fds[1], 2);
    close(fds[0]);
    std::vector<char *> args;
    for (const std::string &a : argv)
      args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    dprintf(2, "cannot run %s: %s", args[0], std::strerror(errno));
    _exit(127);
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
  close(fds[1]);
  err.clear();
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0)
      err.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string enterNamespace(const std::string &path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return "cannot open " + path + ": " + std::strerror(errno);
  int rc = setns(fd, CLONE_NEWNET);
  int saved = errno;
  close(fd);
  if (rc != 0)
    return "setns(" + path + "): " + std::strerror(saved);
  return "";
}

namespace {

void mustRun(const std::vector<std::string> &argv) {
  std::string err;
  if (runCommand(argv, err) != 0) {
    std::string cmd;
    for (const std::string &a : argv)
      cmd += (cmd.empty() ? "" : " ") + a;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' '))
      err.pop_back();
    throw std::runtime_error("'" + cmd + "' failed: " + err);
  }
}

/// Removes namespaces left behind by a qoda-run that was SIGKILLed (the one
/// exit path no handler can cover): their names carry the dead launcher's pid.
void removeStaleNamespaces() {
  DIR *dir = opendir("/var/run/netns");
  if (!dir)
    return;
  std::vector<std::string> stale;
  while (dirent *e = readdir(dir)) {
    int pid = 0;
    char rest[64];
    if (std::sscanf(e->d_name, "qoda-%d-%63s", &pid, rest) == 2 && pid > 0 &&
        kill(pid, 0) != 0 && errno == ESRCH)
      stale.push_back(e->d_name);
  }
  closedir(dir);
  for (const std::string &ns : stale) {
    std::string err;
    runCommand({"ip", "netns", "del", ns}, err);
  }
}

} // namespace

NetShaper::NetShaper(int numWorkers, std::uint64_t bitsPerSec, int tag)
    : numWorkers_(numWorkers), bitsPerSec_(bitsPerSec), tag_(tag) {}

NetShaper::~NetShaper() { cleanup(); }

std::string NetShaper::workerNs(int rank) const {
  return "qoda-" + std::to_string(tag_) + "-w" + std::to_string(rank);
}
std::string NetShaper::hubNs() const {
  return "qoda-" + std::to_string(tag_) + "-hub";
}
std::string NetShaper::namespacePath(int rank) const {
  return "/var/run/netns/" + workerNs(rank);
}
std::string NetShaper::address(int rank) const {
  int host = rank + 1; // 10.77.0.0/16; .0 is never used.
  return "10.77." + std::to_string(host >> 8) + "." +
         std::to_string(host & 255);
}

void NetShaper::setUp() {
  if (geteuid() != 0)
    throw std::runtime_error(
        "--bandwidth needs root (it creates network namespaces and tc "
        "qdiscs); run qoda-run as root or drop --bandwidth");
  removeStaleNamespaces();
  // tbf needs a bucket of at least one (GSO) packet and one timer tick of
  // traffic; 256 KiB or 10 ms at the rate, whichever is larger.
  std::uint64_t burst = std::max<std::uint64_t>(256 * 1024, bitsPerSec_ / 800);
  std::string rate = std::to_string(bitsPerSec_) + "bit";
  std::vector<std::string> tbf = {"root",    "tbf",   "rate",
                                  rate,      "burst", std::to_string(burst),
                                  "latency", "200ms"};

  std::string hub = hubNs();
  mustRun({"ip", "netns", "add", hub});
  createdNs_.push_back(hub);
  mustRun({"ip", "-n", hub, "link", "set", "lo", "up"});
  mustRun({"ip", "-n", hub, "link", "add", "qbr", "type", "bridge"});
  mustRun({"ip", "-n", hub, "link", "set", "qbr", "up"});
  for (int r = 0; r < numWorkers_; ++r) {
    std::string ns = workerNs(r), hubEnd = "v" + std::to_string(r);
    mustRun({"ip", "netns", "add", ns});
    createdNs_.push_back(ns);
    mustRun({"ip", "-n", ns, "link", "set", "lo", "up"});
    // Both ends are created directly inside their namespaces.
    mustRun({"ip", "-n", hub, "link", "add", hubEnd, "type", "veth", "peer",
             "name", "eth0", "netns", ns});
    mustRun({"ip", "-n", hub, "link", "set", hubEnd, "master", "qbr"});
    mustRun({"ip", "-n", hub, "link", "set", hubEnd, "up"});
    mustRun({"ip", "-n", ns, "addr", "add", address(r) + "/16", "dev", "eth0"});
    mustRun({"ip", "-n", ns, "link", "set", "eth0", "up"});
    std::vector<std::string> wq = {"tc",  "-n",  ns,    "qdisc",
                                   "add", "dev", "eth0"};
    wq.insert(wq.end(), tbf.begin(), tbf.end());
    mustRun(wq);
    std::vector<std::string> hq = {"tc",  "-n",  hub,   "qdisc",
                                   "add", "dev", hubEnd};
    hq.insert(hq.end(), tbf.begin(), tbf.end());
    mustRun(hq);
  }
}

void NetShaper::cleanup() noexcept {
  // Worker namespaces first (their veth ends take the hub ends with them).
  while (!createdNs_.empty()) {
    std::string err;
    try {
      runCommand({"ip", "netns", "del", createdNs_.back()}, err);
    } catch (...) {
    }
    createdNs_.pop_back();
  }
}

} // namespace qoda::launcher
