//===- BindSchedule.cpp - qoda.Schedule (a schedule file) -----------------===//
//
// The schedule file is the contract between qoda-compile and the runtime
// (docs/schedule.md); Python reads it through the one C++ reader, so a file
// the runtime would refuse is refused here with the same message.
//
//===----------------------------------------------------------------------===//
#include "Handles.h"

#include "qoda/schedule/ScheduleFile.h"

#include <pybind11/stl.h>

#include <cstdio>

namespace qoda::python {

void bindSchedule(py::module_ &m) {
  using schedule::ScheduleFile;
  py::class_<ScheduleFile, std::shared_ptr<ScheduleFile>>(
      m, "Schedule", "A quantization schedule file (docs/schedule.md).")
      .def_static(
          "load",
          [](const std::string &path) {
            auto s = std::make_shared<ScheduleFile>();
            std::string err;
            if (!schedule::loadScheduleJson(path, *s, err))
              throw py::value_error(err);
            return s;
          },
          py::arg("path"))
      .def_readonly("model", &ScheduleFile::model)
      .def_readonly("producer", &ScheduleFile::producer)
      .def_readonly("num_coords", &ScheduleFile::numCoords)
      .def_property_readonly(
          "hash",
          [](const ScheduleFile &s) {
            char buf[17];
            std::snprintf(
                buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(s.quantSchedule().hash()));
            return std::string(buf);
          },
          "schedule_hash: FNV-1a of the quantization schedule, 16 hex digits")
      .def_property_readonly(
          "params",
          [](const ScheduleFile &s) {
            py::list out;
            for (const schedule::ParamEntry &p : s.params) {
              py::dict d;
              d["name"] = p.name;
              d["offset"] = p.offset;
              d["numel"] = p.numel;
              d["shape"] = p.shape;
              d["type"] = p.type;
              d["role"] = p.role;
              out.append(d);
            }
            return out;
          },
          "Parameters in layout order: dicts with name, offset, numel, "
          "shape, type (index into types), role.")
      .def_property_readonly(
          "types",
          [](const ScheduleFile &s) {
            py::list out;
            for (const schedule::TypeEntry &t : s.types) {
              py::dict d;
              d["name"] = t.name;
              d["kind"] = std::string(schedule::kindName(t.quant.kind));
              d["bits"] = t.bits;
              if (t.quant.kind == quant::TypeKind::Levels) {
                d["levels"] = t.quant.levels;
                d["bucket"] = t.quant.bucketSize;
                d["norm"] = std::string(schedule::normName(t.quant.norm));
              }
              d["predicted_variance"] = t.predictedVariance;
              out.append(d);
            }
            return out;
          })
      .def_property_readonly("prediction", [](const ScheduleFile &s) {
        py::dict d;
        d["bits_per_coord"] = s.prediction.bitsPerCoord;
        d["variance"] = s.prediction.variance;
        d["global_bits_per_coord"] = s.prediction.globalBitsPerCoord;
        d["global_variance"] = s.prediction.globalVariance;
        return d;
      });
}

} // namespace qoda::python
