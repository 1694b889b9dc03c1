//===- LayerFeatures.cpp - what the graph says about each parameter -------===//
//
// Everything here is derived from the qoda dialect alone: use chains of
// qoda.param results through qoda.node ops, op types and attributes, shapes,
// and (for repeated blocks) the initializer names, which are part of the
// ONNX graph. Iteration follows the IR order everywhere, so the result is
// deterministic.
//
//===----------------------------------------------------------------------===//
#include "qoda/Analysis/LayerFeatures.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"

#include <algorithm>
#include <deque>
#include <map>

using namespace mlir;

namespace qoda::analysis {
namespace {

bool isOneOf(StringRef s, std::initializer_list<StringRef> set) {
  return llvm::is_contained(set, s);
}

/// Ops a weight passes through unchanged in content (layout/type only).
bool isPassThrough(StringRef op) {
  return isOneOf(
      op, {"Identity", "Transpose", "Cast", "Unsqueeze", "Squeeze", "Reshape"});
}

StringRef activationName(StringRef op) {
  static const std::pair<StringRef, StringRef> map[] = {
      {"Relu", "relu"},
      {"LeakyRelu", "leaky_relu"},
      {"Sigmoid", "sigmoid"},
      {"Tanh", "tanh"},
      {"Gelu", "gelu"},
      {"Erf", "gelu"},
      {"Elu", "elu"},
      {"Selu", "selu"},
      {"HardSwish", "hard_swish"},
      {"HardSigmoid", "hard_sigmoid"},
      {"Clip", "clip"},
      {"PRelu", "prelu"},
      {"Softplus", "softplus"},
      {"Mish", "mish"},
      {"Softmax", "softmax"},
      {"LogSoftmax", "softmax"}};
  for (auto &[k, v] : map)
    if (op == k)
      return v;
  return "";
}

StringRef normName(StringRef op) {
  if (op == "BatchNormalization")
    return "batch_norm";
  if (op == "LayerNormalization" || op == "SkipLayerNormalization")
    return "layer_norm";
  if (op == "InstanceNormalization")
    return "instance_norm";
  if (op == "GroupNormalization")
    return "group_norm";
  return "";
}

struct ParamUse {
  NodeOp node;
  unsigned operand;
  bool transposed; ///< a Transpose lies on the chain
};

/// The graph of one model: op order, users, and which nodes are layers.
class ModelGraph {
public:
  explicit ModelGraph(ModelOp model) {
    unsigned i = 0;
    for (Operation &op : model.getBody().front())
      order[&op] = i++;
  }

  /// Index of the top-level op containing `op` (for sorting).
  unsigned indexOf(Operation *op) const {
    while (op && !order.count(op))
      op = op->getParentOp();
    return op ? order.lookup(op) : ~0u;
  }

  /// Node users of `v`, in IR order (ties: operand number).
  SmallVector<std::pair<NodeOp, unsigned>> users(Value v) const {
    SmallVector<std::pair<NodeOp, unsigned>> out;
    for (OpOperand &use : v.getUses())
      if (auto n = dyn_cast<NodeOp>(use.getOwner()))
        out.push_back({n, use.getOperandNumber()});
    llvm::sort(out, [&](auto &a, auto &b) {
      unsigned ia = indexOf(a.first), ib = indexOf(b.first);
      return ia != ib ? ia < ib : a.second < b.second;
    });
    return out;
  }

  /// Real uses of a parameter, through pass-through chains.
  SmallVector<ParamUse> paramUses(ParamOp p) const {
    SmallVector<ParamUse> out;
    SmallVector<std::pair<Value, bool>> work{{p.getResult(), false}};
    unsigned steps = 0;
    while (!work.empty() && steps++ < 64) {
      auto [v, tr] = work.pop_back_val();
      for (auto [n, idx] : users(v)) {
        if (isPassThrough(n.getOpType()) && idx == 0 &&
            n.getNumResults() == 1) {
          work.push_back({n.getResult(0), tr || n.getOpType() == "Transpose"});
          continue;
        }
        out.push_back({n, idx, tr});
      }
    }
    llvm::sort(out, [&](const ParamUse &a, const ParamUse &b) {
      unsigned ia = indexOf(a.node), ib = indexOf(b.node);
      return ia != ib ? ia < ib : a.operand < b.operand;
    });
    return out;
  }

