// Wire format of every compressed message (version 2). Little-endian.
//   offset size field
//   0      4    magic 'QODQ' (0x51444f51)
//   4      2    format version (2; version 1 had one interleaved code stream)
//   6      1    compressor id (CompressorId)
//   7      1    reserved, must be 0
//   8      8    schedule hash (Schedule::hash(), 0 for cast compressors)
//   16     8    step
//   24     8    number of coordinates n
//   32     8    payload bytes
//   40     ...  payload (layout per compressor, see docs/quant.md)
// Decoders check every field against what they expect before reading.
#ifndef QODA_QUANT_WIRE_H
#define QODA_QUANT_WIRE_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace qoda::quant {

constexpr uint32_t kMagic = 0x51444f51u; // "QODQ"
constexpr uint16_t kFormatVersion = 2;
constexpr size_t kHeaderBytes = 40;

enum class CompressorId : uint8_t {
  Fp32 = 1,
  Fp16 = 2,
  Bf16 = 3,
  Levels = 4,   ///< stochastic level quantizer (qsgd, nuqsgd, layerwise)
  Cgx = 5,      ///< max-min quantizer, nearest rounding
  CgxStoch = 6, ///< max-min quantizer, stochastic rounding
  Orq = 7,      ///< level quantizer with levels sent in the message
  BinGrad = 8,  ///< two values per bucket, error feedback
};

struct MessageHeader {
  uint16_t version = kFormatVersion;
  CompressorId compressor = CompressorId::Fp32;
  uint64_t scheduleHash = 0;
  uint64_t step = 0;
  uint64_t numCoords = 0;
  uint64_t payloadBytes = 0;
};

void writeHeader(const MessageHeader &h, uint8_t *out);
/// Parses and checks magic, version, reserved byte and that the buffer holds
/// exactly header + payload. Empty string on success, else the reason.
std::string readHeader(const uint8_t *data, size_t size, MessageHeader &h);

} // namespace qoda::quant

#endif
