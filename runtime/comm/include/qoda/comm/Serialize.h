//===- Serialize.h - binary checkpoint helpers ------------------*- C++ -*-===//
//
// Raw little-endian dumps of scalars and vectors, so a resumed run continues
// bit for bit. Reads check sizes and throw std::runtime_error on a mismatch
// or a truncated file.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <istream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace qoda::comm {

template <typename T> void writePod(std::ostream &os, const T &v) {
  static_assert(std::is_trivially_copyable<T>::value, "POD only");
  os.write(reinterpret_cast<const char *>(&v), sizeof v);
}

template <typename T> T readPod(std::istream &is) {
  T v{};
  if (!is.read(reinterpret_cast<char *>(&v), sizeof v))
    throw std::runtime_error("checkpoint is truncated");
  return v;
}

template <typename T> void writeVec(std::ostream &os, const std::vector<T> &v) {
  writePod<std::uint64_t>(os, v.size());
  os.write(reinterpret_cast<const char *>(v.data()),
           static_cast<std::streamsize>(v.size() * sizeof(T)));
}

template <typename T> void readVec(std::istream &is, std::vector<T> &v) {
  auto n = readPod<std::uint64_t>(is);
  if (n != v.size())
    throw std::runtime_error("checkpoint holds a vector of " +
                             std::to_string(n) + " entries where " +
                             std::to_string(v.size()) +
                             " are expected (different problem or model?)");
  if (n && !is.read(reinterpret_cast<char *>(v.data()),
                    static_cast<std::streamsize>(n * sizeof(T))))
    throw std::runtime_error("checkpoint is truncated");
}

inline void writeString(std::ostream &os, const std::string &s) {
  writePod<std::uint64_t>(os, s.size());
  os.write(s.data(), static_cast<std::streamsize>(s.size()));
}

inline std::string readString(std::istream &is) {
  auto n = readPod<std::uint64_t>(is);
  if (n > (1u << 20))
    throw std::runtime_error("checkpoint is corrupt (string too long)");
  std::string s(n, '\0');
  if (n && !is.read(&s[0], static_cast<std::streamsize>(n)))
    throw std::runtime_error("checkpoint is truncated");
  return s;
}

} // namespace qoda::comm
