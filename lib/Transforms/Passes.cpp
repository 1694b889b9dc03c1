//===- Passes.cpp - layer features, clustering, schedule planning ---------===//
//
// Thin passes over lib/Analysis: they gather the parameters' features and
// statistics, call the planner, and record its results as qoda dialect
// attributes and ops (qoda.features, qoda.type, qoda.layer_type,
// qoda.schedule). docs/clustering.md describes the model.
//
//===----------------------------------------------------------------------===//
#include "qoda/Transforms/Passes.h"
#include "qoda/Analysis/GradientStats.h"
#include "qoda/Analysis/LayerFeatures.h"
#include "qoda/Analysis/SchedulePlanner.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstdio>
#include <map>
#include <optional>

namespace qoda {
#define GEN_PASS_DEF_LAYERFEATURES
#define GEN_PASS_DEF_CLUSTERTYPES
#define GEN_PASS_DEF_PLANSCHEDULE
#include "lib/Transforms/Passes.h.inc"
} // namespace qoda

using namespace mlir;
using namespace qoda;
using namespace qoda::analysis;

namespace {

constexpr StringLiteral kClusteringAttr = "qoda.clustering";

/// A number as a user typed it (%g), for diagnostics.
std::string num(double v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// ---- shared set-up ------------------------------------------------------

/// The budget in bits per coordinate from the two exclusive options.
FailureOr<double> resolveBudget(Operation *op, double bits, double ratio) {
  if (bits != 0 && ratio != 0) {
    emitError(op->getLoc()) << "bits-per-coordinate and compression-ratio both "
                               "given; they are exclusive, give one";
    return failure();
  }
  if (ratio != 0) {
    if (!(ratio > 0)) {
      emitError(op->getLoc())
          << "compression-ratio must be positive, got " << num(ratio);
      return failure();
    }
    bits = 32.0 / ratio;
  } else if (bits == 0) {
    bits = 4.0;
  }
  if (!(bits >= 1.0)) {
    emitError(op->getLoc())
        << "a budget of " << num(bits)
        << " bits per coordinate is below 1 bit; a schedule "
           "needs at least 1 index bit and a sign bit per "
           "compressed coordinate (use bits-per-coordinate >= 2, "
           "or compression-ratio <= 16)";
    return failure();
  }
  return bits;
}

struct StatsSource {
  std::optional<GradientProfile> profile;
  std::string describe() const {
    return profile ? profile->path : std::string("prior");
  }
};

FailureOr<StatsSource> loadStats(Operation *op, StringRef profilePath,
                                 unsigned bucket) {
  StatsSource s;
  if (profilePath.empty())
    return s;
  FailureOr<GradientProfile> p = loadGradientProfile(profilePath, op->getLoc());
  if (failed(p))
    return failure();
  if (p->bucket != bucket) {
    emitError(op->getLoc()) << "gradient profile '" << profilePath
                            << "' was recorded with buckets of " << p->bucket
                            << " coordinates but bucket-size=" << bucket
                            << "; record it again with --bucket " << bucket
                            << " or use bucket-size=" << p->bucket;
    return failure();
  }
  s.profile = std::move(*p);
  return s;
}

/// Features and statistics of every trainable parameter of `model`, in IR
/// order. Profile mismatches (parameters missing either way, shapes) are
/// errors naming both sides.
FailureOr<std::vector<PlanParam>> collectParams(ModelOp model,
                                                const StatsSource &stats,
                                                unsigned bucket,
                                                SmallVectorImpl<ParamOp> &ops) {
  std::vector<PlanParam> out;
  bool ok = true;
  for (auto p : model.getBody().front().getOps<ParamOp>()) {
    if (!p.getTrainable())
      continue;
    FailureOr<LayerFeatures> f = featuresFromParam(p);
    if (failed(f)) {
      ok = false;
      continue;
    }
    PlanParam pp;
    pp.f = std::move(*f);
    ops.push_back(p);
    out.push_back(std::move(pp));
  }
  if (!ok)
    return failure();
  if (!stats.profile) {
    for (PlanParam &p : out)
      p.stats = priorStats(p.f, bucket);
    return out;
  }
  const GradientProfile &prof = *stats.profile;
  SmallVector<std::string> missing, shapes;
  llvm::StringSet<> seen;
  for (PlanParam &p : out) {
    auto it = prof.index.find(p.f.name);
    if (it == prof.index.end()) {
      missing.push_back(p.f.name);
      continue;
    }
    seen.insert(p.f.name);
    const GradientProfile::Entry &e = prof.params[it->second];
    if (ArrayRef<int64_t>(e.shape) != ArrayRef<int64_t>(p.f.shape)) {
      std::string a, b;
      llvm::raw_string_ostream sa(a), sb(b);
      llvm::interleave(e.shape, sa, "x");
      llvm::interleave(p.f.shape, sb, "x");
      shapes.push_back("'" + p.f.name + "' is " + sb.str() +
                       " in the model but " + sa.str() + " in the profile");
      continue;
    }
    p.stats = e.stats;
  }
  SmallVector<std::string> extra;
  for (const GradientProfile::Entry &e : prof.params)
    if (!seen.contains(e.name))
      extra.push_back(e.name);
  if (missing.empty() && extra.empty() && shapes.empty())
    return out;
  InFlightDiagnostic d =
      emitError(model.getLoc())
      << "gradient profile '" << prof.path << "' does not match model '"
      << model.getSymName() << "': " << missing.size()
      << " trainable parameter(s) have no entry, " << extra.size()
      << " entr(y/ies) name no trainable parameter, " << shapes.size()
      << " shape(s) differ";
  auto list = [&](StringRef what, ArrayRef<std::string> names) {
    for (size_t i = 0; i < names.size() && i < 5; ++i)
      d.attachNote() << what << names[i];
    if (names.size() > 5)
      d.attachNote() << "... and " << names.size() - 5 << " more";
  };
  list("no profile entry for parameter ", missing);
  list("profile entry names no trainable parameter: ", extra);
  list("shape mismatch: ", shapes);
  d.attachNote() << "record the profile from the same model and export "
                    "(examples/models/record_profile.py --export)";
  return failure();
}

/// Short names of roles for type names.
std::string roleFamily(StringRef role) {
  if (role == "conv_kernel")
    return "conv";
  if (role == "dense_weight")
    return "dense";
  if (role.startswith("attention_"))
    return "attention";
  if (role == "rnn_weight")
    return "rnn";
  return role.str();
}

/// Deterministic, readable, unique names for the types.
std::vector<std::string>
nameTypes(const std::vector<std::vector<const LayerFeatures *>> &members,
          ModelOp model) {
  std::vector<std::string> base;
  for (const auto &m : members) {
    std::vector<std::pair<std::string, int64_t>> v; // in first-seen order
    for (const LayerFeatures *f : m) {
      std::string r = roleFamily(f->role);
      auto it = llvm::find_if(v, [&](auto &e) { return e.first == r; });
      if (it == v.end())
        v.push_back({r, f->numel});
      else
        it->second += f->numel;
    }
    std::stable_sort(v.begin(), v.end(),
                     [](auto &a, auto &b) { return a.second > b.second; });
    std::string n = v.empty() ? "type" : v[0].first;
    if (v.size() > 1)
      n += "_" + v[1].first;
    base.push_back(n);
  }
  std::map<std::string, int> count;
  for (const std::string &b : base)
    ++count[b];
  std::vector<std::string> names;
  for (size_t t = 0; t < members.size(); ++t) {
    std::string n = base[t];
    if (count[n] > 1) {
      // Qualify by what the members share: first/last position, the member
      // name inside a repeated block, or the blocks they come from.
      bool allFirst = true, allLast = true, sameMember = true;
      std::vector<std::string> blocks; // distinct, in first-seen order
      for (const LayerFeatures *f : members[t]) {
        allFirst &= f->position == "first";
        allLast &= f->position == "last";
        sameMember &= !f->blockMember.empty() &&
                      f->blockMember == members[t].front()->blockMember;
        std::string b = f->block.empty() ? std::string("body") : f->block;
        if (!llvm::is_contained(blocks, b))
          blocks.push_back(b);
      }
      auto ident = [](std::string s) {
        for (char &c : s)
          if (!llvm::isAlnum(c))
            c = '_';
        return s;
      };
      if (allFirst) {
        n += "_first";
      } else if (allLast) {
        n += "_last";
      } else if (sameMember) {
        StringRef m = members[t].front()->blockMember;
        m.consume_back(".weight");
        n += "_" + ident(m.str());
      } else if (blocks.size() <= 3) {
        for (const std::string &b : blocks)
          n += "_" + ident(b);
      } else {
        n += "_" + ident(blocks.front()) + "_to_" + ident(blocks.back());
      }
    }
    names.push_back(n);
  }
  // Still equal (or equal to a parameter's symbol): number them.
  llvm::StringSet<> used;
  for (auto p : model.getBody().front().getOps<ParamOp>())
    used.insert(p.getSymName());
  std::map<std::string, int> dup;
  for (const std::string &n : names)
    ++dup[n];
  std::map<std::string, int> nextIdx;
  for (std::string &n : names) {
    std::string cand = n;
    if (dup[n] > 1)
      cand = n + "_" + std::to_string(++nextIdx[n]);
    while (used.contains(cand))
      cand += "_type";
    used.insert(cand);
    n = cand;
  }
  return names;
}

void eraseOld(ModelOp model) {
  SmallVector<Operation *> old;
  for (Operation &op : model.getBody().front())
    if (isa<LayerTypeOp, ScheduleOp>(op))
      old.push_back(&op);
  for (Operation *op : old)
    op->erase();
}

// ---- qoda-layer-features --------------------------------------------------

struct LayerFeaturesPass
    : public qoda::impl::LayerFeaturesBase<LayerFeaturesPass> {
  void runOnOperation() override {
    getOperation().walk([&](ModelOp model) {
      MLIRContext *ctx = model.getContext();
      for (auto &[p, f] : computeLayerFeatures(model))
        p->setAttr(kFeaturesAttr, featuresToAttr(ctx, f));
    });
  }
};

// ---- qoda-cluster-types ---------------------------------------------------

struct ClusterTypesPass
    : public qoda::impl::ClusterTypesBase<ClusterTypesPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    unsigned n = 0;
    StringRef nt = StringRef(numTypes).trim();
    if (nt != "auto") {
      if (nt.getAsInteger(10, n) || n == 0) {
        emitError(module.getLoc()) << "num-types must be 'auto' or a positive "
                                      "integer, got '"
                                   << numTypes << "'";
        return signalPassFailure();
      }
    }
    if (maxTypes == 0) {
      emitError(module.getLoc()) << "max-types must be at least 1";
      return signalPassFailure();
    }
    if (!(typePenalty >= 0)) {
      emitError(module.getLoc())
          << "type-penalty must be >= 0, got " << num(typePenalty);
      return signalPassFailure();
    }
    if (bucketSize == 0 || maxBits == 0 || maxBits > 8) {
      emitError(module.getLoc())
          << "bucket-size must be positive and max-bits in "
             "1..8";
      return signalPassFailure();
    }
    FailureOr<double> budget =
        resolveBudget(module, bitsPerCoordinate, compressionRatio);
    if (failed(budget))
      return signalPassFailure();
    FailureOr<StatsSource> stats =
        loadStats(module, gradientProfile, bucketSize);
    if (failed(stats))
      return signalPassFailure();
    for (auto model : module.getBody()->getOps<ModelOp>())
      if (failed(runOnModel(model, n, *budget, *stats)))
        return signalPassFailure();
  }

