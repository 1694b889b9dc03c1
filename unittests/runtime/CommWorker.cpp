//===- CommWorker.cpp - a worker for the multi-process comm tests ---------===//
//
// Run under qoda-run. Modes:
//   collectives          allreduce/allgather/broadcast/barrier against values
//                        every rank can compute locally; exits 1 on mismatch
//   compressed           compressed collective (a) against the reference
//   scatter-reduce       compressed collective (b) against the reference
//   pipelined            collective (a) in 5 overlapped pieces, same check
//   layerwise            layer-wise collective (a) (schedule codec: level
//                        types, fp16 and fp32 types) against the reference
//   layerwise-sr         the same through collective (b)
//   layerwise-allreduce  (a) with the fp16 and fp32 types through Gloo's
//                        fp16/fp32 all-reduce: compressed part bit for bit,
//                        fp32 to rounding, fp16 within half's rounding;
//                        bytes sent and step-size norms checked
//   layerwise-sr-allreduce  the same through collective (b)
//   refit                level re-fitting: due steps, identical tables
//   codec-cost           measureCodecCost: positive, identical on all ranks
//   calibrate            calibrateCollectives: positive times, the same
//                        numbers and pick on every rank
//   sigpipe-ignored      the communicator made SIGPIPE ignored (qoda-run
//                        starts workers with the default disposition)
//   die-at N | abort-at N | hang-at N
//                        rank 1 exits(3)/aborts/sleeps forever before
//                        collective N; the others must fail with a CommError
//                        naming rank 1 (exit 42 when they do, 1 otherwise)
//
//===----------------------------------------------------------------------===//
#include "qoda/comm/CompressedAggregator.h"
#include "qoda/comm/CostModel.h"
#include "qoda/comm/GlooCommunicator.h"
#include "qoda/comm/LevelRefit.h"
#include "qoda/comm/PipelinedAggregator.h"
#include "qoda/comm/RawReducer.h"
#include "qoda/comm/ScatterReduceAggregator.h"
#include "qoda/comm/ScheduleCodec.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <vector>

using namespace qoda::comm;

static int collectives(Communicator &c) {
  int K = c.size(), r = c.rank();
  for (std::size_t n : {1u, 7u, 1000u, 300001u}) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i)
      v[i] = static_cast<float>((r + 1) * (i % 13)); // exact in fp32
    c.allreduceSum(v.data(), n);
    for (std::size_t i = 0; i < n; ++i)
      if (v[i] != static_cast<float>(K * (K + 1) / 2 * (i % 13))) {
        std::cerr << "allreduce mismatch at " << i << "\n";
        return 1;
      }
    std::vector<unsigned char> msg(n), all(n * K);
    for (std::size_t i = 0; i < n; ++i)
      msg[i] = static_cast<unsigned char>(r * 31 + i);
    c.allgather(msg.data(), n, all.data());
    for (int k = 0; k < K; ++k)
      for (std::size_t i = 0; i < n; ++i)
        if (all[k * n + i] != static_cast<unsigned char>(k * 31 + i)) {
          std::cerr << "allgather mismatch rank " << k << " at " << i << "\n";
          return 1;
        }
    std::vector<unsigned char> b(n, static_cast<unsigned char>(r));
    c.broadcast(b.data(), n, K - 1);
    for (unsigned char x : b)
      if (x != K - 1) {
        std::cerr << "broadcast mismatch\n";
        return 1;
      }
    c.barrier();
  }
  std::cout << "collectives ok, bytes sent " << c.stats().bytesSent << "\n";
  return 0;
}

/// Worker k's test vector for round `round`: scales differ per segment.
static std::vector<float> vectorOf(int k, int round, std::size_t n) {
  std::mt19937 rng(1000 * k + round);
  std::normal_distribution<float> g;
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = g(rng) * (i < n / 2 ? 0.01f : 3.0f);
  return v;
}