  DenseMap<Operation *, unsigned> order;
};

NodeOp producer(Value v) { return v.getDefiningOp<NodeOp>(); }

/// Whether `u` uses a parameter of `role` as a layer's weight.
bool isLayerUse(ParamUse u, StringRef role) {
  StringRef op = u.node.getOpType();
  return (role == "conv_kernel" && isOneOf(op, {"Conv", "ConvTranspose"})) ||
         ((role == "dense_weight" || role == "embedding") &&
          isOneOf(op, {"MatMul", "Gemm"}) && u.operand < 2) ||
         (role == "embedding" && op == "Gather" && u.operand == 0) ||
         (role == "rnn_weight" && isOneOf(op, {"LSTM", "GRU", "RNN"}));
}

/// The primary consumer of a parameter: the first use whose op explains the
/// parameter's role (the classifier's choice), else the first use.
ParamUse primaryUse(ArrayRef<ParamUse> uses, StringRef role) {
  for (ParamUse u : uses)
    if (isLayerUse(u, role) &&
        (role != "embedding" || u.node.getOpType() == "Gather"))
      return u;
  return uses.front();
}

bool isLayerRole(StringRef role) {
  return isOneOf(role,
                 {"conv_kernel", "dense_weight", "embedding", "rnn_weight"});
}

int64_t intAttr(NodeOp n, StringRef name, int64_t dflt) {
  if (auto a = n.getAttrs().getAs<IntegerAttr>(name))
    return a.getInt();
  return dflt;
}

/// LayerNorm exported as primitives (opset < 17):
///   Div(Sub(x, mean), Sqrt(Add(var, eps))) * scale + shift.
bool isDecomposedNormDiv(NodeOp n) {
  if (!n || n.getOpType() != "Div" || n.getNumOperands() != 2)
    return false;
  NodeOp den = producer(n.getOperand(1));
  return den && den.getOpType() == "Sqrt";
}
bool isDecomposedNormScaleMul(NodeOp n) {
  if (!n || n.getOpType() != "Mul")
    return false;
  for (Value v : n.getOperands())
    if (isDecomposedNormDiv(producer(v)))
      return true;
  return false;
}

/// Repeated blocks from initializer names: for a name a.b.<i>.c.d, the
/// instance (prefix "a.b", index i) holds every parameter named
/// "a.b.<i>.*". A non-empty prefix is a repeated block when it has two or
/// more instances that share member names; `repeats` counts the instances
/// with exactly the same contents (member names and shapes) as this one. The
/// outermost such prefix of a name wins.
struct BlockInfo {
  std::string block, member;
  int64_t index = -1, repeats = 0;
};

std::map<std::string, BlockInfo>
findBlocks(ArrayRef<std::pair<std::string, SmallVector<int64_t>>> params) {
  // prefix -> index -> sorted signature lines.
  std::map<std::string, std::map<int64_t, std::vector<std::string>>> inst;
  auto forEachSplit = [](StringRef name, auto fn) {
    SmallVector<StringRef> parts;
    name.split(parts, '.');
    for (size_t i = 0; i < parts.size(); ++i) {
      int64_t idx;
      if (i + 1 == parts.size() || parts[i].getAsInteger(10, idx) || idx < 0)
        continue;
      std::string prefix = llvm::join(ArrayRef(parts).take_front(i), ".");
      std::string member = llvm::join(ArrayRef(parts).drop_front(i + 1), ".");
      fn(prefix, idx, member);
    }
  };
  for (auto &[name, shape] : params)
    forEachSplit(name,
                 [&, &shape = shape](const std::string &prefix, int64_t idx,
                                     const std::string &member) {
                   std::string sig = member + ":";
                   for (int64_t d : shape)
                     sig += std::to_string(d) + ",";
                   inst[prefix][idx].push_back(sig);
                 });
  // Which prefixes are blocks; how many instances share each signature.
  std::map<std::string, std::map<int64_t, int64_t>> repeats;
  for (auto &[prefix, byIdx] : inst) {
    std::map<std::vector<std::string>, int64_t> count;
    std::map<std::string, int64_t> memberCount;
    for (auto &[idx, sig] : byIdx) {
      llvm::sort(sig);
      ++count[sig];
      for (const std::string &line : sig)
        ++memberCount[line.substr(0, line.find(':'))];
    }
    // A block: a named prefix with several instances sharing members (the
    // stages of a ResNet differ in their first instance, which downsamples).
    bool isBlock =
        !prefix.empty() && byIdx.size() >= 2 &&
        llvm::any_of(memberCount, [](auto &c) { return c.second >= 2; });
    if (!isBlock)
      continue;
    for (auto &[idx, sig] : byIdx)
      repeats[prefix][idx] = count[sig];
  }
  std::map<std::string, BlockInfo> out;
  for (auto &[name, shape] : params) {
    BlockInfo info;
    forEachSplit(name, [&](const std::string &prefix, int64_t idx,
                           const std::string &member) {
      if (info.index >= 0 || !repeats.count(prefix))
        return;
      info.block = prefix;
      info.index = idx;
      info.member = member;
      info.repeats = repeats[prefix][idx];
    });
    out[name] = info;
  }
  return out;
}

} // namespace

std::vector<std::pair<ParamOp, LayerFeatures>>
computeLayerFeatures(ModelOp model) {
  ModelGraph g(model);
  Block &body = model.getBody().front();

  // 1. Trainable parameters, their uses and base roles.
  struct PInfo {
    ParamOp op;
    LayerFeatures f;
    SmallVector<ParamUse> uses;
    ParamUse primary{};
    bool hasPrimary = false;
  };
  std::vector<PInfo> params;
  DenseMap<Operation *, SmallVector<unsigned>> layerParams; // node -> params
  for (auto p : body.getOps<ParamOp>()) {
    if (!p.getTrainable())
      continue;
    PInfo pi;
    pi.op = p;
    pi.f.name = p.getSymName().str();
    pi.f.role = p.getRole().str();
    auto type = p.getResult().getType().cast<RankedTensorType>();
    pi.f.shape.assign(type.getShape().begin(), type.getShape().end());
    pi.f.numel = type.getNumElements();
    pi.uses = g.paramUses(p);
    if (!pi.uses.empty()) {
      pi.primary = primaryUse(pi.uses, pi.f.role);
      pi.hasPrimary = true;
      pi.f.op = pi.primary.node.getOpType().str();
      pi.f.node = pi.primary.node.getName().str();
      // Every op using a weight as a weight is a layer (a tied embedding is
      // also the output projection's weight).
      if (isLayerRole(pi.f.role))
        for (const ParamUse &u : pi.uses)
          if (isLayerUse(u, pi.f.role) &&
              !llvm::is_contained(layerParams[u.node], params.size()))
            layerParams[u.node].push_back(params.size());
    }
    params.push_back(std::move(pi));
  }
  auto isLayer = [&](Operation *op) { return layerParams.count(op) != 0; };
  auto denseParamsOf = [&](NodeOp n) {
    SmallVector<unsigned> out;
    auto it = layerParams.find(n);
    if (it != layerParams.end() && isOneOf(n.getOpType(), {"MatMul", "Gemm"}))
      for (unsigned i : it->second)
        if (params[i].f.role == "dense_weight")
          out.push_back(i);
    return out;
  };

  // 2. Layer depth (forward) and height (backward) over the top-level DAG.
  DenseMap<Value, int64_t> depthOf;
  DenseMap<Operation *, int64_t> nodeDepth, nodeHeight;
  for (Operation &op : body) {
    auto n = dyn_cast<NodeOp>(op);
    if (!n)
      continue;
    int64_t d = 0;
    for (Value v : n.getOperands())
      d = std::max(d, depthOf.lookup(v));
    d += isLayer(n) ? 1 : 0;
    nodeDepth[n] = d;
    for (Value r : n.getResults())
      depthOf[r] = d;
  }
  for (Operation &op : llvm::reverse(body)) {
    auto n = dyn_cast<NodeOp>(op);
    if (!n)
      continue;
    int64_t h = 0;
    for (Value r : n.getResults())
      for (auto [u, idx] : g.users(r))
        h = std::max(h, nodeHeight.lookup(u) + (isLayer(u) ? 1 : 0));
    nodeHeight[n] = h;
  }

  // 3. Attention: Softmax whose input comes from an activation x activation
  // MatMul (the scores) and whose output is the left operand of another
  // MatMul (the weighted values). Q, K and V are traced back to the dense
  // layers producing them, the output forward to the dense layer consuming it.
  auto traceBack = [&](Value start) {
    SmallVector<unsigned> found;
    std::deque<std::pair<Value, int>> work{{start, 0}};
    llvm::DenseSet<Operation *> seen;
    while (!work.empty()) {
      auto [v, d] = work.front();
      work.pop_front();
      NodeOp n = producer(v);
      if (!n || !seen.insert(n).second || d > 12)
        continue;
      if (isLayer(n)) {
        for (unsigned i : denseParamsOf(n))
          found.push_back(i);
        continue;
      }
      StringRef op = n.getOpType();
      if (isOneOf(op, {"Transpose", "Reshape", "Slice", "Squeeze", "Unsqueeze",
                       "Split", "Identity", "Cast", "Dropout", "Expand",
                       "Gather", "Flatten"}))
        work.push_back({n.getOperand(0), d + 1});
      else if (isOneOf(op, {"Add", "Mul", "Div", "Sub"}))
        for (Value o : n.getOperands())
          work.push_back({o, d + 1});
    }
    return found;
  };
  auto traceForwardToLayer = [&](Value start) {
    SmallVector<unsigned> found;
    std::deque<std::pair<Value, int>> work{{start, 0}};
    llvm::DenseSet<Operation *> seen;
    while (!work.empty()) {
      auto [v, d] = work.front();
      work.pop_front();
      for (auto [n, idx] : g.users(v)) {
        if (!seen.insert(n).second || d > 8)
          continue;
        if (isLayer(n)) {
          for (unsigned i : denseParamsOf(n))
            found.push_back(i);
          continue;
        }
        if (isOneOf(n.getOpType(), {"Transpose", "Reshape", "Identity", "Cast",
                                    "Flatten", "Squeeze", "Unsqueeze"}) &&
            idx == 0 && n.getNumResults() >= 1)
          work.push_back({n.getResult(0), d + 1});
      }
    }
    return found;
  };
  llvm::MapVector<unsigned, unsigned> qkvMask; // param -> bits q=1 k=2 v=4
  llvm::SetVector<unsigned> attnOut;
  for (auto sm : body.getOps<NodeOp>()) {
    if (sm.getOpType() != "Softmax" || sm.getNumOperands() < 1)
      continue;
    // Scores MatMul behind the softmax (through masking/scaling).
    NodeOp scores;
    {
      std::deque<std::pair<Value, int>> work{{sm.getOperand(0), 0}};
      while (!work.empty() && !scores) {
        auto [v, d] = work.front();
        work.pop_front();
        NodeOp n = producer(v);
        if (!n || d > 6)
          continue;
        if (n.getOpType() == "MatMul" && !isLayer(n)) {
          scores = n;
          break;
        }
        if (isOneOf(n.getOpType(), {"Add", "Div", "Mul", "Where", "Cast",
                                    "Identity", "Sub", "Reshape"}))
          for (Value o : n.getOperands())
            work.push_back({o, d + 1});
      }
    }
    if (!scores || scores.getNumOperands() != 2)
      continue;
    // The MatMul taking the attention weights as its left operand.
    NodeOp mix;
    {
      std::deque<std::pair<Value, int>> work{{sm.getResult(0), 0}};
      while (!work.empty() && !mix) {
        auto [v, d] = work.front();
        work.pop_front();
        for (auto [n, idx] : g.users(v)) {
          if (d > 4)
            break;
          if (n.getOpType() == "MatMul" && idx == 0 && !isLayer(n)) {
            mix = n;
            break;
          }
          if (isOneOf(n.getOpType(),
                      {"Dropout", "Cast", "Identity", "Reshape"}) &&
              idx == 0)
            work.push_back({n.getResult(0), d + 1});
        }
      }
    }
    if (!mix || mix.getNumOperands() != 2)
      continue;
    for (unsigned i : traceBack(scores.getOperand(0)))
      qkvMask[i] |= 1;
    for (unsigned i : traceBack(scores.getOperand(1)))
      qkvMask[i] |= 2;
    for (unsigned i : traceBack(mix.getOperand(1)))
      qkvMask[i] |= 4;
    for (unsigned i : traceForwardToLayer(mix.getResult(0)))
      attnOut.insert(i);
  }
  for (auto [i, mask] : qkvMask) {
    if (mask == 1)
      params[i].f.role = "attention_q";
    else if (mask == 2)
      params[i].f.role = "attention_k";
    else if (mask == 4)
      params[i].f.role = "attention_v";
    else
      params[i].f.role = "attention_qkv";
  }
  for (unsigned i : attnOut)
    if (params[i].f.role == "dense_weight")
      params[i].f.role = "attention_output";

  // 4. Feed-forward: dense -> (activation) -> dense, the MLP of a block.
  SmallVector<unsigned> ffn;
  for (unsigned i = 0; i < params.size(); ++i) {
    PInfo &pi = params[i];
    if (pi.f.role != "dense_weight" || !pi.hasPrimary)
      continue;
    std::deque<std::tuple<Value, int, bool>> work;
    for (Value r : pi.primary.node.getResults())
      work.push_back({r, 0, false});
    llvm::DenseSet<Operation *> seen;
    while (!work.empty()) {
      auto [v, d, act] = work.front();
      work.pop_front();
      for (auto [n, idx] : g.users(v)) {
        if (!seen.insert(n).second || d > 8)
          continue;
        if (isLayer(n)) {
          if (!act)
            continue;
          for (unsigned j : denseParamsOf(n))
            if (params[j].f.role == "dense_weight" && j != i) {
              ffn.push_back(i);
              ffn.push_back(j);
            }
          continue;
        }
        StringRef op = n.getOpType();
        bool isAct = !activationName(op).empty() && op != "Softmax" &&
                     op != "LogSoftmax";
        if (isAct ||
            isOneOf(op, {"Add", "Mul", "Div", "Sub", "Dropout", "Identity",
                         "Cast", "Pow", "Reshape", "Transpose"}))
          for (Value r : n.getResults())
            work.push_back({r, d + 1, act || isAct});
      }
    }
  }
  for (unsigned i : ffn)
    params[i].f.role = "feed_forward";

  // 5. Decomposed LayerNorm scale/shift.
  for (PInfo &pi : params) {
    if (!pi.hasPrimary)
      continue;
    NodeOp n = pi.primary.node;
    if (pi.f.role == "scale" && isDecomposedNormScaleMul(n)) {
      pi.f.role = "norm_scale";
      pi.f.norm = "layer_norm";
    } else if (pi.f.role == "bias" && n.getOpType() == "Add") {
      for (Value o : n.getOperands())
        if (isDecomposedNormScaleMul(producer(o))) {
          pi.f.role = "norm_shift";
          pi.f.norm = "layer_norm";
        }
    }
  }

  // 6. Per-parameter geometry, depth, surroundings.
  SmallVector<std::pair<std::string, SmallVector<int64_t>>> names;
  for (PInfo &pi : params)
    names.push_back({pi.f.name, pi.f.shape});
  std::map<std::string, BlockInfo> blocks = findBlocks(names);

  std::vector<std::pair<ParamOp, LayerFeatures>> out;
  for (PInfo &pi : params) {
    LayerFeatures &f = pi.f;
    ArrayRef<int64_t> s = f.shape;
    if (s.size() <= 1) {
      f.fanIn = f.fanOut = f.numel;
    } else if (f.op == "Conv" || f.op == "ConvTranspose") {
      int64_t rf = 1;
      for (int64_t d : s.drop_front(2))
        rf *= d;
      f.fanIn = s[1] * rf;
      f.fanOut = s[0] * rf;
      if (f.op == "ConvTranspose")
        std::swap(f.fanIn, f.fanOut);
      SmallVector<std::string> k;
      for (int64_t d : s.drop_front(2))
        k.push_back(std::to_string(d));
      f.kernel = llvm::join(k, "x");
    } else {
      // [.., in, out] as the consuming MatMul sees it, or [out, in] when
      // transposed on the way (PyTorch's nn.Linear) or Gemm transB.
      int64_t a = s[s.size() - 2], b = s.back();
      bool transposed = pi.hasPrimary && pi.primary.transposed;
      if (pi.hasPrimary && f.op == "Gemm")
        transposed ^=
            intAttr(pi.primary.node,
                    pi.primary.operand == 0 ? "transA" : "transB", 0) != 0;
      if (pi.hasPrimary && f.op == "MatMul" && pi.primary.operand == 0)
        transposed = !transposed; // W @ x: W is [out, in]
      f.fanIn = transposed ? b : a;
      f.fanOut = transposed ? a : b;
    }

    if (pi.hasPrimary) {
      NodeOp n = pi.primary.node;
      f.depth = nodeDepth.lookup(n);
      f.height = nodeHeight.lookup(n);
      // For a parameter that is not itself a layer's weight (bias, norm),
      // depth is that of the layer feeding its op.
      if (!isLayer(n))
        f.depth = std::max<int64_t>(f.depth, 1);
      f.position = f.depth <= 1 ? "first" : f.height == 0 ? "last" : "middle";
      // Surroundings: the op itself when it normalises/activates, then a
      // forward search until the next layer.
      if (f.norm.empty())
        f.norm = normName(n.getOpType()).str();
      std::string act = activationName(n.getOpType()).str();
      std::deque<std::pair<Value, int>> work;
      for (Value r : n.getResults())
        work.push_back({r, 0});
      llvm::DenseSet<Operation *> seen;
      while (!work.empty() && (act.empty() || f.norm.empty())) {
        auto [v, d] = work.front();
        work.pop_front();
        for (auto [u, idx] : g.users(v)) {
          if (!seen.insert(u).second || d > 6 || isLayer(u))
            continue;
          StringRef op = u.getOpType();
          if (act.empty() && !activationName(op).empty())
            act = activationName(op).str();
          if (f.norm.empty() && !normName(op).empty())
            f.norm = normName(op).str();
          if (f.norm.empty() && op == "ReduceMean")
            for (Value r : u.getResults())
              for (auto [w, j] : g.users(r))
                if (w.getOpType() == "Sub")
                  f.norm = "layer_norm";
          for (Value r : u.getResults())
            work.push_back({r, d + 1});
        }
      }
      f.activation = act.empty() ? "none" : act;
    } else {
      f.position = "none";
      f.activation = "none";
    }
    if (f.norm.empty())
      f.norm = "none";
    const BlockInfo &b = blocks[f.name];
    f.block = b.block;
    f.blockIndex = b.index;
    f.blockRepeats = b.repeats;
    f.blockMember = b.member;
    out.push_back({pi.op, f});
  }
  return out;
}

DictionaryAttr featuresToAttr(MLIRContext *ctx, const LayerFeatures &f) {
  Builder b(ctx);
  SmallVector<NamedAttribute> a;
  auto str = [&](StringRef k, StringRef v) {
    a.push_back(b.getNamedAttr(k, b.getStringAttr(v)));
  };
  auto i64 = [&](StringRef k, int64_t v) {
    a.push_back(b.getNamedAttr(k, b.getI64IntegerAttr(v)));
  };
  str("role", f.role);
  str("op", f.op);
  str("node", f.node);
  i64("numel", f.numel);
  i64("fan_in", f.fanIn);
  i64("fan_out", f.fanOut);
  i64("depth", f.depth);
  i64("height", f.height);
  str("position", f.position);
  str("activation", f.activation);
  str("norm", f.norm);
  if (!f.kernel.empty())
    str("kernel", f.kernel);
  if (!f.block.empty()) {
    str("block", f.block);
    i64("block_index", f.blockIndex);
    i64("block_repeats", f.blockRepeats);
    str("block_member", f.blockMember);
  }
  return b.getDictionaryAttr(a);
}

FailureOr<LayerFeatures> featuresFromParam(ParamOp p) {
  auto d = p->getAttrOfType<DictionaryAttr>(kFeaturesAttr);
  if (!d)
    return emitError(p.getLoc())
           << "parameter '" << p.getSymName() << "' has no '" << kFeaturesAttr
           << "' attribute; run -qoda-layer-features first";
  LayerFeatures f;
  auto str = [&](StringRef k, std::string &out) {
    if (auto s = d.getAs<StringAttr>(k))
      out = s.getValue().str();
    return success();
  };
  auto i64 = [&](StringRef k, int64_t &out) -> LogicalResult {
    if (auto s = d.getAs<IntegerAttr>(k)) {
      out = s.getInt();
      return success();
    }
    return failure();
  };
  f.name = p.getSymName().str();
  auto type = p.getResult().getType().cast<RankedTensorType>();
  f.shape.assign(type.getShape().begin(), type.getShape().end());
  (void)str("role", f.role);
  (void)str("op", f.op);
  (void)str("node", f.node);
  (void)str("position", f.position);
  (void)str("activation", f.activation);
  (void)str("norm", f.norm);
  (void)str("kernel", f.kernel);
  (void)str("block", f.block);
  (void)str("block_member", f.blockMember);
  if (failed(i64("numel", f.numel)) || f.numel != type.getNumElements() ||
      f.role.empty())
    return emitError(p.getLoc())
           << "parameter '" << p.getSymName() << "' has a malformed '"
           << kFeaturesAttr
           << "' attribute (needs role and numel = " << type.getNumElements()
           << ")";
  (void)i64("fan_in", f.fanIn);
  (void)i64("fan_out", f.fanOut);
  (void)i64("depth", f.depth);
  (void)i64("height", f.height);
  (void)i64("block_index", f.blockIndex);
  (void)i64("block_repeats", f.blockRepeats);
  return f;
}

bool isSmallParam(const LayerFeatures &f, int64_t smallThreshold) {
  int64_t nonUnit = llvm::count_if(f.shape, [](int64_t d) { return d > 1; });
  return nonUnit <= 1 || f.numel < smallThreshold;
}

} // namespace qoda::analysis
