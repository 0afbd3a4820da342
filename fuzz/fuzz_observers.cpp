// Fuzz target: every observer in qsafe::all_observers and the per-channel observers, on arbitrary
// float bytes (NaN, +-Inf, denormals, huge values), against the observer contract
// (observer/observer.hpp):
//   - an empty batch -> empty_input; a batch holding NaN/Inf -> non_finite_input with the right
//     count; in both cases range() is exactly what it was before;
//   - after accepted batches range() is finite, lo <= hi, inside [min, max] of all accepted data,
//     and qparams_from_range accepts it (or says out_of_range for a span wider than float32);
//   - merge: observing batches 0..s-1 in A and s.. in B, then A.merge(B), gives exactly the range
//     of one observer that saw them all, for observers with kMergeIsExact;
//   - per channel: each channel's range lies inside that channel's [min, max].
// Input: byte 0 = number of batches - 1 (mod 4), byte 1 = merge split point, byte 2 = channels - 1
// (mod 4), then float32 values cut into batches of (nearly) equal length.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <tuple>
#include <utility>
#include <vector>

#include "qsafe/observer/all.hpp"
#include "qsafe/quantize.hpp"

namespace {

#define QSAFE_FUZZ_CHECK(cond)                                                              \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);    \
      __builtin_trap();                                                                     \
    }                                                                                       \
  } while (0)

bool finite(float x) noexcept { return qsafe::detail::is_finite(x); }

// Bit-exact on purpose: the contract says "exactly as before", -0.0 and NaN payloads included.
bool same_bits(float a, float b) noexcept {
  return std::memcmp(&a, &b, sizeof a) == 0;  // NOLINT(bugprone-suspicious-memory-comparison)
}

bool same_range(const qsafe::Result<qsafe::Range>& a, const qsafe::Result<qsafe::Range>& b) noexcept {
  if (a.status() != b.status()) return false;
  return !a.ok() || (same_bits(a->lo, b->lo) && same_bits(a->hi, b->hi));
}

struct Batches {
  std::vector<std::vector<float>> batches;
  std::vector<bool> finite_batch;
};

template <class Obs>
void check_observer(const Batches& in, std::size_t split) {
  Obs all, a, b;
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  bool any_accepted = false;
  std::size_t accepted_before_split = 0;
  for (std::size_t i = 0; i < in.batches.size(); ++i) {
    const std::vector<float>& batch = in.batches[i];
    const qsafe::Span<const float> s(batch.data(), batch.size());
    const qsafe::Result<qsafe::Range> before = all.range();
    const qsafe::Status st = all.observe(s);
    Obs& part = i < split ? a : b;
    const qsafe::Status st_part = part.observe(s);
    QSAFE_FUZZ_CHECK(st == st_part);
    if (batch.empty()) {
      QSAFE_FUZZ_CHECK(st == qsafe::Status::empty_input);
      QSAFE_FUZZ_CHECK(same_range(before, all.range()));
      continue;
    }
    if (!in.finite_batch[i]) {
      std::size_t count = 0;
      for (float v : batch) count += finite(v) ? 0u : 1u;
      QSAFE_FUZZ_CHECK(st == qsafe::Status::non_finite_input);
      QSAFE_FUZZ_CHECK(all.last_non_finite_count() == count);
      QSAFE_FUZZ_CHECK(same_range(before, all.range()));
      continue;
    }
    QSAFE_FUZZ_CHECK(st == qsafe::Status::ok);
    QSAFE_FUZZ_CHECK(all.last_non_finite_count() == 0);
    any_accepted = true;
    if (i < split) ++accepted_before_split;
    for (float v : batch) {
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
    }
  }
  const qsafe::Result<qsafe::Range> r = all.range();
  if (!any_accepted) {
    QSAFE_FUZZ_CHECK(r.status() == qsafe::Status::empty_input);
    return;
  }
  QSAFE_FUZZ_CHECK(r.ok());
  QSAFE_FUZZ_CHECK(finite(r->lo) && finite(r->hi) && r->lo <= r->hi);
  QSAFE_FUZZ_CHECK(r->lo >= lo && r->hi <= hi);
  const qsafe::Result<qsafe::QParams> p =
      qsafe::qparams_from_range(r.value(), qsafe::qrange_of<std::int8_t>(), qsafe::SchemeKind::affine);
  QSAFE_FUZZ_CHECK(p.ok() || p.status() == qsafe::Status::out_of_range);

  if (Obs::kMergeIsExact) {
    const qsafe::Status m = a.merge(b);
    QSAFE_FUZZ_CHECK(m == qsafe::Status::ok);
    QSAFE_FUZZ_CHECK(same_range(a.range(), r));
  }
  (void)accepted_before_split;
}