/// Compressed collective (a) against the reference: encode every worker's
/// vector independently, decode each message alone, sum in rank order,
/// divide by K. Compressed coordinates must match bit for bit.
static int compressed(Communicator &c) {
  const std::size_t a = 1000, b = 37, d = 5003, n = a + b + d;
  std::vector<LayoutSegment> layout = {
      {{"a", 0, a}, true}, {{"b", a, b}, false}, {{"d", a + b, d}, true}};
  CompressedAggregator agg(c, layout, std::make_unique<Fp16Codec>(a + d));
  int K = c.size();
  for (int round = 0; round < 3; ++round) {
    std::vector<float> v = vectorOf(c.rank(), round, n), mean(n);
    AggregateStats st;
    agg.mean(v.data(), mean.data(), st);
    std::vector<float> ref(a + d, 0.0f), rawRef(b, 0.0f);
    double sumSq = 0;
    for (int k = 0; k < K; ++k) {
      std::vector<float> vk = vectorOf(k, round, n), comp;
      comp.insert(comp.end(), vk.begin(), vk.begin() + a);
      comp.insert(comp.end(), vk.begin() + a + b, vk.end());
      Fp16Codec codec(a + d);
      std::vector<std::uint8_t> msg(codec.messageBytes());
      codec.encode(comp.data(), msg.data());
      std::vector<float> dec(a + d, 0.0f);
      codec.decodeAccumulate(msg.data(), dec.data());
      for (std::size_t i = 0; i < a + d; ++i) {
        ref[i] += dec[i];
        sumSq += double(dec[i]) * dec[i];
      }
      for (std::size_t i = 0; i < b; ++i) {
        rawRef[i] += vk[a + i];
        sumSq += double(vk[a + i]) * vk[a + i];
      }
    }
    float inv = 1.0f / K;
    for (std::size_t i = 0; i < a + d; ++i) {
      float got = mean[i < a ? i : i + b];
      if (got != ref[i] * inv) {
        std::cerr << "compressed mean differs from the reference at " << i
                  << ": " << got << " vs " << ref[i] * inv << "\n";
        return 1;
      }
    }
    for (std::size_t i = 0; i < b; ++i)
      if (std::fabs(mean[a + i] - rawRef[i] * inv) > 1e-5f) {
        std::cerr << "uncompressed segment differs at " << i << "\n";
        return 1;
      }
    if (std::fabs(st.sumSq - sumSq) > 1e-3 * sumSq) {
      std::cerr << "sumSq " << st.sumSq << " vs " << sumSq << "\n";
      return 1;
    }
  }
  std::size_t msg = agg.messageBytes();
  if (msg != CompressedAggregator::kHeaderBytes + 2 * (a + d)) {
    std::cerr << "message size " << msg << "\n";
    return 1;
  }
  std::cout << "compressed collective exact, " << msg << " B/message\n";
  return 0;
}

/// Compressed collective (b) against the reference: for every chunk,
/// decode each worker's message alone, sum in rank order, divide by K,
/// re-quantize, decode. Must match bit for bit.
static int scatterReduce(Communicator &c) {
  const std::size_t n = 10007;
  int K = c.size();
  auto make = [](std::size_t, std::size_t d) {
    return std::make_unique<Fp16Codec>(d);
  };
  ScatterReduceAggregator agg(c, n, make);
  for (int round = 0; round < 3; ++round) {
    std::vector<float> v = vectorOf(c.rank(), round, n), mean(n);
    AggregateStats st;
    agg.mean(v.data(), mean.data(), st);
    for (int j = 0; j < K; ++j) {
      std::size_t b = agg.chunkBegin(j), e = agg.chunkEnd(j), m = e - b;
      Fp16Codec codec(m);
      std::vector<std::uint8_t> msg(codec.messageBytes());
      std::vector<float> sum(m, 0.0f);
      for (int k = 0; k < K; ++k) {
        std::vector<float> vk = vectorOf(k, round, n), dec(m, 0.0f);
        codec.encode(vk.data() + b, msg.data());
        codec.decodeAccumulate(msg.data(), dec.data());
        for (std::size_t i = 0; i < m; ++i)
          sum[i] += dec[i];
      }
      for (float &x : sum)
        x *= 1.0f / K;
      std::vector<float> ref(m, 0.0f);
      codec.encode(sum.data(), msg.data());
      codec.decodeAccumulate(msg.data(), ref.data());
      for (std::size_t i = 0; i < m; ++i)
        if (mean[b + i] != ref[i]) {
          std::cerr << "scatter-reduce differs from the reference at " << b + i
                    << ": " << mean[b + i] << " vs " << ref[i] << "\n";
          return 1;
        }
    }
  }
  std::cout << "scatter-reduce collective exact\n";
  return 0;
}

