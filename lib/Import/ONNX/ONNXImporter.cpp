//===- ONNXImporter.cpp - ONNX model -> qoda dialect ----------------------===//
//
// The only code in qoda built with exceptions: ONNX's parser and shape
// inference throw, so every entry point catches everything and turns it into
// an MLIR diagnostic naming the file.
//
//===----------------------------------------------------------------------===//
#include "qoda/Import/ONNXImporter.h"

#include "dialects/qoda/QodaDialect.h"
#include "qoda/Import/ParamClassifier.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "onnx/defs/parser.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

#include <map>
#include <set>
#include <stdexcept>
#include <fcntl.h>
#include <unistd.h>

using namespace mlir;
using namespace qoda;

namespace {

/// Tensors up to this many bytes are stored inline as dense attributes;
/// larger ones are referenced, never copied.
constexpr int64_t kInlineLimit = 1024;
/// A dimension above this is refused as absurd (2^40 elements).
constexpr int64_t kMaxDim = int64_t(1) << 40;

/// An import failure; the message is reported with the file name.
struct ImportError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string &msg) { throw ImportError(msg); }

bool isTextualONNX(StringRef text) {
  // Skip whitespace and '#' comment lines; textual ONNX starts with '<'.
  while (!text.empty()) {
    text = text.ltrim();
    if (text.startswith("#")) {
      text = text.drop_until([](char c) { return c == '\n'; });
      continue;
    }
    break;
  }
  return text.startswith("<");
}

bool isBinaryONNX(StringRef data) {
  if (data.empty())
    return false;
  // ModelProto field tags: ir_version(1), producer_name(2) ..., graph(7),
  // opset_import(8). Exporters write ir_version first.
  unsigned char c = data[0];
  if (c == 0x08)
    return true;
  static const unsigned char tags[] = {0x12, 0x1a, 0x22, 0x28,
                                       0x32, 0x3a, 0x42, 0x72};
  if (std::find(std::begin(tags), std::end(tags), c) == std::end(tags))
    return false;
  // Other first tags only count when the header is not plain text.
  for (char b : data.take_front(64))
    if ((unsigned char)b < 0x09 || (unsigned char)b == 0x7f)
      return true;
  return false;
}

/// The int64 values of a small shape tensor, or false when it is not one.
bool readInt64s(const onnx::TensorProto &t, std::vector<int64_t> &out) {
  if (t.data_type() != onnx::TensorProto::INT64 ||
      t.data_location() == onnx::TensorProto::EXTERNAL || t.dims_size() > 1)
    return false;
  out.clear();
  if (t.has_raw_data()) {
    const std::string &raw = t.raw_data();
    if (raw.size() % 8)
      return false;
    for (size_t i = 0; i < raw.size(); i += 8) {
      int64_t v;
      memcpy(&v, raw.data() + i, 8);
      out.push_back(v);
    }
    return true;
  }
  out.assign(t.int64_data().begin(), t.int64_data().end());
  return true;
}

/// (file offset, length) of the large raw_data of each main-graph
/// initializer of a binary model: params reference these bytes instead of
/// copying them.
using RawRefs = std::map<std::string, std::pair<int64_t, int64_t>>;

namespace wire {
namespace io = google::protobuf::io;
using WFL = google::protobuf::internal::WireFormatLite;

bool isLen(uint32_t tag, int field) {
  return WFL::GetTagFieldNumber(tag) == field &&
         WFL::GetTagWireType(tag) == WFL::WIRETYPE_LENGTH_DELIMITED;
}

/// The encoding of a length-delimited field: tag, length, body.
std::string lengthDelimited(uint32_t tag, const std::string &body) {
  std::string s;
  {
    io::StringOutputStream ss(&s);
    io::CodedOutputStream os(&ss);
    os.WriteTag(tag);
    os.WriteVarint32((uint32_t)body.size());
  }
  return s + body;
}

/// Reads the field whose tag was just read and appends its encoding, tag
/// included, to `out`.
bool copyField(io::CodedInputStream &in, uint32_t tag, std::string &out) {
  if (WFL::GetTagWireType(tag) == WFL::WIRETYPE_LENGTH_DELIMITED) {
    std::string body;
    if (!WFL::ReadString(&in, &body))
      return false;
    out += lengthDelimited(tag, body);
    return true;
  }
  std::string s;
  {
    io::StringOutputStream ss(&s);
    io::CodedOutputStream os(&ss);
    os.WriteTag(tag);
    switch (WFL::GetTagWireType(tag)) {
    case WFL::WIRETYPE_VARINT: {
      uint64_t v;
      if (!in.ReadVarint64(&v))
        return false;
      os.WriteVarint64(v);
      break;
    }
    case WFL::WIRETYPE_FIXED32: {
      uint32_t v;
      if (!in.ReadLittleEndian32(&v))
        return false;
      os.WriteLittleEndian32(v);
      break;
    }
    case WFL::WIRETYPE_FIXED64: {
      uint64_t v;
      if (!in.ReadLittleEndian64(&v))
        return false;
      os.WriteLittleEndian64(v);
      break;
    }
    default: // groups: ONNX never uses them
      return false;
    }
  }
  out += s;
  return true;
}
} // namespace wire

