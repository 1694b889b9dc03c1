//===- BindComm.cpp - qoda.Communicator -----------------------------------===//
#include "Handles.h"
#include "LocalCommunicator.h"

#include "qoda/comm/Env.h"
#include "qoda/comm/GlooCommunicator.h"

#include <pybind11/numpy.h>

#include <cstdlib>

namespace qoda::python {

namespace {

using FloatArray = py::array_t<float, py::array::c_style>;

/// A writable C-contiguous float32 numpy array, or a TypeError naming what
/// was given (no silent copy: the collective works in place).
float *writableFloats(py::array &a, const char *what) {
  if (!py::isinstance<FloatArray>(a) || !(a.flags() & py::array::c_style) ||
      !a.writeable())
    throw py::type_error(std::string(what) +
                         ": expected a writable C-contiguous numpy float32 "
                         "array, got dtype " +
                         py::str(a.dtype()).cast<std::string>());
  return static_cast<float *>(a.mutable_data());
}

/// The port of qoda's rendezvous store. torchrun's agent already serves
/// its own store on MASTER_PORT, so under torchrun (TORCHELASTIC_RUN_ID
/// set) qoda uses MASTER_PORT + 1; QODA_MASTER_PORT overrides both.
int storePort(int masterPort) {
  if (const char *p = std::getenv("QODA_MASTER_PORT")) {
    char *end = nullptr;
    long v = std::strtol(p, &end, 10);
    if (!*p || *end || v < 1 || v > 65535)
      throw py::value_error(std::string("QODA_MASTER_PORT='") + p +
                            "': expected a port number 1..65535");
    return static_cast<int>(v);
  }
  if (std::getenv("TORCHELASTIC_RUN_ID")) {
    if (masterPort >= 65535)
      throw py::value_error("MASTER_PORT=65535 under torchrun: qoda's store "
                            "uses MASTER_PORT + 1; set QODA_MASTER_PORT");
    return masterPort + 1;
  }
  return masterPort;
}

} // namespace

void bindComm(py::module_ &m) {
  py::class_<CommHandle, std::shared_ptr<CommHandle>>(
      m, "Communicator",
      "The workers of this job: Gloo over TCP, rendezvous from MASTER_ADDR, "
      "MASTER_PORT, RANK, WORLD_SIZE (set by qoda-run and torchrun; under "
      "torchrun qoda's store takes MASTER_PORT + 1, QODA_MASTER_PORT "
      "overrides).")
      .def_static(
          "from_env",
          []() {
            auto h = std::make_shared<CommHandle>();
            if (!std::getenv("MASTER_ADDR")) {
              h->comm = std::make_unique<LocalCommunicator>();
              return h;
            }
            // Reading the environment throws ValueError on bad values,
            // naming the variable; the rendezvous blocks until every rank
            // has joined, so other Python threads may run meanwhile.
            comm::RendezvousConfig cfg = comm::rendezvousFromEnv();
            cfg.port = storePort(cfg.port);
            py::gil_scoped_release nogil;
            h->comm = std::make_unique<comm::GlooCommunicator>(cfg);
            h->distributed = true;
            return h;
          },
          "Joins the job described by the environment; without MASTER_ADDR "
          "this process is the only worker.")
      .def_property_readonly("rank",
                             [](const CommHandle &h) { return h.comm->rank(); })
      .def_property_readonly("size",
                             [](const CommHandle &h) { return h.comm->size(); })
      .def_property_readonly(
          "distributed", [](const CommHandle &h) { return h.distributed; },
          "False when running alone (no MASTER_ADDR).")
      .def_property_readonly(
          "bytes_sent",
          [](const CommHandle &h) { return h.comm->stats().bytesSent; },
          "Bytes this worker has put on the wire (all collectives).")
      .def_property_readonly(
          "collectives",
          [](const CommHandle &h) { return h.comm->stats().collectives; })
      .def(
          "broadcast",
          [](CommHandle &h, py::array a, int root) {
            if (root < 0 || root >= h.comm->size())
              throw py::value_error("broadcast root " + std::to_string(root) +
                                    " is not a rank of this " +
                                    std::to_string(h.comm->size()) +
                                    "-worker job");
            float *p = writableFloats(a, "broadcast");
            std::size_t n = static_cast<std::size_t>(a.size());
            py::gil_scoped_release nogil;
            h.comm->broadcast(p, n * sizeof(float), root);
          },
          py::arg("array"), py::arg("root") = 0,
          "Overwrites `array` (float32, in place) with rank `root`'s.")
      .def(
          "allreduce_sum",
          [](CommHandle &h, py::array a) {
            float *p = writableFloats(a, "allreduce_sum");
            std::size_t n = static_cast<std::size_t>(a.size());
            py::gil_scoped_release nogil;
            h.comm->allreduceSum(p, n);
          },
          py::arg("array"), "In-place float32 sum over all workers.")
      .def("barrier", [](CommHandle &h) {
        py::gil_scoped_release nogil;
        h.comm->barrier();
      });
}

} // namespace qoda::python
