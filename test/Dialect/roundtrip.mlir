// Print -> parse -> print is stable for every qoda op, including subgraph
// regions, external data references and omitted optional inputs.
// RUN: qoda-opt %s | qoda-opt | FileCheck %s
// RUN: qoda-opt %s --mlir-print-op-generic | qoda-opt | FileCheck %s

// CHECK-LABEL: qoda.model @m
// CHECK-SAME: input_names = ["X", "C"]
// CHECK: ^bb0(%[[X:.*]]: tensor<?x4xf32>, %[[C:.*]]: tensor<i1>):
// CHECK: %[[W:.*]] = qoda.param @W {{{.*}}data_file = "w.bin", data_length = 48 : i64, data_offset = 0 : i64{{.*}}trainable = true} : tensor<3x4xf32>
// CHECK: %[[S:.*]] = qoda.param @S {{{.*}}value = dense<[-1, 3]> : tensor<2xi64>} : tensor<2xi64>
// CHECK: %[[N:.*]] = qoda.none
// CHECK: "qoda.node"(%[[X]], %[[W]], %[[N]]) {{.*}}op_type = "Gemm"
// CHECK: "qoda.node"(%[[C]])
// CHECK: ^bb0(%{{.*}}: tensor<f32>):
// CHECK: qoda.yield %{{.*}} : tensor<?x3xf32> {names = ["t"]}
// CHECK: op_type = "If"
// CHECK: qoda.output %{{.*}} : tensor<?x3xf32> {names = ["Y"]}
qoda.model @m attributes {input_names = ["X", "C"], ir_version = 8 : i64,
    opsets = {ai.onnx = 14 : i64, "com.example" = 1 : i64},
    producer_name = "test", producer_version = "1"} {
^bb0(%x: tensor<?x4xf32>, %c: tensor<i1>):
  %w = qoda.param @W {consumers = ["g:1"], reason = "dense weight", role = "dense_weight", trainable = true, data_file = "w.bin", data_offset = 0, data_length = 48} : tensor<3x4xf32>
  %s = qoda.param @S {consumers = ["r:1"], reason = "shape", role = "shape_constant", trainable = false, value = dense<[-1, 3]> : tensor<2xi64>} : tensor<2xi64>
  %none = qoda.none
  %g = "qoda.node"(%x, %w, %none) {attrs = {transB = 1 : i64, alpha = 1.0 : f32}, domain = "", graph_names = [], name = "g", op_type = "Gemm"} : (tensor<?x4xf32>, tensor<3x4xf32>, none) -> tensor<?x3xf32>
  %r = "qoda.node"(%c) ({
  ^bb0(%unused: tensor<f32>):
    qoda.yield %g : tensor<?x3xf32> {names = ["t"]}
  }, {
    qoda.yield %g : tensor<?x3xf32> {names = ["e"]}
  }) {attrs = {}, domain = "", graph_names = ["then_branch", "else_branch"], name = "if", op_type = "If"} : (tensor<i1>) -> tensor<?x3xf32>
  qoda.output %r : tensor<?x3xf32> {names = ["Y"]}
}