/// Streams the protobuf wire format of the binary ModelProto in `fd` and
/// writes to `out` a copy without the raw_data payloads (> kInlineLimit
/// bytes) of the main graph's initializers, recording where they lie in
/// `refs`. Skipped payloads are passed over with lseek, never read or
/// mapped, so peak memory is the model's structure plus its small tensors,
/// not its weights. Returns false on anything unexpected; the caller then
/// parses the whole file, which reports the problem.
bool stripLargeRawData(int fd, int64_t fileSize, RawRefs &refs,
                       std::string &out) {
  using namespace wire;
  io::FileInputStream file(fd, /*block_size=*/1 << 16);
  io::CodedInputStream in(&file);
  in.SetTotalBytesLimit(INT_MAX);
  uint32_t len;
  while (true) {
    uint32_t tag = in.ReadTag();
    if (!tag)
      break;
    if (!isLen(tag, 7)) { // not ModelProto.graph: copy as is
      if (!copyField(in, tag, out))
        return false;
      continue;
    }
    if (!in.ReadVarint32(&len))
      return false;
    auto graphLimit = in.PushLimit((int)len);
    std::string graph;
    while (true) {
      uint32_t gtag = in.ReadTag();
      if (!gtag)
        break;
      if (!isLen(gtag, 5)) { // not GraphProto.initializer
        if (!copyField(in, gtag, graph))
          return false;
        continue;
      }
      if (!in.ReadVarint32(&len))
        return false;
      auto tensorLimit = in.PushLimit((int)len);
      std::string tensor, name;
      int64_t offset = -1, length = 0;
      while (true) {
        uint32_t ttag = in.ReadTag();
        if (!ttag)
          break;
        if (isLen(ttag, 9)) { // TensorProto.raw_data
          if (!in.ReadVarint32(&len))
            return false;
          offset = in.CurrentPosition();
          length = len;
          if (length > kInlineLimit) {
            if (!in.Skip((int)len))
              return false;
            continue;
          }
          std::string body;
          if (!in.ReadString(&body, (int)len))
            return false;
          tensor += lengthDelimited(ttag, body);
          continue;
        }
        if (isLen(ttag, 8)) { // TensorProto.name
          if (!WFL::ReadString(&in, &name))
            return false;
          tensor += lengthDelimited(ttag, name);
          continue;
        }
        if (!copyField(in, ttag, tensor))
          return false;
      }
      if (in.BytesUntilLimit() != 0)
        return false;
      in.PopLimit(tensorLimit);
      if (offset >= 0 && length > kInlineLimit)
        refs[name] = {offset, length};
      graph += lengthDelimited(gtag, tensor);
    }
    if (in.BytesUntilLimit() != 0)
      return false;
    in.PopLimit(graphLimit);
    out += lengthDelimited(tag, graph);
  }
  return file.GetErrno() == 0 && in.CurrentPosition() == fileSize;
}

/// False for a tensor without payload (a stripped "light" weight).
bool hasData(const onnx::TensorProto &t) {
  return t.has_raw_data() || t.float_data_size() || t.int32_data_size() ||
         t.int64_data_size() || t.double_data_size() || t.uint64_data_size() ||
         t.string_data_size();
}

/// A weight whose data an ONNX "light" model replaced by
/// ConstantOfShape(shape): it becomes a parameter without data.
struct StrippedWeight {
  const onnx::NodeProto *node;
  onnx::TensorProto tensor; ///< name, dtype and dims only
};

class Importer {
public:
  Importer(MLIRContext *ctx, StringRef path)
      : ctx(ctx), b(ctx), path(path.str()),
        dir(llvm::sys::path::parent_path(path).str()) {}

  OwningOpRef<ModuleOp> run(const onnx::ModelProto &model);

private:
  Type elemType(int32_t t);
  Type tensorType(const onnx::TypeProto &t, const std::string &what);
  Type valueType(const std::string &name);
  std::vector<int64_t> checkedDims(const onnx::TensorProto &t);
  NamedAttribute convertAttr(const onnx::AttributeProto &a,
                             const std::string &node);
  Attribute tensorValue(const onnx::TensorProto &t);
  void importGraph(const onnx::GraphProto &g, Block *block, bool top);
  std::vector<const onnx::NodeProto *>
  topoSort(const onnx::GraphProto &g, const std::set<std::string> &defined);
  void addParam(const onnx::TensorProto &t, const ParamClass &cls);
  std::vector<StrippedWeight> findStrippedWeights(const onnx::GraphProto &g);
  std::set<const onnx::NodeProto *> skipNodes;

public:
  /// Where large raw_data payloads of a binary model lie in the file.
  RawRefs rawRefs;

private:
  Location loc(const std::string &what) {
    return FileLineColLoc::get(ctx, path, 0, 0);
  }

