// qsafe/analysis/failure_search.hpp: a bounded search for the inputs on which a configuration
// disagrees most with the float model - the failures averages hide (one large value that
// stretches a dynamic per-tensor range, a bit-width rule fooled by an input statistic, ...).
//
// Objective of one input x (float logits F, quantized logits Q):
//   objective(x) = [argmax F != argmax Q] + [label known, F right, Q wrong] + KL / (1 + KL)
//   with KL = KL(softmax F || softmax Q): flips dominate, wrong-because-quantized counts most,
//   and the divergence breaks ties (it lies in [0, 1)). With a label that the float model gets
//   wrong, objective(x) = KL / (1 + KL) - 1 < 0: the input shows the float model's failure, not
//   quantization's, so it never replaces an input the float model gets right.
// The search, from `sources` of the given inputs (the first ones), within max_evaluations samples
// (each sample run once in float and once quantized):
//   1. the sources themselves;
//   2. L-infinity phase (linf > 0): per source an elitist (1 + population) evolution of a
//      perturbation d with |d|_inf <= linf. Generation 0 draws dense random-sign perturbations and
//      sparse spikes (1-3 coordinates at +-linf); later generations mutate the source's best d
//      (re-draw a random tenth of the coordinates, add a spike, or flip the sign of a block);
//      a candidate replaces the best when its objective is larger. With `domain` set, x + d is
//      clipped to it;
//   3. corruption phase (search_corruptions): for each CorruptionSpace, random parameters then a
//      (1 + 1) refinement of the best, each probe applied to every source (corruptions.hpp);
//      a probe's score is the mean objective over the sources.
// The found set is each source's worst input over all phases. Reported: the worst inputs (top
// `keep`), the accuracy of float and quantized on the found set and its drop (without labels:
// the flip rate), the same on the clean sources, the worst corruption parameters, and
//   verdict = detrimental  if accuracy_drop(found set) > threshold, else robust.
// Deterministic for a seed (own RNG, corruptions.hpp).
//
// Host-side: may allocate, never throws; every error is a Status.
#ifndef QSAFE_ANALYSIS_FAILURE_SEARCH_HPP_
#define QSAFE_ANALYSIS_FAILURE_SEARCH_HPP_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qsafe/analysis/corruptions.hpp"
#include "qsafe/analysis/dataset.hpp"
#include "qsafe/analysis/engine.hpp"
#include "qsafe/analysis/evaluate.hpp"
#include "qsafe/analysis/metrics.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {
namespace analysis {

enum class Verdict : std::uint8_t { robust, detrimental };

inline const char* to_string(Verdict v) noexcept { return v == Verdict::robust ? "robust" : "detrimental"; }

// A corruption family and the parameter interval searched (corruptions.hpp semantics).
struct CorruptionSpace {
  std::string name;
  CorruptionKind kind = CorruptionKind::gaussian_noise;
  float param_lo = 0.f;
  float param_hi = 0.f;
  int count_lo = 0;  // outlier_pixels: pixel count interval
  int count_hi = 0;
};

// noise sigma 0..0.5 of the range, brightness -0.5..+0.5, contrast x0.25..x3, 1-8 outlier
// pixels at 2..20 x the max, occlusion squares of side 1..4.
inline std::vector<CorruptionSpace> default_corruption_space() {
  return {
      {"noise", CorruptionKind::gaussian_noise, 0.f, 0.5f, 0, 0},
      {"brightness", CorruptionKind::brightness, -0.5f, 0.5f, 0, 0},
      {"contrast", CorruptionKind::contrast, 0.25f, 3.f, 0, 0},
      {"outliers", CorruptionKind::outlier_pixels, 2.f, 20.f, 1, 8},
      {"occlusion", CorruptionKind::occlusion, 1.f, 4.f, 0, 0},
  };
}

struct FailureSearchOptions {
  float linf = 0.1f;                    // L-inf budget in input units (0: skip the L-inf phase)
  std::int64_t max_evaluations = 4096;  // samples run (float + quantized each), sources included
  std::int64_t sources = 64;            // inputs attacked (the first ones; <= 0: all)
  int population = 8;                   // candidates per source and generation (>= 1)
  bool search_corruptions = true;       // run phase 3 (uses shape and range)
  std::vector<CorruptionSpace> corruptions = default_corruption_space();
  SampleShape shape{0, 0, 0};  // sample layout for corruptions; {0, 0, 0}: flat {1, 1, numel}
  Range range{0.f, 1.f};       // the clean data's range (corruptions.hpp)
  Range domain{0.f, 0.f};      // lo < hi: clip searched inputs to [lo, hi]; else unbounded
  double threshold = 0.1;      // verdict: detrimental when accuracy_drop > threshold
  std::size_t keep = 16;       // worst inputs returned
  std::uint64_t seed = 0;
  std::int64_t batch = 256;
  ProgressFn progress;  // "failure_search", evaluations spent / max_evaluations
};

struct FoundInput {
  std::int64_t source = 0;  // index into the given inputs
  std::string origin;       // "clean", "linf", or "corruption:<name>"
  double objective = 0.0;
  double kl = 0.0;
  bool flipped = false;
  std::int64_t label = -1;  // -1 without labels
  std::int64_t float_top1 = 0;
  std::int64_t quant_top1 = 0;
  double linf_distance = 0.0;  // max |x - source|
  std::vector<float> x;
};

struct CorruptionProbe {
  std::string name;        // the CorruptionSpace's name
  Corruption corruption;   // the worst parameters found
  double objective = 0.0;  // mean objective over the sources
  double flip_rate = 0.0;
  double accuracy_drop = 0.0;  // float - quantized accuracy on the corrupted sources (flip rate without labels)
  std::int64_t probes = 0;
};

struct FailureSearchResult {
  std::string config;
  std::int64_t sources = 0;
  std::int64_t evaluations = 0;  // samples actually run
  bool has_labels = false;
  // On the clean sources.
  double clean_float_accuracy = -1.0;
  double clean_accuracy = -1.0;
  double clean_flip_rate = 0.0;
  // On the found set (each source's worst input).
  double found_float_accuracy = -1.0;
  double found_accuracy = -1.0;
  double found_flip_rate = 0.0;
  double accuracy_drop = 0.0;  // found_float_accuracy - found_accuracy (the flip rate without labels)
  TailStats found_kl;
  std::vector<FoundInput> worst;             // by objective, descending (at most keep)
  std::vector<CorruptionProbe> corruptions;  // one per searched CorruptionSpace
  Verdict verdict = Verdict::robust;
  double threshold = 0.1;
};

namespace detail {

struct Scored {
  double objective = 0.0;
  double kl = 0.0;
  bool flipped = false;
  bool float_right = false;
  bool quant_right = false;
  std::int64_t ftop = 0, qtop = 0;
};

// Runs m samples of X in float and quantized and scores each against labels (label < 0: none).
inline Status score_batch(Engine& engine, const std::vector<float>& X, std::int64_t m,
                          const std::vector<std::int64_t>& labels, std::int64_t batch, std::vector<Scored>& out) {
  std::vector<float> F, Q;
  QSAFE_RETURN_IF_ERROR(run_batched(engine, false, X, m, batch, F));
  QSAFE_RETURN_IF_ERROR(run_batched(engine, true, X, m, batch, Q));
  const std::size_t c = static_cast<std::size_t>(engine.num_outputs());
  out.assign(static_cast<std::size_t>(m), Scored{});
  for (std::size_t s = 0; s < static_cast<std::size_t>(m); ++s) {
    const Span<const float> f = Span<const float>(F).subspan(s * c, c), q = Span<const float>(Q).subspan(s * c, c);
    Scored& r = out[s];
    r.ftop = static_cast<std::int64_t>(argmax(f));
    r.qtop = static_cast<std::int64_t>(argmax(q));
    r.kl = softmax_kl(f, q);
    r.flipped = r.ftop != r.qtop;
    const std::int64_t lab = labels[s];
    r.float_right = lab >= 0 && r.ftop == lab;
    r.quant_right = lab >= 0 && r.qtop == lab;
    const double divergence = r.kl / (1.0 + r.kl);
    if (lab >= 0 && !r.float_right)  // the float model's own failure, not quantization's
      r.objective = divergence - 1.0;
    else
      r.objective = (r.flipped ? 1.0 : 0.0) + (r.float_right && !r.quant_right ? 1.0 : 0.0) + divergence;
  }
  return Status::ok;
}

}  // namespace detail

// Errors: check_config / check_dataset errors (inputs: empty_input, shape_mismatch, a label out
// of range, non_finite_input), invalid_argument (linf < 0 or not finite, population < 1,
// max_evaluations < the number of sources, threshold not finite, corruption search with a shape
// whose numel differs from the engine's or a bad CorruptionSpace, a parameter apply_corruption
// rejects), the engine's errors.
inline Result<FailureSearchResult> failure_search(Engine& engine, const QuantConfig& config, const Dataset& calib,
                                                  const Dataset& inputs, const FailureSearchOptions& o = {}) {
  const std::int64_t numel = engine.sample_numel(), classes = engine.num_outputs();
  if (numel < 1 || classes < 1) return Status::invalid_argument;
  QSAFE_RETURN_IF_ERROR(check_config(config, engine.num_layers()));
  QSAFE_RETURN_IF_ERROR(check_dataset(calib, numel, 0));
  QSAFE_RETURN_IF_ERROR(check_dataset(inputs, numel, classes));
  if (!(o.linf >= 0.f) || !std::isfinite(o.linf) || o.population < 1 || !std::isfinite(o.threshold))
    return Status::invalid_argument;
  const std::int64_t S = o.sources <= 0 ? inputs.n : std::min(o.sources, inputs.n);
  if (o.max_evaluations < S) return Status::invalid_argument;
  const SampleShape shape = o.shape.numel() == 0 ? SampleShape{1, 1, numel} : o.shape;
  if (o.search_corruptions) {
    if (shape.numel() != numel) return Status::invalid_argument;
    for (const CorruptionSpace& cs : o.corruptions)
      if (!(cs.param_lo <= cs.param_hi) || !std::isfinite(cs.param_lo) || !std::isfinite(cs.param_hi) ||
          cs.count_lo > cs.count_hi || cs.count_lo < 0)
        return Status::invalid_argument;
  }
  const bool clip = o.domain.lo < o.domain.hi;
  const std::size_t N = static_cast<std::size_t>(numel);
  QSAFE_RETURN_IF_ERROR(engine.prepare(config, Span<const float>(calib.x), calib.n));

  FailureSearchResult res;
  res.config = config.name;
  res.sources = S;
  res.threshold = o.threshold;
  res.has_labels = !inputs.labels.empty();
  std::vector<std::int64_t> labels(static_cast<std::size_t>(S), -1);
  if (res.has_labels)
    for (std::int64_t s = 0; s < S; ++s)
      labels[static_cast<std::size_t>(s)] = inputs.labels[static_cast<std::size_t>(s)];
  const std::vector<float> X0(inputs.x.begin(),
                              inputs.x.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(S) * N));
  const auto spend = [&](std::int64_t m) {
    res.evaluations += m;
    if (o.progress)
      o.progress("failure_search", static_cast<std::size_t>(res.evaluations),
                 static_cast<std::size_t>(o.max_evaluations));
  };

