// The fast (AVX2) level kernels against the scalar reference: messages must
// be byte-identical and decoding must give identical sums, for every index
// width, bucket size, norm, norm precision, segment alignment and for
// special input values. Also checks the thread count never changes bytes.
#include "LevelKernel.h" // internal: kernel-level checks
#include "qoda/quant/Compressor.h"
#include "qoda/quant/LevelVec.h"
#define QODA_LEVELVEC_AVX512VL 1
#include "qoda/quant/LevelVec.h"
#include "qoda/quant/Philox.h"
#include "qoda/quant/Wire.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace qoda::quant;

namespace {

std::vector<float> mixedInput(size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    float x = d(g);
    switch (g() % 16) {
    case 0:
      x = 0.0f;
      break;
    case 1:
      x = -0.0f;
      break;
    case 2:
      x *= 1e-30f; // tiny next to the bucket norm
      break;
    case 3:
      x = std::numeric_limits<float>::denorm_min();
      break;
    case 4:
      x *= 1e3f; // large, yet fp16 bucket norms stay finite
      break;
    default:
      break;
    }
    v[i] = x;
  }
  return v;
}

std::vector<uint8_t> encodeWith(const Schedule &s, Kernel k, unsigned threads,
                                const std::vector<float> &v, EncodeKey key) {
  CompressorOptions o;
  o.schedule = s;
  o.kernel = k;
  o.threads = threads;
  auto c = makeCompressor("layerwise", o);
  std::vector<uint8_t> m(c->maxMessageBytes(v.size()));
  m.resize(c->encode(v.data(), v.size(), key, m.data()));
  return m;
}

std::vector<float> decodeWith(const Schedule &s, Kernel k, unsigned threads,
                              const std::vector<uint8_t> &m, size_t n,
                              uint64_t step) {
  CompressorOptions o;
  o.schedule = s;
  o.kernel = k;
  o.threads = threads;
  auto c = makeCompressor("layerwise", o);
  std::vector<float> sum(n, 0.5f);
  EXPECT_EQ(c->decodeAccumulate(m.data(), m.size(), 0.75f, sum.data(), n, step),
            "");
  return sum;
}

/// Levels with 2^bits entries (or `count` when given), non-uniform.
std::vector<float> levelsFor(unsigned count) {
  std::vector<float> l(count);
  for (unsigned j = 0; j < count; ++j)
    l[j] = std::pow(float(j) / float(count - 1), 1.7f);
  l.back() = 1.0f;
  return l;
}

Schedule scheduleFor(unsigned numLevels, uint32_t bucket, Norm norm,
                     NormPrecision prec, size_t n) {
  Schedule s;
  TypeSchedule a;
  a.levels = levelsFor(numLevels);
  a.bucketSize = bucket;
  a.norm = norm;
  a.normPrecision = prec;
  TypeSchedule b = a;
  b.levels = uniformLevels(numLevels - 1);
  s.types = {a, b};
  // Segment starts at odd offsets so neither Philox blocks nor bytes align.
  size_t cut1 = n / 3 + 1, cut2 = n / 2 + 3;
  s.segments = {{0, cut1, 0}, {cut1, cut2 - cut1, 1}, {cut2, n - cut2, 0}};
  return s;
}

} // namespace

TEST(Kernel, FastEqualsReferenceBitForBit) {
  const size_t n = 5003;
  std::vector<float> v = mixedInput(n, 1);
  EncodeKey key{0x1234567890abcdefull, 77, 5};
  unsigned configs = 0;
  for (unsigned levels : {2u, 3u, 4u, 5u, 8u, 9u, 16u, 17u, 32u, 100u, 256u})
    for (uint32_t bucket : {8u, 64u, 1024u, 100u})
      for (Norm norm : {Norm::L2, Norm::Linf})
        for (NormPrecision prec : {NormPrecision::Fp32, NormPrecision::Fp16}) {
          Schedule s = scheduleFor(levels, bucket, norm, prec, n);
          std::vector<uint8_t> ref =
              encodeWith(s, Kernel::Reference, 1, v, key);
          std::vector<uint8_t> fast = encodeWith(s, Kernel::Fast, 1, v, key);
          ASSERT_EQ(ref, fast)
              << levels << " levels, bucket " << bucket << ", norm "
              << int(norm) << ", prec " << int(prec);
          ASSERT_EQ(decodeWith(s, Kernel::Reference, 1, ref, n, key.step),
                    decodeWith(s, Kernel::Fast, 1, ref, n, key.step))
              << levels << " levels, bucket " << bucket;
          ++configs;
        }
  EXPECT_EQ(configs, 11u * 4 * 2 * 2);
  std::printf("fast kernel on this machine: %s\n", fastKernelName().c_str());
}

