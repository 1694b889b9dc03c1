// The C API of a generated model library (ModelLibABI.h), written once here
// and instantiated by the generated C++ source, which defines the schedule
// tables and the per-type kernel table and then expands
// QODA_MODELLIB_DEFINE(layout, kernels). Only that macro's two extern "C"
// functions are exported; everything else has hidden visibility.
#ifndef QODA_KERNELS_MODELLIBIMPL_H
#define QODA_KERNELS_MODELLIBIMPL_H

#include "qoda/kernels/CpuKernels.h"
#include "qoda/kernels/CudaBackend.h"
#include "qoda/kernels/ModelLibABI.h"
#include "qoda/quant/Schedule.h"
#include "qoda/quant/Wire.h"

#ifndef QODA_MODELLIB_CPU_ARCH
#define QODA_MODELLIB_CPU_ARCH "x86-64" // the compiler's default -march
#endif

#include <cstdio>
#include <memory>
#include <new>
#include <string>
#include <vector>

/// The state behind a qoda_model handle.
struct qoda_model {
  qoda_device device = QODA_DEVICE_CPU;
  std::string error;
  std::vector<qoda::kernels::LevelData> levels; ///< per type (levels kinds)
  qoda::kernels::MessagePlan plan;
  uint64_t hash = 0;
  qoda::kernels::CudaState *cuda = nullptr;
};

