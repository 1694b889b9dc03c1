// Internal: run items [0, n) on up to `threads` threads (the caller's thread
// included). Items are claimed from an atomic counter, so which thread runs
// an item never affects results as long as items write disjoint memory.
#ifndef QODA_QUANT_PARALLEL_H
#define QODA_QUANT_PARALLEL_H

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace qoda::quant::detail {

template <typename F> void parallelFor(unsigned threads, size_t n, F &&f) {
  unsigned t = unsigned(std::min<size_t>(std::max(threads, 1u), n));
  if (t <= 1) {
    for (size_t i = 0; i < n; ++i)
      f(i);
    return;
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;)
      f(i);
  };
  std::vector<std::thread> pool;
  for (unsigned k = 1; k < t; ++k)
    pool.emplace_back(worker);
  worker();
  for (std::thread &th : pool)
    th.join();
}

} // namespace qoda::quant::detail

#endif