/// Pipelined collective (a): same reference as (a), per coordinate.
static int pipelined(Communicator &c) {
  const std::size_t n = 10007;
  int K = c.size();
  PipelinedAggregator agg(c, n, 5, [](std::size_t, std::size_t d) {
    return std::make_unique<Fp16Codec>(d);
  });
  for (int round = 0; round < 3; ++round) {
    std::vector<float> v = vectorOf(c.rank(), round, n);
    AggregateStats st;
    agg.mean(v.data(), v.data(), st); // in place: mean aliases v
    Fp16Codec codec(n);
    std::vector<std::uint8_t> msg(codec.messageBytes());
    std::vector<float> sum(n, 0.0f);
    for (int k = 0; k < K; ++k) {
      std::vector<float> vk = vectorOf(k, round, n), dec(n, 0.0f);
      codec.encode(vk.data(), msg.data());
      codec.decodeAccumulate(msg.data(), dec.data());
      for (std::size_t i = 0; i < n; ++i)
        sum[i] += dec[i];
    }
    for (std::size_t i = 0; i < n; ++i)
      if (v[i] != sum[i] * (1.0f / K)) {
        std::cerr << "pipelined differs from the reference at " << i << "\n";
        return 1;
      }
  }
  std::cout << "pipelined collective exact, " << c.stats().collectives
            << " all-gathers\n";
  return 0;
}

/// A schedule over n = 6000 coordinates: two level types (3 and 2 index
/// bits, buckets 512 and 1024), an fp16 type and an fp32 type.
static qoda::quant::Schedule testSchedule() {
  namespace q = qoda::quant;
  q::Schedule s;
  q::TypeSchedule a, b, h, f;
  a.levels = q::uniformLevels(7);
  a.bucketSize = 512;
  b.levels = q::exponentialLevels(3);
  h.kind = q::TypeKind::Fp16;
  f.kind = q::TypeKind::Fp32;
  s.types = {a, b, h, f};
  s.segments = {{0, 1500, 0},
                {1500, 37, 3},
                {1537, 2000, 1},
                {3537, 63, 2},
                {3600, 2400, 0}};
  return s;
}

static float roundHalf(float x) {
  return static_cast<float>(static_cast<_Float16>(x));
}

/// The uncompressed segments of `layout` after mean(): fp32 ones equal the
/// mean to fp32 rounding (Gloo's ring sums in its own order); fp16 ones
/// (each worker sends half(v_k / K), the ring rounds every partial sum to
/// half) within half's rounding: K roundings of at most 2^-11 of the sum of
/// |v_k| / K, plus K subnormal steps 2^-24.
static bool rawSegmentsMatch(const std::vector<LayoutSegment> &layout,
                             const std::vector<float> &mean, int K, int round,
                             std::size_t n) {
  std::vector<std::vector<float>> vs;
  for (int k = 0; k < K; ++k)
    vs.push_back(vectorOf(k, round, n));
  for (const LayoutSegment &l : layout) {
    if (l.compressed)
      continue;
    for (std::size_t i = l.segment.offset;
         i < l.segment.offset + l.segment.size; ++i) {
      double sum = 0, abs = 0;
      for (int k = 0; k < K; ++k) {
        sum += vs[k][i];
        abs += std::fabs(vs[k][i]);
      }
      double want = sum / K;
      double tol = l.half ? K * std::ldexp(1.0, -11) * abs / K +
                                K * std::ldexp(1.0, -24)
                          : 1e-5 * (1 + std::fabs(want));
      if (!(std::fabs(mean[i] - want) <= tol)) {
        std::cerr << (l.half ? "fp16" : "fp32") << " all-reduced coordinate "
                  << i << ": " << mean[i] << " vs the mean " << want
                  << " (tolerance " << tol << ")\n";
        return false;
      }
    }
  }
  return true;
}

