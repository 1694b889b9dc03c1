// Internal: bit streams, canonical Huffman codes and Elias-omega codes for
// the entropy and sparse paths of the level quantizer (docs/quant.md,
// "Codings"). Not on the fast path: clarity over speed.
#ifndef QODA_QUANT_CODING_H
#define QODA_QUANT_CODING_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qoda::quant::detail {

/// LSB-first bit writer into a bounded buffer; writing past the capacity sets
/// overflow() and drops the bits (callers then choose another coding).
class BitWriter {
public:
  BitWriter(uint8_t *p, size_t capacity) : p_(p), cap_(capacity) {}
  /// Appends the low `width` (<= 32) bits of v, least significant first.
  void put(uint32_t v, unsigned width);
  /// Appends the low `width` (<= 64) bits of v, most significant first (the
  /// order in which Elias and Huffman codes are defined).
  void putMsbFirst(uint64_t v, unsigned width);
  /// Pads the last byte with zeros; returns the bytes written.
  size_t finish();
  bool overflow() const { return overflow_; }

private:
  uint8_t *p_;
  size_t cap_, bytes_ = 0;
  uint64_t acc_ = 0;
  unsigned n_ = 0;
  bool overflow_ = false;
};

/// LSB-first reader of exactly `size` bytes; reading past the end sets bad().
class BitReader {
public:
  BitReader(const uint8_t *p, size_t size) : p_(p), size_(size) {}
  uint32_t bit();
  uint32_t get(unsigned width); ///< width <= 32, LSB first
  bool bad() const { return bad_; }
  /// True if the stream ends in this byte and the rest of it is zero.
  bool atZeroPaddedEnd() const;

private:
  const uint8_t *p_;
  size_t size_;
  uint64_t pos_ = 0; ///< bit position
  bool bad_ = false;
};

constexpr unsigned kMaxHuffmanLength = 24;

/// Code lengths (0 = unused symbol) of a Huffman code for `counts`, limited
/// to kMaxHuffmanLength by halving the counts until it fits. A single used
/// symbol gets length 1. Deterministic (ties broken by symbol order).
std::vector<uint8_t> huffmanLengths(const std::vector<uint64_t> &counts);
/// The same for real-valued weights (expected counts); used by Analysis.
std::vector<uint8_t> huffmanLengths(const std::vector<double> &weights);

/// Canonical code of each symbol (lengths ascending, then symbol order),
/// MSB-first values of length lengths[s].
std::vector<uint32_t> canonicalCodes(const std::vector<uint8_t> &lengths);

/// Canonical Huffman decoder.
class HuffmanDecoder {
public:
  /// "" if the lengths form a prefix code (Kraft sum <= 1, lengths <=
  /// kMaxHuffmanLength), else the reason.
  std::string init(const std::vector<uint8_t> &lengths);
  /// Next symbol, or -1 for a code that is not assigned / past the end.
  int decode(BitReader &r) const;

private:
  uint32_t count_[kMaxHuffmanLength + 1] = {};
  uint32_t first_[kMaxHuffmanLength + 1] = {};
  uint32_t offset_[kMaxHuffmanLength + 1] = {};
  std::vector<uint16_t> sorted_;
};

/// Elias-omega code of x >= 1.
void putEliasOmega(BitWriter &w, uint64_t x);
/// Reads one code; returns 0 on a malformed code (values >= 2^63) or a
/// truncated stream.
uint64_t getEliasOmega(BitReader &r);
/// Bits of the Elias-omega code of x >= 1.
unsigned eliasOmegaBits(uint64_t x);

} // namespace qoda::quant::detail

#endif