  MLIRContext *ctx;
  OpBuilder b;
  std::string path, dir;
  std::map<std::string, onnx::TypeProto> typeInfo;
  /// Values visible in the graph being imported (scoped for subgraphs).
  std::vector<std::map<std::string, Value>> scopes;
  Value lookup(const std::string &n) {
    for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
      auto f = it->find(n);
      if (f != it->end())
        return f->second;
    }
    return {};
  }
};

Type Importer::elemType(int32_t t) {
  using TP = onnx::TensorProto;
  switch (t) {
  case TP::FLOAT:
    return b.getF32Type();
  case TP::DOUBLE:
    return b.getF64Type();
  case TP::FLOAT16:
    return b.getF16Type();
  case TP::BFLOAT16:
    return b.getBF16Type();
  case TP::BOOL:
    return b.getI1Type();
  case TP::INT8:
    return b.getIntegerType(8);
  case TP::INT16:
    return b.getIntegerType(16);
  case TP::INT32:
    return b.getI32Type();
  case TP::INT64:
    return b.getI64Type();
  case TP::UINT8:
    return b.getIntegerType(8, false);
  case TP::UINT16:
    return b.getIntegerType(16, false);
  case TP::UINT32:
    return b.getIntegerType(32, false);
  case TP::UINT64:
    return b.getIntegerType(64, false);
  case TP::COMPLEX64:
    return ComplexType::get(b.getF32Type());
  case TP::COMPLEX128:
    return ComplexType::get(b.getF64Type());
  case TP::STRING:
    return OpaqueType::get(StringAttr::get(ctx, "onnx"), "string");
  default:
    return {};
  }
}

Type Importer::tensorType(const onnx::TypeProto &t, const std::string &what) {
  if (!t.has_tensor_type())
    return OpaqueType::get(StringAttr::get(ctx, "onnx"), "value");
  const auto &tt = t.tensor_type();
  Type elem = elemType(tt.elem_type());
  if (!elem)
    return OpaqueType::get(StringAttr::get(ctx, "onnx"), "value");
  if (!tt.has_shape())
    return UnrankedTensorType::get(elem);
  SmallVector<int64_t> dims;
  for (const auto &d : tt.shape().dim()) {
    if (d.has_dim_value()) {
      if (d.dim_value() < 0)
        fail("value '" + what + "' has negative dimension " +
             std::to_string(d.dim_value()));
      if (d.dim_value() > kMaxDim)
        fail("value '" + what + "' has absurd dimension " +
             std::to_string(d.dim_value()));
      dims.push_back(d.dim_value());
    } else {
      dims.push_back(ShapedType::kDynamic);
    }
  }
  return RankedTensorType::get(dims, elem);
}

Type Importer::valueType(const std::string &name) {
  auto it = typeInfo.find(name);
  if (it == typeInfo.end())
    return OpaqueType::get(StringAttr::get(ctx, "onnx"), "unknown");
  return tensorType(it->second, name);
}

std::vector<int64_t> Importer::checkedDims(const onnx::TensorProto &t) {
  std::vector<int64_t> dims;
  for (int64_t d : t.dims()) {
    if (d < 0)
      fail("tensor '" + t.name() + "' has negative dimension " +
           std::to_string(d));
    if (d > kMaxDim)
      fail("tensor '" + t.name() + "' has absurd dimension " +
           std::to_string(d));
    dims.push_back(d);
  }
  return dims;
}

