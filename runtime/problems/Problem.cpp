//===- Problem.cpp - monotone VI problems with stochastic oracles
//----------===//
#include "qoda/problems/Problem.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace qoda::problems {

namespace {

/// n x n matrix, row-major: mu*I + (sym/n) G G^T + skew (H - H^T)/sqrt(n).
/// mu = 0, sym = 0 gives a bilinear game's (skew) operator plus nothing; the
/// bilinear game is built separately as [[0, B], [-B^T, 0]].
std::vector<double> monotoneMatrix(std::size_t n, double mu, double sym,
                                   double skew, std::mt19937_64 &rng) {
  std::normal_distribution<double> g;
  std::vector<double> G(n * n), H(n * n), M(n * n, 0.0);
  for (double &x : G)
    x = g(rng);
  for (double &x : H)
    x = g(rng);
  double sn = std::sqrt(static_cast<double>(n));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double s = 0;
      if (sym != 0)
        for (std::size_t k = 0; k < n; ++k)
          s += G[i * n + k] * G[j * n + k];
      M[i * n + j] = sym * s / static_cast<double>(n) * 0.25 +
                     skew * (H[i * n + j] - H[j * n + i]) / sn * 0.5 +
                     (i == j ? mu : 0.0);
    }
  return M;
}

class BilinearProblem : public Problem {
public:
  BilinearProblem(std::size_t dim, std::uint64_t seed)
      : Problem("bilinear", dim) {
    if (dim < 2 || dim % 2)
      throw std::invalid_argument(
          "bilinear: --dim must be even and >= 2, got " + std::to_string(dim));
    std::mt19937_64 rng(seed);
    std::size_t n = dim / 2;
    // min_x max_y x^T B y: A(x, y) = (B y, -B^T x) around the solution.
    // B = I + G/(2 sqrt n) keeps singular values in about [0.5, 1.5].
    std::normal_distribution<double> g;
    std::vector<double> B(n * n);
    double sn = std::sqrt(static_cast<double>(n));
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j)
        B[i * n + j] = g(rng) / (2 * sn) + (i == j ? 1.0 : 0.0);
    std::vector<double> M(dim * dim, 0.0);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) {
        M[i * dim + n + j] = B[i * n + j];
        M[(n + j) * dim + i] = -B[i * n + j];
      }
    blocks_ = {{"xy", 0, dim, 1.0, Block::Gaussian}};
    mats_ = {M};
    for (float &z : solution_)
      z = static_cast<float>(g(rng));
  }
};

class QuadraticProblem : public Problem {
public:
  QuadraticProblem(std::size_t dim, std::uint64_t seed)
      : Problem("quadratic", dim) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g;
    // Strongly monotone (modulus 0.5) with a rotational part, as in games.
    mats_ = {monotoneMatrix(dim, 0.5, 1.0, 1.0, rng)};
    blocks_ = {{"z", 0, dim, 1.0, Block::Gaussian}};
    for (float &z : solution_)
      z = static_cast<float>(g(rng));
  }
};

/// Layers stand-in: blocks whose operators and noise differ by orders of
/// magnitude in scale and whose noise follows different distributions.
class BlocksProblem : public Problem {
public:
  BlocksProblem(std::size_t dim, std::uint64_t seed) : Problem("blocks", dim) {
    if (dim < 8)
      throw std::invalid_argument("blocks: --dim must be >= 8, got " +
                                  std::to_string(dim));
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g;
    const double scales[4] = {0.01, 0.1, 1.0, 10.0};
    const Block::Dist dists[4] = {Block::Gaussian, Block::Laplace,
                                  Block::Uniform, Block::Gaussian};
    const char *names[4] = {"embed", "attn", "mlp", "head"};
    // Sizes 1/8, 1/4, 1/2, 1/8 of the vector.
    std::size_t sizes[4] = {dim / 8, dim / 4, 0, dim / 8};
    sizes[2] = dim - sizes[0] - sizes[1] - sizes[3];
    std::size_t off = 0;
    for (int b = 0; b < 4; ++b) {
      blocks_.push_back({names[b], off, sizes[b], scales[b], dists[b]});
      std::vector<double> M = monotoneMatrix(sizes[b], 0.5, 1.0, 1.0, rng);
      for (double &m : M)
        m *= scales[b];
      mats_.push_back(std::move(M));
      off += sizes[b];
    }
    for (float &z : solution_)
      z = static_cast<float>(g(rng));
  }
};