  LogicalResult runOnModel(ModelOp model, unsigned n, double budget,
                           const StatsSource &stats) {
    SmallVector<ParamOp> ops;
    FailureOr<std::vector<PlanParam>> params =
        collectParams(model, stats, bucketSize, ops);
    if (failed(params))
      return failure();
    for (PlanParam &p : *params)
      p.small = isSmallParam(p.f, smallThreshold);
    PlannerOptions po;
    po.budgetBits = budget;
    po.bucket = bucketSize;
    po.maxBits = maxBits;
    SchedulePlanner planner(std::move(*params), po);
    std::string err;
    FailureOr<Clustering> c = planner.cluster(n, maxTypes, typePenalty, err);
    if (failed(c))
      return emitError(model.getLoc()) << err;
    unsigned atoms = c->atomKeys.size();
    if (n > atoms && atoms > 0)
      emitWarning(model.getLoc())
          << "num-types=" << n << " but the model has only " << atoms
          << " distinct parameter group(s); using " << atoms;
    unsigned k = c->chosen;
    std::vector<int> typeOf =
        k ? c->assignment[k - 1] : std::vector<int>(ops.size(), -1);

    // Members of each type, names, ops.
    std::vector<std::vector<const LayerFeatures *>> members(k);
    std::vector<const LayerFeatures *> small;
    for (size_t i = 0; i < ops.size(); ++i) {
      if (typeOf[i] >= 0)
        members[typeOf[i]].push_back(&planner.params()[i].f);
      else
        small.push_back(&planner.params()[i].f);
    }
    std::vector<std::vector<const LayerFeatures *>> all = members;
    if (!small.empty())
      all.push_back(small);
    eraseOld(model);
    std::vector<std::string> names = nameTypes(all, model);
    if (!small.empty())
      names.back() = "small";
    // "small" may collide with a parameter symbol: resolve like others.
    SymbolTable symbols(model);
    if (!small.empty() && symbols.lookup("small"))
      names.back() = "small_type";

    OpBuilder b(model.getContext());
    b.setInsertionPoint(model.getBody().front().getTerminator());
    SmallVector<FlatSymbolRefAttr> refs;
    for (size_t t = 0; t < all.size(); ++t) {
      bool isSmall = !small.empty() && t + 1 == all.size();
      llvm::SetVector<StringRef> roles;
      int64_t numel = 0;
      for (const LayerFeatures *f : all[t]) {
        roles.insert(f->role);
        numel += f->numel;
      }
      SmallVector<NamedAttribute> attrs = {
          b.getNamedAttr("sym_name", b.getStringAttr(names[t])),
          b.getNamedAttr("kind", b.getStringAttr(isSmall ? "fp32" : "levels")),
          b.getNamedAttr("roles", b.getStrArrayAttr(roles.getArrayRef())),
          b.getNamedAttr("num_params",
                         b.getI64IntegerAttr(int64_t(all[t].size()))),
          b.getNamedAttr("numel", b.getI64IntegerAttr(numel))};
      b.create<LayerTypeOp>(model.getLoc(), TypeRange{}, ValueRange{}, attrs);
      refs.push_back(FlatSymbolRefAttr::get(b.getStringAttr(names[t])));
    }
    for (size_t i = 0; i < ops.size(); ++i)
      ops[i]->setAttr(kTypeAttr,
                      typeOf[i] >= 0 ? refs[typeOf[i]] : refs.back());

    SmallVector<NamedAttribute> info = {
        b.getNamedAttr("num_types", b.getI64IntegerAttr(k)),
        b.getNamedAttr("mode", b.getStringAttr(n ? "fixed" : "auto")),
        b.getNamedAttr("atoms", b.getI64IntegerAttr(atoms)),
        b.getNamedAttr("budget", b.getF64FloatAttr(budget)),
        b.getNamedAttr("statistics", b.getStringAttr(stats.describe())),
        b.getNamedAttr("type_penalty", b.getF64FloatAttr(typePenalty)),
        b.getNamedAttr("variance", b.getF64ArrayAttr(c->variance)),
        b.getNamedAttr("score", b.getF64ArrayAttr(c->score))};
    model->setAttr(kClusteringAttr, b.getDictionaryAttr(info));
    return success();
  }
};