/// Bytes one call of the all-reduces of `layout`'s uncompressed segments
/// puts on the wire (Gloo's ring: 2(K-1)/K of the data).
static std::uint64_t rawBytes(const std::vector<LayoutSegment> &layout, int K) {
  std::uint64_t n32 = 0, n16 = 0;
  for (const LayoutSegment &l : layout)
    if (!l.compressed)
      (l.half ? n16 : n32) += l.segment.size;
  std::uint64_t b = 0;
  if (n32)
    b += 2 * (K - 1) * n32 * 4 / K;
  if (n16)
    b += 2 * (K - 1) * n16 * 2 / K;
  return b;
}

/// ||Vhat_k||^2 over the uncompressed coordinates, as worker k contributes
/// them (fp32 values; K * half(v_k / K)).
static double rawNormSq(const std::vector<LayoutSegment> &layout,
                        const std::vector<float> &vk, int K) {
  double sq = 0;
  for (const LayoutSegment &l : layout)
    if (!l.compressed)
      for (std::size_t i = l.segment.offset;
           i < l.segment.offset + l.segment.size; ++i) {
        float x = l.half ? roundHalf(vk[i] * (1.0f / K)) * K : vk[i];
        sq += double(x) * x;
      }
  return sq;
}


/// The collectives' inputs for `full` over n coordinates with `route`: the
/// layout, the schedule of its compressed coordinates and their number.
struct Routed {
  std::vector<LayoutSegment> layout;
  qoda::quant::Schedule cs;
  std::size_t comp = 0, halves = 0;
};

static Routed routed(const qoda::quant::Schedule &full, std::size_t n,
                     RawRouting route) {
  Routed r{compressedLayout(full, n, route), compressedSchedule(full, n, route)};
  for (const LayoutSegment &l : r.layout) {
    r.comp += l.compressed ? l.segment.size : 0;
    r.halves += l.half ? l.segment.size : 0;
  }
  return r;
}

/// The compressed coordinates of vk, contiguous (what the codecs see).
static std::vector<float> packCompressed(const std::vector<LayoutSegment> &l,
                                         const std::vector<float> &vk) {
  std::vector<float> p;
  for (const LayoutSegment &s : l)
    if (s.compressed)
      p.insert(p.end(), vk.begin() + s.segment.offset,
               vk.begin() + s.segment.offset + s.segment.size);
  return p;
}

/// The routing a mode tests: without `allreduce` the aggregators' old
/// default (fp32 types all-reduced and fp16 ones in the message in (a),
/// both in the message in (b)); with it both all-reduced, after checking
/// that the test schedule has both to take out.
static bool routingOf(const qoda::quant::Schedule &full, std::size_t n,
                      bool allreduce, bool scatterReduce, RawRouting &route) {
  if (!allreduce) {
    route = scatterReduce ? RawRouting{false, false} : RawRouting{};
    return true;
  }
  route = routeUncompressed(full, n, 0);
  Routed r = routed(full, n, route);
  if (!route.fp16 || !route.fp32 || r.halves != 63 || r.comp != n - 100) {
    std::cerr << "routing did not take the fp16 and fp32 types out\n";
    return false;
  }
  return true;
}