/// Layers stand-in for the layer-wise quantization claim: blocks with
/// COMPARABLE conditioning (operator eigenvalues of modulus about 0.5..2 in
/// every block, so no block limits a method with one scalar step, like QODA)
/// whose vectors have strongly different normalised-coordinate
/// distributions, as layers of a network do:
///   embed (1/8): sparse and heavy-tailed: 1 in 8 coordinate pairs is
///     non-zero, log-normal magnitudes (an embedding's few active rows);
///   attn (1/4), mlp (1/2): dense, Gaussian; mlp's values are 10x smaller
///     (a large layer with small gradients);
///   head (1/8): dense and heavy-tailed (log-normal magnitudes).
/// Under one norm for the whole vector, mlp's many small coordinates sit far
/// below the levels the heavy-tailed blocks need, and cost most of the
/// quantization variance; per-block norms, levels and bit widths do not
/// have that conflict.
/// Sparse and heavy-tailed blocks have a normal operator made of identical
/// 2x2 rotation-scalings [[1, 0.5], [-0.5, 1]], so every coordinate pair
/// contracts at the same rate and the shape of the block's operator value
/// (its zeros, its tail) persists along the whole run: a quantizer sends an
/// exact zero for a zero coordinate, so zero pairs stay at the solution.
class HeteroProblem : public Problem {
public:
  HeteroProblem(std::size_t dim, std::uint64_t seed) : Problem("hetero", dim) {
    if (dim < 32 || dim % 16)
      throw std::invalid_argument(
          "hetero: --dim must be a multiple of 16 and >= 32, got " +
          std::to_string(dim));
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g;
    std::size_t sizes[4] = {dim / 8, dim / 4, dim / 2, dim / 8};
    const char *names[4] = {"embed", "attn", "mlp", "head"};
    const Block::Dist dists[4] = {Block::Laplace, Block::Gaussian,
                                  Block::Gaussian, Block::Laplace};
    // Root-mean-square of each block's solution: mlp's is 10x smaller, so
    // its operator values are too (for the whole run: every block contracts
    // at a similar rate), as layers' gradients differ in magnitude.
    const double rms[4] = {1, 1, 0.1, 1};
    std::size_t off = 0;
    for (int b = 0; b < 4; ++b) {
      std::size_t n = sizes[b];
      blocks_.push_back({names[b], off, n, 1.0, dists[b]});
      bool dense = b == 1 || b == 2;
      std::vector<double> M = dense ? monotoneMatrix(n, 0.5, 1.0, 1.0, rng)
                                    : rotationScaling(n, 1.0, 0.5);
      mats_.push_back(std::move(M));
      std::vector<double> z(n, 0.0);
      for (std::size_t i = 0; i < n; i += 2) {
        bool active = b != 0 || (i / 2) % 8 == 0;
        for (std::size_t j = i; j < i + 2; ++j)
          z[j] = !active ? 0.0
                 : dense ? g(rng)
                         : (g(rng) < 0 ? -1.0 : 1.0) * std::exp(2.5 * g(rng));
      }
      double ss = 0;
      for (double v : z)
        ss += v * v;
      double k = rms[b] * std::sqrt(static_cast<double>(n) / ss);
      for (std::size_t i = 0; i < n; ++i)
        solution_[off + i] = static_cast<float>(z[i] * k);
      off += n;
    }
  }

private:
  /// Block-diagonal n x n matrix of 2x2 blocks [[a, w], [-w, a]] (n even).
  static std::vector<double> rotationScaling(std::size_t n, double a,
                                             double w) {
    std::vector<double> M(n * n, 0.0);
    for (std::size_t i = 0; i < n; i += 2) {
      M[i * n + i] = M[(i + 1) * n + i + 1] = a;
      M[i * n + i + 1] = w;
      M[(i + 1) * n + i] = -w;
    }
    return M;
  }
};

} // namespace

Problem::Problem(std::string name, std::size_t dim)
    : name_(std::move(name)), solution_(dim) {
  if (dim == 0 || dim > 8192)
    throw std::invalid_argument("problem dimension must be in [1, 8192] "
                                "(dense operator), got " +
                                std::to_string(dim));
}

