// qoda-bench: benchmark driver with one subcommand per area.
//   qoda-bench quant [--json] [...]   quantization kernels (QuantBench.cpp)
//   qoda-bench vi [--json] [...]      monotone VI benchmark (ViBench.cpp)
// Adding a subcommand: write `int runXBench(int argc, char **argv)` in its own
// file, add it to CMakeLists.txt and add one X(...) line to the list below.
#include <cstdio>
#include <cstring>

// X(name, function, help)
#define QODA_BENCH_SUBCOMMANDS(X)                                              \
  X("quant", runQuantBench, "quantize/pack and decode/accumulate throughput")  \
  X("vi", runViBenchCommand,                                                   \
    "monotone VI games: every optimiser and compressor (run under qoda-run)")

#define QODA_DECLARE(name, fn, help) int fn(int argc, char **argv);
QODA_BENCH_SUBCOMMANDS(QODA_DECLARE)
#undef QODA_DECLARE

namespace {
struct Subcommand {
  const char *name;
  int (*run)(int, char **);
  const char *help;
};
#define QODA_ENTRY(name, fn, help) {name, fn, help},
const Subcommand kSubcommands[] = {QODA_BENCH_SUBCOMMANDS(QODA_ENTRY)};
#undef QODA_ENTRY

void usage(FILE *out) {
  std::fprintf(out, "usage: qoda-bench <subcommand> [options]\n"
                    "       qoda-bench <subcommand> --help\nsubcommands:\n");
  for (const Subcommand &s : kSubcommands)
    std::fprintf(out, "  %-10s %s\n", s.name, s.help);
}
} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage(stdout);
    return 0;
  }
  for (const Subcommand &s : kSubcommands)
    if (!std::strcmp(argv[1], s.name))
      return s.run(argc - 1, argv + 1); // argv[0] becomes the subcommand
  std::fprintf(stderr, "qoda-bench: unknown subcommand '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
