//===- Problem.h - monotone VI problems with stochastic oracles -*- C++ -*-===//
//
// Each problem is an affine monotone operator A(z) = M (z - z*) with a known
// solution z*, so ||z - z*|| measures progress. Workers query a stochastic
// oracle V_k(z) = A(z) + noise, with absolute noise (E||V - A||^2 = sigma^2)
// and/or relative noise (E||V - A||^2 = sigmaRel * ||A(z)||^2), METHOD 1.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace qoda::problems {

/// A contiguous piece of the vector (a "layer"), with how its noise is drawn.
struct Block {
  std::string name;
  std::size_t offset = 0, size = 0;
  double scale = 1; ///< operator and noise scale
  enum Dist { Gaussian, Laplace, Uniform } dist = Gaussian;
};

struct NoiseConfig {
  double sigmaAbs = 0; ///< absolute: E||V - A||^2 = sigmaAbs^2
  double sigmaRel = 0; ///< relative: E||V - A||^2 = sigmaRel * ||A||^2
};

class Problem {
public:
  virtual ~Problem() = default;
  std::size_t dim() const { return solution_.size(); }
  const std::vector<float> &solution() const { return solution_; }
  const std::vector<Block> &blocks() const { return blocks_; }
  const std::string &name() const { return name_; }
  /// A(z), exactly (in double, stored as float).
  void apply(const float *z, float *out) const;
  double distance(const float *z) const;
  /// A starting point at distance ~ ||z*|| from the solution (deterministic).
  std::vector<float> start() const;

protected:
  Problem(std::string name, std::size_t dim);
  /// Dense block-diagonal operator: one square matrix per block.
  std::string name_;
  std::vector<float> solution_;
  std::vector<Block> blocks_;
  std::vector<std::vector<double>> mats_; ///< row-major, one per block
};

/// `kind` is "bilinear", "quadratic" or "blocks"; `dim` is the total size.
/// Throws std::invalid_argument for an unknown kind or a bad dim.
std::unique_ptr<Problem> makeProblem(const std::string &kind, std::size_t dim,
                                     std::uint64_t seed);

/// A worker's stochastic oracle. Its random stream depends on (seed, rank)
/// only, so runs are reproducible.
class Oracle {
public:
  Oracle(const Problem &p, NoiseConfig noise, std::uint64_t seed, int rank);
  void operator()(const float *z, float *out);
  std::uint64_t calls() const { return calls_; }
  /// The random stream's state (text, as the standard library writes it).
  std::string saveState() const;
  void loadState(const std::string &state);

private:
  double draw(Block::Dist d);
  const Problem &p_;
  NoiseConfig noise_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_;
  std::vector<float> xi_;
  std::uint64_t calls_ = 0;
};

} // namespace qoda::problems
