//===- InitAllTranslations.h - every qoda-translate target ------*- C++ -*-===//
//
// qoda-translate registers its translations through this list only: a new
// target adds its registration function here (one line) and its library to
// tools/qoda-translate/CMakeLists.txt.
//
//===----------------------------------------------------------------------===//
#ifndef QODA_INITALLTRANSLATIONS_H
#define QODA_INITALLTRANSLATIONS_H

#include "qoda/Target/Cpp.h"
#include "qoda/Target/ScheduleExport.h"

namespace qoda {

using TranslationRegistrationFn = void (*)();

/// Every translation qoda-translate offers.
inline constexpr TranslationRegistrationFn kAllTranslations[] = {
    registerScheduleJsonTranslation, // --emit-schedule-json
    registerLayerMapTranslation,     // --emit-layer-map
    registerCppTranslation,          // --emit-cpp
    registerCudaTranslation,         // --emit-cuda
};

inline void registerAllTranslations() {
  static bool once = [] {
    for (TranslationRegistrationFn fn : kAllTranslations)
      fn();
    return true;
  }();
  (void)once;
}

} // namespace qoda

#endif // QODA_INITALLTRANSLATIONS_H