// ---- qoda-plan-schedule ---------------------------------------------------

struct PlanSchedulePass
    : public qoda::impl::PlanScheduleBase<PlanSchedulePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (bucketSize == 0 || maxBits == 0 || maxBits > 8) {
      emitError(module.getLoc())
          << "bucket-size must be positive and max-bits in "
             "1..8";
      return signalPassFailure();
    }
    StringRef codingMode = StringRef(coding).trim();
    if (codingMode != "fixed" && codingMode != "auto") {
      emitError(module.getLoc())
          << "coding must be 'fixed' or 'auto', got '" << coding << "'";
      return signalPassFailure();
    }
    FailureOr<double> budget =
        resolveBudget(module, bitsPerCoordinate, compressionRatio);
    if (failed(budget))
      return signalPassFailure();
    FailureOr<StatsSource> stats =
        loadStats(module, gradientProfile, bucketSize);
    if (failed(stats))
      return signalPassFailure();
    for (auto model : module.getBody()->getOps<ModelOp>())
      if (failed(runOnModel(model, *budget, *stats)))
        return signalPassFailure();
  }

  LogicalResult runOnModel(ModelOp model, double budget,
                           const StatsSource &stats) {
    SmallVector<ParamOp> ops;
    FailureOr<std::vector<PlanParam>> params =
        collectParams(model, stats, bucketSize, ops);
    if (failed(params))
      return failure();
    // Types in op order; compressed ones numbered 0..M-1.
    llvm::MapVector<StringRef, LayerTypeOp> types;
    std::map<StringRef, int> index;
    SmallVector<LayerTypeOp> levelTypes;
    for (auto t : model.getBody().front().getOps<LayerTypeOp>()) {
      types[t.getSymName()] = t;
      if (t.getKind() == "levels") {
        index[t.getSymName()] = int(levelTypes.size());
        levelTypes.push_back(t);
      } else {
        index[t.getSymName()] = -1;
      }
    }
    std::vector<int> typeOf;
    for (size_t i = 0; i < ops.size(); ++i) {
      auto ref = ops[i]->getAttrOfType<FlatSymbolRefAttr>(kTypeAttr);
      if (!ref)
        return emitError(ops[i].getLoc())
               << "parameter '" << ops[i].getSymName() << "' has no '"
               << kTypeAttr << "' attribute; run -qoda-cluster-types first";
      auto it = index.find(ref.getValue());
      if (it == index.end())
        return emitError(ops[i].getLoc())
               << "parameter '" << ops[i].getSymName() << "' names layer type "
               << ref
               << " but the model has no such "
                  "qoda.layer_type";
      typeOf.push_back(it->second);
      (*params)[i].small = it->second < 0;
    }
    PlannerOptions po;
    po.budgetBits = budget;
    po.bucket = bucketSize;
    po.maxBits = maxBits;
    po.autoCoding = StringRef(coding).trim() == "auto";
    SchedulePlanner planner(std::move(*params), po);
    std::string err;
    FailureOr<SchedulePlan> plan =
        planner.plan(typeOf, levelTypes.size(), /*polish=*/true, err);
    if (failed(plan))
      return emitError(model.getLoc()) << err;

    Builder b(model.getContext());
    for (size_t m = 0; m < levelTypes.size(); ++m) {
      LayerTypeOp t = levelTypes[m];
      const TypePlan &tp = plan->types[m];
      t.setBitsAttr(b.getI64IntegerAttr(tp.bits));
      t.setLevelsAttr(DenseF32ArrayAttr::get(b.getContext(), tp.levels));
      t.setBucketAttr(b.getI64IntegerAttr(bucketSize));
      t.setNormAttr(b.getStringAttr("l2"));
      t.setNormPrecisionAttr(b.getStringAttr("fp32"));
      t.setCodingAttr(b.getStringAttr(tp.coding));
      t.setPredictedVarianceAttr(b.getF64FloatAttr(tp.variance));
      t.setPredictedBitsAttr(b.getF64FloatAttr(tp.predictedBits));
    }
    for (auto &[name, t] : types)
      if (t.getKind() != "levels") {
        int64_t castBits = t.getKind() == "fp32" ? 32 : 16;
        t.setBitsAttr(b.getI64IntegerAttr(castBits));
        t.setPredictedVarianceAttr(b.getF64FloatAttr(0.0));
        t.setPredictedBitsAttr(b.getF64FloatAttr(double(castBits)));
      }
    for (auto s : llvm::make_early_inc_range(
             model.getBody().front().getOps<ScheduleOp>()))
      s.erase();
    OpBuilder ob(model.getContext());
    ob.setInsertionPoint(model.getBody().front().getTerminator());
    SmallVector<NamedAttribute> attrs = {
        ob.getNamedAttr("budget", ob.getF64FloatAttr(budget)),
        ob.getNamedAttr("statistics", ob.getStringAttr(stats.describe())),
        ob.getNamedAttr("bucket", ob.getI64IntegerAttr(bucketSize)),
        ob.getNamedAttr("bits_per_coord",
                        ob.getF64FloatAttr(plan->bitsPerCoord)),
        ob.getNamedAttr("variance", ob.getF64FloatAttr(plan->variance)),
        ob.getNamedAttr("global_bits", ob.getI64IntegerAttr(plan->globalBits)),
        ob.getNamedAttr(
            "global_levels",
            DenseF32ArrayAttr::get(ob.getContext(), plan->globalLevels)),
        ob.getNamedAttr("global_bits_per_coord",
                        ob.getF64FloatAttr(plan->globalBitsPerCoord)),
        ob.getNamedAttr("global_variance",
                        ob.getF64FloatAttr(plan->globalVariance))};
    ob.create<ScheduleOp>(model.getLoc(), TypeRange{}, ValueRange{}, attrs);
    return success();
  }
};

} // namespace