TEST(Kernel, QsgdAndNuqsgdFastEqualsReference) {
  // Sizes around the 8-coordinate groups and the 512-coordinate RNG chunks.
  for (size_t n : {1u, 7u, 8u, 9u, 511u, 513u, 4096u, 70001u})
    for (const char *name : {"qsgd", "nuqsgd"})
      for (unsigned bits : {1u, 2u, 3u, 4u, 5u, 7u}) {
        std::vector<float> v = mixedInput(n, unsigned(n + bits));
        CompressorOptions o;
        o.bits = bits;
        o.bucketSize = 512;
        std::vector<uint8_t> out[2];
        for (int k = 0; k < 2; ++k) {
          o.kernel = k ? Kernel::Reference : Kernel::Fast;
          auto c = makeCompressor(name, o);
          out[k].resize(c->maxMessageBytes(n));
          out[k].resize(
              c->encode(v.data(), n, {3, 1ull << 40, 2}, out[k].data()));
        }
        ASSERT_EQ(out[0], out[1]) << name << " bits " << bits << " n " << n;
      }
}

TEST(Kernel, PhiloxCounterCarriesIntoHighWord) {
  // Segments whose global coordinates cross 2^35 (Philox block 2^32, 8
  // coordinates per block): the vector counter must carry into the high
  // word like the reference. The kernels take the global coordinate
  // separately from the data pointer. Uniform (qsgd), small and large
  // non-uniform level tables; starts on and off a block boundary.
  if (!detail::avx2Available())
    GTEST_SKIP() << "no AVX2 on this machine";
  std::vector<float> v = mixedInput(200, 9);
  unsigned checked = 0;
  for (std::vector<float> levels :
       {uniformLevels(15), levelsFor(16), levelsFor(100), uniformLevels(1)})
    for (uint64_t start : {(uint64_t(1) << 35) - 43, (uint64_t(1) << 35) - 64,
                           (uint64_t(1) << 35) - 8 * 11 - 1}) {
      TypeSchedule t = singleTypeSchedule(levels, 64).types[0];
      detail::LevelTable lt(t);
      uint64_t bytes = detail::segmentSizes(200, t).total();
      std::vector<uint8_t> ref(bytes), fast(bytes), wide(bytes);
      detail::SegmentRange r{200, start, 0, 200};
      detail::encodeSegmentRef(lt, {v.data(), r, {5, 6, 7}, ref.data()});
      detail::encodeSegmentAvx2(lt, {v.data(), r, {5, 6, 7}, fast.data()});
      EXPECT_EQ(ref, fast) << levels.size() << " levels, start " << start;
      if (detail::avx512Available()) {
        detail::encodeSegmentAvx512(lt, {v.data(), r, {5, 6, 7}, wide.data()});
        EXPECT_EQ(ref, wide) << levels.size() << " levels, start " << start;
      }
      ++checked;
    }
  EXPECT_EQ(checked, 12u);
}

