//===- Module.cpp - the qoda._qoda extension module -----------------------===//
//
// C++ exceptions become Python exceptions with the runtime's own message:
// std::invalid_argument -> ValueError (bad options), comm::CommError ->
// qoda.CommError (a peer died or hung; the message names the rank),
// comm::NonFiniteError -> qoda.NonFiniteError (names parameter, element,
// step and rank), anything else -> RuntimeError.
//
//===----------------------------------------------------------------------===//
#include "Handles.h"

#include "qoda/comm/Communicator.h"

PYBIND11_MODULE(_qoda, m) {
  m.doc() = "qoda runtime: rendezvous, compressed collectives, QODA and its "
            "baselines";
  pybind11::register_exception<qoda::comm::CommError>(m, "CommError",
                                                      PyExc_RuntimeError);
  pybind11::register_exception<qoda::comm::NonFiniteError>(
      m, "NonFiniteError", PyExc_FloatingPointError);
  qoda::python::bindComm(m);
  qoda::python::bindSchedule(m);
  qoda::python::bindAggregator(m);
  qoda::python::bindOptimizer(m);
}
