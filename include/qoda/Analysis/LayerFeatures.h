//===- LayerFeatures.h - what the graph says about each parameter -*- C++
//-*-===//
//
// For every trainable qoda.param: the layer that consumes it and its role
// there (conv kernel, dense weight, bias, norm scale/shift, embedding,
// attention Q/K/V/output found by the MatMul-Softmax-MatMul pattern,
// feed-forward), shape, fan-in/fan-out, element count, depth in the graph,
// the activation and normalisation around it, and membership in a repeated
// block. docs/clustering.md describes every field.
//
//===----------------------------------------------------------------------===//
#ifndef QODA_ANALYSIS_LAYERFEATURES_H
#define QODA_ANALYSIS_LAYERFEATURES_H

#include "dialects/qoda/QodaDialect.h"

#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/SmallVector.h"

#include <string>
#include <utility>
#include <vector>

namespace qoda::analysis {

/// Discardable attributes the passes attach to qoda.param ops.
constexpr llvm::StringLiteral kFeaturesAttr = "qoda.features";
constexpr llvm::StringLiteral kTypeAttr = "qoda.type";

struct LayerFeatures {
  std::string name; ///< the parameter (ONNX initializer) name
  std::string role; ///< refined role, see docs/clustering.md
  std::string op;   ///< op_type of the consuming layer, "" if none
  std::string node; ///< name of that node
  llvm::SmallVector<int64_t> shape;
  int64_t numel = 0;
  int64_t fanIn = 0, fanOut = 0;
  int64_t depth = 0;       ///< layers on the longest path from the inputs,
                           ///< including the consuming one (1 = first layer)
  int64_t height = 0;      ///< layers after it on the longest path to an output
  std::string position;    ///< first | middle | last
  std::string activation;  ///< first activation after the layer, or none
  std::string norm;        ///< first normalisation after the layer, or none
  std::string kernel;      ///< spatial kernel of convolutions ("3x3"), else ""
  std::string block;       ///< repeated block (name prefix), "" if none
  int64_t blockIndex = -1; ///< instance index within the block
  int64_t blockRepeats = 0; ///< instances of the block with the same contents
  std::string blockMember;  ///< name inside the instance ("conv1.weight")
};

/// Features of every trainable parameter of `model`, in IR order.
std::vector<std::pair<ParamOp, LayerFeatures>>
computeLayerFeatures(ModelOp model);

/// As a dictionary (the `qoda.features` attribute) and back.
mlir::DictionaryAttr featuresToAttr(mlir::MLIRContext *ctx,
                                    const LayerFeatures &f);
/// Fails (with an error on `p`) when the attribute is missing or malformed.
mlir::FailureOr<LayerFeatures> featuresFromParam(ParamOp p);

/// True for parameters sent uncompressed: rank <= 1 or fewer than
/// `smallThreshold` elements.
bool isSmallParam(const LayerFeatures &f, int64_t smallThreshold);

} // namespace qoda::analysis

#endif // QODA_ANALYSIS_LAYERFEATURES_H