void Problem::apply(const float *z, float *out) const {
  for (std::size_t b = 0; b < blocks_.size(); ++b) {
    const Block &bl = blocks_[b];
    const std::vector<double> &M = mats_[b];
    std::size_t n = bl.size, o = bl.offset;
    for (std::size_t i = 0; i < n; ++i) {
      double s = 0;
      const double *row = &M[i * n];
      for (std::size_t j = 0; j < n; ++j)
        s += row[j] * (static_cast<double>(z[o + j]) - solution_[o + j]);
      out[o + i] = static_cast<float>(s);
    }
  }
}

double Problem::distance(const float *z) const {
  double s = 0;
  for (std::size_t i = 0; i < dim(); ++i) {
    double d = static_cast<double>(z[i]) - solution_[i];
    s += d * d;
  }
  return std::sqrt(s);
}

std::vector<float> Problem::start() const {
  return std::vector<float>(dim(), 0.0f);
}

std::unique_ptr<Problem> makeProblem(const std::string &kind, std::size_t dim,
                                     std::uint64_t seed) {
  if (kind == "bilinear")
    return std::make_unique<BilinearProblem>(dim, seed);
  if (kind == "quadratic")
    return std::make_unique<QuadraticProblem>(dim, seed);
  if (kind == "blocks")
    return std::make_unique<BlocksProblem>(dim, seed);
  if (kind == "hetero")
    return std::make_unique<HeteroProblem>(dim, seed);
  throw std::invalid_argument(
      "unknown problem '" + kind +
      "' (expected bilinear, quadratic, blocks or hetero)");
}

Oracle::Oracle(const Problem &p, NoiseConfig noise, std::uint64_t seed,
               int rank)
    : p_(p), noise_(noise),
      rng_(seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(rank) + 1),
      xi_(p.dim()) {
  if (noise.sigmaAbs < 0 || noise.sigmaRel < 0)
    throw std::invalid_argument("noise levels must be >= 0");
}

double Oracle::draw(Block::Dist d) {
  // Each has mean 0 and variance 1.
  switch (d) {
  case Block::Gaussian:
    return normal_(rng_);
  case Block::Laplace: {
    double u = std::uniform_real_distribution<double>(-0.5, 0.5)(rng_);
    return -std::copysign(1.0, u) * std::log1p(-2 * std::fabs(u)) /
           std::sqrt(2.0);
  }
  case Block::Uniform:
    return std::uniform_real_distribution<double>(-std::sqrt(3.0),
                                                  std::sqrt(3.0))(rng_);
  }
  return 0;
}

void Oracle::operator()(const float *z, float *out) {
  ++calls_;
  p_.apply(z, out);
  if (noise_.sigmaAbs == 0 && noise_.sigmaRel == 0)
    return;
  std::size_t d = p_.dim();
  double norm2 = 0;
  for (std::size_t i = 0; i < d; ++i)
    norm2 += static_cast<double>(out[i]) * out[i];
  // Per-coordinate variance so that the totals match NoiseConfig; each
  // block's noise is also scaled by the block's scale (relative to the mean
  // squared scale), so heterogeneous blocks get heterogeneous noise.
  double var = noise_.sigmaAbs * noise_.sigmaAbs + noise_.sigmaRel * norm2;
  double meanScale2 = 0;
  for (const Block &b : p_.blocks())
    meanScale2 += b.scale * b.scale * static_cast<double>(b.size);
  meanScale2 /= static_cast<double>(d);
  for (const Block &b : p_.blocks()) {
    double sd = std::sqrt(var / static_cast<double>(d) * b.scale * b.scale /
                          meanScale2);
    for (std::size_t i = b.offset; i < b.offset + b.size; ++i)
      out[i] += static_cast<float>(sd * draw(b.dist));
  }
}

std::string Oracle::saveState() const {
  std::ostringstream os;
  os << calls_ << ' ' << rng_ << ' ' << normal_;
  return os.str();
}

void Oracle::loadState(const std::string &state) {
  std::istringstream is(state);
  is >> calls_ >> rng_ >> normal_;
  if (!is)
    throw std::runtime_error("checkpoint: bad oracle random state");
}

} // namespace qoda::problems