TEST(Kernel, BothVectorEncodersEqualReference) {
  // Kernel::Fast runs one encoder per machine; this calls the AVX2 and the
  // AVX-512VL build directly, over index widths 1-8 (32-coordinate packing
  // for 1/2/4/8 bits, the generic packer otherwise), uniform and non-uniform
  // levels of every search mode, and a segment start that is on neither a
  // Philox block nor a byte.
  if (!detail::avx2Available())
    GTEST_SKIP() << "no AVX2 on this machine";
  const uint64_t len = 5003, coord0 = 12345;
  std::vector<float> v = mixedInput(len, 21);
  unsigned checked = 0;
  for (unsigned count : {2u, 3u, 4u, 5u, 8u, 9u, 16u, 17u, 32u, 100u, 256u})
    for (bool uniform : {false, true})
      for (uint32_t bucket : {8u, 64u, 1024u})
        for (Norm norm : {Norm::L2, Norm::Linf}) {
          std::vector<float> l =
              uniform ? uniformLevels(count - 1) : levelsFor(count);
          TypeSchedule t = singleTypeSchedule(l, bucket, norm).types[0];
          detail::LevelTable lt(t);
          ASSERT_EQ(lt.uniform, uniform || count == 2); // {0, 1} is j/1
          uint64_t bytes = detail::segmentSizes(len, t).total();
          std::vector<uint8_t> ref(bytes), fast(bytes, 0xaa), wide(bytes, 0x55);
          detail::SegmentRange r{len, coord0, 0, len};
          EncodeKey key{99, 3, 4};
          detail::encodeSegmentRef(lt, {v.data(), r, key, ref.data()});
          detail::encodeSegmentAvx2(lt, {v.data(), r, key, fast.data()});
          ASSERT_EQ(ref, fast) << count << " levels, bucket " << bucket;
          if (detail::avx512Available()) {
            detail::encodeSegmentAvx512(lt, {v.data(), r, key, wide.data()});
            ASSERT_EQ(ref, wide) << count << " levels, bucket " << bucket;
          }
          ++checked;
        }
  EXPECT_EQ(checked, 11u * 2 * 3 * 2);
  std::printf("AVX-512VL encoder %s\n",
              detail::avx512Available() ? "checked" : "not available here");
}

TEST(Kernel, PhiloxFoldIsTheGeneratorsOutput) {
  // qoda-bench's philox_gbps times philoxFold: it must consume exactly the
  // random half-words the encoder uses (odd starts, chunks, 2^32 blocks).
#if defined(__x86_64__) && defined(__GNUC__)
  if (!levelvec::cpuHasAvx2())
    GTEST_SKIP() << "no AVX2";
  const levelvec::Key key{0x0123456789abcdefull, 77, 3};
  for (uint64_t c : {uint64_t(0), uint64_t(5), (uint64_t(1) << 35) - 13})
    for (uint64_t n : {uint64_t(1), uint64_t(31), uint64_t(1500)}) {
      uint32_t expect = 0;
      for (uint64_t i = c; i < c + n; ++i)
        expect ^=
            randomBits16(philoxBlock(key.seed, key.step, key.rank, i >> 3), i);
      EXPECT_EQ(levelvec::avx2::philoxFold(key, c, n), expect) << c << " " << n;
      if (levelvec::cpuHasAvx512vl()) {
        EXPECT_EQ(levelvec::avx512vl::philoxFold(key, c, n), expect)
            << c << " " << n;
      }
    }
#else
  GTEST_SKIP() << "x86-64 only";
#endif
}

TEST(Kernel, UniformDetectionIsExact) {
  // Only levels equal to float(j) / float(s) bit for bit take the uniform
  // rule; anything else (exponential, fitted, one ulp off) the search.
  for (unsigned s : {1u, 3u, 7u, 15u, 255u})
    EXPECT_TRUE(
        detail::LevelTable(singleTypeSchedule(uniformLevels(s), 64).types[0])
            .uniform)
        << s;
  EXPECT_FALSE(
      detail::LevelTable(singleTypeSchedule(exponentialLevels(3), 64).types[0])
          .uniform);
  EXPECT_FALSE(
      detail::LevelTable(singleTypeSchedule(levelsFor(16), 64).types[0])
          .uniform);
  std::vector<float> off = uniformLevels(15);
  off[5] = std::nextafter(off[5], 1.0f);
  EXPECT_FALSE(
      detail::LevelTable(singleTypeSchedule(off, 64).types[0]).uniform);
}