/// The inline value of a small tensor, or null when it is large, external
/// or of a type we keep only by reference.
Attribute Importer::tensorValue(const onnx::TensorProto &t) {
  std::vector<int64_t> dims = checkedDims(t);
  Type elem = elemType(t.data_type());
  if (!elem || elem.isa<OpaqueType>() || elem.isa<ComplexType>())
    return {};
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    return {};
  auto type = RankedTensorType::get(dims, elem);
  int64_t n = type.getNumElements();
  unsigned bits = elem.getIntOrFloatBitWidth();
  if (n * std::max(bits, 8u) / 8 > kInlineLimit)
    return {};
  if (t.has_raw_data()) {
    const std::string &raw = t.raw_data();
    int64_t want = bits == 1 ? n : n * bits / 8;
    if ((int64_t)raw.size() != want)
      fail("tensor '" + t.name() + "' has " + std::to_string(raw.size()) +
           " bytes of data, expected " + std::to_string(want));
    if (bits == 1) {
      std::vector<bool> v;
      for (char c : raw)
        v.push_back(c != 0);
      SmallVector<bool> sv(v.begin(), v.end());
      return DenseElementsAttr::get(type, ArrayRef<bool>(sv));
    }
    bool splat = false;
    if (!DenseElementsAttr::isValidRawBuffer(
            type, ArrayRef<char>(raw.data(), raw.size()), splat))
      fail("tensor '" + t.name() + "' has malformed raw data");
    return DenseElementsAttr::getFromRawBuffer(
        type, ArrayRef<char>(raw.data(), raw.size()));
  }
  auto check = [&](int64_t have) {
    if (have != n)
      fail("tensor '" + t.name() + "' has " + std::to_string(have) +
           " elements, expected " + std::to_string(n));
  };
  using TP = onnx::TensorProto;
  switch (t.data_type()) {
  case TP::FLOAT:
    check(t.float_data_size());
    return DenseElementsAttr::get(
        type, ArrayRef<float>(t.float_data().data(), t.float_data_size()));
  case TP::DOUBLE:
    check(t.double_data_size());
    return DenseElementsAttr::get(
        type, ArrayRef<double>(t.double_data().data(), t.double_data_size()));
  case TP::INT64:
    check(t.int64_data_size());
    return DenseElementsAttr::get(
        type, ArrayRef<int64_t>(t.int64_data().data(), t.int64_data_size()));
  case TP::UINT32:
  case TP::UINT64: {
    check(t.uint64_data_size());
    SmallVector<APInt> v;
    for (uint64_t x : t.uint64_data())
      v.push_back(APInt(bits, x));
    return DenseElementsAttr::get(type, v);
  }
  case TP::FLOAT16:
  case TP::BFLOAT16: {
    check(t.int32_data_size());
    SmallVector<APInt> v;
    for (int32_t x : t.int32_data())
      v.push_back(APInt(16, (uint64_t)(uint16_t)x));
    return DenseElementsAttr::get(type, v).bitcast(elem);
  }
  default: {
    check(t.int32_data_size());
    if (bits == 1) {
      SmallVector<bool> v;
      for (int32_t x : t.int32_data())
        v.push_back(x != 0);
      return DenseElementsAttr::get(type, ArrayRef<bool>(v));
    }
    SmallVector<APInt> v;
    for (int32_t x : t.int32_data())
      v.push_back(APInt(bits, (uint64_t)(int64_t)x, true));
    return DenseElementsAttr::get(type, v);
  }
  }
}

NamedAttribute Importer::convertAttr(const onnx::AttributeProto &a,
                                     const std::string &node) {
  using AP = onnx::AttributeProto;
  Attribute v;
  switch (a.type()) {
  case AP::FLOAT:
    v = b.getF32FloatAttr(a.f());
    break;
  case AP::INT:
    v = b.getI64IntegerAttr(a.i());
    break;
  case AP::STRING:
    v = b.getStringAttr(a.s());
    break;
  case AP::FLOATS: {
    SmallVector<Attribute> xs;
    for (float f : a.floats())
      xs.push_back(b.getF32FloatAttr(f));
    v = b.getArrayAttr(xs);
    break;
  }
  case AP::INTS: {
    SmallVector<Attribute> xs;
    for (int64_t i : a.ints())
      xs.push_back(b.getI64IntegerAttr(i));
    v = b.getArrayAttr(xs);
    break;
  }
  case AP::STRINGS: {
    SmallVector<Attribute> xs;
    for (const std::string &s : a.strings())
      xs.push_back(b.getStringAttr(s));
    v = b.getArrayAttr(xs);
    break;
  }
  case AP::TENSOR: {
    v = tensorValue(a.t());
    if (!v) {
      // Large constant: keep its type and size, not its bytes.
      std::vector<int64_t> dims = checkedDims(a.t());
      Type elem = elemType(a.t().data_type());
      NamedAttrList ref;
      ref.append("shape", b.getDenseI64ArrayAttr(dims));
      if (elem)
        ref.append("dtype", TypeAttr::get(elem));
      v = b.getDictionaryAttr(ref);
    }
    break;
  }
  case AP::GRAPH:
  case AP::GRAPHS:
    v = b.getStringAttr("<graph: region>");
    break;
  default:
    v = b.getStringAttr("<unsupported attribute type " +
                        std::to_string((int)a.type()) + ">");
  }
  if (a.name().empty())
    fail("node '" + node + "' has an attribute without a name");
  return b.getNamedAttr(a.name(), v);
}

