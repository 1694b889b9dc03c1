// The level encoder's AVX-512VL build: the vector cores of
// qoda/quant/LevelVec.h instantiated a second time with
// QODA_LEVELVEC_AVX512VL (32 vector registers, vpternlogd), picked at run
// time by encodeSegment when the CPU has AVX-512F/VL. Same source, hence the
// same arithmetic; KernelTest compares both encoders with the reference.
#include "LevelKernel.h"

#define QODA_LEVELVEC_AVX512VL 1
#include "qoda/quant/LevelVec.h"

namespace qoda::quant::detail {

#if defined(__x86_64__) && defined(__GNUC__)

bool avx512Available() { return levelvec::cpuHasAvx512vl(); }

void encodeSegmentAvx512(const LevelTable &lt, const SegmentEncode &e) {
  levelvec::avx512vl::encodeSegmentBits(lt.indexBits, vecLevels(lt),
                                        {e.key.seed, e.key.step, e.key.rank},
                                        vecSegment(lt, e));
}

#else

bool avx512Available() { return false; }
void encodeSegmentAvx512(const LevelTable &lt, const SegmentEncode &e) {
  encodeSegmentRef(lt, e);
}

#endif

} // namespace qoda::quant::detail