TEST(Kernel, ThreadsDoNotChangeMessages) {
  const size_t n = 140001;
  std::vector<float> v = mixedInput(n, 4);
  Schedule s = scheduleFor(16, 1024, Norm::L2, NormPrecision::Fp32, n);
  std::vector<uint8_t> one = encodeWith(s, Kernel::Fast, 1, v, {1, 2, 3});
  for (unsigned t : {2u, 3u, 8u}) {
    EXPECT_EQ(one, encodeWith(s, Kernel::Fast, t, v, {1, 2, 3})) << t;
    EXPECT_EQ(decodeWith(s, Kernel::Fast, 1, one, n, 2),
              decodeWith(s, Kernel::Fast, t, one, n, 2))
        << t;
  }
  // Casts split in chunks.
  for (const char *cast : {"fp32", "fp16", "bf16"}) {
    std::vector<uint8_t> m[2];
    std::vector<float> sum[2];
    for (int k = 0; k < 2; ++k) {
      CompressorOptions o;
      o.threads = k ? 3 : 1;
      auto c = makeCompressor(cast, o);
      m[k].resize(c->maxMessageBytes(n));
      m[k].resize(c->encode(v.data(), n, {1, 2, 3}, m[k].data()));
      sum[k].assign(n, 0.0f);
      ASSERT_EQ(c->decodeAccumulate(m[k].data(), m[k].size(), 0.5f,
                                    sum[k].data(), n, 2),
                "");
    }
    EXPECT_EQ(m[0], m[1]) << cast;
    EXPECT_EQ(sum[0], sum[1]) << cast;
  }
  // Bucket sizes that are not multiples of 8 split at 8-bucket groups.
  Schedule odd = scheduleFor(5, 100, Norm::Linf, NormPrecision::Fp16, n);
  EXPECT_EQ(encodeWith(odd, Kernel::Fast, 1, v, {1, 2, 3}),
            encodeWith(odd, Kernel::Fast, 4, v, {1, 2, 3}));
}

TEST(Kernel, Fp16CastFastEqualsReference) {
  // Random bit patterns (NaNs with payloads, infinities, subnormals, values
  // that round to the fp16 overflow boundary) plus every fp16 value decoded.
  std::mt19937 g(8);
  std::vector<float> v(70007);
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t bits = g();
    if (i % 3 == 0) // concentrate on the fp16 range
      bits = (bits & 0x80ffffffu) | ((0x60u + (bits >> 24) % 0x30u) << 23);
    std::memcpy(&v[i], &bits, 4);
  }
  for (float x : {65504.0f, 65519.99f, 65520.0f, 5.9604645e-8f, 2.98e-8f, -0.0f,
                  INFINITY, -INFINITY})
    v.push_back(x);
  std::vector<uint8_t> out[2];
  for (int k = 0; k < 2; ++k) {
    CompressorOptions o;
    o.kernel = k ? Kernel::Reference : Kernel::Fast;
    auto c = makeCompressor("fp16", o);
    out[k].resize(c->maxMessageBytes(v.size()));
    out[k].resize(c->encode(v.data(), v.size(), {0, 1, 0}, out[k].data()));
  }
  ASSERT_EQ(out[0], out[1]);
  // Decode all 65536 halves (+ a tail of 3), compare bit patterns.
  std::vector<float> any(65539, 0.0f);
  CompressorOptions o;
  auto c = makeCompressor("fp16", o);
  std::vector<uint8_t> m(c->maxMessageBytes(any.size()));
  m.resize(c->encode(any.data(), any.size(), {0, 1, 0}, m.data()));
  for (uint32_t h = 0; h < 65539; ++h) {
    uint16_t x = uint16_t(h);
    std::memcpy(m.data() + kHeaderBytes + 2 * h, &x, 2);
  }
  std::vector<float> sum[2];
  for (int k = 0; k < 2; ++k) {
    o.kernel = k ? Kernel::Reference : Kernel::Fast;
    auto d = makeCompressor("fp16", o);
    sum[k].assign(any.size(), 0.0f);
    ASSERT_EQ(d->decodeAccumulate(m.data(), m.size(), 1.0f, sum[k].data(),
                                  any.size(), 1),
              "");
  }
  ASSERT_EQ(std::memcmp(sum[0].data(), sum[1].data(), 4 * any.size()), 0);
}