std::vector<const onnx::NodeProto *>
Importer::topoSort(const onnx::GraphProto &g,
                   const std::set<std::string> &defined) {
  // Kahn's algorithm over value names; stable (keeps file order when the
  // file is already sorted).
  std::map<std::string, int> producer;
  for (int i = 0; i < g.node_size(); ++i)
    for (const std::string &o : g.node(i).output()) {
      if (o.empty())
        continue;
      if (!producer.emplace(o, i).second || defined.count(o))
        fail("value '" + o + "' is defined more than once (node '" +
             g.node(i).name() + "', " + g.node(i).op_type() + ")");
    }
  auto nodeName = [&](int i) {
    const auto &n = g.node(i);
    return (n.name().empty() ? std::string("#") + std::to_string(i)
                             : n.name()) +
           " (" + n.op_type() + ")";
  };
  // Inputs a node needs from this graph, including those used by its
  // subgraphs (outer-scope references).
  std::function<void(const onnx::GraphProto &, std::set<std::string> &,
                     std::set<std::string> &)>
      subgraphUses = [&](const onnx::GraphProto &sg, std::set<std::string> &out,
                         std::set<std::string> &local) {
        for (const auto &i : sg.input())
          local.insert(i.name());
        for (const auto &i : sg.initializer())
          local.insert(i.name());
        for (const auto &n : sg.node()) {
          for (const auto &in : n.input())
            if (!in.empty() && !local.count(in))
              out.insert(in);
          for (const auto &o : n.output())
            local.insert(o);
          for (const auto &a : n.attribute()) {
            if (a.has_g())
              subgraphUses(a.g(), out, local);
            for (const auto &sub : a.graphs())
              subgraphUses(sub, out, local);
          }
        }
        for (const auto &o : sg.output())
          if (!local.count(o.name()))
            out.insert(o.name());
      };
  int n = g.node_size();
  std::vector<std::vector<int>> users(n);
  std::vector<int> pending(n, 0);
  for (int i = 0; i < n; ++i) {
    std::set<std::string> needs;
    for (const auto &in : g.node(i).input())
      if (!in.empty())
        needs.insert(in);
    for (const auto &a : g.node(i).attribute()) {
      std::set<std::string> local;
      if (a.has_g())
        subgraphUses(a.g(), needs, local);
      for (const auto &sub : a.graphs()) {
        std::set<std::string> l2;
        subgraphUses(sub, needs, l2);
      }
    }
    for (const std::string &in : needs) {
      auto p = producer.find(in);
      if (p != producer.end()) {
        if (p->second == i)
          fail("node " + nodeName(i) + " uses its own output '" + in +
               "' (cycle)");
        users[p->second].push_back(i);
        ++pending[i];
      } else if (!defined.count(in) && !lookup(in)) {
        fail("node " + nodeName(i) + " uses undefined value '" + in + "'");
      }
    }
  }
  std::vector<const onnx::NodeProto *> order;
  std::vector<int> ready;
  for (int i = n - 1; i >= 0; --i)
    if (!pending[i])
      ready.push_back(i);
  while (!ready.empty()) {
    int i = ready.back();
    ready.pop_back();
    order.push_back(&g.node(i));
    std::vector<int> next;
    for (int u : users[i])
      if (--pending[u] == 0)
        next.push_back(u);
    std::sort(next.rbegin(), next.rend());
    ready.insert(ready.end(), next.begin(), next.end());
  }
  if ((int)order.size() != n) {
    for (int i = 0; i < n; ++i)
      if (pending[i])
        fail("graph '" + g.name() + "' has a cycle through node " +
             nodeName(i));
  }
  return order;
}

void Importer::addParam(const onnx::TensorProto &t, const ParamClass &cls) {
  std::vector<int64_t> dims = checkedDims(t);
  Type elem = elemType(t.data_type());
  if (!elem)
    fail("initializer '" + t.name() + "' has unsupported element type " +
         std::to_string(t.data_type()));
  auto type = RankedTensorType::get(dims, elem);
  SmallVector<Attribute> consumers;
  for (const std::string &c : cls.consumers)
    consumers.push_back(b.getStringAttr(c));
  NamedAttrList attrs;
  attrs.append("sym_name", b.getStringAttr(t.name()));
  attrs.append("trainable", b.getBoolAttr(cls.trainable));
  attrs.append("role", b.getStringAttr(cls.role));
  attrs.append("reason", b.getStringAttr(cls.reason));
  attrs.append("consumers", b.getArrayAttr(consumers));
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto &kv : t.external_data()) {
      if (kv.key() == "location")
        location = kv.value();
      else if (kv.key() == "offset")
        offset = std::stoll(kv.value());
      else if (kv.key() == "length")
        length = std::stoll(kv.value());
    }
    if (location.empty())
      fail("tensor '" + t.name() + "' has external data without a location");
    SmallString<256> file(dir);
    llvm::sys::path::append(file, location);
    uint64_t size = 0;
    if (llvm::sys::fs::file_size(file, size))
      fail("external data file '" + std::string(file) + "' of tensor '" +
           t.name() + "' is missing");
    int64_t want =
        type.getNumElements() *
        std::max(elem.isIntOrFloat() ? elem.getIntOrFloatBitWidth() : 8u, 8u) /
        8;
    if (length < 0)
      length = want;
    if (offset < 0 || (uint64_t)(offset + length) > size)
      fail("external data of tensor '" + t.name() + "' (offset " +
           std::to_string(offset) + ", length " + std::to_string(length) +
           ") lies beyond the end of '" + std::string(file) + "' (" +
           std::to_string(size) + " bytes)");
    attrs.append("data_file", b.getStringAttr(file));
    attrs.append("data_offset", b.getI64IntegerAttr(offset));
    attrs.append("data_length", b.getI64IntegerAttr(length));
  } else if (auto it = rawRefs.find(t.name()); it != rawRefs.end()) {
    int64_t want =
        type.getNumElements() *
        std::max(elem.isIntOrFloat() ? elem.getIntOrFloatBitWidth() : 8u, 8u) /
        8;
    if (elem.isIntOrFloat() && it->second.second != want)
      fail("tensor '" + t.name() + "' has " +
           std::to_string(it->second.second) + " bytes of data, expected " +
           std::to_string(want));
    attrs.append("data_file", b.getStringAttr(path));
    attrs.append("data_offset", b.getI64IntegerAttr(it->second.first));
    attrs.append("data_length", b.getI64IntegerAttr(it->second.second));
  } else if (hasData(t)) {
    if (Attribute v = tensorValue(t))
      attrs.append("value", v);
  }
  auto op = b.create<ParamOp>(loc(t.name()), TypeRange{type}, ValueRange{},
                              attrs.getAttrs());
  scopes.back()[t.name()] = op.getResult();
}

