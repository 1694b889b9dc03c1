//===- ParamClassifier.h - trainable-parameter classification ---*- C++ -*-===//
//
// Decides, for every ONNX initializer, whether a training framework would
// update it (weights, biases, norm scales/shifts, embeddings) and why. The
// rules look at what consumes the tensor, following Identity/Transpose/Cast
// chains, so they are independent of the exporter's naming.
//
//===----------------------------------------------------------------------===//
#ifndef QODA_IMPORT_PARAMCLASSIFIER_H
#define QODA_IMPORT_PARAMCLASSIFIER_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace onnx {
class GraphProto;
} // namespace onnx

namespace qoda {

/// What the classifier needs to know about one candidate tensor.
struct ParamCandidate {
  std::string name;
  int32_t elemType = 0; ///< onnx::TensorProto_DataType
  std::vector<int64_t> dims;
};

struct ParamClass {
  bool trainable = false;
  std::string role;   ///< conv_kernel, dense_weight, bias, ...
  std::string reason; ///< one sentence a user can read
  /// "node_name:operand_index" of the real users (after pass-through chains).
  std::vector<std::string> consumers;
};

/// Classifies each candidate (initializers, ConstantOfShape-stripped weights)
/// of the main graph `graph`. Nodes of subgraphs count as consumers too.
std::map<std::string, ParamClass>
classifyParams(const onnx::GraphProto &graph,
               const std::vector<ParamCandidate> &candidates);

} // namespace qoda

#endif // QODA_IMPORT_PARAMCLASSIFIER_H
