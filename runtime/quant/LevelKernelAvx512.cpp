// The AVX2 encoder of LevelKernelAvx2.cpp compiled a second time for CPUs
// with AVX-512VL (32 vector registers, vpternlogd): picked at run time by
// encodeSegment when the CPU has it. Same source, hence the same arithmetic;
// KernelTest compares both encoders with the reference.
#define QODA_KERNEL_AVX512VL 1
#include "LevelKernelAvx2.cpp"