void Importer::importGraph(const onnx::GraphProto &g, Block *block, bool top) {
  std::set<std::string> defined;
  for (const auto &t : g.initializer())
    defined.insert(t.name());
  for (const auto &i : g.input()) {
    if (defined.count(i.name()))
      continue; // IR < 4: an initializer listed as input is a parameter
    Type t = tensorType(i.type(), i.name());
    scopes.back()[i.name()] = block->addArgument(t, loc(i.name()));
    defined.insert(i.name());
  }
  for (const auto &i : g.sparse_initializer())
    fail("sparse initializer '" + i.values().name() + "' is not supported");
  b.setInsertionPointToEnd(block);

  if (!top) // subgraph initializers: plain constants, classified at top
    for (const auto &t : g.initializer())
      addParam(
          t, ParamClass{
                 false, "subgraph_constant", "initializer of a subgraph", {}});
  std::vector<const onnx::NodeProto *> order = topoSort(g, defined);

  for (const onnx::NodeProto *n : order) {
    if (skipNodes.count(n))
      continue;
    SmallVector<Value> operands;
    for (const std::string &in : n->input()) {
      if (in.empty()) {
        operands.push_back(b.create<NoneOp>(loc(in), b.getNoneType()));
        continue;
      }
      Value v = lookup(in);
      if (!v)
        fail("node '" + n->name() + "' (" + n->op_type() +
             ") uses undefined value '" + in + "'");
      operands.push_back(v);
    }
    SmallVector<Type> results;
    for (const std::string &o : n->output())
      results.push_back(o.empty() ? Type(b.getNoneType()) : valueType(o));
    NamedAttrList attrs;
    SmallVector<const onnx::GraphProto *> graphs;
    SmallVector<Attribute> graphNames;
    for (const auto &a : n->attribute()) {
      if (a.type() == onnx::AttributeProto::GRAPH) {
        graphs.push_back(&a.g());
        graphNames.push_back(b.getStringAttr(a.name()));
        continue;
      }
      if (a.type() == onnx::AttributeProto::GRAPHS) {
        for (const auto &sub : a.graphs()) {
          graphs.push_back(&sub);
          graphNames.push_back(b.getStringAttr(a.name()));
        }
        continue;
      }
      attrs.push_back(convertAttr(a, n->name()));
    }
    OperationState st(loc(n->name()), NodeOp::getOperationName());
    st.addOperands(operands);
    st.addTypes(results);
    st.addAttribute("op_type", b.getStringAttr(n->op_type()));
    st.addAttribute("domain", b.getStringAttr(n->domain()));
    st.addAttribute("name", b.getStringAttr(n->name()));
    st.addAttribute("attrs", b.getDictionaryAttr(attrs));
    st.addAttribute("graph_names", b.getArrayAttr(graphNames));
    for (size_t i = 0; i < graphs.size(); ++i)
      st.addRegion();
    Operation *op = b.create(st);
    for (size_t i = 0; i < graphs.size(); ++i) {
      Block *sub = new Block();
      op->getRegion(i).push_back(sub);
      OpBuilder::InsertionGuard guard(b);
      scopes.emplace_back();
      importGraph(*graphs[i], sub, /*top=*/false);
      scopes.pop_back();
    }
    for (int i = 0; i < n->output_size(); ++i)
      if (!n->output(i).empty())
        scopes.back()[n->output(i)] = op->getResult(i);
  }

  SmallVector<Value> outs;
  SmallVector<Attribute> names;
  std::set<std::string> seen;
  for (const auto &o : g.output()) {
    Value v = lookup(o.name());
    if (!v)
      fail("graph output '" + o.name() + "' is not defined");
    if (!seen.insert(o.name()).second)
      fail("graph output '" + o.name() + "' is listed twice");
    outs.push_back(v);
    names.push_back(b.getStringAttr(o.name()));
  }
  if (top)
    b.create<OutputOp>(loc("output"), outs, b.getArrayAttr(names));
  else
    b.create<YieldOp>(loc("yield"), outs, b.getArrayAttr(names));
}