  // Each source's worst input so far.
  struct Best {
    detail::Scored score;
    std::string origin;
    std::vector<float> x;
  };
  std::vector<Best> best(static_cast<std::size_t>(S));
  std::vector<detail::Scored> sc;
  QSAFE_RETURN_IF_ERROR(detail::score_batch(engine, X0, S, labels, o.batch, sc));
  spend(S);
  std::size_t clean_f = 0, clean_q = 0, clean_flip = 0;
  for (std::size_t s = 0; s < static_cast<std::size_t>(S); ++s) {
    best[s] = Best{sc[s], "clean",
                   std::vector<float>(X0.begin() + static_cast<std::ptrdiff_t>(s * N),
                                      X0.begin() + static_cast<std::ptrdiff_t>((s + 1) * N))};
    clean_f += sc[s].float_right;
    clean_q += sc[s].quant_right;
    clean_flip += sc[s].flipped;
  }
  res.clean_flip_rate = static_cast<double>(clean_flip) / static_cast<double>(S);
  if (res.has_labels) {
    res.clean_float_accuracy = static_cast<double>(clean_f) / static_cast<double>(S);
    res.clean_accuracy = static_cast<double>(clean_q) / static_cast<double>(S);
  }
  const auto consider = [&](std::size_t s, const detail::Scored& score, const char* origin, const float* x) {
    if (score.objective > best[s].score.objective) {
      best[s].score = score;
      best[s].origin = origin;
      best[s].x.assign(x, x + N);
    }
  };

