//===- Env.cpp - torchrun-style rendezvous configuration
//-------------------===//
#include "qoda/comm/Env.h"

#include <arpa/inet.h>

#include <cmath>
#include <cstdlib>
#include <stdexcept>

extern char **environ;

namespace qoda::comm {

namespace {

std::string need(const std::map<std::string, std::string> &env,
                 const std::string &name) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty())
    throw std::invalid_argument(
        name + " is not set; start workers with qoda-run (or torchrun) or set "
               "MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE");
  return it->second;
}

long toInt(const std::string &name, const std::string &v, long lo, long hi) {
  std::size_t pos = 0;
  long n = 0;
  try {
    n = std::stol(v, &pos);
  } catch (...) {
    pos = 0;
  }
  if (pos == 0 || pos != v.size() || n < lo || n > hi)
    throw std::invalid_argument(name + "='" + v + "' is not an integer in [" +
                                std::to_string(lo) + ", " + std::to_string(hi) +
                                "]");
  return n;
}

bool isIPv4(const std::string &s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

} // namespace

RendezvousConfig
rendezvousFromEnv(const std::map<std::string, std::string> &env) {
  RendezvousConfig c;
  c.masterAddr = need(env, "MASTER_ADDR");
  if (c.masterAddr == "localhost")
    c.masterAddr = "127.0.0.1";
  if (!isIPv4(c.masterAddr))
    throw std::invalid_argument("MASTER_ADDR='" + c.masterAddr +
                                "' is not an IPv4 address (e.g. 127.0.0.1)");
  c.port = static_cast<int>(
      toInt("MASTER_PORT", need(env, "MASTER_PORT"), 1, 65535));
  c.worldSize =
      static_cast<int>(toInt("WORLD_SIZE", need(env, "WORLD_SIZE"), 1, 4096));
  c.rank =
      static_cast<int>(toInt("RANK", need(env, "RANK"), 0, c.worldSize - 1));
  auto local = env.find("QODA_LOCAL_ADDR");
  if (local != env.end() && !local->second.empty()) {
    c.localAddr = local->second;
    if (!isIPv4(c.localAddr))
      throw std::invalid_argument("QODA_LOCAL_ADDR='" + c.localAddr +
                                  "' is not an IPv4 address");
  } else if (c.masterAddr.rfind("127.", 0) == 0) {
    c.localAddr = "127.0.0.1";
  } else {
    throw std::invalid_argument(
        "MASTER_ADDR=" + c.masterAddr +
        " is not loopback, so set QODA_LOCAL_ADDR to this worker's address "
        "that the other workers can reach");
  }
  auto t = env.find("QODA_COMM_TIMEOUT");
  if (t != env.end() && !t->second.empty()) {
    std::size_t pos = 0;
    double s = -1;
    try {
      s = std::stod(t->second, &pos);
    } catch (...) {
      pos = 0;
    }
    if (pos != t->second.size() || !(s > 0) || !std::isfinite(s) || s > 86400)
      throw std::invalid_argument("QODA_COMM_TIMEOUT='" + t->second +
                                  "' is not a number of seconds in (0, 86400]");
    c.timeout = std::chrono::milliseconds(static_cast<long>(s * 1000));
  }
  return c;
}

RendezvousConfig rendezvousFromEnv() {
  std::map<std::string, std::string> env;
  for (char **e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos)
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return rendezvousFromEnv(env);
}

} // namespace qoda::comm
