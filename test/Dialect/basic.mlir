// The smallest valid model and the qoda ops in their custom syntax.
// RUN: qoda-opt %s | FileCheck %s

// CHECK: qoda.model @empty attributes {input_names = [], ir_version = 3 : i64
// CHECK-NEXT: qoda.output {names = []}
qoda.model @empty attributes {input_names = [], ir_version = 3 : i64, opsets = {}, producer_name = "", producer_version = ""} {
  qoda.output {names = []}
}

// CHECK: qoda.model @relu
// CHECK: %[[R:.*]] = "qoda.node"(%arg0) {{.*}}op_type = "Relu"
// CHECK: qoda.output %[[R]] : tensor<2xf32> {names = ["Y"]}
qoda.model @relu attributes {input_names = ["X"], ir_version = 8 : i64, opsets = {ai.onnx = 17 : i64}, producer_name = "p", producer_version = "v"} {
^bb0(%x: tensor<2xf32>):
  %r = "qoda.node"(%x) {attrs = {}, domain = "", graph_names = [], name = "r", op_type = "Relu"} : (tensor<2xf32>) -> tensor<2xf32>
  qoda.output %r : tensor<2xf32> {names = ["Y"]}
}
