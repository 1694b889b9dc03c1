//===- Communicator.cpp - defaults of the collective interface ------------===//
#include "qoda/comm/Communicator.h"

#include <cstring>
#include <vector>

namespace qoda::comm {

void Communicator::allreduceSumHalf(std::uint16_t *data, std::size_t count) {
  std::vector<float> wide(count);
  for (std::size_t i = 0; i < count; ++i) {
    _Float16 h;
    std::memcpy(&h, data + i, 2);
    wide[i] = static_cast<float>(h);
  }
  allreduceSum(wide.data(), count);
  for (std::size_t i = 0; i < count; ++i) {
    _Float16 h = static_cast<_Float16>(wide[i]);
    std::memcpy(data + i, &h, 2);
  }
}

} // namespace qoda::comm