  Rng rng(o.seed * 0x9e3779b97f4a7c15ull + 0x5eedull);
  std::int64_t budget = o.max_evaluations - S;
  const bool do_linf = o.linf > 0.f;
  const bool do_corr = o.search_corruptions && !o.corruptions.empty();
  std::int64_t linf_budget = do_linf ? (do_corr ? budget / 2 : budget) : 0;
  std::int64_t corr_budget = budget - linf_budget;

  // Phase 2: L-inf evolution. delta[s] is source s's best perturbation.
  if (do_linf) {
    const float eps = o.linf;
    std::vector<std::vector<float>> delta(static_cast<std::size_t>(S), std::vector<float>(N, 0.f));
    std::vector<double> best_obj(static_cast<std::size_t>(S), -1.0);
    const std::int64_t per_gen = S * o.population;
    std::vector<float> cand(static_cast<std::size_t>(per_gen) * N), X(cand.size());
    for (int gen = 0; linf_budget >= per_gen; ++gen) {
      for (std::int64_t s = 0; s < S; ++s) {
        for (int p = 0; p < o.population; ++p) {
          float* d = cand.data() + static_cast<std::size_t>(s * o.population + p) * N;
          const std::vector<float>& parent = delta[static_cast<std::size_t>(s)];
          const std::uint64_t op = rng.below(gen == 0 ? 2 : 3);
          if (gen == 0 && op == 0) {  // dense random signs, random magnitudes
            for (std::size_t j = 0; j < N; ++j) d[j] = static_cast<float>((2.0 * rng.uniform() - 1.0) * eps);
          } else if (gen == 0) {  // sparse spikes
            std::fill(d, d + N, 0.f);
            const std::uint64_t k = 1 + rng.below(3);
            for (std::uint64_t t = 0; t < k; ++t) d[rng.below(N)] = rng.uniform() < 0.5 ? -eps : eps;
          } else {
            std::copy(parent.begin(), parent.end(), d);
            if (op == 0) {  // re-draw a tenth of the coordinates
              const std::size_t k = std::max<std::size_t>(1, N / 10);
              for (std::size_t t = 0; t < k; ++t)
                d[rng.below(N)] = static_cast<float>((2.0 * rng.uniform() - 1.0) * eps);
            } else if (op == 1) {  // add a spike
              d[rng.below(N)] = rng.uniform() < 0.5 ? -eps : eps;
            } else {  // flip the sign of a block
              const std::size_t len = std::max<std::size_t>(1, N / 8), start = static_cast<std::size_t>(rng.below(N));
              for (std::size_t j = start; j < std::min(N, start + len); ++j) d[j] = -d[j];
            }
          }
          const float* x0 = X0.data() + static_cast<std::size_t>(s) * N;
          float* x = X.data() + static_cast<std::size_t>(s * o.population + p) * N;
          for (std::size_t j = 0; j < N; ++j) {
            float v = x0[j] + d[j];
            if (clip) v = std::min(std::max(v, o.domain.lo), o.domain.hi);
            x[j] = v;
          }
        }
      }
      std::vector<std::int64_t> lab(static_cast<std::size_t>(per_gen));
      for (std::int64_t i = 0; i < per_gen; ++i)
        lab[static_cast<std::size_t>(i)] = labels[static_cast<std::size_t>(i / o.population)];
      QSAFE_RETURN_IF_ERROR(detail::score_batch(engine, X, per_gen, lab, o.batch, sc));
      spend(per_gen);
      linf_budget -= per_gen;
      for (std::int64_t s = 0; s < S; ++s)
        for (int p = 0; p < o.population; ++p) {
          const std::size_t i = static_cast<std::size_t>(s * o.population + p);
          if (sc[i].objective > best_obj[static_cast<std::size_t>(s)]) {
            best_obj[static_cast<std::size_t>(s)] = sc[i].objective;
            delta[static_cast<std::size_t>(s)].assign(cand.data() + i * N, cand.data() + (i + 1) * N);
          }
          consider(static_cast<std::size_t>(s), sc[i], "linf", X.data() + i * N);
        }
    }
    corr_budget += linf_budget;  // what the last partial generation could not use
  }

