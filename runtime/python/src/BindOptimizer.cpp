//===- BindOptimizer.cpp - qoda.Optimizer ---------------------------------===//
//
// step(oracle) runs the C++ optimiser with the GIL released (collectives
// may take long and other Python threads, e.g. data loading, should run);
// the oracle re-acquires it and is called with numpy views of the
// optimiser's buffers: x (read-only, the evaluation point) and out (where
// the oracle writes V_k(x)). The views are valid only during the call.
// A Python exception raised by the oracle is restored and re-raised
// unchanged once the C++ step has unwound.
//
//===----------------------------------------------------------------------===//
#include "Handles.h"

#include "qoda/comm/LevelRefit.h"
#include "qoda/comm/Serialize.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <fstream>

namespace qoda::python {

namespace {

/// Unwinds the C++ step after the oracle raised; the Python error itself
/// is kept in the interpreter (PyErr_Restore) and raised again afterwards.
struct OracleRaised {};

constexpr const char *kMagic = "qoda-python-checkpoint";
constexpr std::uint32_t kVersion = 1;

/// A numpy view of n floats at p; `base` keeps numpy from copying.
py::array view(const float *p, std::size_t n, bool writable) {
  py::capsule base(p, [](void *) {}); // the optimiser owns the memory
  py::array a(py::dtype::of<float>(), {static_cast<py::ssize_t>(n)},
              {static_cast<py::ssize_t>(sizeof(float))}, p, base);
  if (!writable)
    a.attr("setflags")(py::arg("write") = false);
  return a;
}

void step(OptimizerHandle &h, const py::function &oracle) {
  const std::size_t dim = h.agg->dim;
  optim::OracleFn fn = [&](const float *x, float *out) {
    py::gil_scoped_acquire gil;
    try {
      oracle(view(x, dim, false), view(out, dim, true));
    } catch (py::error_already_set &e) {
      e.restore();
      throw OracleRaised();
    }
  };
  comm::Communicator &c = *h.agg->comm->comm;
  const comm::CommStats before = c.stats();
  auto account = [&] {
    h.bytesSent += c.stats().bytesSent - before.bytesSent;
    h.collectives += c.stats().collectives - before.collectives;
  };
  try {
    py::gil_scoped_release nogil;
    h.opt->step(fn);
  } catch (const OracleRaised &) {
    account();
    throw py::error_already_set();
  }
  account();
}

py::dict stats(const OptimizerHandle &h) {
  py::dict d;
  const std::uint64_t calls = h.opt->steps() * h.opt->collectivesPerStep();
  d["steps"] = h.opt->steps();
  d["skipped_steps"] = h.opt->skippedSteps();
  d["aggregator_calls"] = calls;
  d["bytes_sent"] = h.bytesSent;
  d["collectives"] = h.collectives;
  // Bits this worker put on the wire per coordinate per aggregator call
  // (the same measure as qoda-bench vi's sent_bits_per_coord).
  d["bits_per_coord"] =
      calls ? 8.0 * static_cast<double>(h.bytesSent) /
                  (static_cast<double>(h.agg->dim) * static_cast<double>(calls))
            : 0.0;
  const comm::LevelRefitter *r = h.agg->agg->refitter();
  d["refits"] = r ? r->refits() : 0;
  d["compressor"] = h.agg->agg->name();
  return d;
}

void save(const OptimizerHandle &h, const std::string &path) {
  std::ofstream os(path, std::ios::binary | std::ios::trunc);
  if (!os)
    throw std::runtime_error("cannot write checkpoint '" + path + "'");
  os << kMagic << '\n';
  comm::writePod(os, kVersion);
  comm::writePod<std::uint64_t>(os, h.agg->dim);
  h.opt->save(os);
  h.agg->agg->save(os);
  comm::writePod(os, h.bytesSent);
  comm::writePod(os, h.collectives);
  if (!os.flush())
    throw std::runtime_error("writing checkpoint '" + path + "' failed");
}

void load(OptimizerHandle &h, const std::string &path) {
  std::ifstream is(path, std::ios::binary);
  if (!is)
    throw std::runtime_error("cannot read checkpoint '" + path + "'");
  std::string magic;
  std::getline(is, magic);
  if (magic != kMagic)
    throw std::runtime_error("'" + path + "' is not a qoda Python checkpoint");
  try {
    auto version = comm::readPod<std::uint32_t>(is);
    if (version != kVersion)
      throw std::runtime_error("version " + std::to_string(version) +
                               ", this qoda reads " + std::to_string(kVersion));
    auto dim = comm::readPod<std::uint64_t>(is);
    if (dim != h.agg->dim)
      throw std::runtime_error("it holds " + std::to_string(dim) +
                               " coordinates, this optimizer has " +
                               std::to_string(h.agg->dim));
    h.opt->load(is);
    h.agg->agg->load(is);
    h.bytesSent = comm::readPod<std::uint64_t>(is);
    h.collectives = comm::readPod<std::uint64_t>(is);
  } catch (const std::exception &e) {
    throw std::runtime_error("checkpoint '" + path + "': " + e.what());
  }
}

} // namespace

void bindOptimizer(py::module_ &m) {
  m.def("optimizer_names", &optim::optimizerNames,
        "Optimizer names qoda.Optimizer accepts.");
  py::class_<OptimizerHandle, std::shared_ptr<OptimizerHandle>>(
      m, "Optimizer",
      "QODA or a baseline over an Aggregator; the iterate is a flat float32 "
      "vector.")
      .def(
          py::init(
              [](const std::string &name,
                 py::array_t<float, py::array::c_style | py::array::forcecast>
                     x0,
                 std::shared_ptr<AggregatorHandle> agg, double lr,
                 double lrGamma, double q, double beta1, double beta2,
                 double eps, const std::string &stepSums) {
                if (!agg)
                  throw py::value_error("Optimizer: aggregator is None");
                if (x0.ndim() != 1 ||
                    static_cast<std::size_t>(x0.size()) != agg->dim)
                  throw py::value_error(
                      "Optimizer: x0 must be a 1-D array of the aggregator's " +
                      std::to_string(agg->dim) + " coordinates, got " +
                      std::to_string(x0.size()) + " in " +
                      std::to_string(x0.ndim()) + " dimension(s)");
                optim::OptimConfig cfg;
                cfg.name = name;
                cfg.lr = lr;
                cfg.lrGamma = lrGamma;
                cfg.q = q;
                cfg.beta1 = beta1;
                cfg.beta2 = beta2;
                cfg.eps = eps;
                cfg.stepSums = stepSums;
                auto h = std::make_shared<OptimizerHandle>();
                h->agg = agg;
                h->name = name;
                h->opt = optim::makeOptimizer(
                    cfg, std::vector<float>(x0.data(), x0.data() + x0.size()),
                    *agg->agg);
                return h;
              }),
          py::arg("name"), py::arg("x0"), py::arg("aggregator"),
          py::arg("lr") = 0.1, py::arg("lr_gamma") = 0.1, py::arg("q") = 0.25,
          py::arg("beta1") = 0.9, py::arg("beta2") = 0.999,
          py::arg("eps") = 1e-8, py::arg("step_sums") = "workers")
      .def("step", &step, py::arg("oracle"),
           "One step; oracle(x, out) writes this worker's V_k(x) into out "
           "(numpy float32 views, valid during the call only).")
      .def_property_readonly(
          "x",
          [](const OptimizerHandle &h) {
            const std::vector<float> &x = h.opt->x();
            return py::array_t<float>(static_cast<py::ssize_t>(x.size()),
                                      x.data());
          },
          "A copy of the current iterate X_t.")
      .def(
          "_x_view",
          [](py::object self) {
            // The iterate without the copy `x` makes: qoda.torch reads it
            // into the parameters after every step (a 1.9 MB copy and its
            // page faults per step at the WGAN's size). Read-only, and
            // valid until the next step or load.
            const std::vector<float> &x =
                self.cast<const OptimizerHandle &>().opt->x();
            py::array_t<float> view(static_cast<py::ssize_t>(x.size()),
                                    x.data(), self);
            py::detail::array_proxy(view.ptr())->flags &=
                ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
            return view;
          },
          "A read-only view of the current iterate (valid until the next "
          "step or load).")
      .def_property_readonly("name",
                             [](const OptimizerHandle &h) { return h.name; })
      .def_property_readonly(
          "steps", [](const OptimizerHandle &h) { return h.opt->steps(); })
      .def_property_readonly(
          "collectives_per_step",
          [](const OptimizerHandle &h) { return h.opt->collectivesPerStep(); })
      .def("stats", &stats,
           "steps, skipped_steps, aggregator_calls, bytes_sent, collectives, "
           "bits_per_coord (bits this worker sent per coordinate per "
           "aggregator call), refits, compressor.")
      .def("save", &save, py::arg("path"),
           "Checkpoint of the complete state (optimiser, codecs, level "
           "tables, counters).")
      .def("load", &load, py::arg("path"));
}

} // namespace qoda::python
