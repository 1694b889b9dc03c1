//===- ScheduleJSON.cpp - ScheduleFile from a planned module --------------===//
#include "qoda/Analysis/LayerFeatures.h"
#include "qoda/InitAllDialects.h"
#include "qoda/Target/ScheduleExport.h"

#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/ADT/StringMap.h"

using namespace mlir;

namespace qoda {

/// The single model of a module, or an error.
static FailureOr<ModelOp> singleModel(ModuleOp module) {
  SmallVector<ModelOp> models(module.getBody()->getOps<ModelOp>());
  if (models.size() != 1) {
    emitError(module.getLoc())
        << "expected exactly one qoda.model, found " << models.size();
    return failure();
  }
  return models.front();
}

FailureOr<schedule::ScheduleFile> exportSchedule(ModuleOp module) {
  FailureOr<ModelOp> m = singleModel(module);
  if (failed(m))
    return failure();
  ModelOp model = *m;
  Block &body = model.getBody().front();
  SmallVector<ScheduleOp> scheds(body.getOps<ScheduleOp>());
  if (scheds.size() != 1)
    return emitError(model.getLoc())
           << "model '" << model.getSymName() << "' has " << scheds.size()
           << " qoda.schedule ops, expected one; plan it first "
              "(qoda-opt --qoda-schedule-pipeline)";
  ScheduleOp sched = scheds.front();

  schedule::ScheduleFile s;
  s.model = model.getSymName().str();
  s.producer = "qoda-translate";
  llvm::StringMap<uint32_t> typeIndex;
  for (auto t : body.getOps<LayerTypeOp>()) {
    schedule::TypeEntry e;
    e.name = t.getSymName().str();
    StringRef kind = t.getKind();
    if (!t.getBits() || !t.getPredictedVariance())
      return emitError(t.getLoc()) << "layer type '" << t.getSymName()
                                   << "' has no bits/predicted_variance; run "
                                      "-qoda-plan-schedule";
    e.bits = unsigned(*t.getBits());
    e.predictedVariance = t.getPredictedVariance()->convertToDouble();
    if (kind == "levels") {
      e.quant.kind = quant::TypeKind::Levels;
      if (!t.getLevels() || !t.getBucket() || !t.getNorm() ||
          !t.getNormPrecision() || !t.getCoding())
        return emitError(t.getLoc())
               << "layer type '" << t.getSymName()
               << "' lacks levels/bucket/norm/coding; run "
                  "-qoda-plan-schedule";
      ArrayRef<float> l = *t.getLevels();
      e.quant.levels.assign(l.begin(), l.end());
      e.quant.bucketSize = uint32_t(*t.getBucket());
      StringRef norm = *t.getNorm(), prec = *t.getNormPrecision(),
                coding = *t.getCoding();
      if (norm == "l2")
        e.quant.norm = quant::Norm::L2;
      else if (norm == "linf")
        e.quant.norm = quant::Norm::Linf;
      else
        return emitError(t.getLoc()) << "has unknown norm '" << norm << "'";
      if (prec == "fp32")
        e.quant.normPrecision = quant::NormPrecision::Fp32;
      else if (prec == "fp16")
        e.quant.normPrecision = quant::NormPrecision::Fp16;
      else
        return emitError(t.getLoc())
               << "has unknown norm_precision '" << prec << "'";
      if (coding == "fixed")
        e.quant.coding = quant::Coding::FixedWidth;
      else if (coding == "huffman")
        e.quant.coding = quant::Coding::Huffman;
      else if (coding == "elias-gaps")
        e.quant.coding = quant::Coding::EliasGaps;
      else
        return emitError(t.getLoc()) << "has unknown coding '" << coding << "'";
    } else if (kind == "fp32") {
      e.quant.kind = quant::TypeKind::Fp32;
    } else if (kind == "fp16") {
      e.quant.kind = quant::TypeKind::Fp16;
    } else {
      e.quant.kind = quant::TypeKind::Bf16;
    }
    typeIndex[e.name] = uint32_t(s.types.size());
    s.types.push_back(std::move(e));
  }

  uint64_t offset = 0;
  for (auto p : body.getOps<ParamOp>()) {
    if (!p.getTrainable())
      continue;
    auto ref = p->getAttrOfType<FlatSymbolRefAttr>(analysis::kTypeAttr);
    if (!ref)
      return emitError(p.getLoc())
             << "parameter '" << p.getSymName() << "' has no '"
             << analysis::kTypeAttr
             << "'; run qoda-opt --qoda-schedule-pipeline";
    auto it = typeIndex.find(ref.getValue());
    if (it == typeIndex.end())
      return emitError(p.getLoc()) << "parameter '" << p.getSymName()
                                   << "' names unknown layer type " << ref;
    schedule::ParamEntry e;
    e.name = p.getSymName().str();
    auto type = p.getResult().getType().cast<RankedTensorType>();
    e.shape.assign(type.getShape().begin(), type.getShape().end());
    e.numel = uint64_t(type.getNumElements());
    e.offset = offset;
    e.type = it->second;
    e.role = p.getRole().str();
    if (auto f = p->getAttrOfType<DictionaryAttr>(analysis::kFeaturesAttr))
      if (auto r = f.getAs<StringAttr>("role"))
        e.role = r.getValue().str();
    offset += e.numel;
    s.params.push_back(std::move(e));
  }
  s.numCoords = offset;
  s.prediction.bitsPerCoord = sched.getBitsPerCoord().convertToDouble();
  s.prediction.variance = sched.getVariance().convertToDouble();
  s.prediction.globalBitsPerCoord =
      sched.getGlobalBitsPerCoord().convertToDouble();
  s.prediction.globalVariance = sched.getGlobalVariance().convertToDouble();
  std::string problem = s.validate();
  if (!problem.empty())
    return emitError(model.getLoc())
           << "the schedule is not valid: " << problem;
  return s;
}

LogicalResult emitScheduleJson(ModuleOp module, raw_ostream &os) {
  FailureOr<schedule::ScheduleFile> s = exportSchedule(module);
  if (failed(s))
    return failure();
  os << schedule::writeScheduleJson(*s);
  return success();
}

void registerScheduleJsonTranslation() {
  TranslateFromMLIRRegistration reg(
      "emit-schedule-json",
      "Write the planned schedule as JSON (docs/schedule.md)",
      [](ModuleOp module, raw_ostream &os) {
        return emitScheduleJson(module, os);
      },
      [](DialectRegistry &registry) { registerAllDialects(registry); });
}

} // namespace qoda
