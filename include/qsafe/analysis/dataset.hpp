// qsafe/analysis/dataset.hpp: the data every analysis runs on - a labelled dataset, named groups
// of inputs (the clean data and its shifts), and the built-in corruption groups of corruptions.hpp.
//
// Layout: `x` holds `n` samples of `sample_numel` floats each, back to back (for images NCHW, as
// PyTorch); labels, when present, hold one class index per sample. A Group is a self-contained
// named set of inputs (its own n and labels), so user groups need not share the clean data's
// samples; the built-in groups are the clean data corrupted sample by sample (same order, same
// labels).
//
// Host-side: may allocate, never throws; every error is a Status.
#ifndef QSAFE_ANALYSIS_DATASET_HPP_
#define QSAFE_ANALYSIS_DATASET_HPP_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "qsafe/analysis/corruptions.hpp"
#include "qsafe/core/qparams.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {
namespace analysis {

// Progress of a long step: `step` names it ("evaluate", "sensitivity", ...), `done` of `total`
// units finished (configurations evaluated, search evaluations spent, ...). May be empty.
using ProgressFn = std::function<void(const char* step, std::size_t done, std::size_t total)>;

// Shape of one image sample (c x h x w); a flat sample of k features is {1, 1, k}.
struct SampleShape {
  std::int64_t channels = 1;
  std::int64_t height = 1;
  std::int64_t width = 1;
  std::int64_t numel() const noexcept { return channels * height * width; }
};

// A set of inputs with optional labels (calibration data, a test set).
struct Dataset {
  std::vector<float> x;              // n * sample_numel floats
  std::int64_t n = 0;                // samples
  std::vector<std::int64_t> labels;  // empty, or n class indices
};

// A named set of inputs evaluated as one group ("clean", "noise_0.1", "user:night", ...).
struct Group {
  std::string name;
  std::vector<float> x;  // n * sample_numel floats
  std::int64_t n = 0;
  std::vector<std::int64_t> labels;  // empty, or n class indices
};

namespace detail {
inline Status check_samples(const std::vector<float>& x, std::int64_t n, const std::vector<std::int64_t>& labels,
                            std::int64_t sample_numel, std::int64_t num_classes) {
  if (sample_numel < 1) return Status::invalid_argument;
  if (n < 1) return Status::empty_input;
  if (x.size() != static_cast<std::size_t>(n) * static_cast<std::size_t>(sample_numel)) return Status::shape_mismatch;
  if (!labels.empty() && labels.size() != static_cast<std::size_t>(n)) return Status::shape_mismatch;
  for (std::int64_t l : labels)
    if (l < 0 || (num_classes > 0 && l >= num_classes)) return Status::invalid_argument;
  for (float v : x)
    if (!std::isfinite(v)) return Status::non_finite_input;
  return Status::ok;
}
}  // namespace detail

// Checks a dataset against an engine's sample size and class count (num_classes <= 0: labels are
// only checked to be >= 0). Errors: empty_input (n < 1), shape_mismatch (x or labels of the wrong
// size), invalid_argument (sample_numel < 1, a label out of range), non_finite_input (NaN/Inf).
inline Status check_dataset(const Dataset& d, std::int64_t sample_numel, std::int64_t num_classes) {
  return detail::check_samples(d.x, d.n, d.labels, sample_numel, num_classes);
}
inline Status check_group(const Group& g, std::int64_t sample_numel, std::int64_t num_classes) {
  return detail::check_samples(g.x, g.n, g.labels, sample_numel, num_classes);
}
// Every group checked, and at least one group (empty_input otherwise).
inline Status check_groups(const std::vector<Group>& groups, std::int64_t sample_numel, std::int64_t num_classes) {
  if (groups.empty()) return Status::empty_input;
  for (const Group& g : groups) QSAFE_RETURN_IF_ERROR(check_group(g, sample_numel, num_classes));
  return Status::ok;
}

// The dataset as one group named `name` (a copy).
inline Group as_group(const Dataset& d, std::string name = "clean") {
  Group g;
  g.name = std::move(name);
  g.x = d.x;
  g.n = d.n;
  g.labels = d.labels;
  return g;
}

// The samples `indices` of a dataset, in that order (repeats allowed: bootstrap resamples).
// Errors: invalid_argument (an index out of range), empty_input (no indices), shape_mismatch (x
// not a multiple of sample_numel).
inline Result<Dataset> select(const Dataset& d, std::int64_t sample_numel, const std::vector<std::int64_t>& indices) {
  if (sample_numel < 1) return Status::invalid_argument;
  if (indices.empty()) return Status::empty_input;
  if (d.x.size() != static_cast<std::size_t>(d.n) * static_cast<std::size_t>(sample_numel))
    return Status::shape_mismatch;
  Dataset out;
  out.n = static_cast<std::int64_t>(indices.size());
  out.x.reserve(indices.size() * static_cast<std::size_t>(sample_numel));
  for (std::int64_t i : indices) {
    if (i < 0 || i >= d.n) return Status::invalid_argument;
    const std::size_t off = static_cast<std::size_t>(i) * static_cast<std::size_t>(sample_numel);
    out.x.insert(out.x.end(), d.x.begin() + static_cast<std::ptrdiff_t>(off),
                 d.x.begin() + static_cast<std::ptrdiff_t>(off + static_cast<std::size_t>(sample_numel)));
    if (!d.labels.empty()) out.labels.push_back(d.labels[static_cast<std::size_t>(i)]);
  }
  return out;
}

// One corruption of `d` as a group named c.name (same samples and labels, in order).
// Errors: those of apply_corruption, empty_input.
inline Result<Group> make_corruption_group(const Dataset& d, SampleShape shape, Range range, const Corruption& c,
                                           std::uint64_t seed) {
  if (d.n < 1) return Status::empty_input;
  Group g;
  g.name = c.name;
  g.n = d.n;
  g.labels = d.labels;
  g.x.resize(d.x.size());
  QSAFE_RETURN_IF_ERROR(apply_corruption(c, d.n, shape.channels, shape.height, shape.width, range, seed,
                                         Span<const float>(d.x), Span<float>(g.x)));
  return g;
}

// "clean" (the data itself) followed by every corruption of builtin_corruptions(), each applied
// with its own seed (seed + its position), so adding a corruption does not change the others.
// `range` is the clean data's value range ([0, 1] for the digits). Errors: those of
// make_corruption_group (shape_mismatch when x does not hold n samples of `shape`).
inline Result<std::vector<Group>> make_builtin_groups(const Dataset& d, SampleShape shape, Range range,
                                                      std::uint64_t seed) {
  if (shape.channels < 1 || shape.height < 1 || shape.width < 1) return Status::invalid_argument;
  QSAFE_RETURN_IF_ERROR(check_dataset(d, shape.numel(), 0));
  std::vector<Group> groups;
  groups.push_back(as_group(d, "clean"));
  const std::vector<Corruption> suite = builtin_corruptions();
  for (std::size_t i = 0; i < suite.size(); ++i) {
    Result<Group> g = make_corruption_group(d, shape, range, suite[i], seed + i + 1);
    if (!g.ok()) return g.status();
    groups.push_back(std::move(g.value()));
  }
  return groups;
}

}  // namespace analysis
}  // namespace qsafe

#endif  // QSAFE_ANALYSIS_DATASET_HPP_
