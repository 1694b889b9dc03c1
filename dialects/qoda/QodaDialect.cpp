//===- QodaDialect.cpp - the qoda dialect ---------------------------------===//
#include "dialects/qoda/QodaDialect.h"

#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace qoda;

#include "dialects/qoda/QodaOpsDialect.cpp.inc"

void QodaDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/qoda/QodaOps.cpp.inc"
      >();
}

/// Names must be unique: a duplicate output name makes the graph ambiguous.
static LogicalResult verifyNames(Operation *op, ArrayAttr names,
                                 size_t numValues, StringRef what) {
  if (names.size() != numValues)
    return op->emitOpError() << "has " << numValues << " " << what << " but "
                             << names.size() << " names";
  llvm::StringSet<> seen;
  for (Attribute a : names) {
    StringRef n = a.cast<StringAttr>().getValue();
    if (n.empty())
      return op->emitOpError() << "has an empty " << what << " name";
    if (!seen.insert(n).second)
      return op->emitOpError()
             << "has duplicate " << what << " name '" << n << "'";
  }
  return success();
}

LogicalResult ModelOp::verify() {
  Block &body = getBody().front();
  if (failed(verifyNames(*this, getInputNames(), body.getNumArguments(),
                         "inputs")))
    return failure();
  if (body.empty() || !isa<OutputOp>(body.back()))
    return emitOpError() << "body must end with qoda.output";
  for (NamedAttribute opset : getOpsets())
    if (!opset.getValue().isa<IntegerAttr>())
      return emitOpError() << "opset version of domain '"
                           << opset.getName().getValue()
                           << "' must be an integer";
  return success();
}

LogicalResult ParamOp::verify() {
  auto type = getResult().getType().cast<RankedTensorType>();
  if (getTrainable() && !type.getElementType().isa<FloatType>())
    return emitOpError() << "is trainable but has non-floating-point type "
                         << type;
  if (!type.hasStaticShape())
    return emitOpError() << "must have a static shape, got " << type;
  if (auto value = getValueAttr())
    if (value.getType() != type)
      return emitOpError() << "value type " << value.getType()
                           << " does not match result type " << type;
  bool hasFile = getDataFile().has_value();
  if (hasFile != getDataOffset().has_value() ||
      hasFile != getDataLength().has_value())
    return emitOpError()
           << "data_file, data_offset and data_length go together";
  if (hasFile && getValueAttr())
    return emitOpError() << "has both inline value and data_file";
  // I64Attr getters return uint64_t; read the signed value.
  if (hasFile &&
      (getDataOffsetAttr().getInt() < 0 || getDataLengthAttr().getInt() < 0))
    return emitOpError() << "has negative data_offset or data_length";
  return success();
}

LogicalResult NodeOp::verify() {
  if (getOpType().empty())
    return emitOpError() << "has an empty op_type";
  if (getGraphNames().size() != getGraphs().size())
    return emitOpError() << "has " << getGraphs().size() << " graphs but "
                         << getGraphNames().size() << " graph names";
  for (Region &r : getGraphs())
    if (r.empty() || r.front().empty() || !isa<YieldOp>(r.front().back()))
      return emitOpError() << "subgraph must end with qoda.yield";
  return success();
}

LogicalResult OutputOp::verify() {
  return verifyNames(*this, getNames(), getValues().size(), "outputs");
}

LogicalResult YieldOp::verify() {
  return verifyNames(*this, getNames(), getValues().size(), "outputs");
}

#define GET_OP_CLASSES
#include "dialects/qoda/QodaOps.cpp.inc"

LogicalResult LayerTypeOp::verify() {
  StringRef kind = getKind();
  if (kind != "levels" && kind != "fp32" && kind != "fp16" && kind != "bf16")
    return emitOpError() << "has unknown kind '" << kind
                         << "' (expected levels, fp32, fp16 or bf16)";
  if (getNumParams() < 0 || getNumel() < 0)
    return emitOpError() << "has a negative num_params or numel";
  if (std::optional<ArrayRef<float>> levels = getLevels()) {
    if (kind != "levels")
      return emitOpError() << "of kind '" << kind << "' cannot have levels";
    ArrayRef<float> l = *levels;
    if (l.size() < 2 || l.front() != 0.0f || l.back() != 1.0f)
      return emitOpError() << "levels must start at 0 and end at 1";
    for (size_t i = 1; i < l.size(); ++i)
      if (!(l[i] > l[i - 1]))
        return emitOpError()
               << "levels must be strictly increasing (level " << i << ")";
    if (std::optional<uint64_t> bits = getBits())
      if (*bits >= 31 || (uint64_t(1) << *bits) < l.size())
        return emitOpError() << "has " << l.size() << " levels, more than "
                             << *bits << " bits can index";
  }
  return success();
}
