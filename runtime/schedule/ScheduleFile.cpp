// Reading and writing the schedule file (docs/schedule.md).
#include "qoda/schedule/ScheduleFile.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace qoda::schedule {

using nlohmann::ordered_json;
using quant::Coding;
using quant::Norm;
using quant::NormPrecision;
using quant::TypeKind;

const char *kindName(TypeKind k) {
  switch (k) {
  case TypeKind::Levels:
    return "levels";
  case TypeKind::Fp32:
    return "fp32";
  case TypeKind::Fp16:
    return "fp16";
  case TypeKind::Bf16:
    return "bf16";
  }
  return "?";
}
const char *normName(Norm n) { return n == Norm::L2 ? "l2" : "linf"; }
const char *normPrecisionName(NormPrecision p) {
  return p == NormPrecision::Fp32 ? "fp32" : "fp16";
}
const char *codingName(Coding c) {
  switch (c) {
  case Coding::FixedWidth:
    return "fixed";
  case Coding::Huffman:
    return "huffman";
  case Coding::EliasGaps:
    return "elias-gaps";
  }
  return "?";
}

quant::Schedule ScheduleFile::quantSchedule() const {
  quant::Schedule s;
  for (const TypeEntry &t : types)
    s.types.push_back(t.quant);
  for (const ParamEntry &p : params) {
    if (p.numel == 0)
      continue;
    if (!s.segments.empty() && s.segments.back().type == p.type &&
        s.segments.back().offset + s.segments.back().length == p.offset) {
      s.segments.back().length += p.numel;
      continue;
    }
    s.segments.push_back({p.offset, p.numel, p.type});
  }
  return s;
}

std::string ScheduleFile::validate() const {
  if (types.empty())
    return "types: the schedule has no types";
  uint64_t next = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamEntry &p = params[i];
    std::string where = "params[" + std::to_string(i) + "] ('" + p.name + "')";
    if (p.offset != next)
      return where + ".offset: expected " + std::to_string(next) + ", got " +
             std::to_string(p.offset) +
             " (parameters must tile the flat buffer in order)";
    if (p.type >= types.size())
      return where + ".type: " + std::to_string(p.type) +
             " is not a type index (there are " +
             std::to_string(types.size()) + " types)";
    uint64_t prod = 1;
    for (int64_t d : p.shape) {
      if (d < 0)
        return where + ".shape: negative dimension";
      prod *= uint64_t(d);
    }
    if (prod != p.numel)
      return where + ".numel: " + std::to_string(p.numel) +
             " does not match the shape's " + std::to_string(prod) +
             " elements";
    next += p.numel;
  }
  if (next != numCoords)
    return "num_coords: " + std::to_string(numCoords) +
           " but the parameters hold " + std::to_string(next);
  for (size_t i = 0; i < params.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (params[i].name == params[j].name)
        return "params[" + std::to_string(i) + "].name: '" + params[i].name +
               "' appears twice";
  std::string err = quantSchedule().validate(numCoords);
  if (!err.empty())
    return "types: " + err;
  return "";
}

int64_t ScheduleFile::findParam(const std::string &name) const {
  for (size_t i = 0; i < params.size(); ++i)
    if (params[i].name == name)
      return int64_t(i);
  return -1;
}

std::string writeScheduleJson(const ScheduleFile &s) {
  ordered_json j;
  j["format"] = kFormatName;
  j["version"] = kFormatVersion;
  j["model"] = s.model;
  j["producer"] = s.producer;
  j["num_coords"] = s.numCoords;
  char hash[32];
  snprintf(hash, sizeof hash, "%016llx",
           (unsigned long long)s.quantSchedule().hash());
  j["schedule_hash"] = hash;
  ordered_json types = ordered_json::array();
  for (const TypeEntry &t : s.types) {
    ordered_json e;
    e["name"] = t.name;
    e["kind"] = kindName(t.quant.kind);
    e["bits"] = t.bits;
    if (t.quant.kind == TypeKind::Levels) {
      e["levels"] = t.quant.levels;
      e["bucket"] = t.quant.bucketSize;
      e["norm"] = normName(t.quant.norm);
      e["norm_precision"] = normPrecisionName(t.quant.normPrecision);
      e["coding"] = codingName(t.quant.coding);
    }
    e["predicted_variance"] = t.predictedVariance;
    types.push_back(std::move(e));
  }
  j["types"] = std::move(types);
  ordered_json params = ordered_json::array();
  for (const ParamEntry &p : s.params) {
    ordered_json e;
    e["name"] = p.name;
    e["offset"] = p.offset;
    e["numel"] = p.numel;
    e["shape"] = p.shape;
    e["type"] = p.type;
    e["role"] = p.role;
    params.push_back(std::move(e));
  }
  j["params"] = std::move(params);
  ordered_json pred;
  pred["bits_per_coord"] = s.prediction.bitsPerCoord;
  pred["variance"] = s.prediction.variance;
  pred["global_bits_per_coord"] = s.prediction.globalBitsPerCoord;
  pred["global_variance"] = s.prediction.globalVariance;
  j["prediction"] = std::move(pred);
  return j.dump(2) + "\n";
}