  // Phase 3: corruption parameters.
  if (do_corr) {
    const std::int64_t probes_total = corr_budget / S;
    const std::int64_t kinds = static_cast<std::int64_t>(o.corruptions.size());
    std::vector<float> X(X0.size());
    for (std::int64_t k = 0; k < kinds; ++k) {
      const CorruptionSpace& cs = o.corruptions[static_cast<std::size_t>(k)];
      const std::int64_t probes = probes_total / kinds + (k < probes_total % kinds ? 1 : 0);
      CorruptionProbe probe;
      probe.name = cs.name;
      probe.objective = -1.0;
      const std::int64_t random_probes = (probes + 1) / 2;
      for (std::int64_t t = 0; t < probes; ++t) {
        Corruption c;
        c.name = cs.name;
        c.kind = cs.kind;
        if (t < random_probes || probe.objective < 0) {
          c.param = static_cast<float>(cs.param_lo + rng.uniform() * (cs.param_hi - cs.param_lo));
          c.count = cs.count_lo + static_cast<int>(rng.below(static_cast<std::uint64_t>(cs.count_hi) -
                                                             static_cast<std::uint64_t>(cs.count_lo) + 1));
        } else {  // (1 + 1) refinement around the best
          const double step = 0.1 * (cs.param_hi - cs.param_lo) * rng.normal();
          c.param = static_cast<float>(
              std::min<double>(cs.param_hi, std::max<double>(cs.param_lo, probe.corruption.param + step)));
          c.count =
              std::min(cs.count_hi, std::max(cs.count_lo, probe.corruption.count + static_cast<int>(rng.below(3)) - 1));
        }
        if (cs.kind == CorruptionKind::occlusion) c.param = std::max(1.f, std::round(c.param));
        QSAFE_RETURN_IF_ERROR(apply_corruption(c, S, shape.channels, shape.height, shape.width, o.range,
                                               o.seed + static_cast<std::uint64_t>(t + 1) * 7919u,
                                               Span<const float>(X0), Span<float>(X)));
        if (clip)
          for (float& v : X) v = std::min(std::max(v, o.domain.lo), o.domain.hi);
        QSAFE_RETURN_IF_ERROR(detail::score_batch(engine, X, S, labels, o.batch, sc));
        spend(S);
        double obj = 0;
        std::size_t flips = 0, fr = 0, qr = 0;
        const std::string origin = "corruption:" + cs.name;
        for (std::size_t s = 0; s < static_cast<std::size_t>(S); ++s) {
          obj += sc[s].objective;
          flips += sc[s].flipped;
          fr += sc[s].float_right;
          qr += sc[s].quant_right;
          consider(s, sc[s], origin.c_str(), X.data() + s * N);
        }
        obj /= static_cast<double>(S);
        ++probe.probes;
        if (obj > probe.objective) {
          probe.objective = obj;
          probe.corruption = c;
          probe.flip_rate = static_cast<double>(flips) / static_cast<double>(S);
          probe.accuracy_drop = res.has_labels
                                    ? (static_cast<double>(fr) - static_cast<double>(qr)) / static_cast<double>(S)
                                    : probe.flip_rate;
        }
      }
      if (probe.probes > 0) res.corruptions.push_back(probe);
    }
  }

