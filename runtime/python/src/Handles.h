//===- Handles.h - objects the Python module hands out ----------*- C++ -*-===//
//
// The runtime's objects refer to each other by reference (an optimiser to
// its aggregator, an aggregator to its communicator). Python frees objects
// in any order, so each handle owns a shared_ptr to what it refers to.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "qoda/comm/Aggregator.h"
#include "qoda/comm/CostModel.h"
#include "qoda/optim/Optimizer.h"

#include <pybind11/pybind11.h>

#include <memory>
#include <optional>
#include <string>

namespace qoda::python {

namespace py = pybind11;

struct CommHandle {
  std::unique_ptr<comm::Communicator> comm;
  bool distributed = false; ///< false: a lone worker (no MASTER_ADDR)
};

struct AggregatorHandle {
  std::shared_ptr<CommHandle> comm;
  std::unique_ptr<comm::Aggregator> agg;
  std::size_t dim = 0;
  /// The collective the aggregator runs ("allreduce" for compressor none).
  std::string collective;
  /// Collective "auto": what was measured and why this one was picked.
  std::optional<comm::CollectiveChoice> choice;
};

struct OptimizerHandle {
  std::shared_ptr<AggregatorHandle> agg;
  std::unique_ptr<optim::Optimizer> opt;
  std::string name;
  /// Bytes and collectives of the communicator during this optimiser's
  /// steps (the communicator may be shared by several optimisers).
  std::uint64_t bytesSent = 0, collectives = 0;
};

void bindComm(py::module_ &m);
void bindSchedule(py::module_ &m);
void bindAggregator(py::module_ &m);
void bindOptimizer(py::module_ &m);

} // namespace qoda::python
