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
//   refit                level re-fitting: due steps, identical tables
//   codec-cost           measureCodecCost: positive, identical on all ranks
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
#include "qoda/comm/ScatterReduceAggregator.h"
#include "qoda/comm/ScheduleCodec.h"

#include <unistd.h>

#include <cmath>
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

/// Layer-wise collective (a) with the schedule codec: every worker's message
/// must equal (byte for byte) what a reference codec of that rank encodes,
/// and the mean of the compressed coordinates must equal, bit for bit, the
/// rank-ordered sum of the K messages decoded alone, times 1/K.
static int layerwise(Communicator &c) {
  const qoda::quant::Schedule full = testSchedule();
  const std::size_t n = 6000;
  const int K = c.size();
  std::vector<LayoutSegment> layout = compressedLayout(full, n);
  qoda::quant::Schedule cs = compressedSchedule(full, n);
  std::size_t comp = 0;
  for (const LayoutSegment &l : layout)
    comp += l.compressed ? l.segment.size : 0;
  CompressedAggregator agg(
      c, layout, std::make_unique<ScheduleCodec>(cs, 0, comp, 7, c.rank()));
  std::vector<std::unique_ptr<ScheduleCodec>> refs;
  for (int k = 0; k < K; ++k)
    refs.push_back(std::make_unique<ScheduleCodec>(cs, 0, comp, 7, k));
  for (int round = 0; round < 3; ++round) {
    std::vector<float> v = vectorOf(c.rank(), round, n), mean(n);
    AggregateStats st;
    agg.mean(v.data(), mean.data(), st);
    std::vector<float> sum(comp, 0.0f), rawSum(n, 0.0f);
    for (int k = 0; k < K; ++k) {
      std::vector<float> vk = vectorOf(k, round, n), packed;
      for (const LayoutSegment &l : layout)
        if (l.compressed)
          packed.insert(packed.end(), vk.begin() + l.segment.offset,
                        vk.begin() + l.segment.offset + l.segment.size);
        else
          for (std::size_t i = 0; i < l.segment.size; ++i)
            rawSum[l.segment.offset + i] += vk[l.segment.offset + i];
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
      for (std::size_t i = 0; i < comp; ++i)
        sum[i] += dec[i];
    }
    std::size_t j = 0;
    for (const LayoutSegment &l : layout)
      for (std::size_t i = l.segment.offset;
           i < l.segment.offset + l.segment.size; ++i) {
        float want = l.compressed ? sum[j++] * (1.0f / K) : rawSum[i] / K;
        bool ok = l.compressed ? mean[i] == want
                               : std::fabs(mean[i] - want) <=
                                     1e-5f * (1 + std::fabs(want));
        if (!ok) {
          std::cerr << "layer-wise mean differs from the reference at " << i
                    << ": " << mean[i] << " vs " << want << "\n";
          return 1;
        }
      }
  }
  std::cout << "layer-wise collective (a) exact, " << agg.messageBytes()
            << " B/message for " << comp << " compressed coordinates\n";
  return 0;
}

/// Layer-wise collective (b): per chunk j, the K workers' chunk messages
/// decoded alone, summed in rank order, times 1/K, re-quantized by worker
/// j's codec (whose step advances twice per call), decoded: bit for bit.
static int layerwiseScatterReduce(Communicator &c) {
  const qoda::quant::Schedule full = testSchedule();
  const std::size_t n = 6000;
  const int K = c.size();
  CodecFactory make = [&](std::size_t off, std::size_t m) {
    return std::make_unique<ScheduleCodec>(full, off, m, 7, c.rank());
  };
  ScatterReduceAggregator agg(c, n, make);
  // refs[k][j]: worker k's codec of chunk j.
  std::vector<std::vector<std::unique_ptr<ScheduleCodec>>> refs(K);
  for (int k = 0; k < K; ++k)
    for (int j = 0; j < K; ++j)
      refs[k].push_back(std::make_unique<ScheduleCodec>(
          full, agg.chunkBegin(j), agg.chunkEnd(j) - agg.chunkBegin(j), 7, k));
  for (int round = 0; round < 3; ++round) {
    std::vector<float> v = vectorOf(c.rank(), round, n), mean(n);
    AggregateStats st;
    agg.mean(v.data(), mean.data(), st);
    for (int j = 0; j < K; ++j) {
      std::size_t b = agg.chunkBegin(j), m = agg.chunkEnd(j) - b;
      std::vector<float> sum(m, 0.0f);
      for (int k = 0; k < K; ++k) {
        std::vector<float> vk = vectorOf(k, round, n), dec(m, 0.0f);
        std::vector<std::uint8_t> msg(refs[k][j]->messageBytes());
        refs[k][j]->encode(vk.data() + b, msg.data());
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
        if (mean[b + i] != ref[i]) {
          std::cerr << "layer-wise scatter-reduce differs at " << b + i << ": "
                    << mean[b + i] << " vs " << ref[i] << "\n";
          return 1;
        }
    }
  }
  std::cout << "layer-wise collective (b) exact\n";
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
  std::cout << "refits at completed steps 0, 2, 5, 8; identical tables on " << K
            << " ranks\n";
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
    if (mode == "layerwise")
      return layerwise(c);
    if (mode == "layerwise-sr")
      return layerwiseScatterReduce(c);
    if (mode == "refit")
      return refit(c);
    if (mode == "codec-cost")
      return codecCost(c);
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
