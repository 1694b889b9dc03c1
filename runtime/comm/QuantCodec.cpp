//===- QuantCodec.cpp - quant::Compressor as a MessageCodec ---------------===//
#include "qoda/comm/QuantCodec.h"
#include "qoda/comm/Serialize.h"

#include <cstring>
#include <stdexcept>

namespace qoda::comm {

QuantCodec::QuantCodec(std::unique_ptr<quant::Compressor> c, std::size_t dim,
                       std::uint64_t seed, std::uint32_t rank)
    : c_(std::move(c)), dim_(dim), maxBytes_(c_->maxMessageBytes(dim)),
      seed_(seed), rank_(rank) {}

void QuantCodec::encode(const float *v, std::uint8_t *msg) {
  ++step_;
  std::uint64_t len =
      c_->encode(v, dim_, {seed_, step_, rank_}, msg + kPrefixBytes);
  std::memcpy(msg, &len, 8);
  std::memcpy(msg + 8, &step_, 8);
  std::memset(msg + kPrefixBytes + len, 0,
              maxBytes_ - len); // deterministic padding
}

void QuantCodec::decodeAccumulate(const std::uint8_t *msg, float *acc) const {
  std::uint64_t len, step;
  std::memcpy(&len, msg, 8);
  std::memcpy(&step, msg + 8, 8);
  if (len > maxBytes_)
    throw std::runtime_error(name() + " message claims " + std::to_string(len) +
                             " bytes, more than the " +
                             std::to_string(maxBytes_) + " bound");
  std::string err =
      c_->decodeAccumulate(msg + kPrefixBytes, len, 1.0f, acc, dim_, step);
  if (!err.empty())
    throw std::runtime_error(name() + " message rejected: " + err);
}

void QuantCodec::save(std::ostream &os) const { writePod(os, step_); }

void QuantCodec::load(std::istream &is) { step_ = readPod<std::uint64_t>(is); }

} // namespace qoda::comm
