//===- BindAggregator.cpp - qoda.Aggregator -------------------------------===//
#include "AggregatorSpec.h"
#include "Handles.h"

#include "qoda/comm/LevelRefit.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>

namespace qoda::python {

void bindAggregator(py::module_ &m) {
  m.def("compressor_names", &compressorChoices,
        "Compressor names qoda.Aggregator accepts.");
  py::class_<AggregatorHandle, std::shared_ptr<AggregatorHandle>>(
      m, "Aggregator",
      "The mean over all workers of one flat float32 vector, through the "
      "fp32 all-reduce or a compressed collective.")
      .def(py::init(
               [](std::shared_ptr<CommHandle> comm,
                  const std::vector<std::tuple<std::string, std::size_t, bool>>
                      &layout,
                  const std::string &compressor, unsigned bits,
                  std::uint32_t bucket, const std::string &norm,
                  const std::vector<std::shared_ptr<schedule::ScheduleFile>>
                      &schedules,
                  const std::string &collective, std::uint64_t seed,
                  const std::string &refit, const std::string &onNonFinite,
                  const std::vector<std::string> &libraries,
                  std::optional<std::int64_t> rawAllreduceMin) {
                 if (!comm)
                   throw py::value_error("Aggregator: communicator is None");
                 AggregatorSpec spec;
                 for (const auto &[name, size, compressed] : layout)
                   spec.layout.push_back({name, size, compressed});
                 spec.compressor = compressor;
                 spec.bits = bits;
                 spec.bucket = bucket;
                 spec.norm = norm;
                 for (const auto &s : schedules) {
                   if (!s)
                     throw py::value_error("Aggregator: a schedule is None");
                   spec.schedules.push_back(*s);
                 }
                 spec.collective = collective;
                 spec.seed = seed;
                 spec.refit = refit;
                 spec.onNonFinite = onNonFinite;
                 spec.libraries = libraries;
                 if (rawAllreduceMin && *rawAllreduceMin < 0)
                   throw py::value_error(
                       "raw_allreduce_min expects a number of bytes >= 0, "
                       "got " + std::to_string(*rawAllreduceMin));
                 spec.rawAllreduceMin = rawAllreduceMin.value_or(-1);
                 auto h = std::make_shared<AggregatorHandle>();
                 h->comm = comm;
                 h->dim = 0;
                 for (const LayoutEntry &e : spec.layout)
                   h->dim += e.size;
                 comm::CollectiveChoice choice;
                 h->agg = buildAggregator(spec, *comm->comm, &choice);
                 h->collective = spec.compressor == "none" ? "allreduce"
                                 : spec.collective == "auto"
                                     ? choice.collective
                                     : spec.collective;
                 if (spec.compressor != "none" && spec.collective == "auto")
                   h->choice = choice;
                 return h;
               }),
           py::arg("comm"), py::arg("layout"), py::arg("compressor") = "none",
           py::arg("bits") = 4, py::arg("bucket") = 1024,
           py::arg("norm") = "l2",
           py::arg("schedules") =
               std::vector<std::shared_ptr<schedule::ScheduleFile>>{},
           py::arg("collective") = "allgather", py::arg("seed") = 0,
           py::arg("refit") = "none", py::arg("on_nonfinite") = "stop",
           py::arg("libraries") = std::vector<std::string>{},
           py::arg("raw_allreduce_min") = py::none(),
           "libraries: compiled model libraries (libqoda_<model>.so), one "
           "per schedule, for compressor 'layerwise'. "
           "raw_allreduce_min: layer-wise without libraries: fp32/fp16 "
           "types with at least this many bytes per worker go through "
           "their own all-reduce, smaller ones travel in the message "
           "(None: 16384). "
           "layout: [(name, numel, compressed)] in the order of the flat "
           "vector. All ranks must pass the same arguments.")
      .def_property_readonly("dim",
                             [](const AggregatorHandle &h) { return h.dim; })
      .def_property_readonly(
          "name", [](const AggregatorHandle &h) { return h.agg->name(); })
      .def_property_readonly(
          "collective",
          [](const AggregatorHandle &h) { return h.collective; },
          "allgather (a), scatter-reduce (b), or allreduce (compressor "
          "none); with collective='auto', the one picked")
      .def_property_readonly(
          "collective_choice",
          [](const AggregatorHandle &h) -> py::object {
            if (!h.choice)
              return py::none();
            const comm::CollectiveChoice &c = *h.choice;
            py::dict d;
            d["collective"] = c.collective;
            d["note"] = c.note;
            d["model_measured"] = c.measured;
            d["model_collective"] =
                c.calibrated ? c.modelCollective : c.collective;
            d["alpha_s"] = c.model.alpha;
            d["beta_bytes_per_s"] = c.model.beta;
            d["encode_s_per_coord"] = c.codec.encode;
            d["decode_s_per_coord"] = c.codec.decode;
            d["predicted_allgather_s"] = c.predictedAllgather;
            d["predicted_scatter_reduce_s"] = c.predictedScatterReduce;
            d["calibrated"] = c.calibrated;
            d["measured_allgather_s"] = c.calibration.allgather;
            d["measured_scatter_reduce_s"] = c.calibration.scatterReduce;
            d["measured_ratio"] = c.calibration.ratio;
            return std::move(d);
          },
          "collective='auto': the alpha-beta model's prediction for (a) "
          "and (b) with this run's codec cost, the calibration's measured "
          "times (median, rank 0's, the same on every rank) and the pick; "
          "None otherwise")
      .def_property_readonly("refits",
                             [](const AggregatorHandle &h) -> std::uint64_t {
                               const comm::LevelRefitter *r = h.agg->refitter();
                               return r ? r->refits() : 0;
                             })
      .def(
          "mean",
          [](AggregatorHandle &h,
             py::array_t<float, py::array::c_style | py::array::forcecast> v) {
            if (static_cast<std::size_t>(v.size()) != h.dim)
              throw py::value_error("Aggregator.mean: expected " +
                                    std::to_string(h.dim) + " floats, got " +
                                    std::to_string(v.size()));
            py::array_t<float> out(static_cast<py::ssize_t>(h.dim));
            const float *in = v.data();
            float *o = out.mutable_data();
            comm::AggregateStats s;
            {
              py::gil_scoped_release nogil;
              h.agg->mean(in, o, s);
            }
            py::dict d;
            d["sum_sq"] = s.sumSq;
            d["sum_sq_diff"] = s.sumSqDiff;
            d["skipped"] = s.skipped;
            return py::make_tuple(out, d);
          },
          py::arg("v"),
          "The mean over all workers of v (one collective on every rank); "
          "returns (mean, {sum_sq, sum_sq_diff, skipped}).");
}

} // namespace qoda::python