namespace {

// Thrown inside the parser only; carries the JSON path of the problem.
struct ParseError {
  std::string message;
};

const ordered_json &field(const ordered_json &obj, const char *key,
                          const std::string &path) {
  auto it = obj.find(key);
  if (it == obj.end())
    throw ParseError{path + "." + key + ": missing"};
  return *it;
}

std::string str(const ordered_json &obj, const char *key,
                const std::string &path) {
  const ordered_json &v = field(obj, key, path);
  if (!v.is_string())
    throw ParseError{path + "." + key + ": expected a string"};
  return v.get<std::string>();
}

uint64_t u64(const ordered_json &obj, const char *key,
             const std::string &path) {
  const ordered_json &v = field(obj, key, path);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    throw ParseError{path + "." + key + ": expected a non-negative integer"};
  return v.get<uint64_t>();
}

double num(const ordered_json &obj, const char *key, const std::string &path,
           double fallback) {
  auto it = obj.find(key);
  if (it == obj.end())
    return fallback;
  if (!it->is_number())
    throw ParseError{path + "." + key + ": expected a number"};
  return it->get<double>();
}

template <typename E>
E enumField(const ordered_json &obj, const char *key, const std::string &path,
            std::initializer_list<std::pair<const char *, E>> names, E dflt) {
  auto it = obj.find(key);
  if (it == obj.end())
    return dflt;
  std::string v = it->is_string() ? it->get<std::string>() : "";
  std::string allowed;
  for (auto &[n, e] : names) {
    if (v == n)
      return e;
    allowed += std::string(allowed.empty() ? "" : ", ") + n;
  }
  throw ParseError{path + "." + key + ": '" + v + "' is not one of " + allowed};
}

TypeEntry parseType(const ordered_json &e, const std::string &path) {
  if (!e.is_object())
    throw ParseError{path + ": expected an object"};
  TypeEntry t;
  t.name = str(e, "name", path);
  t.quant.kind = enumField<TypeKind>(e, "kind", path,
                                     {{"levels", TypeKind::Levels},
                                      {"fp32", TypeKind::Fp32},
                                      {"fp16", TypeKind::Fp16},
                                      {"bf16", TypeKind::Bf16}},
                                     TypeKind::Levels);
  t.bits = unsigned(u64(e, "bits", path));
  t.predictedVariance = num(e, "predicted_variance", path, 0.0);
  if (t.quant.kind != TypeKind::Levels)
    return t;
  const ordered_json &levels = field(e, "levels", path);
  if (!levels.is_array())
    throw ParseError{path + ".levels: expected an array of numbers"};
  for (const ordered_json &l : levels) {
    if (!l.is_number())
      throw ParseError{path + ".levels: expected an array of numbers"};
    t.quant.levels.push_back(l.get<float>());
  }
  uint64_t bucket = u64(e, "bucket", path);
  if (bucket == 0 || bucket > (1u << 30))
    throw ParseError{path + ".bucket: must be in 1..2^30"};
  t.quant.bucketSize = uint32_t(bucket);
  t.quant.norm = enumField<Norm>(e, "norm", path,
                                 {{"l2", Norm::L2}, {"linf", Norm::Linf}},
                                 Norm::L2);
  t.quant.normPrecision = enumField<NormPrecision>(
      e, "norm_precision", path,
      {{"fp32", NormPrecision::Fp32}, {"fp16", NormPrecision::Fp16}},
      NormPrecision::Fp32);
  t.quant.coding = enumField<Coding>(e, "coding", path,
                                     {{"fixed", Coding::FixedWidth},
                                      {"huffman", Coding::Huffman},
                                      {"elias-gaps", Coding::EliasGaps}},
                                     Coding::FixedWidth);
  if (t.bits != t.quant.indexBits())
    throw ParseError{path + ".bits: " + std::to_string(t.bits) + " but " +
                     std::to_string(t.quant.levels.size()) + " levels need " +
                     std::to_string(t.quant.indexBits()) + " index bits"};
  return t;
}

ParamEntry parseParam(const ordered_json &e, const std::string &path) {
  if (!e.is_object())
    throw ParseError{path + ": expected an object"};
  ParamEntry p;
  p.name = str(e, "name", path);
  p.offset = u64(e, "offset", path);
  p.numel = u64(e, "numel", path);
  p.type = uint32_t(u64(e, "type", path));
  auto role = e.find("role");
  if (role != e.end() && role->is_string())
    p.role = role->get<std::string>();
  const ordered_json &shape = field(e, "shape", path);
  if (!shape.is_array())
    throw ParseError{path + ".shape: expected an array of integers"};
  for (const ordered_json &d : shape) {
    if (!d.is_number_integer())
      throw ParseError{path + ".shape: expected an array of integers"};
    p.shape.push_back(d.get<int64_t>());
  }
  return p;
}

} // namespace