void qoda::buildSchedulePipeline(OpPassManager &pm,
                                 const SchedulePipelineOptions &o) {
  pm.addPass(createLayerFeatures());
  ClusterTypesOptions c;
  c.numTypes = o.numTypes;
  c.maxTypes = o.maxTypes;
  c.typePenalty = o.typePenalty;
  c.smallThreshold = o.smallThreshold;
  c.gradientProfile = o.gradientProfile;
  c.bitsPerCoordinate = o.bitsPerCoordinate;
  c.compressionRatio = o.compressionRatio;
  c.bucketSize = o.bucketSize;
  c.maxBits = o.maxBits;
  pm.addPass(createClusterTypes(c));
  PlanScheduleOptions p;
  p.gradientProfile = o.gradientProfile;
  p.bitsPerCoordinate = o.bitsPerCoordinate;
  p.compressionRatio = o.compressionRatio;
  p.bucketSize = o.bucketSize;
  p.maxBits = o.maxBits;
  p.coding = o.coding;
  pm.addPass(createPlanSchedule(p));
}

void qoda::registerQodaPasses() {
  registerQodaTransformsPasses();
  PassPipelineRegistration<SchedulePipelineOptions>(
      "qoda-schedule-pipeline",
      "Layer features, clustering into types and schedule planning "
      "(qoda-layer-features, qoda-cluster-types, qoda-plan-schedule)",
      buildSchedulePipeline);
}