/// Layer-wise collective (a) with the schedule codec: every worker's message
/// must equal (byte for byte) what a reference codec of that rank encodes,
/// the mean of the compressed coordinates must equal, bit for bit, the
/// rank-ordered sum of the K messages decoded alone, times 1/K, and the
/// all-reduced segments the mean within their rounding; bytes sent and the
/// step-size norms are checked too.
static int layerwise(Communicator &c, bool allreduce) {
  const qoda::quant::Schedule full = testSchedule();
  const std::size_t n = 6000;
  const int K = c.size();
  RawRouting route;
  if (!routingOf(full, n, allreduce, false, route))
    return 1;
  const Routed r = routed(full, n, route);
  const std::vector<LayoutSegment> &layout = r.layout;
  const std::size_t comp = r.comp;
  CompressedAggregator agg(
      c, layout, std::make_unique<ScheduleCodec>(r.cs, 0, comp, 7, c.rank()));
  std::vector<std::unique_ptr<ScheduleCodec>> refs;
  for (int k = 0; k < K; ++k)
    refs.push_back(std::make_unique<ScheduleCodec>(r.cs, 0, comp, 7, k));
  for (int round = 0; round < 3; ++round) {
    std::vector<float> v = vectorOf(c.rank(), round, n), mean(n);
    AggregateStats st;
    std::uint64_t before = c.stats().bytesSent;
    agg.mean(v.data(), mean.data(), st);
    std::uint64_t sent = c.stats().bytesSent - before;
    std::uint64_t want = (K - 1) * agg.messageBytes() + rawBytes(layout, K);
    if (sent != want) {
      std::cerr << "sent " << sent << " B, expected " << want
                << " (all-gather + the all-reduces)\n";
      return 1;
    }
    std::vector<float> sum(comp, 0.0f);
    double refSq = 0;
    for (int k = 0; k < K; ++k) {
      std::vector<float> vk = vectorOf(k, round, n);
      std::vector<float> packed = packCompressed(layout, vk);
      std::vector<std::uint8_t> msg(refs[k]->messageBytes());
      refs[k]->encode(packed.data(), msg.data());
      const std::uint8_t *got = agg.gathered().data() + k * agg.messageBytes() +
                                CompressedAggregator::kHeaderBytes;
      if (std::memcmp(got, msg.data(), msg.size()) != 0) {
        std::cerr << "rank " << k << "'s message differs from the reference "
                  << "encoding in round " << round << "\n";
        return 1;
      }
      std::vector<float> dec(comp, 0.0f);
      refs[k]->decodeAccumulate(msg.data(), dec.data());
      double sq = rawNormSq(layout, vk, K);
      for (std::size_t i = 0; i < comp; ++i) {
        sum[i] += dec[i];
        sq += double(dec[i]) * dec[i];
      }
      refSq += static_cast<float>(sq); // each header carries a float
    }
    if (!(std::fabs(st.sumSq - refSq) <= 1e-6 * refSq)) {
      std::cerr << "sum_k ||Vhat_k||^2 = " << st.sumSq << ", expected "
                << refSq << "\n";
      return 1;
    }
    std::vector<float> packedMean = packCompressed(layout, mean);
    for (std::size_t i = 0; i < comp; ++i)
      if (packedMean[i] != sum[i] * (1.0f / K)) {
        std::cerr << "compressed mean differs at packed coordinate " << i
                  << ": " << packedMean[i] << " vs " << sum[i] / K << "\n";
        return 1;
      }
    if (!rawSegmentsMatch(layout, mean, K, round, n))
      return 1;
  }
  std::cout << "layer-wise collective (a)"
            << (allreduce ? " with fp16/fp32 all-reduces" : "")
            << ": compressed exact, " << agg.messageBytes() << " B/message for "
            << comp << " compressed coordinates, all-reduced within rounding\n";
  return 0;
}