template <class Tuple, std::size_t... I>
void check_all(const Batches& in, std::size_t split, std::index_sequence<I...>) {
  (check_observer<std::tuple_element_t<I, Tuple>>(in, split), ...);
}

template <class PerChannel>
void check_per_channel(const std::vector<float>& x, std::int64_t channels) {
  using Obs = typename PerChannel::channel_observer;
  const std::int64_t cols = static_cast<std::int64_t>(x.size()) / channels;
  if (cols == 0) return;
  std::vector<Obs> storage(static_cast<std::size_t>(channels));
  PerChannel obs(0, qsafe::Span<Obs>(storage.data(), storage.size()));
  const qsafe::TensorView<const float> xv(x.data(), qsafe::Shape{channels, cols});
  std::size_t non_finite = 0;
  for (std::int64_t i = 0; i < channels * cols; ++i) non_finite += finite(x[static_cast<std::size_t>(i)]) ? 0u : 1u;
  const qsafe::Status st = obs.observe(xv);
  std::vector<qsafe::Range> ranges(static_cast<std::size_t>(channels));
  const qsafe::Status rs = obs.ranges(qsafe::Span<qsafe::Range>(ranges.data(), ranges.size()));
  if (non_finite != 0) {
    QSAFE_FUZZ_CHECK(st == qsafe::Status::non_finite_input);
    QSAFE_FUZZ_CHECK(obs.last_non_finite_count() == non_finite);
    QSAFE_FUZZ_CHECK(rs == qsafe::Status::empty_input);  // nothing was accepted
    return;
  }
  QSAFE_FUZZ_CHECK(st == qsafe::Status::ok);
  QSAFE_FUZZ_CHECK(rs == qsafe::Status::ok);
  for (std::int64_t c = 0; c < channels; ++c) {
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (std::int64_t j = 0; j < cols; ++j) {
      const float v = x[static_cast<std::size_t>(c * cols + j)];
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
    }
    const qsafe::Range& r = ranges[static_cast<std::size_t>(c)];
    QSAFE_FUZZ_CHECK(r.lo <= r.hi && r.lo >= lo && r.hi <= hi);
  }
}

template <class Tuple, std::size_t... I>
void check_all_per_channel(const std::vector<float>& x, std::int64_t channels, std::index_sequence<I...>) {
  (check_per_channel<std::tuple_element_t<I, Tuple>>(x, channels), ...);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::size_t n_batches = 1 + data[0] % 4;
  const std::size_t split = data[1] % (n_batches + 1);
  const std::int64_t channels = 1 + data[2] % 4;
  std::vector<float> x((size - 3) / sizeof(float));
  if (!x.empty()) std::memcpy(x.data(), data + 3, x.size() * sizeof(float));

  Batches in;
  const std::size_t per = x.size() / n_batches, extra = x.size() % n_batches;
  std::size_t pos = 0;
  for (std::size_t b = 0; b < n_batches; ++b) {  // torch.tensor_split: the first ones one longer
    const std::size_t len = per + (b < extra ? 1 : 0);
    in.batches.emplace_back(x.begin() + static_cast<std::ptrdiff_t>(pos),
                            x.begin() + static_cast<std::ptrdiff_t>(pos + len));
    bool all_finite = true;
    for (float v : in.batches.back()) all_finite = all_finite && finite(v);
    in.finite_batch.push_back(all_finite);
    pos += len;
  }
  using All = qsafe::all_observers;
  check_all<All>(in, split, std::make_index_sequence<std::tuple_size<All>::value>{});
  using AllPerChannel = qsafe::all_per_channel_observers;
  check_all_per_channel<AllPerChannel>(x, channels, std::make_index_sequence<std::tuple_size<AllPerChannel>::value>{});
  return 0;
}