namespace qoda::kernels {

/// What a generated source provides.
struct ModelDesc {
  const qoda_model_layout *layout;
  const TypeKernels *cpu; ///< one entry per type
};

/// The quantization schedule of the layout with the model's current levels
/// (its hash is the one every message carries).
inline quant::Schedule scheduleOf(const qoda_model_layout &l,
                                  const std::vector<LevelData> &levels) {
  quant::Schedule s;
  for (uint32_t m = 0; m < l.num_types; ++m) {
    const qoda_type_info &t = l.types[m];
    quant::TypeSchedule ts;
    ts.kind = quant::TypeKind(t.kind);
    if (t.kind == kKindLevels)
      ts.levels.assign(levels[m].levels, levels[m].levels + t.num_levels);
    ts.bucketSize = t.bucket;
    ts.norm = quant::Norm(t.norm);
    ts.normPrecision = quant::NormPrecision(t.norm_precision);
    ts.coding = quant::Coding(t.coding);
    s.types.push_back(std::move(ts));
  }
  for (uint32_t i = 0; i < l.num_segments; ++i)
    s.segments.push_back(
        {l.segments[i].offset, l.segments[i].length, l.segments[i].type});
  return s;
}

inline qoda_status fail(qoda_model *m, qoda_status st, std::string msg) {
  m->error = std::move(msg);
  return st;
}

inline qoda_status modelCreate(const ModelDesc &d, qoda_device device,
                               qoda_model **out, char *err, size_t errCap) {
  auto report = [&](qoda_status st, const std::string &msg) {
    if (errCap)
      std::snprintf(err, errCap, "%s", msg.c_str());
    return st;
  };
  if (!out)
    return report(QODA_ERR_ARGUMENT, "create: out is NULL");
  *out = nullptr;
  const qoda_model_layout &l = *d.layout;
  if (device != QODA_DEVICE_CPU && device != QODA_DEVICE_CUDA)
    return report(QODA_ERR_ARGUMENT,
                  "create: unknown device " + std::to_string(int(device)));
  if (device == QODA_DEVICE_CUDA && !(l.targets & QODA_TARGET_CUDA))
    return report(QODA_ERR_UNSUPPORTED,
                  std::string("create: library for model '") + l.model +
                      "' was built without CUDA kernels (rebuild with "
                      "qoda-compile --target cuda or all)");
  std::unique_ptr<qoda_model> m(new (std::nothrow) qoda_model);
  if (!m)
    return report(QODA_ERR_ARGUMENT, "create: out of memory");
  m->device = device;
  m->levels.resize(l.num_types);
  for (uint32_t t = 0; t < l.num_types; ++t)
    if (l.types[t].kind == kKindLevels)
      fillLevelData(m->levels[t], l.default_levels + l.types[t].level_slot,
                    l.types[t].num_levels);
  m->plan = planMessage(l.types, l.segments, l.num_segments);
  m->hash = l.schedule_hash;
  if (device == QODA_DEVICE_CUDA) {
    std::string e;
    m->cuda = cudaCreate(l, m->plan, m->levels, e);
    if (!m->cuda)
      return report(QODA_ERR_DEVICE, "create: " + e);
  }
  *out = m.release();
  return QODA_OK;
}

inline void modelDestroy(qoda_model *m) {
  if (!m)
    return;
  if (m->cuda)
    cudaDestroy(m->cuda);
  delete m;
}

inline qoda_status modelSetLevels(const ModelDesc &d, qoda_model *m,
                                  uint32_t type, const float *levels,
                                  uint32_t count) {
  if (!m)
    return QODA_ERR_ARGUMENT;
  const qoda_model_layout &l = *d.layout;
  if (type >= l.num_types)
    return fail(m, QODA_ERR_ARGUMENT,
                "set_levels: type " + std::to_string(type) + " out of range (" +
                    std::to_string(l.num_types) + " types)");
  const qoda_type_info &t = l.types[type];
  if (t.kind != kKindLevels)
    return fail(m, QODA_ERR_ARGUMENT,
                "set_levels: type " + std::to_string(type) +
                    " is sent uncompressed and has no levels");
  if (!levels || count != t.num_levels)
    return fail(m, QODA_ERR_ARGUMENT,
                "set_levels: type " + std::to_string(type) + " needs " +
                    std::to_string(t.num_levels) + " levels, got " +
                    std::to_string(count) +
                    " (the level count is compiled in: recompile to change "
                    "it)");
  std::string e = checkLevels(levels, count);
  if (!e.empty())
    return fail(m, QODA_ERR_ARGUMENT,
                "set_levels: type " + std::to_string(type) + ": " + e);
  fillLevelData(m->levels[type], levels, count);
  if (m->cuda && !cudaSetLevels(m->cuda, type, m->levels[type], e))
    return fail(m, QODA_ERR_DEVICE, "set_levels: " + e);
  m->hash = scheduleOf(l, m->levels).hash();
  return QODA_OK;
}

inline void writeMessageHeader(const qoda_model_layout &l, const qoda_model *m,
                               uint64_t step, uint8_t *out) {
  quant::MessageHeader h;
  h.compressor = quant::CompressorId::Levels;
  h.scheduleHash = m->hash;
  h.step = step;
  h.numCoords = l.num_coords;
  h.payloadBytes = m->plan.payloadBytes;
  quant::writeHeader(h, out);
}

inline qoda_status modelEncode(const ModelDesc &d, qoda_model *m,
                               const float *v, uint64_t seed, uint64_t step,
                               uint32_t rank, uint8_t *out, uint64_t outCap,
                               uint64_t *outLen, void *stream) {
  if (!m)
    return QODA_ERR_ARGUMENT;
  const qoda_model_layout &l = *d.layout;
  if (!v || !out || !outLen)
    return fail(m, QODA_ERR_ARGUMENT, "encode: NULL buffer");
  if (outCap < l.message_bytes)
    return fail(m, QODA_ERR_ARGUMENT,
                "encode: output holds " + std::to_string(outCap) +
                    " bytes, a message needs " +
                    std::to_string(l.message_bytes));
  *outLen = l.message_bytes;
  uint8_t header[quant::kHeaderBytes];
  writeMessageHeader(l, m, step, header);
  if (m->cuda) {
    std::string e;
    if (!cudaEncode(m->cuda, header, v, seed, step, rank, out, stream, e))
      return fail(m, QODA_ERR_DEVICE, "encode: " + e);
    return QODA_OK;
  }
  if (stream)
    return fail(m, QODA_ERR_ARGUMENT,
                "encode: stream must be NULL on a CPU "
                "model");
  std::memcpy(out, header, quant::kHeaderBytes);
  EncodeArgs a{v, seed, step, rank, out + quant::kHeaderBytes};
  for (uint32_t s = 0; s < l.num_segments; ++s)
    d.cpu[l.segments[s].type].encode(a, l.segments[s], m->plan.segments[s],
                                     m->levels[l.segments[s].type]);
  return QODA_OK;
}

/// The header checks of quant's decoder, with its messages.
inline std::string checkMessageHeader(const qoda_model_layout &l,
                                      const qoda_model *m, const uint8_t *msg,
                                      uint64_t len, uint64_t step) {
  quant::MessageHeader h;
  std::string err = quant::readHeader(msg, len, h);
  if (!err.empty())
    return err;
  if (h.compressor != quant::CompressorId::Levels)
    return "message is from compressor id " +
           std::to_string(int(h.compressor)) + ", expected " +
           std::to_string(int(quant::CompressorId::Levels));
  if (h.scheduleHash != m->hash)
    return "schedule hash mismatch: the sender uses another schedule";
  if (h.numCoords != l.num_coords)
    return "message has " + std::to_string(h.numCoords) +
           " coordinates, expected " + std::to_string(l.num_coords);
  if (h.step != step)
    return "message is for step " + std::to_string(h.step) + ", expected " +
           std::to_string(step);
  if (h.payloadBytes != m->plan.payloadBytes)
    return "payload is " + std::to_string(h.payloadBytes) +
           " bytes, schedule implies " + std::to_string(m->plan.payloadBytes);
  return "";
}

inline qoda_status modelDecode(const ModelDesc &d, qoda_model *m,
                               const uint8_t *const *msgs, const uint64_t *lens,
                               uint32_t k, float weight, uint64_t step,
                               float *sum, void *stream) {
  if (!m)
    return QODA_ERR_ARGUMENT;
  const qoda_model_layout &l = *d.layout;
  if ((k && (!msgs || !lens)) || !sum)
    return fail(m, QODA_ERR_ARGUMENT, "decode_accumulate: NULL buffer");
  for (uint32_t i = 0; i < k; ++i)
    if (!msgs[i])
      return fail(m, QODA_ERR_ARGUMENT,
                  "decode_accumulate: message " + std::to_string(i) +
                      " is NULL");
  if (m->cuda) {
    std::string e;
    qoda_status st = cudaDecode(m->cuda, msgs, lens, k, weight, step, m->hash,
                                sum, stream, e);
    return st == QODA_OK ? st : fail(m, st, "decode_accumulate: " + e);
  }
  if (stream)
    return fail(m, QODA_ERR_ARGUMENT,
                "decode_accumulate: stream must be NULL on a CPU model");
  std::vector<const uint8_t *> payloads(k);
  for (uint32_t i = 0; i < k; ++i) {
    std::string e = checkMessageHeader(l, m, msgs[i], lens[i], step);
    DecodeError de;
    for (uint32_t s = 0; e.empty() && s < l.num_segments; ++s)
      if (!d.cpu[l.segments[s].type].validate(msgs[i] + quant::kHeaderBytes,
                                              l.segments[s],
                                              m->plan.segments[s], de))
        e = de.what;
    if (!e.empty())
      return fail(m, QODA_ERR_MESSAGE,
                  "decode_accumulate: message " + std::to_string(i) + ": " + e);
    payloads[i] = msgs[i] + quant::kHeaderBytes;
  }
  DecodeArgs a{payloads.data(), k, weight, sum};
  for (uint32_t s = 0; s < l.num_segments; ++s)
    d.cpu[l.segments[s].type].accumulate(a, l.segments[s], m->plan.segments[s],
                                         m->levels[l.segments[s].type]);
  return QODA_OK;
}

inline qoda_status modelUpdate(const ModelDesc &d, qoda_model *m,
                               const float *mean, float *y, const float *x1,
                               float *x, float *xHalf, float eta, float gamma,
                               void *stream) {
  if (!m)
    return QODA_ERR_ARGUMENT;
  if (!mean || !y || !x1 || !x || !xHalf)
    return fail(m, QODA_ERR_ARGUMENT, "qoda_update: NULL buffer");
  if (m->cuda) {
    std::string e;
    if (!cudaUpdate(m->cuda, mean, y, x1, x, xHalf, eta, gamma, stream, e))
      return fail(m, QODA_ERR_DEVICE, "qoda_update: " + e);
    return QODA_OK;
  }
  if (stream)
    return fail(m, QODA_ERR_ARGUMENT,
                "qoda_update: stream must be NULL on a CPU model");
  qodaUpdate(mean, y, x1, x, xHalf, eta, gamma, d.layout->num_coords);
  return QODA_OK;
}

} // namespace qoda::kernels