/// Layer-wise collective (b): the chunks cut the compressed coordinates;
/// per chunk j, the K workers' chunk messages decoded alone, summed in rank
/// order, times 1/K, re-quantized by worker j's codec (whose step advances
/// twice per call), decoded: bit for bit. All-reduced segments: the mean
/// within their rounding.
static int layerwiseScatterReduce(Communicator &c, bool allreduce) {
  const qoda::quant::Schedule full = testSchedule();
  const std::size_t n = 6000;
  const int K = c.size();
  RawRouting route;
  if (!routingOf(full, n, allreduce, true, route))
    return 1;
  const Routed r = routed(full, n, route);
  const std::vector<LayoutSegment> &layout = r.layout;
  CodecFactory make = [&](std::size_t off, std::size_t m) {
    return std::make_unique<ScheduleCodec>(r.cs, off, m, 7, c.rank());
  };
  ScatterReduceAggregator agg(c, layout, make);
  // refs[k][j]: worker k's codec of chunk j.
  std::vector<std::vector<std::unique_ptr<ScheduleCodec>>> refs(K);
  for (int k = 0; k < K; ++k)
    for (int j = 0; j < K; ++j)
      refs[k].push_back(std::make_unique<ScheduleCodec>(
          r.cs, agg.chunkBegin(j), agg.chunkEnd(j) - agg.chunkBegin(j), 7, k));
  for (int round = 0; round < 3; ++round) {
    std::vector<float> v = vectorOf(c.rank(), round, n), mean(n);
    AggregateStats st;
    std::uint64_t before = c.stats().bytesSent;
    agg.mean(v.data(), mean.data(), st);
    std::uint64_t sent = c.stats().bytesSent - before;
    std::uint64_t slot = 0;
    for (int j = 0; j < K; ++j)
      slot = std::max<std::uint64_t>(slot, refs[0][j]->messageBytes());
    slot += ScatterReduceAggregator::kHeaderBytes;
    std::uint64_t want = 2 * (K - 1) * slot + rawBytes(layout, K);
    if (sent != want) {
      std::cerr << "sent " << sent << " B, expected " << want << "\n";
      return 1;
    }
    std::vector<float> packedMean = packCompressed(layout, mean);
    for (int j = 0; j < K; ++j) {
      std::size_t b = agg.chunkBegin(j), m = agg.chunkEnd(j) - b;
      std::vector<float> sum(m, 0.0f);
      for (int k = 0; k < K; ++k) {
        std::vector<float> pk = packCompressed(layout, vectorOf(k, round, n));
        std::vector<float> dec(m, 0.0f);
        std::vector<std::uint8_t> msg(refs[k][j]->messageBytes());
        refs[k][j]->encode(pk.data() + b, msg.data());
        refs[k][j]->decodeAccumulate(msg.data(), dec.data());
        for (std::size_t i = 0; i < m; ++i)
          sum[i] += dec[i];
      }
      for (float &x : sum)
        x *= 1.0f / K;
      std::vector<float> ref(m, 0.0f);
      std::vector<std::uint8_t> msg(refs[j][j]->messageBytes());
      refs[j][j]->encode(sum.data(), msg.data());
      refs[j][j]->decodeAccumulate(msg.data(), ref.data());
      for (std::size_t i = 0; i < m; ++i)
        if (packedMean[b + i] != ref[i]) {
          std::cerr << "compressed chunk " << j << " differs at packed "
                    << "coordinate " << b + i << ": " << packedMean[b + i]
                    << " vs " << ref[i] << "\n";
          return 1;
        }
    }
    if (!rawSegmentsMatch(layout, mean, K, round, n))
      return 1;
    double sq = 0;
    for (float x : mean)
      sq += double(x) * x;
    // The aggregator sums in another (fixed) order: equal up to rounding.
    if (std::abs(st.sumSq - sq) > 1e-12 * sq) {
      std::cerr << "(b)'s ||Vhat||^2 is not that of the whole mean\n";
      return 1;
    }
  }
  std::cout << "layer-wise collective (b)"
            << (allreduce ? " with fp16/fp32 all-reduces" : "")
            << ": compressed exact, all-reduced within rounding\n";
  return 0;
}

