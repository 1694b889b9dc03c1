//===- ModelMatch.cpp - does a schedule fit an ONNX model? ----------------===//
//
// A library generated from another model's schedule would quantize the
// wrong coordinates silently, so qoda-compile compares the two before
// emitting anything.
//
//===----------------------------------------------------------------------===//
#include "ModelMatch.h"

#include "dialects/qoda/QodaDialect.h"

#include "llvm/ADT/StringMap.h"

using namespace mlir;

namespace qoda {

namespace {
std::string shapeStr(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}
} // namespace

std::string matchScheduleToModel(const schedule::ScheduleFile &s,
                                 ModuleOp module) {
  llvm::StringMap<llvm::SmallVector<int64_t>> trainable;
  std::vector<std::string> order;
  module.walk([&](ParamOp p) {
    if (!p.getTrainable())
      return;
    auto type = p.getResult().getType().cast<RankedTensorType>();
    trainable[p.getSymName()] = llvm::SmallVector<int64_t>(type.getShape());
    order.push_back(p.getSymName().str());
  });
  for (const schedule::ParamEntry &e : s.params) {
    auto it = trainable.find(e.name);
    if (it == trainable.end())
      return "schedule parameter '" + e.name +
             "' is not a trainable parameter of the model";
    if (llvm::ArrayRef<int64_t>(it->second) != llvm::ArrayRef<int64_t>(e.shape))
      return "parameter '" + e.name + "' has shape " + shapeStr(it->second) +
             " in the model but " + shapeStr(e.shape) + " in the schedule";
  }
  if (order.size() != s.params.size())
    for (const std::string &name : order)
      if (s.findParam(name) < 0)
        return "trainable parameter '" + name +
               "' of the model is missing from the schedule";
  return "";
}

} // namespace qoda
