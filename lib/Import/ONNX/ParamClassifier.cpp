//===- ParamClassifier.cpp - trainable-parameter classification -----------===//
#include "qoda/Import/ParamClassifier.h"

#include "onnx/onnx_pb.h"

#include <functional>
#include <set>

using namespace qoda;

namespace {

struct Use {
  const onnx::NodeProto *node;
  int index;
};

bool isFloat(int32_t t) {
  using TP = onnx::TensorProto;
  return t == TP::FLOAT || t == TP::DOUBLE || t == TP::FLOAT16 ||
         t == TP::BFLOAT16;
}

int64_t numel(const std::vector<int64_t> &dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

std::string nodeLabel(const onnx::NodeProto &n) {
  return n.name().empty() ? n.op_type() + "(" + n.output(0) + ")" : n.name();
}

/// Ops that forward a tensor unchanged for training purposes: a parameter
/// seen through them is still that parameter.
bool isPassThrough(const onnx::NodeProto &n) {
  const std::string &t = n.op_type();
  return n.domain().empty() &&
         (t == "Identity" || t == "Transpose" || t == "Cast" ||
          t == "Reshape" || t == "Unsqueeze" || t == "Squeeze" ||
          t == "Flatten");
}

/// Operand positions that carry a shape, an index or a count rather than
/// data: their tensors are never trainable.
bool isShapeOperand(const std::string &op, int idx) {
  static const std::set<std::string> allButFirst = {
      "Reshape",   "Expand",    "Tile",     "Slice",  "Squeeze",   "Unsqueeze",
      "Pad",       "Resize",    "TopK",     "Split",  "ReduceSum", "ReduceMean",
      "ReduceMax", "ReduceMin", "Upsample", "OneHot", "CumSum",    "Trilu"};
  if (allButFirst.count(op) && idx >= 1)
    return true;
  if ((op == "Gather" || op == "GatherElements" || op == "GatherND" ||
       op == "ScatterElements" || op == "ScatterND") &&
      idx == 1)
    return true;
  return op == "ConstantOfShape" || op == "Range" || op == "Shape" ||
         op == "NonZero";
}

/// (role, trainable, reason) from the first informative real use.
ParamClass fromUse(const Use &u, const ParamCandidate &c) {
  const std::string &op = u.node->op_type();
  int i = u.index;
  ParamClass p;
  auto set = [&](const char *role, bool trainable, std::string reason) {
    p.role = role;
    p.trainable = trainable;
    p.reason =
        std::move(reason) + " (" + op + " input " + std::to_string(i) + ")";
  };
  if (op == "BatchNormalization") {
    if (i == 1)
      set("norm_scale", true, "normalization scale");
    else if (i == 2)
      set("norm_shift", true, "normalization shift");
    else if (i >= 3)
      set("running_stat", false, "BatchNorm running statistic, not learned");
    else
      set("activation", false, "data input");
    return p;
  }
  if (op == "LayerNormalization" || op == "InstanceNormalization" ||
      op == "GroupNormalization" || op == "SkipLayerNormalization") {
    if (i == 1)
      set("norm_scale", true, "normalization scale");
    else if (i >= 2)
      set("norm_shift", true, "normalization shift");
    return p;
  }
  if (op == "Conv" || op == "ConvTranspose") {
    if (i == 1)
      set("conv_kernel", true, "convolution kernel");
    else if (i == 2)
      set("bias", true, "convolution bias");
    return p;
  }
  if (op == "Gemm" || op == "MatMul") {
    if (i == 2)
      set("bias", true, "dense bias");
    else
      set("dense_weight", true, "dense weight");
    return p;
  }
  if (op == "Gather" && i == 0) {
    set("embedding", true, "embedding table");
    return p;
  }
  if (op == "LSTM" || op == "GRU" || op == "RNN") {
    if (i == 1 || i == 2)
      set("rnn_weight", true, "recurrent weight");
    else if (i == 3)
      set("bias", true, "recurrent bias");
    return p;
  }
  if (op == "PRelu" && i == 1) {
    set("prelu_slope", true, "learned activation slope");
    return p;
  }
  if (op == "Add" || op == "Sub") {
    set("bias", true, "floating-point tensor added to activations");
    return p;
  }
  if (op == "Mul" || op == "Div") {
    set("scale", true, "floating-point tensor multiplying activations");
    return p;
  }
  (void)c;
  return p; // role empty: not informative
}

/// A one-element tensor is a learned parameter, not a scalar constant, when
/// a node takes it in a slot that only learned tensors fill (a Conv or Gemm
/// bias, a norm scale or shift, a PReLU slope, ...): a Linear or Conv with
/// one output channel has a [1] bias. Elementwise arithmetic (Add, Mul, ...)
/// does not count: there a one-element operand is far more often an epsilon
/// or a constant factor. Fills `out` and returns true when found.
bool oneElementLearnedSlot(const std::vector<Use> &real,
                           const ParamCandidate &c, ParamClass &out) {
  if (c.dims.empty()) // rank 0: a true scalar
    return false;
  for (const Use &u : real) {
    const std::string &op = u.node->op_type();
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div")
      continue;
    ParamClass q = fromUse(u, c);
    if (q.trainable) {
      out = q;
      out.reason += "; one element";
      return true;
    }
  }
  return false;
}

} // namespace

std::map<std::string, ParamClass>
qoda::classifyParams(const onnx::GraphProto &graph,
                     const std::vector<ParamCandidate> &candidates) {
  // Every use of every value, including uses inside subgraphs (which refer
  // to outer values by name).
  std::map<std::string, std::vector<Use>> uses;
  std::function<void(const onnx::GraphProto &)> collect =
      [&](const onnx::GraphProto &g) {
        for (const onnx::NodeProto &n : g.node()) {
          for (int i = 0; i < n.input_size(); ++i)
            if (!n.input(i).empty())
              uses[n.input(i)].push_back({&n, i});
          for (const onnx::AttributeProto &a : n.attribute()) {
            if (a.has_g())
              collect(a.g());
            for (const onnx::GraphProto &sub : a.graphs())
              collect(sub);
          }
        }
      };
  collect(graph);

  std::map<std::string, ParamClass> result;
  for (const ParamCandidate &c : candidates) {
    ParamClass p;
    // Real uses, looking through pass-through chains (tied weights reach
    // several real uses; a cycle cannot occur because each step follows a
    // node output and the graph was checked acyclic, but guard anyway).
    std::vector<Use> real;
    std::set<std::string> visited;
    std::function<void(const std::string &)> walk = [&](const std::string &v) {
      if (!visited.insert(v).second)
        return;
      auto it = uses.find(v);
      if (it == uses.end())
        return;
      for (const Use &u : it->second) {
        if (isPassThrough(*u.node) && u.index == 0 &&
            u.node->output_size() > 0) {
          walk(u.node->output(0));
          continue;
        }
        real.push_back(u);
      }
    };
    walk(c.name);
    for (const Use &u : real)
      p.consumers.push_back(nodeLabel(*u.node) + ":" + std::to_string(u.index));

    bool anyShapeUse = false, allShapeUse = !real.empty();
    for (const Use &u : real) {
      bool s = isShapeOperand(u.node->op_type(), u.index);
      anyShapeUse |= s;
      allShapeUse &= s;
    }
    int64_t n = numel(c.dims);
    if (!isFloat(c.elemType)) {
      p.role = anyShapeUse ? "shape_constant" : "integer_constant";
      p.reason = "not floating point; gradients do not apply";
    } else if (real.empty()) {
      p.role = "unused";
      p.reason = "no node uses it";
    } else if (allShapeUse) {
      p.role = "shape_constant";
      p.reason = "used only as a shape or index operand";
    } else if (n <= 1 && !oneElementLearnedSlot(real, c, p)) {
      p.role = "scalar_constant";
      p.reason = "scalar constant";
    } else if (n <= 1) {
      // p was filled by oneElementLearnedSlot: e.g. the [1] bias of a
      // Conv/Linear with one output channel, or nn.PReLU()'s single slope.
    } else {
      // The first trainable use decides. Exporters deduplicate identical
      // initializers (a fresh BatchNorm's scale of ones is bit-identical to
      // its running variance), so a tensor feeding both a learned slot and a
      // running-statistic slot is a learned tensor the exporter tied to a
      // buffer; it is trainable and the reason says so.
      ParamClass best, stat;
      for (const Use &u : real) {
        ParamClass q = fromUse(u, c);
        if (q.role == "running_stat") {
          if (stat.role.empty())
            stat = q;
        } else if (best.role.empty() && !q.role.empty()) {
          best = q;
        }
      }
      if (!best.role.empty() && !stat.role.empty())
        best.reason += "; the exporter also uses it as a BatchNorm running "
                       "statistic (deduplicated identical initializers)";
      else if (best.role.empty())
        best = stat;
      if (best.role.empty()) {
        best.role = "weight";
        best.trainable = true;
        best.reason = "floating-point tensor used as data by " +
                      real.front().node->op_type();
      }
      p.role = best.role;
      p.trainable = best.trainable;
      p.reason = best.reason;
    }
    result[c.name] = std::move(p);
  }
  return result;
}
