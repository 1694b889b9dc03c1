//===- Summary.cpp - what qoda-compile tells the user ---------------------===//
#include "Summary.h"

#include "llvm/Support/Format.h"

namespace qoda {

void printSummary(const schedule::ScheduleFile &s, const ModelTables &t,
                  llvm::raw_ostream &os) {
  os << "model '" << s.model << "': " << s.params.size() << " parameters, "
     << s.numCoords << " coordinates, " << s.types.size() << " types, "
     << t.segments.size() << " segments\n";
  os << "  #   type             kind     bits  bucket  params       coords\n";
  for (size_t m = 0; m < s.types.size(); ++m) {
    size_t params = 0;
    uint64_t coords = 0;
    for (const schedule::ParamEntry &p : s.params)
      if (p.type == m) {
        ++params;
        coords += p.numel;
      }
    const quant::TypeSchedule &q = s.types[m].quant;
    bool levels = q.kind == quant::TypeKind::Levels;
    std::string bucket = levels ? std::to_string(q.bucketSize) : "-";
    os << llvm::format("  %-3zu %-16s %-7s %5u %7s %7zu %12llu\n", m,
                       s.types[m].name.c_str(), schedule::kindName(q.kind),
                       s.types[m].bits, bucket.c_str(), params,
                       (unsigned long long)coords);
  }
  double bits = s.numCoords ? 8.0 * double(t.messageBytes) / s.numCoords : 0;
  os << llvm::format("  message: %llu bytes = %.3f bits/coordinate "
                     "(compression %.2fx against fp32)\n",
                     (unsigned long long)t.messageBytes, bits,
                     bits > 0 ? 32.0 / bits : 0.0);
  const schedule::Prediction &p = s.prediction;
  if (p.globalVariance > 0)
    os << llvm::format("  predicted variance %.4g at %.3f bits/coord; global "
                       "quantizer %.4g at %.3f (layer-wise/global = %.3f)\n",
                       p.variance, p.bitsPerCoord, p.globalVariance,
                       p.globalBitsPerCoord, p.variance / p.globalVariance);
  else
    os << "  predicted variance: not in the schedule\n";
}

} // namespace qoda
