//===- Aggregator.h - mean of the K workers' vectors ------------*- C++ -*-===//
//
// What an optimiser calls once per communicated vector: every worker passes
// its local vector v_k and receives the mean (1/K) sum_k Vhat_k, where Vhat_k
// is v_k itself (uncompressed) or its quantized message (compressed).
// QODA's adaptive step sizes need sum_k ||Vhat_k||^2 and
// sum_k ||Vhat_k - Vhat_k^prev||^2; each worker computes its own two numbers
// and they travel with the vector (two extra floats in the all-reduce, or a
// small header in a compressed message), so they cost no extra collective.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "qoda/comm/Communicator.h"

#include <istream>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace qoda::comm {

class MessageCodec;
class LevelRefitter;
struct RefitPlan;

struct AggregateStats {
  double sumSq = 0;     ///< sum_k ||Vhat_k||^2
  double sumSqDiff = 0; ///< sum_k ||Vhat_k - (Vhat_k of the previous call)||^2
  /// Some worker's vector had a NaN/Inf and the policy is Skip: every worker
  /// gets skipped = true for the same call and must not use `mean`.
  bool skipped = false;
};

/// A named piece of the flat vector (a layer), for messages.
struct Segment {
  std::string name;
  std::size_t offset = 0, size = 0;
};

/// What to do when a worker's vector holds a NaN or Inf (checked before it
/// is sent): Stop throws NonFiniteError on every worker; Skip drops this
/// aggregate on every worker (the faulty worker sends zeros plus a flag).
enum class NonFinitePolicy { Stop, Skip };

class NonFiniteError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class Aggregator {
public:
  explicit Aggregator(Communicator &comm) : comm_(comm) {}
  virtual ~Aggregator() = default;
  /// `v` and `mean` have dim() floats (they may alias).
  virtual void mean(const float *v, float *mean, AggregateStats &stats) = 0;
  virtual std::size_t dim() const = 0;
  virtual std::string name() const = 0;
  /// Checkpoint of the state that carries over between calls.
  virtual void save(std::ostream &os) const = 0;
  virtual void load(std::istream &is) = 0;
  Communicator &comm() { return comm_; }

  /// The codecs of this aggregator (none for the fp32 all-reduce).
  virtual std::vector<MessageCodec *> codecs() { return {}; }
  /// Re-fits the level tables of schedule-driven codecs during training
  /// (LevelRefit.h) with `bins` histogram bins per type (0: the coded
  /// length rounded up to a power of two, within [32, 1024], so a small
  /// vector is not dwarfed by its histograms). Throws std::invalid_argument
  /// if the codecs have no level tables.
  void enableRefit(const RefitPlan &plan, std::size_t bins = 0);
  const LevelRefitter *refitter() const { return refit_.get(); }

  void setLayout(std::vector<Segment> layout) { layout_ = std::move(layout); }
  void setNonFinitePolicy(NonFinitePolicy p) { policy_ = p; }
  /// The optimiser step the next calls belong to (for messages).
  void setStep(std::uint64_t step) { step_ = step; }
  /// Whether mean() must fill stats.sumSq and stats.sumSqDiff, the workers'
  /// squared norms (default on). Only QODA's adaptive rule on the workers'
  /// sums reads them, and makeOptimizer sets this for every optimiser.
  /// Off, collective (a) and its pipelined form skip decoding their own
  /// message and the norms' passes over it (~3% of a worker's CPU per call
  /// on the WGAN) and report NaN; the other aggregators get the sums from
  /// vectors they hold anyway and still fill them. Throws std::logic_error
  /// when the setting would change after such an aggregator's first mean():
  /// the norms' previous vector would be missing.
  void setWorkerSums(bool on);
  bool workerSums() const { return workerSums_; }

protected:
  /// Returns an empty string when v is finite, else a message naming the
  /// segment, the element and the step.
  std::string findNonFinite(const float *v, std::size_t n) const;
  /// Acts on the flags every worker received: `count` workers found a
  /// non-finite value, the sum of their (rank+1) is `rankSum`. Returns true
  /// when the aggregate must be skipped; throws under Stop.
  bool handleNonFinite(double count, double rankSum,
                       const std::string &local) const;
  /// Length of the vector the codecs' schedule describes.
  virtual std::size_t codedDim() const { return dim(); }
  /// Call with that vector before encoding it: feeds the refitter and, when
  /// it re-fits, installs the new tables in every codec (same step on every
  /// rank, so all switch together).
  void refitBeforeEncode(const float *coded);
  /// Refit state in checkpoints (written by every compressed aggregator).
  void saveRefit(std::ostream &os) const;
  void loadRefit(std::istream &is);

  Communicator &comm_;
  std::vector<Segment> layout_;
  NonFinitePolicy policy_ = NonFinitePolicy::Stop;
  std::uint64_t step_ = 0;
  std::shared_ptr<LevelRefitter> refit_;
  bool workerSums_ = true;
  /// Set by the aggregators that honour workerSums_ once they aggregated.
  bool aggregated_ = false;
};

/// fp32 all-reduce of the raw vectors.
class AllreduceAggregator : public Aggregator {
public:
  AllreduceAggregator(Communicator &comm, std::size_t dim);
  void mean(const float *v, float *mean, AggregateStats &stats) override;
  std::size_t dim() const override { return dim_; }
  std::string name() const override { return "none"; }
  void save(std::ostream &os) const override;
  void load(std::istream &is) override;

private:
  std::size_t dim_;
  std::vector<float> buf_, prev_;
  bool havePrev_ = false;
};

} // namespace qoda::comm
