// Internal: the entropy-coded (Huffman) and sparse (Elias-omega gaps) forms
// of one level segment. Both are computed from, and decoded back into, the
// fixed-width segment bytes of LevelKernel.h, so quantization and all index
// checks stay in one place.
//   u64 word  bodyBytes << 8 | method (0 fixed, 1 Huffman, 2 Elias gaps)
//   norms     as in the fixed-width segment
//   body      method 0: index plane + sign plane
//             method 1: L code lengths (1 byte each, 0 = unused level),
//                       then one bit stream: per coordinate the canonical
//                       Huffman code of its index (MSB first), followed by
//                       its sign bit when the index is non-zero; zero-padded
//             method 2: one bit stream: Elias-omega(count + 1), then per
//                       non-zero coordinate Elias-omega(gap) with gap =
//                       position - previous position (previous = -1 at the
//                       start), its index (indexBits, LSB first) and its
//                       sign bit; zero-padded
#ifndef QODA_QUANT_ENTROPYSEGMENT_H
#define QODA_QUANT_ENTROPYSEGMENT_H

#include "LevelKernel.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qoda::quant::detail {

enum class SegmentMethod : uint8_t { Fixed = 0, Huffman = 1, EliasGaps = 2 };

/// Codes the fixed-width segment `fixed` (len coordinates) with the shortest
/// of fixed width and the type's coding; writes the word, norms and body to
/// out (capacity 8 + fixed size) and returns the bytes written.
uint64_t codeEntropySegment(const LevelTable &lt, uint64_t len,
                            const uint8_t *fixed, uint8_t *out);

/// Decodes one entropy-coded segment from p (avail bytes) back into its
/// fixed-width bytes; `used` gets the bytes consumed. "" or the reason.
std::string decodeEntropySegment(const LevelTable &lt, uint64_t len,
                                 uint64_t coord0, const uint8_t *p,
                                 uint64_t avail, std::vector<uint8_t> &fixed,
                                 uint64_t &used);

} // namespace qoda::quant::detail

#endif
