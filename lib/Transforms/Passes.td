//===- Passes.td - qoda passes -----------------------------*- tablegen -*-===//
//
// Layer analysis, clustering into layer types and per-type quantization
// schedules (issue 4). docs/clustering.md explains the model; the reference
// below is generated (`ninja mlir-doc`, docs/passes/QodaPasses.md).
//
//===----------------------------------------------------------------------===//
#ifndef QODA_TRANSFORMS_PASSES_TD
#define QODA_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

// Options shared by the passes that need gradient statistics and a budget.
defvar StatsOptions = [
  Option<"gradientProfile", "gradient-profile", "std::string", /*default=*/"",
         "Gradient profile (JSON, examples/models/record_profile.py) whose "
         "per-parameter distributions replace the role priors">,
  Option<"bitsPerCoordinate", "bits-per-coordinate", "double",
         /*default=*/"0",
         "Budget in bits per coordinate of the whole flat gradient (index, "
         "sign, norms and uncompressed tensors counted; default 4)">,
  Option<"compressionRatio", "compression-ratio", "double", /*default=*/"0",
         "Budget as a compression ratio against fp32 (bits = 32 / ratio); "
         "exclusive with bits-per-coordinate">,
  Option<"bucketSize", "bucket-size", "unsigned", /*default=*/"1024",
         "Coordinates per norm bucket">,
  Option<"maxBits", "max-bits", "unsigned", /*default=*/"6",
         "Widest level index (bits, 1 to 8) the bit allocation considers">
];

def LayerFeatures : Pass<"qoda-layer-features", "mlir::ModuleOp"> {
  let summary = "Attach layer features to every trainable parameter";
  let description = [{
    For every trainable `qoda.param` of every `qoda.model`, attaches
    `qoda.features`: the consuming layer (`op`, `node`) and the parameter's
    `role` there (conv_kernel, dense_weight, bias, norm_scale, norm_shift,
    embedding, attention_q/k/v/qkv and attention_output found by the
    MatMul-Softmax-MatMul pattern, feed_forward for dense -> activation ->
    dense), `numel`, `fan_in`, `fan_out`, `depth` (layers on the longest path
    from the inputs, including its own), `height` (layers after it),
    `position` (first/middle/last), the `activation` and `norm` that follow
    it, `kernel` (convolutions) and, for members of a repeated block (two or
    more instances with identical contents, found from the initializer
    names), `block`, `block_index`, `block_repeats`, `block_member`.
  }];
  let dependentDialects = ["qoda::QodaDialect"];
}

def ClusterTypes : Pass<"qoda-cluster-types", "mlir::ModuleOp"> {
  let summary = "Group the trainable parameters into layer types";
  let description = [{
    Small and one-dimensional parameters (fewer than `small-threshold`
    elements or at most one dimension above 1) go to an uncompressed `fp32`
    type `small`. The others start in atoms (same role and place in a
    repeated block, or same role, kernel and first/last position) that are
    merged agglomeratively, always the pair whose merge raises the expected
    quantization variance least (MQV-optimal levels at the index width a
    uniform split of the budget gives). With `num-types=N` the partition with
    N types is used; with `num-types=auto`, the k in 1..max-types minimising
    variance(k)/variance(1) + type-penalty * (k - 1), where variance(k) is
    the expected variance of the k-type schedule at the budget, bit widths
    relaxed to the convex hull of each type's variance-vs-bits curve
    (docs/clustering.md). Creates `qoda.layer_type` ops, sets `qoda.type` on
    every trainable parameter and records the candidates' variances and
    scores in the model's `qoda.clustering` attribute.
  }];
  let options = !listconcat([
    Option<"numTypes", "num-types", "std::string", /*default=*/"\"auto\"",
           "Number of compressed layer types, or 'auto'">,
    Option<"maxTypes", "max-types", "unsigned", /*default=*/"8",
           "Largest number of types num-types=auto considers">,
    Option<"typePenalty", "type-penalty", "double", /*default=*/"0.02",
           "Relative variance an extra type must save to be worth it">,
    Option<"smallThreshold", "small-threshold", "int64_t",
           /*default=*/"1024",
           "Parameters with fewer elements are sent uncompressed (fp32)">
  ], StatsOptions);
  let dependentDialects = ["qoda::QodaDialect"];
}

def PlanSchedule : Pass<"qoda-plan-schedule", "mlir::ModuleOp"> {
  let summary = "Choose levels and bits of every layer type under a budget";
  let description = [{
    For each `qoda.layer_type` of kind `levels`: MQV-optimal levels for the
    type's distribution of normalised gradient coordinates for every index
    width 1..max-bits, then the width of each type by a knapsack over the
    budget minimising the total expected variance E||Q(v)-v||^2 / ||v||^2.
    Fills in the types' `bits`, `levels`, `bucket`, `norm`,
    `norm_precision`, `coding`, `predicted_variance` and `predicted_bits`,
    and writes a `qoda.schedule` op with the prediction for this schedule
    and for the best single global quantizer at the same budget.

    `coding=fixed` (the default) codes every type's level indices
    fixed-width (index bits + sign), the only coding the kernels generated
    by qoda-compile support. `coding=auto` chooses per type the shortest
    expected code among fixed width, Huffman of the level indices and
    Elias-omega gaps between non-zero indices, from the expected index
    counts of the type's distribution under its levels
    (docs/clustering.md); the chosen code's bits then count in
    `predicted_bits` and in the schedule's `bits_per_coord`. The bit
    allocation itself still assumes fixed-width indices.
  }];
  let options = !listconcat([
    Option<"coding", "coding", "std::string", /*default=*/"\"fixed\"",
           "Coding of level indices: 'fixed' (fixed width, what "
           "qoda-compile supports) or 'auto' (per type the shortest "
           "expected code: fixed, huffman or elias-gaps)">
  ], StatsOptions);
  let dependentDialects = ["qoda::QodaDialect"];
}

#endif // QODA_TRANSFORMS_PASSES_TD
