//===- GradientStats.cpp - priors and recorded gradient profiles ----------===//
#include "qoda/Analysis/GradientStats.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <cmath>

using namespace mlir;

namespace qoda::analysis {

void UDist::add(double u, double weight) {
  u = std::min(1.0, std::max(0.0, u));
  size_t b = std::min<size_t>(kNumBins - 1, size_t(u * kNumBins));
  w[b] += weight;
  wu[b] += weight * u;
}

void UDist::addScaled(const UDist &o, double s) {
  for (unsigned i = 0; i < kNumBins; ++i) {
    w[i] += s * o.w[i];
    wu[i] += s * o.wu[i];
  }
}

double UDist::mass() const {
  double m = 0;
  for (double x : w)
    m += x;
  return m;
}

quant::WeightedPoints UDist::points() const {
  quant::WeightedPoints p;
  for (unsigned i = 0; i < kNumBins; ++i) {
    if (!(w[i] > 0))
      continue;
    double c = std::min(1.0, std::max(0.0, wu[i] / w[i]));
    if (!p.value.empty() && c <= p.value.back()) {
      p.weight.back() += w[i]; // rounding put two centroids together
      continue;
    }
    p.value.push_back(c);
    p.weight.push_back(w[i]);
  }
  return p;
}

// ---- priors -------------------------------------------------------------

/// Inverse of the standard normal CDF (Acklam's rational approximation,
/// relative error < 1.2e-9), enough for quantiles of a prior.
static double inverseNormal(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                             -2.759285104469687e+02, 1.383577518672690e+02,
                             -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                             -1.556989798598866e+02, 6.680131188771972e+01,
                             -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                             -2.400758277161838e+00, -2.549732539343734e+00,
                             4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                             2.445134137142996e+00, 3.754408661907416e+00};
  const double lo = 0.02425, hi = 1 - lo;
  if (p < lo) {
    double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q +
            c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > hi) {
    double q = std::sqrt(-2 * std::log(1 - p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q +
             c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) *
         q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

RolePrior priorFor(const LayerFeatures &f) {
  // [choice] documented in docs/clustering.md ("Priors"). Heavier tails
  // (larger `tail`) where gradients are known to be spikier: attention
  // projections (a few heads/tokens dominate), embeddings (only the rows of
  // the batch's tokens get a gradient: most coordinates are 0).
  RolePrior p;
  StringRef r = f.role;
  if (r == "conv_kernel")
    p.tail = 1.25;
  else if (r == "dense_weight")
    p.tail = 1.5;
  else if (r == "feed_forward" || r == "attention_output")
    p.tail = 1.6;
  else if (r.startswith("attention_"))
    p.tail = 2.0;
  else if (r == "embedding") {
    p.tail = 1.0;
    p.zeros = 0.9;
  } else if (r == "rnn_weight")
    p.tail = 1.5;
  else
    p.tail = 1.0; // biases, norm scales/shifts, other small tensors
  // The first layer sees raw inputs (dense, correlated): lighter tails; the
  // last layer (classifier / output projection) sees the loss directly:
  // heavier tails.
  if (f.position == "first" && r != "embedding")
    p.tail -= 0.25;
  else if (f.position == "last")
    p.tail += 0.25;
  return p;
}

ParamStats priorStats(const LayerFeatures &f, unsigned bucket) {
  RolePrior prior = priorFor(f);
  ParamStats s;
  s.energy = prior.energy * double(f.numel);
  // One representative bucket of d coordinates: the quantiles of |x|.
  int64_t d = std::max<int64_t>(1, std::min<int64_t>(bucket, f.numel));
  int64_t zeros = int64_t(std::floor(prior.zeros * double(d)));
  if (zeros >= d)
    zeros = d - 1;
  std::vector<double> x(d, 0.0);
  double norm2 = 0;
  for (int64_t i = zeros; i < d; ++i) {
    double q = double(i - zeros) + 0.5;
    double pr = 0.5 + 0.5 * q / double(d - zeros);
    x[i] = std::pow(std::fabs(inverseNormal(pr)), prior.tail);
    norm2 += x[i] * x[i];
  }
  double norm = std::sqrt(norm2);
  // Every bucket looks like this one, so each representative coordinate
  // carries weight 1 (sum_i w_i = d, as for a recorded profile).
  for (int64_t i = 0; i < d; ++i)
    s.dist.add(norm > 0 ? x[i] / norm : 0.0, 1.0);
  return s;
}

// ---- profiles -----------------------------------------------------------

FailureOr<GradientProfile> loadGradientProfile(StringRef path, Location loc) {
  auto fail = [&](const Twine &msg) -> FailureOr<GradientProfile> {
    emitError(loc) << "gradient profile '" << path << "': " << msg;
    return failure();
  };
  auto buf = llvm::MemoryBuffer::getFile(path);
  if (!buf)
    return fail("cannot read it: " + buf.getError().message() +
                " (record one with examples/models/record_profile.py)");
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buf)->getBuffer());
  if (!json) {
    std::string msg = llvm::toString(json.takeError());
    return fail("not valid JSON: " + msg);
  }
  const llvm::json::Object *root = json->getAsObject();
  if (!root)
    return fail("$: expected an object");
  if (root->getString("format") != StringRef("qoda-gradient-profile"))
    return fail("$.format: expected \"qoda-gradient-profile\"");
  if (root->getInteger("version") != int64_t(1))
    return fail("$.version: expected 1 (regenerate the profile with this "
                "qoda's record_profile.py)");
  GradientProfile prof;
  prof.path = path.str();
  if (auto m = root->getString("model"))
    prof.model = m->str();
  std::optional<int64_t> bucket = root->getInteger("bucket");
  if (!bucket || *bucket < 1 || *bucket > (int64_t(1) << 30))
    return fail("$.bucket: expected a positive integer");
  prof.bucket = unsigned(*bucket);
  prof.steps = root->getInteger("steps").value_or(0);
  if (root->getString("norm").value_or("l2") != "l2")
    return fail("$.norm: only \"l2\" profiles are supported");
  if (root->getInteger("bins").value_or(kNumBins) != kNumBins)
    return fail("$.bins: expected " + Twine(kNumBins));
  const llvm::json::Array *params = root->getArray("params");
  if (!params)
    return fail("$.params: expected an array");
  for (size_t i = 0; i < params->size(); ++i) {
    std::string where = "$.params[" + std::to_string(i) + "]";
    const llvm::json::Object *p = (*params)[i].getAsObject();
    if (!p)
      return fail(where + ": expected an object");
    GradientProfile::Entry e;
    std::optional<StringRef> name = p->getString("name");
    if (!name || name->empty())
      return fail(where + ".name: expected a non-empty string");
    e.name = name->str();
    where += " ('" + e.name + "')";
    const llvm::json::Array *shape = p->getArray("shape");
    if (!shape)
      return fail(where + ".shape: expected an array of integers");
    for (const llvm::json::Value &d : *shape) {
      std::optional<int64_t> v = d.getAsInteger();
      if (!v || *v < 0)
        return fail(where + ".shape: expected non-negative integers");
      e.shape.push_back(*v);
    }
    std::optional<double> sumsq = p->getNumber("sumsq");
    if (!sumsq || !(*sumsq >= 0) || !std::isfinite(*sumsq))
      return fail(where + ".sumsq: expected a finite number >= 0");
    e.stats.energy = *sumsq;
    const llvm::json::Array *hist = p->getArray("hist");
    if (!hist)
      return fail(where + ".hist: expected an array of [bin, w, wu]");
    for (size_t k = 0; k < hist->size(); ++k) {
      const llvm::json::Array *row = (*hist)[k].getAsArray();
      std::optional<int64_t> bin =
          row && row->size() == 3 ? (*row)[0].getAsInteger() : std::nullopt;
      std::optional<double> w =
          row && row->size() == 3 ? (*row)[1].getAsNumber() : std::nullopt;
      std::optional<double> wu =
          row && row->size() == 3 ? (*row)[2].getAsNumber() : std::nullopt;
      if (!bin || !w || !wu || *bin < 0 || *bin >= int64_t(kNumBins) ||
          !(*w >= 0) || !(*wu >= 0) || !std::isfinite(*w) ||
          !std::isfinite(*wu))
        return fail(where + ".hist[" + Twine(k) + "]: expected [bin in [0, " +
                    Twine(kNumBins) + "), weight >= 0, weighted u >= 0]");
      e.stats.dist.w[*bin] += *w;
      e.stats.dist.wu[*bin] += *wu;
    }
    if (prof.index.count(e.name))
      return fail(where + ".name: duplicate parameter");
    prof.index[e.name] = prof.params.size();
    prof.params.push_back(std::move(e));
  }
  return prof;
}

} // namespace qoda::analysis
