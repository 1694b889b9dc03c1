// Message header encoding/validation (see Wire.h).
#include "qoda/quant/Wire.h"

#include <cstring>

namespace qoda::quant {

namespace {
template <typename T> void put(uint8_t *&p, T v) {
  std::memcpy(p, &v, sizeof v); // hosts are little-endian (x86/arm64)
  p += sizeof v;
}
template <typename T> T get(const uint8_t *&p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  p += sizeof v;
  return v;
}
} // namespace

void writeHeader(const MessageHeader &h, uint8_t *out) {
  put(out, kMagic);
  put(out, h.version);
  put(out, uint8_t(h.compressor));
  put(out, uint8_t(0));
  put(out, h.scheduleHash);
  put(out, h.step);
  put(out, h.numCoords);
  put(out, h.payloadBytes);
}

std::string readHeader(const uint8_t *data, size_t size, MessageHeader &h) {
  if (size < kHeaderBytes)
    return "message truncated: " + std::to_string(size) +
           " bytes, header needs " + std::to_string(kHeaderBytes);
  const uint8_t *p = data;
  if (get<uint32_t>(p) != kMagic)
    return "bad magic: not a qoda quantized message";
  h.version = get<uint16_t>(p);
  if (h.version != kFormatVersion)
    return "unsupported format version " + std::to_string(h.version) +
           " (this library reads " + std::to_string(kFormatVersion) + ")";
  h.compressor = CompressorId(get<uint8_t>(p));
  if (get<uint8_t>(p) != 0)
    return "reserved header byte is not zero";
  h.scheduleHash = get<uint64_t>(p);
  h.step = get<uint64_t>(p);
  h.numCoords = get<uint64_t>(p);
  h.payloadBytes = get<uint64_t>(p);
  if (h.payloadBytes != size - kHeaderBytes)
    return "payload length " + std::to_string(h.payloadBytes) +
           " does not match buffer (" + std::to_string(size - kHeaderBytes) +
           " bytes after header)";
  return "";
}

} // namespace qoda::quant
