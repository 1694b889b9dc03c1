// Loads a generated model library (libqoda_<model>.so) with dlopen and checks
// that it fits this runtime (ABI version) and the schedule the runtime runs
// (schedule hash, number of coordinates). Every failure is a message naming
// the library file and saying what to do; nothing throws.
//
//   std::string err;
//   auto lib = qoda::kernels::ModelLib::open("out/libqoda_dcgan.so", err);
//   if (!lib || !(err = lib->checkSchedule(sched.hash(), n)).empty()) ...
//   auto model = lib->create(QODA_DEVICE_CPU, err);
#ifndef QODA_KERNELS_MODELLIBLOADER_H
#define QODA_KERNELS_MODELLIBLOADER_H

#include "qoda/kernels/ModelLibABI.h"

#include <cstdint>
#include <memory>
#include <string>

namespace qoda::kernels {

/// A created model; destroys itself with the library's destroy.
class Model {
public:
  Model(const qoda_modellib_api *api, qoda_model *m) : api_(api), m_(m) {}
  ~Model() { api_->destroy(m_); }
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;
  qoda_model *get() const { return m_; }
  const qoda_modellib_api &api() const { return *api_; }
  /// The message of the last failed call.
  std::string error() const { return api_->last_error(m_); }

private:
  const qoda_modellib_api *api_;
  qoda_model *m_;
};

/// "" when this CPU can run code compiled with -march=`arch` (x86-64 and
/// its levels v2..v4; other names are refused as unknown), else why not.
std::string checkCpuArch(const std::string &arch);

class ModelLib {
public:
  /// nullptr and `err` set when the file cannot be loaded, is not a qoda
  /// model library, was built for another ABI version, or for a CPU
  /// (-march) this machine does not match.
  static std::unique_ptr<ModelLib> open(const std::string &path,
                                        std::string &err);
  ~ModelLib();
  ModelLib(const ModelLib &) = delete;
  ModelLib &operator=(const ModelLib &) = delete;

  const std::string &path() const { return path_; }
  const qoda_modellib_api &api() const { return *api_; }
  const qoda_model_layout &layout() const { return *layout_; }

  /// "" when the library was generated for a schedule with this hash and
  /// number of coordinates, else what differs and how to fix it.
  std::string checkSchedule(uint64_t scheduleHash, uint64_t numCoords) const;
  /// A model on `device`, or nullptr with `err` set.
  std::unique_ptr<Model> create(qoda_device device, std::string &err) const;

private:
  ModelLib(std::string path, void *handle, const qoda_modellib_api *api);
  std::string path_;
  void *handle_;
  const qoda_modellib_api *api_;
  const qoda_model_layout *layout_;
};

} // namespace qoda::kernels

#endif
