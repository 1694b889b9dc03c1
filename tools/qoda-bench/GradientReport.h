// Variance / bits-per-coordinate report on recorded gradients (see
// GradientReport.cpp); part of `qoda-bench quant`.
#ifndef QODA_BENCH_GRADIENTREPORT_H
#define QODA_BENCH_GRADIENTREPORT_H

#include <cstdint>
#include <string>
#include <vector>

int runGradientReport(const std::string &dir, const std::vector<unsigned> &bits,
                      uint32_t bucket, bool json);

#endif
