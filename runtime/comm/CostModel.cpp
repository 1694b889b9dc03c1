//===- CostModel.cpp - alpha-beta model of the collectives ----------------===//
#include "qoda/comm/CostModel.h"

#include <stdexcept>

namespace qoda::comm {

double predictAllreduce(const AlphaBeta &m, int K, double bytes) {
  if (K < 2)
    return 0;
  return 2.0 * (K - 1) * m.alpha + 2.0 * (K - 1) / K * bytes / m.beta;
}

double predictAllgather(const AlphaBeta &m, int K, double msg) {
  if (K < 2)
    return 0;
  return (K - 1) * m.alpha + (K - 1) * msg / m.beta;
}

double predictScatterReduceAllgather(const AlphaBeta &m, int K, double msg) {
  if (K < 2)
    return 0;
  return 2.0 * (K - 1) * m.alpha + 2.0 * (K - 1) / K * msg / m.beta;
}

double predictCompressedAllgather(const AlphaBeta &m, const CodecCost &c, int K,
                                  double n, double msg) {
  return predictAllgather(m, K, msg) + n * (c.encode + (K + 1) * c.decode);
}

double predictCompressedScatterReduce(const AlphaBeta &m, const CodecCost &c,
                                      int K, double n, double msg) {
  return predictScatterReduceAllgather(m, K, msg) +
         n * (c.encode * (1.0 + 1.0 / K) + 2.0 * c.decode);
}

std::string chooseCompressedCollective(const AlphaBeta &m, int K, double msg) {
  return predictScatterReduceAllgather(m, K, msg) < predictAllgather(m, K, msg)
             ? "scatter-reduce"
             : "allgather";
}

AlphaBeta fitAlphaBeta(int K, double sb, double st, double lb, double lt) {
  if (K < 2 || !(lb > sb) || !(st > 0) || !(lt > 0))
    throw std::invalid_argument("fitAlphaBeta: need K >= 2, two message "
                                "sizes and positive timings");
  // t = (K-1) (alpha + bytes / beta): two points give the line.
  double slope = (lt - st) / ((K - 1) * (lb - sb)); // 1/beta
  AlphaBeta m;
  m.beta = slope > 0 ? 1.0 / slope : 0;
  m.alpha = st / (K - 1) - sb * slope;
  if (!(m.beta > 0))
    throw std::invalid_argument("fitAlphaBeta: the larger message was not "
                                "slower; measure with larger sizes");
  if (m.alpha < 0)
    m.alpha = 0; // latency below timing noise
  return m;
}

} // namespace qoda::comm
