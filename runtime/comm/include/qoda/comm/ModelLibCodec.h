//===- ModelLibCodec.h - the layer-wise codec of compiled libraries -*- C++ -*-===//
//
// A MessageCodec that encodes and decodes through generated model libraries
// (libqoda_<model>.so from qoda-compile, docs/codegen.md) instead of the
// quantization library's generic kernels. One library per schedule file (a
// GAN has two: generator and critic), laid out one after the other in the
// flat vector. Each library was generated for one schedule; the loader
// (kernels::ModelLib) checks its ABI version and CPU architecture, and this
// codec checks that its schedule hash and size equal the schedule the runtime
// runs, so a library compiled for another export is refused with a message.
//
// Message: step (8 bytes) | per library: length (8) + the library's message
// (exactly `message_bytes`). For one library whose schedule has only
// `levels` types this is byte for byte ScheduleCodec's message for that
// schedule (its single part is the quantization library's `layerwise`
// message, which the generated kernels reproduce), so the two interoperate
// and the aggregate is identical (tested). Cast types (fp32/fp16/bf16) are
// sent inside the library's message, so the codec always covers the whole
// vector: use it with collective (a) over one compressed segment; it cannot
// be cut into chunks (scatter-reduce, pipelined).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "qoda/comm/CompressedAggregator.h"
#include "qoda/kernels/ModelLibLoader.h"
#include "qoda/quant/Schedule.h"

#include <memory>
#include <string>
#include <vector>

namespace qoda::comm {

/// The generated model library in a qoda-compile output directory: the one
/// file OUT/libqoda_*.so. Throws std::invalid_argument naming the directory
/// if there is none or more than one.
std::string findModelLibrary(const std::string &outDir);

class ModelLibCodec : public MessageCodec {
public:
  struct Library {
    std::string path;          ///< libqoda_<model>.so
    quant::Schedule schedule;  ///< what the runtime runs for this part
    std::uint64_t numCoords;   ///< coordinates of this part
  };
  /// Loads every library (in layout order) and checks it against its
  /// schedule; throws std::invalid_argument with the loader's message (file,
  /// what differs, what to do) otherwise.
  ModelLibCodec(const std::vector<Library> &libs, std::uint64_t seed,
                std::uint32_t rank);
  std::size_t dim() const override { return n_; }
  std::size_t messageBytes() const override { return bytes_; }
  void encode(const float *v, std::uint8_t *msg) override;
  void decodeAccumulate(const std::uint8_t *msg, float *acc) const override;
  /// One decode_accumulate call per library for all k messages.
  void decodeAccumulateAll(const std::uint8_t *const *msgs, std::size_t k,
                           float *acc) const override;
  std::string name() const override { return "layerwise-lib"; }
  void save(std::ostream &os) const override;
  void load(std::istream &is) override;
  /// The concatenation of the libraries' schedules (types appended, segments
  /// shifted), in the coordinates of the whole vector.
  const quant::Schedule *schedule() const override { return &full_; }
  /// Installs re-fitted levels in every library (set_levels: no recompile).
  void setSchedule(const quant::Schedule &s) override;

private:
  struct Part {
    std::shared_ptr<kernels::ModelLib> lib;
    std::unique_ptr<kernels::Model> model;
    quant::Schedule schedule;
    std::uint64_t base = 0, coords = 0, msgBytes = 0;
    std::uint32_t firstType = 0;
  };
  std::vector<Part> parts_;
  quant::Schedule full_;
  std::size_t n_ = 0, bytes_ = 8;
  std::uint64_t seed_, step_ = 0;
  std::uint32_t rank_;
};

} // namespace qoda::comm
