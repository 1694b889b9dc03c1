// Huffman and Elias-gap forms of a level segment (see EntropySegment.h).
#include "EntropySegment.h"

#include "Coding.h"

#include <cstring>

namespace qoda::quant::detail {

namespace {

struct Planes {
  const uint8_t *idx, *sign;
  unsigned ib;
  uint32_t index(uint64_t i) const {
    uint32_t v = 0;
    for (unsigned k = 0; k < ib; ++k) {
      uint64_t bit = i * ib + k;
      v |= uint32_t((idx[bit / 8] >> (bit % 8)) & 1u) << k;
    }
    return v;
  }
  uint32_t neg(uint64_t i) const { return (sign[i / 8] >> (i % 8)) & 1u; }
};

struct MutablePlanes {
  uint8_t *idx, *sign;
  unsigned ib;
  void set(uint64_t i, uint32_t q, uint32_t neg) {
    for (unsigned k = 0; k < ib; ++k)
      if ((q >> k) & 1u) {
        uint64_t bit = i * ib + k;
        idx[bit / 8] |= uint8_t(1u << (bit % 8));
      }
    if (neg)
      sign[i / 8] |= uint8_t(1u << (i % 8));
  }
};

uint64_t huffmanBody(const LevelTable &lt, uint64_t len, const Planes &pl,
                     uint8_t *out, uint64_t cap) {
  std::vector<uint64_t> counts(lt.numLevels(), 0);
  for (uint64_t i = 0; i < len; ++i)
    counts[pl.index(i)]++;
  std::vector<uint8_t> lengths = huffmanLengths(counts);
  if (cap < lengths.size())
    return ~uint64_t(0);
  std::memcpy(out, lengths.data(), lengths.size());
  std::vector<uint32_t> codes = canonicalCodes(lengths);
  BitWriter w(out + lengths.size(), cap - lengths.size());
  for (uint64_t i = 0; i < len && !w.overflow(); ++i) {
    uint32_t q = pl.index(i);
    w.putMsbFirst(codes[q], lengths[q]);
    if (q)
      w.put(pl.neg(i), 1);
  }
  uint64_t bytes = w.finish();
  return w.overflow() ? ~uint64_t(0) : lengths.size() + bytes;
}

uint64_t eliasBody(const LevelTable &lt, uint64_t len, const Planes &pl,
                   uint8_t *out, uint64_t cap) {
  uint64_t count = 0;
  for (uint64_t i = 0; i < len; ++i)
    count += pl.index(i) != 0;
  BitWriter w(out, cap);
  putEliasOmega(w, count + 1);
  uint64_t prev = ~uint64_t(0); // position -1
  for (uint64_t i = 0; i < len && !w.overflow(); ++i) {
    uint32_t q = pl.index(i);
    if (!q)
      continue;
    putEliasOmega(w, i - prev);
    w.put(q, lt.indexBits);
    w.put(pl.neg(i), 1);
    prev = i;
  }
  uint64_t bytes = w.finish();
  return w.overflow() ? ~uint64_t(0) : bytes;
}

} // namespace

uint64_t codeEntropySegment(const LevelTable &lt, uint64_t len,
                            const uint8_t *fixed, uint8_t *out) {
  SegmentSizes sz = segmentSizes(len, lt.type);
  uint64_t fixedBody = sz.indexBytes + sz.signBytes;
  Planes pl{fixed + sz.normBytes, fixed + sz.normBytes + sz.indexBytes,
            lt.indexBits};
  uint8_t *body = out + 8 + sz.normBytes;
  // The coded body only counts if it is strictly shorter than fixed width.
  uint64_t bytes = lt.type.coding == Coding::Huffman
                       ? huffmanBody(lt, len, pl, body, fixedBody)
                       : eliasBody(lt, len, pl, body, fixedBody);
  SegmentMethod m = lt.type.coding == Coding::Huffman
                        ? SegmentMethod::Huffman
                        : SegmentMethod::EliasGaps;
  if (bytes >= fixedBody) {
    m = SegmentMethod::Fixed;
    bytes = fixedBody;
    std::memcpy(body, pl.idx, fixedBody);
  }
  uint64_t word = bytes << 8 | uint64_t(m);
  std::memcpy(out, &word, 8);
  std::memcpy(out + 8, fixed, sz.normBytes);
  return 8 + sz.normBytes + bytes;
}

std::string decodeEntropySegment(const LevelTable &lt, uint64_t len,
                                 uint64_t coord0, const uint8_t *p,
                                 uint64_t avail, std::vector<uint8_t> &fixed,
                                 uint64_t &used) {
  std::string where = "segment at coordinate " + std::to_string(coord0) + ": ";
  SegmentSizes sz = segmentSizes(len, lt.type);
  uint64_t fixedBody = sz.indexBytes + sz.signBytes;
  if (avail < 8 + sz.normBytes)
    return where + "message truncated";
  uint64_t word;
  std::memcpy(&word, p, 8);
  uint64_t bytes = word >> 8;
  unsigned m = unsigned(word & 0xff);
  SegmentMethod allowed = lt.type.coding == Coding::Huffman
                              ? SegmentMethod::Huffman
                              : SegmentMethod::EliasGaps;
  if (m != unsigned(SegmentMethod::Fixed) && m != unsigned(allowed))
    return where + "coding method " + std::to_string(m) +
           " is not allowed for this type";
  if (bytes > avail - 8 - sz.normBytes)
    return where + "body of " + std::to_string(bytes) +
           " bytes exceeds the message";
  if (m == unsigned(SegmentMethod::Fixed) ? bytes != fixedBody
                                          : bytes >= fixedBody)
    return where + "body of " + std::to_string(bytes) +
           " bytes, fixed width needs " + std::to_string(fixedBody);
  used = 8 + sz.normBytes + bytes;
  fixed.assign(sz.total(), 0);
  std::memcpy(fixed.data(), p + 8, sz.normBytes);
  const uint8_t *body = p + 8 + sz.normBytes;
  MutablePlanes out{fixed.data() + sz.normBytes,
                    fixed.data() + sz.normBytes + sz.indexBytes, lt.indexBits};
  if (m == unsigned(SegmentMethod::Fixed)) {
    std::memcpy(out.idx, body, fixedBody);
    return "";
  }
  if (m == unsigned(SegmentMethod::Huffman)) {
    uint64_t L = lt.numLevels();
    if (bytes < L)
      return where + "Huffman table truncated";
    HuffmanDecoder dec;
    std::string err = dec.init(std::vector<uint8_t>(body, body + L));
    if (!err.empty())
      return where + err;
    BitReader r(body + L, bytes - L);
    for (uint64_t i = 0; i < len; ++i) {
      int q = dec.decode(r);
      if (q < 0)
        return where + "invalid or truncated Huffman code at coordinate " +
               std::to_string(coord0 + i);
      out.set(i, uint32_t(q), q ? r.bit() : 0);
    }
    if (!r.atZeroPaddedEnd())
      return where + "Huffman stream truncated or has trailing bits";
    return "";
  }
  BitReader r(body, bytes);
  uint64_t count = getEliasOmega(r);
  if (count == 0 || count - 1 > len)
    return where + "invalid non-zero count";
  uint64_t pos = ~uint64_t(0);
  for (uint64_t k = 0; k + 1 < count; ++k) {
    uint64_t gap = getEliasOmega(r);
    if (gap == 0 || gap > len - (pos + 1))
      return where + "invalid gap after coordinate " +
             std::to_string(coord0 + pos);
    pos += gap;
    uint32_t q = r.get(lt.indexBits);
    uint32_t neg = r.bit();
    if (r.bad())
      return where + "Elias stream truncated";
    if (q == 0 || q >= lt.numLevels())
      return where + "invalid level index " + std::to_string(q) +
             " at coordinate " + std::to_string(coord0 + pos);
    out.set(pos, q, neg);
  }
  if (!r.atZeroPaddedEnd())
    return where + "Elias stream truncated or has trailing bits";
  return "";
}

} // namespace qoda::quant::detail