  // The found set.
  std::size_t ff = 0, fq = 0, flips = 0;
  std::vector<double> kls;
  std::vector<std::size_t> order(static_cast<std::size_t>(S));
  for (std::size_t s = 0; s < static_cast<std::size_t>(S); ++s) {
    order[s] = s;
    ff += best[s].score.float_right;
    fq += best[s].score.quant_right;
    flips += best[s].score.flipped;
    kls.push_back(best[s].score.kl);
  }
  res.found_flip_rate = static_cast<double>(flips) / static_cast<double>(S);
  res.found_kl = tail_stats(kls);
  if (res.has_labels) {
    res.found_float_accuracy = static_cast<double>(ff) / static_cast<double>(S);
    res.found_accuracy = static_cast<double>(fq) / static_cast<double>(S);
    res.accuracy_drop = res.found_float_accuracy - res.found_accuracy;
  } else {
    res.accuracy_drop = res.found_flip_rate;
  }
  res.verdict = res.accuracy_drop > o.threshold ? Verdict::detrimental : Verdict::robust;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return best[a].score.objective > best[b].score.objective; });
  for (std::size_t r = 0; r < std::min(o.keep, order.size()); ++r) {
    const std::size_t s = order[r];
    FoundInput fi;
    fi.source = static_cast<std::int64_t>(s);
    fi.origin = best[s].origin;
    fi.objective = best[s].score.objective;
    fi.kl = best[s].score.kl;
    fi.flipped = best[s].score.flipped;
    fi.label = labels[s];
    fi.float_top1 = best[s].score.ftop;
    fi.quant_top1 = best[s].score.qtop;
    for (std::size_t j = 0; j < N; ++j)
      fi.linf_distance = std::max(fi.linf_distance, static_cast<double>(std::fabs(best[s].x[j] - X0[s * N + j])));
    fi.x = best[s].x;
    res.worst.push_back(std::move(fi));
  }
  return res;
}

}  // namespace analysis
}  // namespace qsafe

#endif  // QSAFE_ANALYSIS_FAILURE_SEARCH_HPP_