bool parseScheduleJson(const std::string &text, ScheduleFile &out,
                       std::string &error) {
  ordered_json j = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Parse again with exceptions for the byte position of the error.
    try {
      (void)ordered_json::parse(text);
    } catch (const std::exception &e) {
      error = std::string("not valid JSON: ") + e.what();
      return false;
    }
    error = "not valid JSON";
    return false;
  }
  try {
    if (!j.is_object())
      throw ParseError{"$: expected a JSON object"};
    if (str(j, "format", "$") != kFormatName)
      throw ParseError{std::string("$.format: expected '") + kFormatName +
                       "' (is this a qoda schedule?)"};
    uint64_t version = u64(j, "version", "$");
    if (version != uint64_t(kFormatVersion))
      throw ParseError{"$.version: this qoda reads version " +
                       std::to_string(kFormatVersion) + ", the file is version " +
                       std::to_string(version) +
                       "; regenerate it with this qoda's qoda-translate"};
    ScheduleFile s;
    s.model = str(j, "model", "$");
    auto prod = j.find("producer");
    if (prod != j.end() && prod->is_string())
      s.producer = prod->get<std::string>();
    s.numCoords = u64(j, "num_coords", "$");
    const ordered_json &types = field(j, "types", "$");
    if (!types.is_array())
      throw ParseError{"$.types: expected an array"};
    for (size_t i = 0; i < types.size(); ++i)
      s.types.push_back(
          parseType(types[i], "$.types[" + std::to_string(i) + "]"));
    const ordered_json &params = field(j, "params", "$");
    if (!params.is_array())
      throw ParseError{"$.params: expected an array"};
    for (size_t i = 0; i < params.size(); ++i)
      s.params.push_back(
          parseParam(params[i], "$.params[" + std::to_string(i) + "]"));
    auto pred = j.find("prediction");
    if (pred != j.end() && pred->is_object()) {
      s.prediction.bitsPerCoord = num(*pred, "bits_per_coord", "$.prediction", 0);
      s.prediction.variance = num(*pred, "variance", "$.prediction", 0);
      s.prediction.globalBitsPerCoord =
          num(*pred, "global_bits_per_coord", "$.prediction", 0);
      s.prediction.globalVariance =
          num(*pred, "global_variance", "$.prediction", 0);
    }
    std::string invalid = s.validate();
    if (!invalid.empty())
      throw ParseError{invalid};
    auto hash = j.find("schedule_hash");
    if (hash != j.end()) {
      char expect[32];
      snprintf(expect, sizeof expect, "%016llx",
               (unsigned long long)s.quantSchedule().hash());
      if (!hash->is_string() || hash->get<std::string>() != expect)
        throw ParseError{std::string("$.schedule_hash: does not match the "
                                     "schedule's contents (expected ") +
                         expect + "); the file was edited or corrupted"};
    }
    out = std::move(s);
    return true;
  } catch (const ParseError &e) {
    error = e.message;
  } catch (const std::exception &e) {
    error = std::string("malformed schedule: ") + e.what();
  }
  return false;
}

bool loadScheduleJson(const std::string &path, ScheduleFile &out,
                      std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open the schedule file";
    return false;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  if (!parseScheduleJson(buf.str(), out, error)) {
    error = path + ": " + error;
    return false;
  }
  return true;
}

} // namespace qoda::schedule
