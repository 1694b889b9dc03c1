//===- LayerMap.cpp - Graphviz picture of the layers, coloured by type ----===//
//
// One graph node per qoda.node that uses a trainable parameter (through
// Identity/Transpose/Cast/Reshape/Squeeze/Unsqueeze chains), filled with the
// colour of the type of its largest parameter; edges follow the data flow
// between such nodes (other nodes are skipped over); `inputs` and `outputs`
// stand for the graph's inputs and outputs. A legend lists every type with
// its kind, bits, parameter count and size.
//
//===----------------------------------------------------------------------===//
#include "qoda/Analysis/LayerFeatures.h"
#include "qoda/InitAllDialects.h"
#include "qoda/Target/ScheduleExport.h"

#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;

namespace qoda {

static std::string escape(StringRef s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out;
}

static std::string shapeString(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  if (auto r = t.dyn_cast<RankedTensorType>())
    llvm::interleave(r.getShape(), os, "x");
  return os.str();
}

static std::string humanCount(int64_t n) {
  if (n >= 1000000)
    return llvm::formatv("{0:F1}M", double(n) / 1e6).str();
  if (n >= 1000)
    return llvm::formatv("{0:F1}k", double(n) / 1e3).str();
  return std::to_string(n);
}

// A qualitative palette (ColorBrewer Set3 and Pastel1), then grey for fp32.
static const char *const kPalette[] = {
    "#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462",
    "#b3de69", "#fccde5", "#bc80bd", "#ccebc5", "#ffed6f", "#fbb4ae"};
static const char *kUncompressed = "#d9d9d9";

LogicalResult emitLayerMap(ModuleOp module, raw_ostream &os) {
  SmallVector<ModelOp> models(module.getBody()->getOps<ModelOp>());
  if (models.size() != 1)
    return emitError(module.getLoc())
           << "expected exactly one qoda.model, found " << models.size();
  ModelOp model = models.front();
  Block &body = model.getBody().front();

  // Types and their colours.
  llvm::MapVector<StringRef, LayerTypeOp> types;
  llvm::StringMap<std::string> colour;
  unsigned next = 0;
  for (auto t : body.getOps<LayerTypeOp>()) {
    types[t.getSymName()] = t;
    colour[t.getSymName()] =
        t.getKind() == "levels"
            ? kPalette[next++ % (sizeof(kPalette) / sizeof(kPalette[0]))]
            : kUncompressed;
  }
  if (types.empty())
    return emitError(model.getLoc()) << "model '" << model.getSymName()
                                     << "' has no layer types; run qoda-opt "
                                        "--qoda-schedule-pipeline (or "
                                        "-qoda-cluster-types) first";

  // Layer nodes: users of trainable parameters, with their largest one.
  struct Layer {
    NodeOp node;
    SmallVector<ParamOp> params;
  };
  llvm::MapVector<Operation *, Layer> layers;
  DenseMap<Operation *, unsigned> order;
  unsigned idx = 0;
  for (Operation &op : body)
    order[&op] = idx++;
  for (auto p : body.getOps<ParamOp>()) {
    if (!p.getTrainable())
      continue;
    if (!p->getAttrOfType<FlatSymbolRefAttr>(analysis::kTypeAttr))
      return emitError(p.getLoc())
             << "parameter '" << p.getSymName() << "' has no '"
             << analysis::kTypeAttr
             << "'; run qoda-opt --qoda-schedule-pipeline";
    SmallVector<Value> work{p.getResult()};
    while (!work.empty()) {
      Value v = work.pop_back_val();
      for (OpOperand &use : v.getUses()) {
        auto n = dyn_cast<NodeOp>(use.getOwner());
        if (!n || !order.count(n))
          continue; // nested subgraph users are drawn as their parent
        StringRef t = n.getOpType();
        if ((t == "Identity" || t == "Transpose" || t == "Cast" ||
             t == "Reshape" || t == "Squeeze" || t == "Unsqueeze") &&
            use.getOperandNumber() == 0 && n.getNumResults() == 1) {
          work.push_back(n.getResult(0));
          continue;
        }
        Layer &l = layers[n];
        l.node = n;
        if (!llvm::is_contained(l.params, p))
          l.params.push_back(p);
      }
    }
  }
  // Draw in IR order.
  SmallVector<Layer *> sorted;
  for (auto &kv : layers)
    sorted.push_back(&kv.second);
  llvm::sort(sorted, [&](Layer *a, Layer *b) {
    return order.lookup(a->node) < order.lookup(b->node);
  });
  DenseMap<Operation *, unsigned> id;
  for (Layer *l : sorted)
    id[l->node] = id.size();

  os << "digraph \"" << escape(model.getSymName()) << "\" {\n"
     << "  rankdir=TB;\n"
     << "  label=\"" << escape(model.getSymName())
     << ": layers coloured by type\";\n  labelloc=t;\n"
     << "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", "
        "fontsize=10];\n"
     << "  edge [color=\"#555555\"];\n"
     << "  inputs [shape=ellipse, style=filled, fillcolor=white];\n"
     << "  outputs [shape=ellipse, style=filled, fillcolor=white];\n";

  // Legend.
  os << "  subgraph cluster_legend {\n    label=\"layer types\";\n"
     << "    style=dashed;\n";
  unsigned li = 0;
  for (auto &[name, t] : types) {
    std::string desc;
    if (t.getKind() == "levels")
      desc = t.getBits() ? llvm::formatv("{0} bits", *t.getBits()).str()
                         : std::string("levels");
    else
      desc = t.getKind().str() + ", uncompressed";
    os << "    legend_" << li << " [label=\"" << escape(name) << "\\n"
       << desc << ", " << t.getNumParams() << " params, "
       << humanCount(t.getNumel()) << " coords\", fillcolor=\"" << colour[name]
       << "\"];\n";
    if (li > 0)
      os << "    legend_" << li - 1 << " -> legend_" << li
         << " [style=invis];\n";
    ++li;
  }
  os << "  }\n";

  for (Layer *l : sorted) {
    ParamOp largest = l->params.front();
    int64_t best = -1;
    for (ParamOp p : l->params) {
      int64_t n =
          p.getResult().getType().cast<RankedTensorType>().getNumElements();
      if (n > best) {
        best = n;
        largest = p;
      }
    }
    StringRef type =
        largest->getAttrOfType<FlatSymbolRefAttr>(analysis::kTypeAttr)
            .getValue();
    std::string fill =
        colour.count(type) ? colour[type] : std::string(kUncompressed);
    StringRef name = l->node.getName();
    os << "  n" << id[l->node] << " [label=\"";
    if (!name.empty())
      os << escape(name) << "\\n";
    os << escape(l->node.getOpType()) << "\\n"
       << escape(largest.getSymName()) << " "
       << shapeString(largest.getResult().getType()) << "\\n"
       << escape(type) << "\", fillcolor=\"" << fill << "\"];\n";
  }

  // Edges: nearest upstream layers of every value, propagated in IR order.
  const unsigned kMaxSources = 8;
  DenseMap<Value, SmallVector<int, 2>> from; // -1 = inputs
  for (BlockArgument a : body.getArguments())
    from[a] = {-1};
  llvm::SetVector<std::pair<int, int>> edges;
  for (Operation &op : body) {
    llvm::SetVector<int> src;
    for (Value v : op.getOperands()) {
      auto it = from.find(v);
      if (it != from.end())
        src.insert(it->second.begin(), it->second.end());
    }
    if (isa<OutputOp>(op)) {
      for (int s : src)
        edges.insert({s, -2});
      continue;
    }
    SmallVector<int, 2> out;
    if (id.count(&op)) {
      int me = int(id[&op]);
      for (int s : src)
        edges.insert({s, me});
      out.push_back(me);
    } else {
      for (int s : src)
        if (out.size() < kMaxSources)
          out.push_back(s);
    }
    if (out.empty())
      continue;
    for (Value r : op.getResults())
      from[r] = out;
  }
  auto nodeName = [](int i) {
    return i == -1   ? std::string("inputs")
           : i == -2 ? std::string("outputs")
                     : "n" + std::to_string(i);
  };
  for (auto [a, b] : edges)
    os << "  " << nodeName(a) << " -> " << nodeName(b) << ";\n";
  os << "}\n";
  return success();
}

void registerLayerMapTranslation() {
  TranslateFromMLIRRegistration reg(
      "emit-layer-map",
      "Write a Graphviz (dot) map of the layers coloured by layer type",
      [](ModuleOp module, raw_ostream &os) { return emitLayerMap(module, os); },
      [](DialectRegistry &registry) { registerAllDialects(registry); });
}

} // namespace qoda