/// Level re-fitting: rank r's vectors differ per rank and step; refits are
/// due at completed steps 0, 2, 5, 8 ("0,2/3"). Every rank must refit at
/// exactly those calls (once per step, also when a step aggregates twice)
/// and end with identical tables (the codecs' hash), re-fitted, each with no
/// higher MQV on the merged histogram than the table it replaced.
static int refit(Communicator &c) {
  const qoda::quant::Schedule full = testSchedule();
  const std::size_t n = 6000;
  const int K = c.size();
  RefitPlan plan = RefitPlan::parse("0,2/3");
  LevelRefitter rf(c, full, n, plan, 256);
  std::vector<std::uint64_t> at;
  for (std::uint64_t step = 1; step <= 9; ++step) {
    std::vector<float> v = vectorOf(c.rank(), static_cast<int>(step), n);
    if (rf.observe(v.data(), step))
      at.push_back(step - 1);
    if (step == 6 && rf.observe(v.data(), step)) { // second call, same step
      std::cerr << "refit twice in one step\n";
      return 1;
    }
    if (step == 6) // keep the local reference in sync with the extra call
      at.push_back(1000);
  }
  if (at != std::vector<std::uint64_t>{0, 2, 5, 1000, 8}) {
    std::cerr << "refits at the wrong steps\n";
    return 1;
  }
  std::vector<std::uint64_t> hashes(K);
  std::uint64_t mine = rf.levelsHash();
  c.allgather(&mine, 8, hashes.data());
  for (int k = 0; k < K; ++k)
    if (hashes[k] != mine) {
      std::cerr << "rank " << k << " ended with other level tables\n";
      return 1;
    }
  for (std::size_t t = 0; t < 2; ++t) {
    if (rf.schedule().types[t].levels == full.types[t].levels) {
      std::cerr << "type " << t << " was not re-fitted\n";
      return 1;
    }
    if (!(rf.costAfter()[t] <= rf.costBefore()[t])) {
      std::cerr << "type " << t << ": refit raised the MQV\n";
      return 1;
    }
  }
  // The window: a plan "5@1" fits on the vector of its due step alone
  // (exactly the tables of a refitter that saw only that vector), "5@all"
  // on every vector since the start (here heavy-tailed ones first, so
  // its tables differ).
  RefitPlan one = RefitPlan::parse("5@1"), all = RefitPlan::parse("5@all");
  LevelRefitter windowed(c, full, n, one, 256), everything(c, full, n, all, 256),
      last(c, full, n, all, 256);
  for (std::uint64_t step = 1; step <= 6; ++step) {
    std::vector<float> v = vectorOf(c.rank(), static_cast<int>(step), n);
    if (step < 6)
      for (float &x : v)
        x = x * x * x;
    bool a = windowed.observe(v.data(), step);
    bool b = everything.observe(v.data(), step);
    bool l = last.observe(step == 6 ? v.data() : nullptr, step);
    if (a != (step == 6) || b != a || l != a) {
      std::cerr << "windowed plans refit at the wrong step\n";
      return 1;
    }
  }
  if (windowed.levelsHash() != last.levelsHash()) {
    std::cerr << "a window of 1 step binned vectors outside it\n";
    return 1;
  }
  if (windowed.levelsHash() == everything.levelsHash()) {
    std::cerr << "'@all' did not bin the earlier vectors\n";
    return 1;
  }
  std::cout << "refits at completed steps 0, 2, 5, 8; identical tables on " << K
            << " ranks; windows bin the due steps' vectors only\n";
  return 0;
}

// Every rank times its codec (a different one per rank here, so their
// timings differ); all must end with the same numbers, or the collective
// choice could differ between ranks and hang.
static int codecCost(Communicator &c) {
  const std::size_t n = 4096 * (1 + c.rank());
  Fp16Codec codec(n);
  CodecCost cost = measureCodecCost(c, codec);
  if (!(cost.encode > 0) || !(cost.decode > 0)) {
    std::cerr << "codec cost not positive\n";
    return 1;
  }
  std::vector<CodecCost> all(c.size());
  c.allgather(&cost, sizeof cost, all.data());
  for (int k = 0; k < c.size(); ++k)
    if (all[k].encode != cost.encode || all[k].decode != cost.decode) {
      std::cerr << "rank " << k << " measured another codec cost\n";
      return 1;
    }
  std::cout << "codec cost " << cost.encode * 1e9 << "/" << cost.decode * 1e9
            << " ns/coord on every rank\n";
  return 0;
}

