//===- QodaOps.td - the qoda dialect ------------------------*- tablegen -*-===//
//
// The qoda dialect holds an imported ONNX model faithfully enough for
// analysis: the model and its metadata, parameters (with trainability and a
// reference to where the data lives, never a copy of large weights), every
// ONNX node as one generic op, and subgraphs as regions.
//
//===----------------------------------------------------------------------===//

#ifndef QODA_OPS_TD
#define QODA_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Qoda_Dialect : Dialect {
  let name = "qoda";
  let cppNamespace = "::qoda";
  let useFoldAPI = kEmitFoldAdaptorFolder;
  let summary = "An imported ONNX model with trainable-parameter information";
  let description = [{
    `qoda.model` holds one ONNX graph. Its block arguments are the graph's
    non-parameter inputs; `qoda.param` ops declare initializers (trainable or
    not, with the reason); `qoda.node` is every ONNX node; `qoda.output`
    returns the graph outputs.
  }];
}

class Qoda_Op<string mnemonic, list<Trait> traits = []>
    : Op<Qoda_Dialect, mnemonic, traits>;

def Qoda_ModelOp : Qoda_Op<"model", [Symbol, SymbolTable, IsolatedFromAbove,
                                     SingleBlock]> {
  let summary = "an imported ONNX model (its main graph)";
  let description = [{
    One ONNX ModelProto. The single block's arguments are the graph inputs
    that are not parameters, named by `input_names` in order. The block ends
    with `qoda.output`.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, I64Attr:$ir_version,
                       StrAttr:$producer_name, StrAttr:$producer_version,
                       DictionaryAttr:$opsets, StrArrayAttr:$input_names,
                       OptionalAttr<StrAttr>:$doc_string,
                       OptionalAttr<StrAttr>:$source);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
  let hasVerifier = 1;
}

def Qoda_ParamOp : Qoda_Op<"param", [Symbol, Pure, HasParent<"ModelOp">]> {
  let summary = "a model parameter (ONNX initializer)";
  let description = [{
    An initializer named `sym_name`. `trainable` says whether a training
    framework would update it, `reason` why, `role` what it is for
    (conv_kernel, dense_weight, bias, norm_scale, norm_shift, embedding,
    running_stat, shape_constant, scalar_constant, ...). Small data is
    inline in `value`; large data is referenced by `data_file`,
    `data_offset` and `data_length` (bytes into that file). `consumers`
    lists "node:operand" users, through Identity/Transpose/Cast chains.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, BoolAttr:$trainable,
                       StrAttr:$role, StrAttr:$reason,
                       OptionalAttr<ElementsAttr>:$value,
                       OptionalAttr<StrAttr>:$data_file,
                       OptionalAttr<I64Attr>:$data_offset,
                       OptionalAttr<I64Attr>:$data_length,
                       StrArrayAttr:$consumers);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$sym_name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Qoda_NoneOp : Qoda_Op<"none", [Pure]> {
  let summary = "an omitted optional ONNX input";
  let results = (outs NoneType:$result);
  let assemblyFormat = "attr-dict";
}

def Qoda_NodeOp : Qoda_Op<"node", [RecursiveMemoryEffects]> {
  let summary = "one ONNX node";
  let description = [{
    A generic ONNX node: `op_type`, `domain` ("" is the default domain) and
    `name`; ONNX attributes are in `attrs` (int -> i64, float -> f32,
    string, lists -> arrays, tensor -> dense elements). Graph attributes
    (If/Loop/Scan bodies) are regions, named by `graph_names`; their block
    arguments are the subgraph inputs and they end with `qoda.yield`.
  }];
  let arguments = (ins Variadic<AnyType>:$inputs, StrAttr:$op_type,
                       StrAttr:$domain, StrAttr:$name, DictionaryAttr:$attrs,
                       StrArrayAttr:$graph_names);
  let results = (outs Variadic<AnyType>:$outputs);
  let regions = (region VariadicRegion<SizedRegion<1>>:$graphs);
  let hasVerifier = 1;
}

def Qoda_OutputOp : Qoda_Op<"output", [Terminator, HasParent<"ModelOp">,
                                       Pure]> {
  let summary = "the graph outputs of a model";
  let arguments = (ins Variadic<AnyType>:$values, StrArrayAttr:$names);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
  let hasVerifier = 1;
}

def Qoda_YieldOp : Qoda_Op<"yield", [Terminator, HasParent<"NodeOp">, Pure]> {
  let summary = "the outputs of a subgraph";
  let arguments = (ins Variadic<AnyType>:$values, StrArrayAttr:$names);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
  let hasVerifier = 1;
}


def Qoda_LayerTypeOp : Qoda_Op<"layer_type", [Symbol, HasParent<"ModelOp">]> {
  let summary = "a layer type: parameters quantized with one setting";
  let description = [{
    Created by `qoda-cluster-types`; trainable `qoda.param`s name their type
    with the discardable attribute `qoda.type = @sym`. `kind` is `levels`
    (the stochastic level quantizer) or `fp32` (sent uncompressed: small and
    one-dimensional tensors). `roles` lists the layer-feature roles of its
    members, `num_params`/`numel` their count and total size.
    `qoda-plan-schedule` fills in the quantization settings: `bits` (level
    index bits, without the sign; 32 for fp32), `levels` (0 = l_0 < ... <
    l_{a+1} = 1, at most 2^bits of them), `bucket`, `norm`
    (`l2`/`linf`), `norm_precision`, `coding` (`fixed`, `huffman` or
    `elias-gaps`), the predicted relative variance E||Q(v)-v||^2/||v||^2 of
    the type's gradient and `predicted_bits`, its expected bits per
    coordinate on the wire with its coding (indices, signs, bucket norms).
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$kind,
                       StrArrayAttr:$roles, I64Attr:$num_params,
                       I64Attr:$numel,
                       OptionalAttr<I64Attr>:$bits,
                       OptionalAttr<DenseF32ArrayAttr>:$levels,
                       OptionalAttr<I64Attr>:$bucket,
                       OptionalAttr<StrAttr>:$norm,
                       OptionalAttr<StrAttr>:$norm_precision,
                       OptionalAttr<StrAttr>:$coding,
                       OptionalAttr<F64Attr>:$predicted_variance,
                       OptionalAttr<F64Attr>:$predicted_bits);
  let assemblyFormat = "$sym_name attr-dict";
  let hasVerifier = 1;
}

def Qoda_ScheduleOp : Qoda_Op<"schedule", [HasParent<"ModelOp">]> {
  let summary = "the planned layer-wise schedule of a model";
  let description = [{
    Written by `qoda-plan-schedule`, at most one per model. `budget` is the
    requested bits per coordinate of the whole flat gradient (index bits,
    sign bits, bucket norms and uncompressed tensors all counted);
    `statistics` says where the gradient distributions came from (`prior`
    or the profile file). `bits_per_coord` and `variance` (E||Q(v)-v||^2 /
    ||v||^2 of the whole gradient) are the layer-wise schedule's;
    `global_*` are those of the best single quantizer (MQV-optimal levels
    of the merged distribution, `global_bits` index bits) at the same budget.
  }];
  let arguments = (ins F64Attr:$budget, StrAttr:$statistics, I64Attr:$bucket,
                       F64Attr:$bits_per_coord, F64Attr:$variance,
                       I64Attr:$global_bits,
                       DenseF32ArrayAttr:$global_levels,
                       F64Attr:$global_bits_per_coord,
                       F64Attr:$global_variance);
  let assemblyFormat = "attr-dict";
}

#endif // QODA_OPS_TD
