// dlopen-based loader of generated model libraries (see ModelLibLoader.h).
#include "qoda/kernels/ModelLibLoader.h"

#include <dlfcn.h>

#include <cinttypes>
#include <cstdio>
#include <vector>

namespace qoda::kernels {

namespace {
std::string hex(uint64_t h) {
  char b[24];
  std::snprintf(b, sizeof b, "%016" PRIx64, h);
  return b;
}
} // namespace

std::string checkCpuArch(const std::string &arch) {
  // The features each x86-64 micro-architecture level adds (psABI).
  struct Level {
    const char *name;
    std::vector<const char *> features;
  };
  static const Level levels[] = {
      {"x86-64", {}},
      {"x86-64-v2", {"sse4.2", "popcnt"}},
      {"x86-64-v3", {"sse4.2", "popcnt", "avx2", "fma", "bmi2"}},
      {"x86-64-v4",
       {"sse4.2", "popcnt", "avx2", "fma", "bmi2", "avx512f", "avx512bw"}}};
  for (const Level &l : levels) {
    if (arch != l.name)
      continue;
#if defined(__x86_64__)
    __builtin_cpu_init();
    for (const char *f : l.features) {
      bool has = std::string(f) == "sse4.2"   ? __builtin_cpu_supports("sse4.2")
                 : std::string(f) == "popcnt" ? __builtin_cpu_supports("popcnt")
                 : std::string(f) == "avx2"   ? __builtin_cpu_supports("avx2")
                 : std::string(f) == "fma"    ? __builtin_cpu_supports("fma")
                 : std::string(f) == "bmi2"   ? __builtin_cpu_supports("bmi2")
                 : std::string(f) == "avx512f"
                     ? __builtin_cpu_supports("avx512f")
                     : __builtin_cpu_supports("avx512bw");
      if (!has)
        return "compiled for " + arch + " but this CPU lacks " + f +
               "; rebuild it with qoda-compile --march x86-64";
    }
    return "";
#else
    return "compiled for " + arch + ", this is not an x86-64 CPU";
#endif
  }
  return "compiled for unknown CPU architecture '" + arch +
         "'; rebuild it with qoda-compile --march x86-64 or x86-64-v3";
}

ModelLib::ModelLib(std::string path, void *handle, const qoda_modellib_api *api)
    : path_(std::move(path)), handle_(handle), api_(api),
      layout_(api->layout()) {}

ModelLib::~ModelLib() { dlclose(handle_); }

std::unique_ptr<ModelLib> ModelLib::open(const std::string &path,
                                         std::string &err) {
  // RTLD_LOCAL: two model libraries (e.g. generator and discriminator) can
  // be loaded side by side without their internal symbols clashing.
  void *h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    err = path + ": cannot load the model library: " + (e ? e : "unknown") +
          " (build it with qoda-compile)";
    return nullptr;
  }
  auto version = reinterpret_cast<qoda_modellib_abi_version_fn>(
      dlsym(h, QODA_MODELLIB_VERSION_SYMBOL));
  auto entry = reinterpret_cast<qoda_modellib_entry_fn>(
      dlsym(h, QODA_MODELLIB_ENTRY_SYMBOL));
  if (!version || !entry) {
    dlclose(h);
    err = path + ": not a qoda model library (no " +
          QODA_MODELLIB_VERSION_SYMBOL + "/" + QODA_MODELLIB_ENTRY_SYMBOL +
          " symbol); build it with qoda-compile";
    return nullptr;
  }
  uint32_t v = version();
  const qoda_modellib_api *api = v == QODA_MODELLIB_ABI_VERSION
                                     ? entry(QODA_MODELLIB_ABI_VERSION)
                                     : nullptr;
  if (!api || api->abi_version != QODA_MODELLIB_ABI_VERSION ||
      api->struct_size < sizeof(qoda_modellib_api)) {
    dlclose(h);
    err = path + ": model library ABI version " + std::to_string(v) +
          ", this runtime needs version " +
          std::to_string(QODA_MODELLIB_ABI_VERSION) +
          "; regenerate it with the qoda-compile of this qoda build";
    return nullptr;
  }
  // Checked before any library code but layout() runs: code built for a
  // newer CPU would die of an illegal instruction instead.
  const qoda_model_layout *l = api->layout();
  if (std::string e = checkCpuArch(l->cpu_arch ? l->cpu_arch : "");
      !e.empty()) {
    dlclose(h);
    err = path + ": " + e;
    return nullptr;
  }
  return std::unique_ptr<ModelLib>(new ModelLib(path, h, api));
}

std::string ModelLib::checkSchedule(uint64_t scheduleHash,
                                    uint64_t numCoords) const {
  const qoda_model_layout &l = *layout_;
  if (l.num_coords != numCoords)
    return path_ + ": built for model '" + l.model + "' with " +
           std::to_string(l.num_coords) +
           " coordinates, the runtime's flat buffer has " +
           std::to_string(numCoords) +
           "; recompile the library for this model (qoda-compile)";
  if (l.schedule_hash != scheduleHash)
    return path_ + ": built for schedule " + hex(l.schedule_hash) +
           " of model '" + l.model + "', the runtime uses schedule " +
           hex(scheduleHash) +
           "; recompile it with qoda-compile --schedule <the runtime's "
           "schedule.json>";
  return "";
}

std::unique_ptr<Model> ModelLib::create(qoda_device device,
                                        std::string &err) const {
  char buf[512] = {0};
  qoda_model *m = nullptr;
  qoda_status st = api_->create(device, &m, buf, sizeof buf);
  if (st != QODA_OK || !m) {
    err = path_ + ": " + buf;
    return nullptr;
  }
  return std::make_unique<Model>(api_, m);
}

} // namespace qoda::kernels