// Every rank must get the same calibration (rank 0's timings), or ranks
// could build different collectives and hang.
static int calibrate(Communicator &c) {
  const std::size_t n = 1 << 14;
  CodecFactory make = [](std::size_t, std::size_t m) {
    return std::make_unique<Fp16Codec>(m);
  };
  CompressedAggregator a(c, {{{"x", 0, n}, true}}, make(0, n));
  ScatterReduceAggregator b(c, n, make);
  std::vector<float> v = vectorOf(c.rank(), 0, n);
  Calibration cal = calibrateCollectives(c, a, b, v.data(), 3);
  if (cal.pairs != 3 || !(cal.allgather > 0) || !(cal.scatterReduce > 0) ||
      !(cal.ratio > 0)) {
    std::cerr << "calibration without positive times\n";
    return 1;
  }
  CollectiveChoice choice; // no model: the measurement decides alone
  choice.collective = "allgather";
  applyCalibration(choice, cal);
  if ((choice.collective == "scatter-reduce") != (cal.ratio > 1) ||
      choice.modelCollective != "allgather" || !choice.calibrated) {
    std::cerr << "applyCalibration did not follow the ratio\n";
    return 1;
  }
  double mine[3] = {cal.allgather, cal.scatterReduce, cal.ratio};
  std::vector<double> all(3 * static_cast<std::size_t>(c.size()));
  c.allgather(mine, sizeof mine, all.data());
  for (int k = 0; k < c.size(); ++k)
    if (std::memcmp(&all[3 * k], mine, sizeof mine) != 0) {
      std::cerr << "rank " << k << " got another calibration\n";
      return 1;
    }
  std::cout << "calibration (a) " << cal.allgather * 1e3 << " ms, (b) "
            << cal.scatterReduce * 1e3 << " ms, ratio " << cal.ratio
            << ": " << choice.collective << " on every rank\n";
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    std::cerr << "usage: qoda-comm-worker collectives|die-at N|abort-at N|"
                 "hang-at N\n";
    return 2;
  }
  std::string mode = argv[1];
  try {
    GlooCommunicator c(rendezvousFromEnv());
    if (mode == "collectives")
      return collectives(c);
    if (mode == "compressed")
      return compressed(c);
    if (mode == "scatter-reduce")
      return scatterReduce(c);
    if (mode == "pipelined")
      return pipelined(c);
    if (mode == "layerwise" || mode == "layerwise-allreduce")
      return layerwise(c, mode == "layerwise-allreduce");
    if (mode == "layerwise-sr" || mode == "layerwise-sr-allreduce")
      return layerwiseScatterReduce(c, mode == "layerwise-sr-allreduce");
    if (mode == "refit")
      return refit(c);
    if (mode == "codec-cost")
      return codecCost(c);
    if (mode == "calibrate")
      return calibrate(c);
    if (mode == "sigpipe-ignored") {
      // A write to a dead peer must become a CommError, not kill us.
      struct sigaction sa {};
      sigaction(SIGPIPE, nullptr, &sa);
      // Leave together: a rank that exits while its peer is still
      // completing Gloo's connection handshake fails the peer.
      c.barrier();
      std::cout << "SIGPIPE " << (sa.sa_handler == SIG_IGN ? "ignored" : "NOT ignored") << "\n";
      return sa.sa_handler == SIG_IGN ? 0 : 1;
    }
    int at = argc > 2 ? std::atoi(argv[2]) : 3;
    std::vector<float> v(1000, 1.f);
    for (int i = 0; i < 1000000; ++i) {
      if (i == at && c.rank() == 1) {
        if (mode == "die-at")
          _exit(3);
        if (mode == "abort-at")
          std::abort();
        if (mode == "hang-at")
          for (;;)
            pause();
      }
      c.allreduceSum(v.data(), v.size());
      std::fill(v.begin(), v.end(), 1.f);
    }
    return 1;
  } catch (const CommError &e) {
    std::cerr << "CommError: " << e.what() << "\n";
    return std::strstr(e.what(), "rank 1 ") ? 42 : 1;
  } catch (const std::exception &e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