std::vector<StrippedWeight>
Importer::findStrippedWeights(const onnx::GraphProto &g) {
  // Shape operands: initializers and Constant node values.
  std::map<std::string, const onnx::TensorProto *> consts;
  for (const auto &t : g.initializer())
    consts[t.name()] = &t;
  for (const auto &n : g.node())
    if (n.op_type() == "Constant" && n.domain().empty() && n.output_size() == 1)
      for (const auto &a : n.attribute())
        if (a.name() == "value" && a.has_t())
          consts[n.output(0)] = &a.t();
  std::vector<StrippedWeight> result;
  for (const auto &n : g.node()) {
    if (n.op_type() != "ConstantOfShape" || !n.domain().empty() ||
        n.input_size() != 1 || n.output_size() != 1)
      continue;
    auto it = consts.find(n.input(0));
    std::vector<int64_t> dims;
    if (it == consts.end() || !readInt64s(*it->second, dims) || dims.empty())
      continue; // a runtime shape: an ordinary node
    int32_t dtype = onnx::TensorProto::FLOAT; // ConstantOfShape's default
    for (const auto &a : n.attribute())
      if (a.name() == "value" && a.has_t())
        dtype = a.t().data_type();
    StrippedWeight w{&n, {}};
    w.tensor.set_name(n.output(0));
    w.tensor.set_data_type(dtype);
    for (int64_t d : dims)
      w.tensor.add_dims(d);
    checkedDims(w.tensor);
    result.push_back(std::move(w));
  }
  return result;
}

OwningOpRef<ModuleOp> Importer::run(const onnx::ModelProto &model) {
  const onnx::GraphProto &g = model.graph();
  // Types: declared inputs/outputs/value_info (after shape inference).
  std::function<void(const onnx::GraphProto &)> collect =
      [&](const onnx::GraphProto &sg) {
        for (const auto &v : sg.input())
          typeInfo[v.name()] = v.type();
        for (const auto &v : sg.output())
          typeInfo[v.name()] = v.type();
        for (const auto &v : sg.value_info())
          typeInfo[v.name()] = v.type();
        for (const auto &n : sg.node())
          for (const auto &a : n.attribute()) {
            if (a.has_g())
              collect(a.g());
            for (const auto &s : a.graphs())
              collect(s);
          }
      };
  collect(g);

  // Classification candidates: every main-graph initializer.
  std::vector<ParamCandidate> cands;
  for (const auto &t : g.initializer())
    cands.push_back({t.name(), t.data_type(),
                     std::vector<int64_t>(t.dims().begin(), t.dims().end())});
  // Weights stripped to ConstantOfShape (ONNX "light" models) are
  // parameters too; their ConstantOfShape node is replaced by the param.
  std::vector<StrippedWeight> stripped = findStrippedWeights(g);
  for (const StrippedWeight &w : stripped) {
    cands.push_back(
        {w.tensor.name(), w.tensor.data_type(),
         std::vector<int64_t>(w.tensor.dims().begin(), w.tensor.dims().end())});
    skipNodes.insert(w.node);
  }
  std::map<std::string, ParamClass> classes = classifyParams(g, cands);
  for (const StrippedWeight &w : stripped)
    classes[w.tensor.name()].reason +=
        "; data stripped (ConstantOfShape placeholder)";

  OwningOpRef<ModuleOp> module = ModuleOp::create(loc("module"));
  b.setInsertionPointToEnd(module->getBody());
  NamedAttrList opsets;
  for (const auto &o : model.opset_import())
    opsets.set(o.domain().empty() ? "ai.onnx" : o.domain(),
               b.getI64IntegerAttr(o.version()));
  std::string name = g.name().empty() ? "main" : g.name();
  auto m = b.create<ModelOp>(
      loc(name), b.getStringAttr(name), b.getI64IntegerAttr(model.ir_version()),
      b.getStringAttr(model.producer_name()),
      b.getStringAttr(model.producer_version()), b.getDictionaryAttr(opsets),
      b.getStrArrayAttr({}),
      model.doc_string().empty() ? StringAttr()
                                 : b.getStringAttr(model.doc_string()),
      b.getStringAttr(path));
  Block *body = new Block();
  m.getBody().push_back(body);
  scopes.emplace_back();
  b.setInsertionPointToEnd(body);
  for (const auto &t : g.initializer())
    addParam(t, classes[t.name()]);
  for (const StrippedWeight &w : stripped)
    addParam(w.tensor, classes[w.tensor.name()]);
  importGraph(g, body, /*top=*/true);
  SmallVector<StringRef> inputNames;
  std::set<std::string> inits;
  for (const auto &t : g.initializer())
    inits.insert(t.name());
  for (const auto &i : g.input())
    if (!inits.count(i.name()))
      inputNames.push_back(i.name());
  m.setInputNamesAttr(b.getStrArrayAttr(inputNames));
  return module;
}

} // namespace

