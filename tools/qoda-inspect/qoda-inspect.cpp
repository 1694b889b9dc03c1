//===- qoda-inspect.cpp - a first look at a model -------------------------===//
//
// qoda-inspect MODEL [--json]: model info, a table of parameters (name,
// shape, element count, trainable, role, consumers) and totals. MODEL is
// ONNX (binary or textual) or qoda-dialect MLIR.
//
//===----------------------------------------------------------------------===//
#include "dialects/qoda/QodaDialect.h"
#include "qoda/Import/ONNXImporter.h"
#include "qoda/InitAllDialects.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

static llvm::cl::OptionCategory inspectCat("qoda-inspect options");
static llvm::cl::opt<std::string> inputFile(llvm::cl::Positional,
                                            llvm::cl::desc("<model>"),
                                            llvm::cl::Required,
                                            llvm::cl::cat(inspectCat));
static llvm::cl::opt<bool> jsonOutput("json",
                                      llvm::cl::desc("print JSON, not a table"),
                                      llvm::cl::cat(inspectCat));

namespace {

struct ParamRow {
  std::string name, dtype, role, reason;
  std::vector<int64_t> shape;
  int64_t numel = 1;
  bool trainable = false;
  std::vector<std::string> consumers;
};

std::string typeStr(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return os.str();
}

std::string shapeStr(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "x" : "") + std::to_string(shape[i]);
  return s + "]";
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::cl::HideUnrelatedOptions(inspectCat);
  llvm::cl::ParseCommandLineOptions(
      argc, argv, "qoda-inspect: parameters and trainability of a model\n");

  DialectRegistry registry;
  qoda::registerAllDialects(registry);
  MLIRContext context(registry);
  ScopedDiagnosticHandler diagnostics(&context, qoda::printImportDiagnostic);
  context.allowUnregisteredDialects();
  OwningOpRef<ModuleOp> module;
  if (qoda::isONNXFile(inputFile)) {
    module = qoda::importONNXFile(inputFile, &context);
  } else {
    module = parseSourceFile<ModuleOp>(inputFile, &context);
  }
  if (!module)
    return 1;

  qoda::ModelOp model;
  module->walk([&](qoda::ModelOp m) {
    if (!model)
      model = m;
  });
  if (!model) {
    llvm::errs() << inputFile << ": error: no qoda.model in the input\n";
    return 1;
  }

  std::vector<ParamRow> rows;
  int64_t trainCount = 0, trainElems = 0, otherCount = 0, otherElems = 0;
  for (auto p : model.getBody().front().getOps<qoda::ParamOp>()) {
    ParamRow r;
    auto type = p.getResult().getType().cast<RankedTensorType>();
    r.name = p.getSymName().str();
    r.dtype = typeStr(type.getElementType());
    r.shape.assign(type.getShape().begin(), type.getShape().end());
    r.numel = type.getNumElements();
    r.trainable = p.getTrainable();
    r.role = p.getRole().str();
    r.reason = p.getReason().str();
    for (Attribute c : p.getConsumers())
      r.consumers.push_back(c.cast<StringAttr>().str());
    (r.trainable ? trainCount : otherCount) += 1;
    (r.trainable ? trainElems : otherElems) += r.numel;
    rows.push_back(std::move(r));
  }

  if (jsonOutput) {
    llvm::json::Object info;
    info["name"] = model.getSymName().str();
    info["producer"] = model.getProducerName().str();
    info["producer_version"] = model.getProducerVersion().str();
    info["ir_version"] = model.getIrVersion();
    llvm::json::Object opsets;
    for (NamedAttribute o : model.getOpsets())
      opsets[o.getName().str()] = o.getValue().cast<IntegerAttr>().getInt();
    info["opsets"] = std::move(opsets);
    llvm::json::Array inputs;
    for (Attribute n : model.getInputNames())
      inputs.push_back(n.cast<StringAttr>().str());
    info["inputs"] = std::move(inputs);
    llvm::json::Array outputs;
    auto out = cast<qoda::OutputOp>(model.getBody().front().getTerminator());
    for (Attribute n : out.getNames())
      outputs.push_back(n.cast<StringAttr>().str());
    info["outputs"] = std::move(outputs);
    int64_t nodes = 0;
    model.walk([&](qoda::NodeOp) { ++nodes; });
    info["nodes"] = nodes;
    if (auto src = model.getSource())
      info["source"] = src->str();

    llvm::json::Array params;
    for (const ParamRow &r : rows) {
      llvm::json::Array shape, consumers;
      for (int64_t d : r.shape)
        shape.push_back(d);
      for (const std::string &c : r.consumers)
        consumers.push_back(c);
      params.push_back(llvm::json::Object{{"name", r.name},
                                          {"shape", std::move(shape)},
                                          {"dtype", r.dtype},
                                          {"numel", r.numel},
                                          {"trainable", r.trainable},
                                          {"role", r.role},
                                          {"reason", r.reason},
                                          {"consumers", std::move(consumers)}});
    }
    llvm::json::Object totals{{"params", (int64_t)rows.size()},
                              {"trainable", trainCount},
                              {"trainable_elements", trainElems},
                              {"non_trainable", otherCount},
                              {"non_trainable_elements", otherElems}};
    llvm::json::Object root{{"model", std::move(info)},
                            {"params", std::move(params)},
                            {"totals", std::move(totals)}};
    llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(root)))
                 << "\n";
    return 0;
  }

  llvm::outs() << "model:    " << model.getSymName() << "\n"
               << "producer: " << model.getProducerName() << " "
               << model.getProducerVersion() << "\n"
               << "ir:       " << model.getIrVersion() << "\nopsets:  ";
  for (NamedAttribute o : model.getOpsets())
    llvm::outs() << " " << o.getName().getValue() << "="
                 << o.getValue().cast<IntegerAttr>().getInt();
  llvm::outs() << "\n\n";
  size_t w = 4;
  for (const ParamRow &r : rows)
    w = std::max(w, std::min<size_t>(r.name.size(), 48));
  std::string fmt =
      "{0,-" + std::to_string(w) + "}  {1,-18} {2,10}  {3,-5} {4,-16} {5}\n";
  llvm::outs() << llvm::formatv(fmt.c_str(), "name", "shape", "numel", "train",
                                "role", "consumers");
  for (const ParamRow &r : rows) {
    std::string cons;
    for (size_t i = 0; i < r.consumers.size(); ++i)
      cons += (i ? ", " : "") + r.consumers[i];
    llvm::outs() << llvm::formatv(fmt.c_str(), r.name,
                                  r.dtype + shapeStr(r.shape), r.numel,
                                  r.trainable ? "yes" : "no", r.role, cons);
  }
  llvm::outs() << "\ntrainable:     " << trainCount << " tensors, "
               << trainElems << " elements\n"
               << "non-trainable: " << otherCount << " tensors, " << otherElems
               << " elements\n";
  return 0;
}
