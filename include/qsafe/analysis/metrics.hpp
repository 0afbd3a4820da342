// qsafe/analysis/metrics.hpp: how far a quantized output is from its float reference.
//
// Element-wise metrics compare two equally long float arrays (reference first):
//   mse          mean((ref - test)^2)
//   sqnr_db      10 * log10(sum(ref^2) / sum((ref - test)^2)); +inf when the error is 0,
//                -inf when the reference is all zero but the test is not
//   cosine       <ref, test> / (|ref| |test|); 1 when both are all-zero, 0 when only one is
//   max_abs      max |ref - test|
// Per-sample metrics treat the arrays as [samples, classes] logits:
//   softmax KL   KL(softmax(ref) || softmax(test)) per sample, in nats, computed with log-sum-exp
//   top-1        argmax agreement, the indices of flipped samples, accuracy against labels
//   tails        p99 and max of a per-sample divergence
// Accumulation is in double. Analysis code may allocate; it never throws: errors are Status.
#ifndef QSAFE_ANALYSIS_METRICS_HPP_
#define QSAFE_ANALYSIS_METRICS_HPP_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {
namespace analysis {

struct ErrorMetrics {
  double mse = 0.0;
  double sqnr_db = 0.0;
  double cosine = 1.0;
  double max_abs = 0.0;
  std::size_t count = 0;
};

namespace detail {
inline bool all_finite(Span<const float> x) noexcept {
  for (float v : x)
    if (!std::isfinite(v)) return false;
  return true;
}
}  // namespace detail

// MSE, SQNR, cosine and max |error| of `test` against `reference`.
// Errors: shape_mismatch, empty_input, non_finite_input (either side).
inline Result<ErrorMetrics> error_metrics(Span<const float> reference, Span<const float> test) noexcept {
  if (reference.size() != test.size()) return Status::shape_mismatch;
  if (reference.empty()) return Status::empty_input;
  if (!detail::all_finite(reference) || !detail::all_finite(test)) return Status::non_finite_input;
  double signal = 0, noise = 0, dot = 0, test_energy = 0, max_abs = 0;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    const double r = reference[i], t = test[i], e = r - t;
    signal += r * r;
    noise += e * e;
    dot += r * t;
    test_energy += t * t;
    max_abs = std::max(max_abs, std::fabs(e));
  }
  ErrorMetrics m;
  m.count = reference.size();
  m.mse = noise / static_cast<double>(reference.size());
  m.max_abs = max_abs;
  if (noise == 0.0)
    m.sqnr_db = std::numeric_limits<double>::infinity();
  else if (signal == 0.0)
    m.sqnr_db = -std::numeric_limits<double>::infinity();
  else
    m.sqnr_db = 10.0 * std::log10(signal / noise);
  if (signal == 0.0 && test_energy == 0.0)
    m.cosine = 1.0;
  else if (signal == 0.0 || test_energy == 0.0)
    m.cosine = 0.0;
  else
    m.cosine = dot / (std::sqrt(signal) * std::sqrt(test_energy));
  return m;
}

// Index of the largest value (the first one on ties, as numpy.argmax / torch.argmax).
inline std::size_t argmax(Span<const float> row) noexcept {
  std::size_t best = 0;
  for (std::size_t i = 1; i < row.size(); ++i)
    if (row[i] > row[best]) best = i;
  return best;
}

// KL(softmax(p_logits) || softmax(q_logits)) in nats for one sample, stable for any finite logits.
inline double softmax_kl(Span<const float> p_logits, Span<const float> q_logits) noexcept {
  const auto log_sum_exp = [](Span<const float> z) {
    double m = -std::numeric_limits<double>::infinity();
    for (float v : z) m = std::max(m, static_cast<double>(v));
    double s = 0;
    for (float v : z) s += std::exp(static_cast<double>(v) - m);
    return m + std::log(s);
  };
  const double lp = log_sum_exp(p_logits), lq = log_sum_exp(q_logits);
  double kl = 0;
  for (std::size_t i = 0; i < p_logits.size(); ++i) {
    const double log_p = p_logits[i] - lp, log_q = q_logits[i] - lq;
    kl += std::exp(log_p) * (log_p - log_q);
  }
  return kl < 0 ? 0 : kl;  // rounding can make a true 0 slightly negative
}