LogicalResult qoda::printImportDiagnostic(Diagnostic &diag) {
  std::string where;
  if (auto file = diag.getLocation().dyn_cast<FileLineColLoc>())
    where = file.getFilename().str() + ": ";
  const char *kind = diag.getSeverity() == DiagnosticSeverity::Error ? "error: "
                     : diag.getSeverity() == DiagnosticSeverity::Warning
                         ? "warning: "
                         : "note: ";
  llvm::errs() << kind << where << diag.str() << "\n";
  return success();
}

bool qoda::isONNXFile(StringRef path) {
  if (path.endswith(".onnx") || path.endswith(".onnxtxt"))
    return true;
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!buf)
    return false;
  StringRef data = (*buf)->getBuffer();
  return isTextualONNX(data.take_front(4096)) || isBinaryONNX(data);
}

namespace {
/// The first `n` bytes of the file (fewer if it is shorter).
std::string readHead(StringRef path, size_t n) {
  auto buf = llvm::MemoryBuffer::getFileSlice(path, n, 0, /*IsVolatile=*/false);
  if (!buf) // shorter than n: read it whole
    buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                      /*RequiresNullTerminator=*/false);
  return buf ? (*buf)->getBuffer().take_front(n).str() : std::string();
}

/// Parses a binary model without reading its large weight payloads.
bool parseBinaryWithoutWeights(StringRef path, uint64_t fileSize,
                               onnx::ModelProto &model, RawRefs &refs) {
  int fd = ::open(path.str().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  std::string small;
  bool ok = stripLargeRawData(fd, (int64_t)fileSize, refs, small);
  ::close(fd);
  return ok && model.ParseFromString(small);
}
} // namespace

OwningOpRef<ModuleOp> qoda::importONNXFile(StringRef path,
                                           MLIRContext *context) {
  context->getOrLoadDialect<QodaDialect>();
  context->allowUnregisteredDialects(); // !onnx.string / !onnx.value types
  Location fileLoc = FileLineColLoc::get(context, path, 0, 0);
  try {
    uint64_t fileSize = 0;
    if (std::error_code ec = llvm::sys::fs::file_size(path, fileSize))
      fail("cannot read file: " + ec.message());
    if (fileSize == 0)
      fail("file is empty, not an ONNX model");
    if (fileSize > INT_MAX)
      fail("file is larger than 2 GiB; store weights as external data");
    onnx::ModelProto model;
    RawRefs rawRefs;
    if (isTextualONNX(readHead(path, 4096))) {
      auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                             /*RequiresNullTerminator=*/true);
      if (!buf)
        fail("cannot read file: " + buf.getError().message());
      onnx::OnnxParser parser((*buf)->getBufferStart());
      auto status = parser.Parse(model);
      if (!status.IsOK())
        fail("cannot parse textual ONNX: " + status.ErrorMessage());
    } else if (!parseBinaryWithoutWeights(path, fileSize, model, rawRefs)) {
      // The streaming walk met something unexpected: parse everything, so
      // protobuf reports what is wrong.
      rawRefs.clear();
      auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                             /*RequiresNullTerminator=*/false);
      if (!buf)
        fail("cannot read file: " + buf.getError().message());
      StringRef data = (*buf)->getBuffer();
      if (!model.ParseFromArray(data.data(), (int)data.size()))
        fail("not a valid ONNX protobuf (truncated, corrupt or not an ONNX "
             "model)");
    }
    if (!model.has_graph() || model.ir_version() <= 0)
      fail("not an ONNX model: no graph or IR version");
    if (model.ir_version() < 3 || model.ir_version() > 10)
      fail("unsupported ONNX IR version " + std::to_string(model.ir_version()) +
           " (supported: 3 to 10)");
    // Shape inference fills value_info; its failure is not fatal (custom
    // ops, unknown domains): the types simply stay unknown.
    try {
      onnx::shape_inference::InferShapes(model);
    } catch (...) {
    }
    Importer imp(context, path);
    imp.rawRefs = std::move(rawRefs);
    return imp.run(model);
  } catch (const ImportError &e) {
    emitError(fileLoc) << e.what();
  } catch (const std::exception &e) {
    emitError(fileLoc) << "ONNX error: " << e.what();
  } catch (...) {
    emitError(fileLoc) << "unknown error while importing";
  }
  return nullptr;
}
