// Bit streams, canonical Huffman and Elias-omega codes (see Coding.h).
#include "Coding.h"

#include <algorithm>
#include <cmath>
#include <queue>
#include <tuple>

namespace qoda::quant::detail {

void BitWriter::put(uint32_t v, unsigned width) {
  acc_ |= uint64_t(v & (width >= 32 ? ~0u : (1u << width) - 1)) << n_;
  n_ += width;
  while (n_ >= 8) {
    if (bytes_ < cap_)
      p_[bytes_] = uint8_t(acc_);
    else
      overflow_ = true;
    ++bytes_;
    acc_ >>= 8;
    n_ -= 8;
  }
}

void BitWriter::putMsbFirst(uint64_t v, unsigned width) {
  for (unsigned k = width; k-- > 0;)
    put(uint32_t((v >> k) & 1u), 1);
}

size_t BitWriter::finish() {
  if (n_)
    put(0, 8 - n_);
  return bytes_;
}

uint32_t BitReader::bit() {
  if (pos_ >= uint64_t(size_) * 8) {
    bad_ = true;
    return 0;
  }
  uint32_t b = (p_[pos_ / 8] >> (pos_ % 8)) & 1u;
  ++pos_;
  return b;
}

uint32_t BitReader::get(unsigned width) {
  uint32_t v = 0;
  for (unsigned k = 0; k < width; ++k)
    v |= bit() << k;
  return v;
}

bool BitReader::atZeroPaddedEnd() const {
  if (bad_ || (pos_ + 7) / 8 != size_)
    return false;
  if (pos_ % 8 == 0)
    return true;
  return (p_[pos_ / 8] >> (pos_ % 8)) == 0;
}

namespace {

/// Huffman lengths for positive weights of the used symbols (index, weight).
std::vector<uint8_t> buildLengths(const std::vector<double> &w) {
  size_t n = w.size();
  std::vector<uint8_t> len(n, 0);
  std::vector<size_t> used;
  for (size_t s = 0; s < n; ++s)
    if (w[s] > 0)
      used.push_back(s);
  if (used.empty())
    return len;
  if (used.size() == 1) {
    len[used[0]] = 1;
    return len;
  }
  // Nodes: leaves are 0..n-1, internal nodes n, n+1, ...; ties by node id.
  std::vector<int> parent(2 * n, -1);
  using Item = std::tuple<double, size_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> q;
  for (size_t s : used)
    q.emplace(w[s], s);
  size_t next = n;
  while (q.size() > 1) {
    auto [wa, a] = q.top();
    q.pop();
    auto [wb, b] = q.top();
    q.pop();
    parent[a] = parent[b] = int(next);
    q.emplace(wa + wb, next++);
  }
  for (size_t s : used) {
    unsigned d = 0;
    for (int p = int(s); parent[size_t(p)] >= 0; p = parent[size_t(p)])
      ++d;
    len[s] = uint8_t(std::min(d, 255u));
  }
  return len;
}

} // namespace

std::vector<uint8_t> huffmanLengths(const std::vector<double> &weights) {
  std::vector<double> w = weights;
  for (;;) {
    std::vector<uint8_t> len = buildLengths(w);
    if (*std::max_element(len.begin(), len.end()) <= kMaxHuffmanLength)
      return len;
    // Flatten the distribution (every used symbol stays used) and retry;
    // sqrt halves every log-ratio, so this ends after a few rounds.
    for (double &x : w)
      if (x > 0)
        x = std::sqrt(x);
  }
}

std::vector<uint8_t> huffmanLengths(const std::vector<uint64_t> &counts) {
  return huffmanLengths(std::vector<double>(counts.begin(), counts.end()));
}

std::vector<uint32_t> canonicalCodes(const std::vector<uint8_t> &lengths) {
  std::vector<uint32_t> code(lengths.size(), 0);
  uint32_t c = 0;
  unsigned prev = 0;
  for (unsigned l = 1; l <= kMaxHuffmanLength; ++l)
    for (size_t s = 0; s < lengths.size(); ++s)
      if (lengths[s] == l) {
        c <<= (l - prev);
        prev = l;
        code[s] = c++;
      }
  return code;
}

std::string HuffmanDecoder::init(const std::vector<uint8_t> &lengths) {
  if (lengths.size() > 65535)
    return "too many Huffman symbols";
  double kraft = 0;
  for (uint8_t l : lengths) {
    if (l > kMaxHuffmanLength)
      return "Huffman code length " + std::to_string(l) + " exceeds " +
             std::to_string(kMaxHuffmanLength);
    if (l) {
      ++count_[l];
      kraft += std::ldexp(1.0, -int(l));
    }
  }
  if (kraft > 1.0)
    return "Huffman code lengths violate the Kraft inequality";
  uint32_t code = 0, offset = 0;
  for (unsigned l = 1; l <= kMaxHuffmanLength; ++l) {
    code <<= 1;
    first_[l] = code;
    offset_[l] = offset;
    code += count_[l];
    offset += count_[l];
  }
  for (unsigned l = 1; l <= kMaxHuffmanLength; ++l)
    for (size_t s = 0; s < lengths.size(); ++s)
      if (lengths[s] == l)
        sorted_.push_back(uint16_t(s));
  return "";
}

int HuffmanDecoder::decode(BitReader &r) const {
  uint32_t code = 0;
  for (unsigned l = 1; l <= kMaxHuffmanLength; ++l) {
    code = (code << 1) | r.bit();
    if (r.bad())
      return -1;
    if (code - first_[l] < count_[l])
      return sorted_[offset_[l] + (code - first_[l])];
  }
  return -1;
}

void putEliasOmega(BitWriter &w, uint64_t x) {
  // Groups are emitted last-first: collect them, then write in order.
  uint64_t groups[8];
  unsigned widths[8], k = 0;
  while (x > 1) {
    unsigned bits = 64 - unsigned(__builtin_clzll(x));
    groups[k] = x;
    widths[k++] = bits;
    x = bits - 1;
  }
  while (k-- > 0)
    w.putMsbFirst(groups[k], widths[k]);
  w.put(0, 1);
}

uint64_t getEliasOmega(BitReader &r) {
  uint64_t n = 1;
  for (;;) {
    if (r.bit() == 0)
      return r.bad() ? 0 : n;
    if (n > 62)
      return 0; // would not fit in 64 bits
    uint64_t v = 1;
    for (uint64_t k = 0; k < n; ++k)
      v = (v << 1) | r.bit();
    if (r.bad())
      return 0;
    n = v;
  }
}

unsigned eliasOmegaBits(uint64_t x) {
  unsigned bits = 1;
  while (x > 1) {
    unsigned b = 64 - unsigned(__builtin_clzll(x));
    bits += b;
    x = b - 1;
  }
  return bits;
}

} // namespace qoda::quant::detail
