// qsafe/observer/entropy.hpp: EntropyObserver<Bins>, TensorRT-style KL-divergence calibration
// (Migacz, "8-bit Inference with TensorRT", GTC 2017; the legacy IInt8EntropyCalibrator): choose
// the symmetric threshold t whose 128-level quantized distribution loses the least information.
//
// Algorithm (our wording and our choices where the original is loose):
//  1. Fold the histogram to |x|. The grid has 0 as an edge (histogram.hpp), so |x|-bin k is the
//     sum of signed bins k and -k-1, exactly; the width w and the |x| bin count n (up to the bin of
//     max|x|) follow from the data: n is about Bins/4 .. Bins/2 for data around 0, up to Bins for
//     one-signed data. c[k] is the count of |x|-bin k, T the total.
//  2. If n <= kLevels (128), no threshold can be tested: t = max|x|.
//  3. For every i in [kLevels, n] (t = i * w; i = n means t = max|x|):
//       P = c[0 .. i-1] with the tail sum(c[i..n-1]) added to P[i-1]   (clipped values saturate);
//       Q: split [0, i) into kLevels groups, group g = [floor(g i / 128), floor((g + 1) i / 128));
//          each group's mass sum(c[j]) (without the tail) is spread evenly over the bins of the
//          group where P is non-zero; bins where P is zero stay zero in Q;
//       D(i) = KL(P / sum P || Q / sum Q) = sum_j p_j log(p_j / q_j), natural log. A bin with
//          p_j > 0 and q_j = 0 (a group holding only tail mass) makes D(i) infinite: not a candidate.
//     Both sums are computed per group, so one candidate costs O(i) additions and O(128) logs.
//  4. t = i* w for the i* with the smallest D (the smallest i on ties), or max|x| when i* = n.
//     TensorRT reports (i* + 0.5) w; we report the edge of the kept bins, so t never exceeds the
//     data that P saw unclipped.
// range() = [max(min, -t), min(max, t)]; for one-signed data not touching 0, thresholds below the
// smallest |x| are skipped, so the range never collapses to nothing. Cost O(n^2) additions,
// milliseconds for n = 2048.
#ifndef QSAFE_OBSERVER_ENTROPY_HPP_
#define QSAFE_OBSERVER_ENTROPY_HPP_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/observer/histogram.hpp"
#include "qsafe/observer/percentile.hpp"

namespace qsafe {

template <std::size_t Bins = 4096>
class EntropyObserver : public HistogramObserverBase<Bins> {
 public:
  static constexpr const char* name = "entropy";
  // Target levels of the quantized distribution: 128, int8's magnitude levels.
  static constexpr std::int64_t kLevels = 128;

  // Exact (kMergeIsExact).
  Status merge(const EntropyObserver& other) noexcept {
    this->merge_histogram(other);
    return Status::ok;
  }

  // [max(min, -t), min(max, t)] with t from the header comment; empty_input before any data.
  Result<Range> range() const noexcept {
    const Histogram<Bins>& h = this->hist_;
    if (h.empty()) return Status::empty_input;
    const Result<double> t = threshold();
    const double tv = t.value();
    return Range{detail::clamp_range_value(-tv, h.min(), h.max()), detail::clamp_range_value(tv, h.min(), h.max())};
  }

