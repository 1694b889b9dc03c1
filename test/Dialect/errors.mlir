// Every verifier error of the qoda dialect.
// RUN: qoda-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{has 1 inputs but 2 names}}
qoda.model @m attributes {input_names = ["X", "Y"], ir_version = 8 : i64, opsets = {}, producer_name = "", producer_version = ""} {
^bb0(%x: tensor<2xf32>):
  qoda.output {names = []}
}

// -----

// expected-error @+1 {{has duplicate inputs name 'X'}}
qoda.model @m attributes {input_names = ["X", "X"], ir_version = 8 : i64, opsets = {}, producer_name = "", producer_version = ""} {
^bb0(%x: tensor<2xf32>, %y: tensor<2xf32>):
  qoda.output {names = []}
}

// -----

// expected-error @+1 {{opset version of domain 'ai.onnx' must be an integer}}
qoda.model @m attributes {input_names = [], ir_version = 8 : i64, opsets = {ai.onnx = "14"}, producer_name = "", producer_version = ""} {
  qoda.output {names = []}
}

// -----

// expected-error @+1 {{body must end with qoda.output}}
qoda.model @m attributes {input_names = [], ir_version = 8 : i64, opsets = {}, producer_name = "", producer_version = ""} {
  %n = qoda.none
}

// -----

qoda.model @m attributes {input_names = ["X"], ir_version = 8 : i64, opsets = {}, producer_name = "", producer_version = ""} {
^bb0(%x: tensor<2xf32>):
  // expected-error @+1 {{has 2 outputs but 1 names}}
  qoda.output %x, %x : tensor<2xf32>, tensor<2xf32> {names = ["Y"]}
}

// -----

qoda.model @m attributes {input_names = ["X"], ir_version = 8 : i64, opsets = {}, producer_name = "", producer_version = ""} {
^bb0(%x: tensor<2xf32>):
  // expected-error @+1 {{has duplicate outputs name 'Y'}}
  qoda.output %x, %x : tensor<2xf32>, tensor<2xf32> {names = ["Y", "Y"]}
}

// -----

qoda.model @m attributes {input_names = [], ir_version = 8 : i64, opsets = {}, producer_name = "", producer_version = ""} {
  // expected-error @+1 {{is trainable but has non-floating-point type 'tensor<2xi64>'}}
  %p = qoda.param @P {consumers = [], reason = "", role = "bias", trainable = true} : tensor<2xi64>
  qoda.output {names = []}
}

// -----

qoda.model @m attributes {input_names = [], ir_version = 8 : i64, opsets = {}, producer_name = "", producer_version = ""} {
  // expected-error @+1 {{must have a static shape}}
  %p = qoda.param @P {consumers = [], reason = "", role = "bias", trainable = true} : tensor<?xf32>
  qoda.output {names = []}
}

// -----

qoda.model @m attributes {input_names = [], ir_version = 8 : i64, opsets = {}, producer_name = "", producer_version = ""} {
  // expected-error @+1 {{value type 'tensor<3xf32>' does not match result type 'tensor<2xf32>'}}
  %p = qoda.param @P {consumers = [], reason = "", role = "bias", trainable = true, value = dense<1.0> : tensor<3xf32>} : tensor<2xf32>
  qoda.output {names = []}
}

// -----

qoda.model @m attributes {input_names = [], ir_version = 8 : i64, opsets = {}, producer_name = "", producer_version = ""} {
  // expected-error @+1 {{data_file, data_offset and data_length go together}}
  %p = qoda.param @P {consumers = [], reason = "", role = "bias", trainable = true, data_file = "w.bin"} : tensor<2xf32>
  qoda.output {names = []}
}

// -----

qoda.model @m attributes {input_names = [], ir_version = 8 : i64, opsets = {}, producer_name = "", producer_version = ""} {
  // expected-error @+1 {{has both inline value and data_file}}
  %p = qoda.param @P {consumers = [], reason = "", role = "bias", trainable = true, data_file = "w.bin", data_offset = 0, data_length = 8, value = dense<1.0> : tensor<2xf32>} : tensor<2xf32>
  qoda.output {names = []}
}

// -----

qoda.model @m attributes {input_names = [], ir_version = 8 : i64, opsets = {}, producer_name = "", producer_version = ""} {
  // expected-error @+1 {{has negative data_offset or data_length}}
  %p = qoda.param @P {consumers = [], reason = "", role = "bias", trainable = true, data_file = "w.bin", data_offset = -4, data_length = 8} : tensor<2xf32>
  qoda.output {names = []}
}

// -----

qoda.model @m attributes {input_names = [], ir_version = 8 : i64, opsets = {}, producer_name = "", producer_version = ""} {
  // expected-error @+1 {{has an empty op_type}}
  "qoda.node"() {attrs = {}, domain = "", graph_names = [], name = "n", op_type = ""} : () -> ()
  qoda.output {names = []}
}

// -----

qoda.model @m attributes {input_names = [], ir_version = 8 : i64, opsets = {}, producer_name = "", producer_version = ""} {
  // expected-error @+1 {{has 1 graphs but 0 graph names}}
  "qoda.node"() ({
    qoda.yield {names = []}
  }) {attrs = {}, domain = "", graph_names = [], name = "n", op_type = "Loop"} : () -> ()
  qoda.output {names = []}
}

// -----

qoda.model @m attributes {input_names = [], ir_version = 8 : i64, opsets = {}, producer_name = "", producer_version = ""} {
  // expected-error @+1 {{subgraph must end with qoda.yield}}
  "qoda.node"() ({
    %n = qoda.none
  }) {attrs = {}, domain = "", graph_names = ["body"], name = "n", op_type = "Loop"} : () -> ()
  qoda.output {names = []}
}

// -----

qoda.model @m attributes {input_names = [], ir_version = 8 : i64, opsets = {}, producer_name = "", producer_version = ""} {
  "qoda.node"() ({
    %n = qoda.none
    // expected-error @+1 {{has duplicate outputs name 'a'}}
    qoda.yield %n, %n : none, none {names = ["a", "a"]}
  }) {attrs = {}, domain = "", graph_names = ["body"], name = "n", op_type = "Loop"} : () -> ()
  qoda.output {names = []}
}

// -----

// expected-error @+1 {{'qoda.param' op expects parent op 'qoda.model'}}
%p = qoda.param @P {consumers = [], reason = "", role = "bias", trainable = true} : tensor<2xf32>
