//===- QuantCodec.h - quant::Compressor as a MessageCodec -------*- C++ -*-===//
//
// Adapts one of the quantization library's compressors to the compressed
// collectives. The fixed message is a 16-byte prefix (encoded length, the
// encoder's step) plus maxMessageBytes(n); the step travels with the
// message because the decoder must use the encoder's random key step.
// Decoding uses weight 1, so acc += decoded exactly.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "qoda/comm/CompressedAggregator.h"
#include "qoda/quant/Compressor.h"

namespace qoda::comm {

class QuantCodec : public MessageCodec {
public:
  QuantCodec(std::unique_ptr<quant::Compressor> c, std::size_t dim,
             std::uint64_t seed, std::uint32_t rank);
  std::size_t dim() const override { return dim_; }
  std::size_t messageBytes() const override { return kPrefixBytes + maxBytes_; }
  void encode(const float *v, std::uint8_t *msg) override;
  void decodeAccumulate(const std::uint8_t *msg, float *acc) const override;
  std::string name() const override { return c_->name(); }
  void save(std::ostream &os) const override;
  void load(std::istream &is) override;

  static constexpr std::size_t kPrefixBytes = 16;

private:
  std::unique_ptr<quant::Compressor> c_;
  std::size_t dim_, maxBytes_;
  std::uint64_t seed_, step_ = 0;
  std::uint32_t rank_;
};

} // namespace qoda::comm