/// Defines the library's exported entry points for `desc` (a ModelDesc).
#define QODA_MODELLIB_DEFINE(desc)                                             \
  namespace {                                                                  \
  const qoda_model_layout *qodaLayout() { return (desc).layout; }              \
  qoda_status qodaCreate(qoda_device dev, qoda_model **out, char *err,         \
                         size_t cap) {                                         \
    return qoda::kernels::modelCreate(desc, dev, out, err, cap);               \
  }                                                                            \
  const char *qodaLastError(const qoda_model *m) {                             \
    return m ? m->error.c_str() : "no model (create failed?)";                 \
  }                                                                            \
  qoda_status qodaSetLevels(qoda_model *m, uint32_t t, const float *l,         \
                            uint32_t n) {                                      \
    return qoda::kernels::modelSetLevels(desc, m, t, l, n);                    \
  }                                                                            \
  uint64_t qodaHash(const qoda_model *m) { return m ? m->hash : 0; }           \
  qoda_status qodaEncode(qoda_model *m, const float *v, uint64_t seed,         \
                         uint64_t step, uint32_t rank, uint8_t *out,           \
                         uint64_t cap, uint64_t *len, void *stream) {          \
    return qoda::kernels::modelEncode(desc, m, v, seed, step, rank, out, cap,  \
                                      len, stream);                            \
  }                                                                            \
  qoda_status qodaDecode(qoda_model *m, const uint8_t *const *msgs,            \
                         const uint64_t *lens, uint32_t k, float w,            \
                         uint64_t step, float *sum, void *stream) {            \
    return qoda::kernels::modelDecode(desc, m, msgs, lens, k, w, step, sum,    \
                                      stream);                                 \
  }                                                                            \
  qoda_status qodaUpdate(qoda_model *m, const float *mean, float *y,           \
                         const float *x1, float *x, float *xh, float eta,      \
                         float gamma, void *stream) {                          \
    return qoda::kernels::modelUpdate(desc, m, mean, y, x1, x, xh, eta, gamma, \
                                      stream);                                 \
  }                                                                            \
  const qoda_modellib_api kQodaApi = {QODA_MODELLIB_ABI_VERSION,               \
                                      sizeof(qoda_modellib_api),               \
                                      qodaLayout,                              \
                                      qodaCreate,                              \
                                      qoda::kernels::modelDestroy,             \
                                      qodaLastError,                           \
                                      qodaSetLevels,                           \
                                      qodaHash,                                \
                                      qodaEncode,                              \
                                      qodaDecode,                              \
                                      qodaUpdate};                             \
  }                                                                            \
  extern "C" __attribute__((visibility("default"))) uint32_t                   \
  qoda_modellib_abi_version(void) {                                            \
    return QODA_MODELLIB_ABI_VERSION;                                          \
  }                                                                            \
  extern "C" __attribute__((visibility("default"))) const qoda_modellib_api *  \
  qoda_modellib_entry(uint32_t v) {                                            \
    return v == QODA_MODELLIB_ABI_VERSION ? &kQodaApi : nullptr;               \
  }

#endif
