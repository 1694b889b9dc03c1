// A library that claims to be a model library of a future ABI version, so the
// loader's version check can be tested.
#include "qoda/kernels/ModelLibABI.h"

extern "C" uint32_t qoda_modellib_abi_version(void) {
  return QODA_MODELLIB_ABI_VERSION + 1;
}
extern "C" const qoda_modellib_api *qoda_modellib_entry(uint32_t) {
  return nullptr;
}
