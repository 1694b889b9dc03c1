//===- ModelLibCodec.cpp - the layer-wise codec of compiled libraries -----===//
#include "qoda/comm/ModelLibCodec.h"
#include "qoda/comm/Serialize.h"

#include <algorithm>
#include <cstring>
#include <dirent.h>
#include <stdexcept>

namespace qoda::comm {

std::string findModelLibrary(const std::string &outDir) {
  DIR *d = opendir(outDir.c_str());
  if (!d)
    throw std::invalid_argument(
        "compiled model library directory '" + outDir + "' cannot be read: " +
        std::strerror(errno) + " (give the -o directory of qoda-compile)");
  std::vector<std::string> found;
  while (dirent *e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 12 && n.compare(0, 8, "libqoda_") == 0 &&
        n.compare(n.size() - 3, 3, ".so") == 0)
      found.push_back(n);
  }
  closedir(d);
  std::sort(found.begin(), found.end());
  if (found.empty())
    throw std::invalid_argument(
        "'" + outDir + "' holds no libqoda_<model>.so: run qoda-compile "
        "MODEL.onnx -o " + outDir + " (without --emit-only)");
  if (found.size() > 1) {
    std::string list;
    for (const std::string &f : found)
      list += (list.empty() ? "" : ", ") + f;
    throw std::invalid_argument("'" + outDir + "' holds more than one model "
                                "library (" + list + "); give a directory "
                                "with exactly one");
  }
  std::string dir = outDir;
  if (!dir.empty() && dir.back() != '/')
    dir += '/';
  return dir + found.front();
}

ModelLibCodec::ModelLibCodec(const std::vector<Library> &libs,
                             std::uint64_t seed, std::uint32_t rank)
    : seed_(seed), rank_(rank) {
  if (libs.empty())
    throw std::invalid_argument("ModelLibCodec needs at least one library");
  for (const Library &l : libs) {
    std::string err;
    std::unique_ptr<kernels::ModelLib> lib = kernels::ModelLib::open(l.path, err);
    if (!lib)
      throw std::invalid_argument(err);
    err = l.schedule.validate(l.numCoords);
    if (!err.empty())
      throw std::invalid_argument("schedule for " + l.path + ": " + err);
    err = lib->checkSchedule(l.schedule.hash(), l.numCoords);
    if (!err.empty())
      throw std::invalid_argument(err);
    Part p;
    p.lib = std::move(lib);
    p.model = p.lib->create(QODA_DEVICE_CPU, err);
    if (!p.model)
      throw std::invalid_argument(l.path + ": " + err);
    p.schedule = l.schedule;
    p.base = n_;
    p.coords = l.numCoords;
    p.msgBytes = p.lib->layout().message_bytes;
    p.firstType = static_cast<std::uint32_t>(full_.types.size());
    for (const quant::TypeSchedule &t : l.schedule.types)
      full_.types.push_back(t);
    for (const quant::Segment &s : l.schedule.segmentsFor(l.numCoords))
      full_.segments.push_back({p.base + s.offset, s.length,
                                p.firstType + s.type});
    n_ += l.numCoords;
    bytes_ += 8 + p.msgBytes;
    parts_.push_back(std::move(p));
  }
}

void ModelLibCodec::encode(const float *v, std::uint8_t *msg) {
  ++step_;
  std::memcpy(msg, &step_, 8);
  std::uint8_t *out = msg + 8;
  for (Part &p : parts_) {
    std::uint64_t len = 0;
    qoda_status st = p.model->api().encode(p.model->get(), v + p.base, seed_,
                                           step_, rank_, out + 8, p.msgBytes,
                                           &len, nullptr);
    if (st != QODA_OK)
      throw std::runtime_error(p.lib->path() + ": encode failed: " +
                               p.model->error());
    std::memcpy(out, &len, 8);
    std::memset(out + 8 + len, 0, p.msgBytes - len); // deterministic padding
    out += 8 + p.msgBytes;
  }
}

void ModelLibCodec::decodeAccumulate(const std::uint8_t *msg,
                                     float *acc) const {
  decodeAccumulateAll(&msg, 1, acc);
}

void ModelLibCodec::decodeAccumulateAll(const std::uint8_t *const *msgs,
                                        std::size_t k, float *acc) const {
  std::vector<const std::uint8_t *> at(k);
  std::vector<std::uint64_t> lens(k), steps(k);
  for (std::size_t i = 0; i < k; ++i)
    std::memcpy(&steps[i], msgs[i], 8);
  std::size_t offset = 8;
  for (const Part &p : parts_) {
    for (std::size_t i = 0; i < k; ++i) {
      std::memcpy(&lens[i], msgs[i] + offset, 8);
      if (lens[i] > p.msgBytes)
        throw std::runtime_error(
            p.lib->path() + ": message " + std::to_string(i) +
            " part claims " + std::to_string(lens[i]) +
            " bytes, more than its " + std::to_string(p.msgBytes) +
            "-byte size");
      at[i] = msgs[i] + offset + 8;
    }
    // One call per run of messages from the same step (all of them, unless
    // a worker skipped a non-finite vector and its encoder fell behind):
    // the library checks each message's step against the one it is given.
    for (std::size_t b = 0, e; b < k; b = e) {
      for (e = b + 1; e < k && steps[e] == steps[b];)
        ++e;
      qoda_status st = p.model->api().decode_accumulate(
          p.model->get(), &at[b], &lens[b], static_cast<std::uint32_t>(e - b),
          1.0f, steps[b], acc + p.base, nullptr);
      if (st != QODA_OK)
        throw std::runtime_error(p.lib->path() + ": message rejected: " +
                                 p.model->error());
    }
    offset += 8 + p.msgBytes;
  }
}

void ModelLibCodec::setSchedule(const quant::Schedule &s) {
  if (!full_.sameLayout(s))
    throw std::invalid_argument("ModelLibCodec::setSchedule: new levels must "
                                "keep the layout, kinds and level counts");
  for (Part &p : parts_) {
    for (std::size_t t = 0; t < p.schedule.types.size(); ++t) {
      const quant::TypeSchedule &nt = s.types[p.firstType + t];
      if (nt.kind != quant::TypeKind::Levels)
        continue;
      qoda_status st = p.model->api().set_levels(
          p.model->get(), static_cast<std::uint32_t>(t), nt.levels.data(),
          static_cast<std::uint32_t>(nt.levels.size()));
      if (st != QODA_OK)
        throw std::invalid_argument(p.lib->path() + ": set_levels of type " +
                                    std::to_string(t) + " failed: " +
                                    p.model->error());
      p.schedule.types[t] = nt;
    }
    std::uint64_t want = p.schedule.hash();
    std::uint64_t got = p.model->api().schedule_hash(p.model->get());
    if (got != want)
      throw std::runtime_error(p.lib->path() + ": after re-fitting levels the "
                               "library's schedule hash differs from the "
                               "runtime's");
  }
  full_ = s;
}

void ModelLibCodec::save(std::ostream &os) const { writePod(os, step_); }

void ModelLibCodec::load(std::istream &is) {
  step_ = readPod<std::uint64_t>(is);
}

} // namespace qoda::comm
