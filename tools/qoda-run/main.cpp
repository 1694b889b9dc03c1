//===- qoda-run - start K local workers with a torchrun-style rendezvous --===//
#include "qoda/launcher/Launcher.h"

#include <iostream>
#include <stdexcept>

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) {
    std::cout << qoda::launcher::usage() << "\n";
    return 0;
  }
  qoda::launcher::Options opts;
  try {
    opts = qoda::launcher::parseOptions(args);
  } catch (const std::invalid_argument &e) {
    std::cerr << "qoda-run: " << e.what() << "\n";
    return 2;
  }
  try {
    return qoda::launcher::runJob(opts);
  } catch (const std::exception &e) {
    std::cerr << "qoda-run: " << e.what() << "\n";
    return 1;
  }
}