  // The threshold t of step 4 (max|x| when nothing better exists); empty_input before any data.
  Result<double> threshold() const noexcept {
    const Histogram<Bins>& h = this->hist_;
    if (h.empty()) return Status::empty_input;
    const double max_abs = -h.min() > h.max() ? -static_cast<double>(h.min()) : static_cast<double>(h.max());
    const double min_abs = h.min() > 0.f ? h.min() : (h.max() < 0.f ? -static_cast<double>(h.max()) : 0.);
    const double w = h.bin_width();
    // |x|-bins 0 .. n-1: n - 1 is the bin of max|x| (max|x| may sit on an edge of the signed grid;
    // folding puts x = -k w in |x|-bin k - 1 ... k, both within one bin, which the tail absorbs).
    const std::int64_t n = static_cast<std::int64_t>(max_abs / w) + 1;
    std::int64_t i_start = kLevels;
    const std::int64_t i_min =
        static_cast<std::int64_t>(min_abs / w) + 1;  // t = i w > min|x|; bins below i_min - 1 are empty
    if (i_start < i_min) i_start = i_min;
    if (n <= i_start) return max_abs;

    const double total = static_cast<double>(h.total());
    // |x|-bins below k_lo are empty (one-signed data away from 0): loops start there. (-max of
    // negative data on an edge k w folds into bin k - 1, hence the extra bin.)
    const std::int64_t k_lo = i_min >= 2 ? i_min - 2 : 0;
    // Running sums over j < i - 1: the counts and sum c log c (so each candidate needs O(128) logs).
    double below = 0.;
    double c_log_c = 0.;
    for (std::int64_t j = k_lo; j + 1 < i_start; ++j) {
      const double c = folded(j);
      below += c;
      if (c > 0.) c_log_c += c * std::log(c);
    }
    double best = std::numeric_limits<double>::infinity();
    std::int64_t best_i = n;
    for (std::int64_t i = i_start; i <= n; ++i) {
      const double last = folded(i - 1);
      const double tail = total - below - last;  // sum c[i .. n-1]
      const double d = divergence(i, k_lo, total, tail < 0. ? 0. : tail, c_log_c);
      if (d < best) {
        best = d;
        best_i = i;
      }
      below += last;
      if (last > 0.) c_log_c += last * std::log(last);
    }
    if (best_i >= n) return max_abs;
    return static_cast<double>(best_i) * w;
  }

 private:
  // Count of |x|-bin k: signed bins k and -k-1.
  double folded(std::int64_t k) const noexcept {
    const Histogram<Bins>& h = this->hist_;
    return static_cast<double>(h.count_at(k)) + static_cast<double>(h.count_at(-k - 1));
  }

  // D(i) of step 3, given the tail mass and sum c log c over bins 0 .. i-2.
  double divergence(std::int64_t i, std::int64_t k_lo, double total, double tail, double c_log_c) const noexcept {
    const double kept = total - tail;  // sum Q
    if (!(kept > 0.)) return std::numeric_limits<double>::infinity();
    // sum_j P_j log P_j  -  sum_g (sum_{j in g} P_j) log(Q_g)   (unnormalised), then normalise:
    // D = (1/T) [sum P log P - sum_g P_g log(M_g / N_g)] - log T + log(kept).
    const double p_last = folded(i - 1) + tail;
    const double p_log_p = c_log_c + (p_last > 0. ? p_last * std::log(p_last) : 0.);
    double p_log_q = 0.;
    for (std::int64_t g = 0; g < kLevels; ++g) {
      const std::int64_t b1 = (g + 1) * i / kLevels;
      if (b1 <= k_lo) continue;  // an empty group: no P, no Q
      std::int64_t b0 = g * i / kLevels;
      b0 = b0 < k_lo ? k_lo : b0;
      double mass = 0.;     // M_g: group mass without the tail
      double p_mass = 0.;   // sum of P over the group
      double nonzero = 0.;  // N_g: bins with P > 0
      for (std::int64_t j = b0; j < b1; ++j) {
        const double c = folded(j);
        const double p = j == i - 1 ? c + tail : c;
        mass += c;
        p_mass += p;
        nonzero += p > 0. ? 1. : 0.;
      }
      if (p_mass > 0.) {
        if (!(mass > 0.)) return std::numeric_limits<double>::infinity();
        p_log_q += p_mass * std::log(mass / nonzero);
      }
    }
    return (p_log_p - p_log_q) / total - std::log(total) + std::log(kept);
  }
};

}  // namespace qsafe

#endif  // QSAFE_OBSERVER_ENTROPY_HPP_