// The q-quantile (0 <= q <= 1) of values by linear interpolation between order statistics
// (numpy.quantile's default). Copies; empty input gives 0.
inline double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const double pos = q * static_cast<double>(values.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (pos - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

struct TailStats {
  double mean = 0.0;
  double p99 = 0.0;
  double max = 0.0;
  std::size_t argmax = 0;  // the sample with the largest value
};

inline TailStats tail_stats(const std::vector<double>& per_sample) {
  TailStats t;
  if (per_sample.empty()) return t;
  double sum = 0;
  for (std::size_t i = 0; i < per_sample.size(); ++i) {
    sum += per_sample[i];
    if (per_sample[i] > t.max || i == 0) {
      t.max = per_sample[i];
      t.argmax = i;
    }
  }
  t.mean = sum / static_cast<double>(per_sample.size());
  t.p99 = quantile(per_sample, 0.99);
  return t;
}

// Per-sample comparison of two [samples, classes] logit matrices.
struct ClassificationMetrics {
  std::size_t samples = 0;
  std::size_t top1_agreement = 0;    // samples whose argmax is the same
  std::vector<std::size_t> flipped;  // samples whose argmax differs, ascending
  std::vector<double> kl;            // per-sample softmax KL(reference || test)
  TailStats kl_tail;
  // With labels: accuracy of each side, as fractions in [0, 1]; -1 when no labels were given.
  double reference_accuracy = -1.0;
  double test_accuracy = -1.0;
  double agreement_rate() const noexcept {
    return samples == 0 ? 1.0 : static_cast<double>(top1_agreement) / static_cast<double>(samples);
  }
};

// labels may be empty; otherwise one label per sample in [0, classes).
// Errors: invalid_argument (classes == 0 or a label out of range), shape_mismatch, empty_input,
// non_finite_input.
inline Result<ClassificationMetrics> classification_metrics(Span<const float> reference, Span<const float> test,
                                                            std::size_t classes, Span<const std::int64_t> labels = {}) {
  if (classes == 0) return Status::invalid_argument;
  if (reference.size() != test.size() || reference.size() % classes != 0) return Status::shape_mismatch;
  if (reference.empty()) return Status::empty_input;
  if (!detail::all_finite(reference) || !detail::all_finite(test)) return Status::non_finite_input;
  const std::size_t n = reference.size() / classes;
  if (!labels.empty() && labels.size() != n) return Status::shape_mismatch;
  for (std::int64_t l : labels)
    if (l < 0 || static_cast<std::size_t>(l) >= classes) return Status::invalid_argument;
  ClassificationMetrics m;
  m.samples = n;
  m.kl.resize(n);
  std::size_t ref_correct = 0, test_correct = 0;
  for (std::size_t s = 0; s < n; ++s) {
    const Span<const float> r = reference.subspan(s * classes, classes);
    const Span<const float> t = test.subspan(s * classes, classes);
    const std::size_t ar = argmax(r), at = argmax(t);
    if (ar == at)
      ++m.top1_agreement;
    else
      m.flipped.push_back(s);
    m.kl[s] = softmax_kl(r, t);
    if (!labels.empty()) {
      ref_correct += static_cast<std::size_t>(labels[s]) == ar ? 1u : 0u;
      test_correct += static_cast<std::size_t>(labels[s]) == at ? 1u : 0u;
    }
  }
  m.kl_tail = tail_stats(m.kl);
  if (!labels.empty()) {
    m.reference_accuracy = static_cast<double>(ref_correct) / static_cast<double>(n);
    m.test_accuracy = static_cast<double>(test_correct) / static_cast<double>(n);
  }
  return m;
}

}  // namespace analysis
}  // namespace qsafe

#endif  // QSAFE_ANALYSIS_METRICS_HPP_
