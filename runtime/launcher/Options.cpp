//===- Options.cpp - qoda-run command line
//---------------------------------===//
#include "qoda/launcher/Options.h"

#include <cctype>
#include <cmath>
#include <stdexcept>

namespace qoda::launcher {

namespace {

[[noreturn]] void fail(const std::string &msg) {
  throw std::invalid_argument(msg + "\n" + usage());
}

long parseInt(const std::string &flag, const std::string &v, long lo, long hi) {
  std::size_t pos = 0;
  long n = 0;
  try {
    n = std::stol(v, &pos);
  } catch (...) {
    pos = 0;
  }
  if (v.empty() || pos != v.size() || n < lo || n > hi)
    fail(flag + " expects an integer in [" + std::to_string(lo) + ", " +
         std::to_string(hi) + "], got '" + v + "'");
  return n;
}

double parseSeconds(const std::string &flag, const std::string &v) {
  std::size_t pos = 0;
  double d = -1;
  try {
    d = std::stod(v, &pos);
  } catch (...) {
    pos = 0;
  }
  if (v.empty() || pos != v.size() || !(d > 0) || !std::isfinite(d))
    fail(flag + " expects a positive number of seconds, got '" + v + "'");
  return d;
}

} // namespace

std::string usage() {
  return "usage: qoda-run -n K [--port P] [--bandwidth RATE] [--timeout S] "
         "[--grace S] [--keep-going] -- CMD ARGS...\n"
         "  -n K              number of local workers (1..256)\n"
         "  --port P          MASTER_PORT (default: a free port)\n"
         "  --bandwidth RATE  shape every worker's link with tc tbf, e.g. "
         "1gbit, 100mbit (root only)\n"
         "  --timeout S       stop the job after S seconds (exit 124)\n"
         "  --grace S         seconds between SIGTERM and SIGKILL (default 5)\n"
         "  --keep-going      do not stop the others when a worker fails";
}

std::uint64_t parseRate(const std::string &text) {
  std::size_t i = 0;
  while (i < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  std::string num = text.substr(0, i), unit = text.substr(i);
  for (char &c : unit)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double mult = 0;
  if (unit == "bit")
    mult = 1;
  else if (unit == "kbit")
    mult = 1e3;
  else if (unit == "mbit")
    mult = 1e6;
  else if (unit == "gbit")
    mult = 1e9;
  double value = 0;
  std::size_t pos = 0;
  try {
    value = std::stod(num, &pos);
  } catch (...) {
    pos = 0;
  }
  if (num.empty() || pos != num.size() || mult == 0 || !(value > 0))
    throw std::invalid_argument(
        "--bandwidth expects a rate like 1gbit, 100mbit, 500kbit or 8000bit, "
        "got '" +
        text + "'");
  double bits = value * mult;
  if (bits < 8000 || bits > 100e9)
    throw std::invalid_argument("--bandwidth " + text +
                                " is outside 8kbit..100gbit");
  return static_cast<std::uint64_t>(bits);
}

Options parseOptions(const std::vector<std::string> &args) {
  Options o;
  bool haveN = false;
  std::size_t i = 0;
  auto value = [&](const std::string &flag) -> std::string {
    if (i + 1 >= args.size() || args[i + 1] == "--")
      fail(flag + " needs a value");
    return args[++i];
  };
  for (; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "-n" || a == "--nproc") {
      o.numWorkers = static_cast<int>(parseInt(a, value(a), 1, 256));
      haveN = true;
    } else if (a == "--port") {
      o.port = static_cast<int>(parseInt(a, value(a), 1, 65535));
    } else if (a == "--bandwidth") {
      o.bandwidthText = value(a);
      try {
        o.bandwidthBitsPerSec = parseRate(o.bandwidthText);
      } catch (const std::invalid_argument &e) {
        fail(e.what());
      }
    } else if (a == "--timeout") {
      o.timeoutSec = parseSeconds(a, value(a));
    } else if (a == "--keep-going") {
      o.keepGoing = true;
    } else if (a == "--grace") {
      o.graceSec = parseSeconds(a, value(a));
    } else {
      fail("unknown argument '" + a + "' (the worker command goes after --)");
    }
  }
  if (!haveN)
    fail("missing -n K (the number of workers)");
  o.command.assign(args.begin() + static_cast<long>(i), args.end());
  if (o.command.empty())
    fail("missing worker command after --");
  return o;
}

} // namespace qoda::launcher
