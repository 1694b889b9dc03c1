// qoda-bench vi: monotone VI benchmark problems with stochastic oracles, every
// optimiser on every compressor (the runtime's qoda_vibench library; see
// docs/runtime.md). Run under `qoda-run -n K` for K workers.
#include "qoda/vibench/ViBench.h"

#include <string>
#include <vector>

int runViBenchCommand(int argc, char **argv) {
  // argv[0] is the subcommand name.
  return qoda::vibench::runViBench(
      std::vector<std::string>(argv + 1, argv + argc));
}
