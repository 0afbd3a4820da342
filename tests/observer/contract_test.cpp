// The observer contract (observer/observer.hpp), checked for every type in qsafe::all_observers and
// qsafe::all_per_channel_observers. A new observer registered in observer/all.hpp is covered here
// with no edit to this file.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "qsafe/observer/all.hpp"
#include "qsafe/quantize.hpp"

#include "support/special_floats.hpp"

using namespace qsafe;

namespace {

using qsafe_test::kInf;
using qsafe_test::kNaN;

std::vector<float> gaussian(std::size_t n, float mean, float sigma, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(mean, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

std::vector<float> cauchy(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::cauchy_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

std::vector<float> concat(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> c(a);
  c.insert(c.end(), b.begin(), b.end());
  return c;
}

// Exact equality of two ranges (+0 and -0 compare equal, as qparams_from_range treats them).
bool same_range(Range a, Range b) { return a.lo == b.lo && a.hi == b.hi; }

template <class Obs>
Range must_range(const Obs& obs) {
  const Result<Range> r = obs.range();
  REQUIRE(r.ok());
  return r.value();
}

Span<const float> span_of(const std::vector<float>& v) { return Span<const float>(v.data(), v.size()); }

}  // namespace

TEMPLATE_LIST_TEST_CASE("observer contract: trait, empty state and empty batches", "[observer][contract]",
                        all_observers) {
  static_assert(is_observer_v<TestType>, "register only types that model the observer contract");
  TestType obs;
  CHECK(obs.range().status() == Status::empty_input);
  CHECK(obs.observe(Span<const float>()) == Status::empty_input);
  CHECK(obs.range().status() == Status::empty_input);
  const std::vector<float> x = {1.f, -2.f, 3.f};
  REQUIRE(obs.observe(span_of(x)) == Status::ok);
  const Range before = must_range(obs);
  CHECK(obs.observe(Span<const float>()) == Status::empty_input);
  CHECK(same_range(must_range(obs), before));
}

TEMPLATE_LIST_TEST_CASE("observer contract: NaN/Inf are counted, rejected, and leave the state unchanged",
                        "[observer][contract]", all_observers) {
  TestType obs;
  const std::vector<float> good = gaussian(3000, 0.5f, 2.f, 1);
  REQUIRE(obs.observe(span_of(good)) == Status::ok);
  CHECK(obs.last_non_finite_count() == 0);
  const TestType snapshot = obs;
  const Range before = must_range(obs);

  // Non-finite values at the start, in the middle (inside a vector chunk) and at the tail, plus
  // values that would extend the range: nothing of this batch may be kept.
  std::vector<float> bad = gaussian(1001, 10.f, 50.f, 2);
  bad[0] = kNaN;
  bad[500] = kInf;
  bad[777] = -kInf;
  bad[1000] = -kNaN;
  CHECK(obs.observe(span_of(bad)) == Status::non_finite_input);
  CHECK(obs.last_non_finite_count() == 4);
  CHECK(same_range(must_range(obs), before));

  // Also when the only problem hides after many good values in the current window.
  std::vector<float> late = good;
  late[2999] = kNaN;
  CHECK(obs.observe(span_of(late)) == Status::non_finite_input);
  CHECK(obs.last_non_finite_count() == 1);
  CHECK(same_range(must_range(obs), before));

  // The state is really untouched: the same future gives the same range as the snapshot.
  TestType twin = snapshot;
  const std::vector<float> next = gaussian(2000, -1.f, 3.f, 3);
  REQUIRE(obs.observe(span_of(next)) == Status::ok);
  REQUIRE(twin.observe(span_of(next)) == Status::ok);
  CHECK(obs.last_non_finite_count() == 0);
  CHECK(same_range(must_range(obs), must_range(twin)));

  // A first batch that is bad leaves the observer empty.
  TestType fresh;
  CHECK(fresh.observe(span_of(bad)) == Status::non_finite_input);
  CHECK(fresh.range().status() == Status::empty_input);
}

TEMPLATE_LIST_TEST_CASE("observer contract: ranges stay finite and inside what was observed", "[observer][contract]",
                        all_observers) {
  const std::vector<std::vector<float>> cases = {
      gaussian(5000, 0.f, 1.f, 4),
      cauchy(5000, 5),
      gaussian(5000, 1000.f, 0.001f, 6),  // far from 0, narrow
      {-3e38f, 3e38f, 0.f, 1.f},          // huge range
      {1e-40f, -1e-40f, 0.f, 2e-45f},     // subnormals
      {-std::numeric_limits<float>::max(), std::numeric_limits<float>::max()},
  };
  for (const std::vector<float>& x : cases) {
    TestType obs;
    REQUIRE(obs.observe(span_of(x)) == Status::ok);
    float lo = x[0];
    float hi = x[0];
    for (float v : x) {
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
    }
    const Range r = must_range(obs);
    CHECK(std::isfinite(r.lo));
    CHECK(std::isfinite(r.hi));
    CHECK(r.lo <= r.hi);
    CHECK(r.lo >= lo);  // clipping observers may shrink the range, never widen it
    CHECK(r.hi <= hi);
  }
}

TEMPLATE_LIST_TEST_CASE("observer contract: constant and all-zero data give valid ranges and params",
                        "[observer][contract]", all_observers) {
  for (float c : {0.f, -0.f, 1.f, -3.5f, 1e-30f, 7e30f}) {
    TestType obs;
    const std::vector<float> x(1000, c);
    REQUIRE(obs.observe(span_of(x)) == Status::ok);
    REQUIRE(obs.observe(span_of(x)) == Status::ok);
    const Range r = must_range(obs);
    CHECK(r.lo == c);
    CHECK(r.hi == c);
    for (SchemeKind scheme : {SchemeKind::affine, SchemeKind::symmetric}) {
      for (QRange q : {qrange_of<std::uint8_t>(), qrange_of<std::int8_t>()}) {
        const Result<QParams> p = qparams_from_range(r, q, scheme);
        REQUIRE(p.ok());
        CHECK(check_qparams(p.value(), q) == Status::ok);
      }
    }
  }
}

TEMPLATE_LIST_TEST_CASE("observer contract: merge", "[observer][contract]", all_observers) {
  const std::vector<float> a = gaussian(4000, 0.f, 1.f, 7);
  const std::vector<float> b = concat(gaussian(3000, 5.f, 4.f, 8), {-40.f, 90.f});
  const std::vector<float> c = cauchy(2000, 9);

  // Merging with an empty observer changes nothing, either way round.
  {
    TestType x;
    REQUIRE(x.observe(span_of(a)) == Status::ok);
    const Range before = must_range(x);
    TestType empty;
    REQUIRE(x.merge(empty) == Status::ok);
    CHECK(same_range(must_range(x), before));
    REQUIRE(empty.merge(x) == Status::ok);
    CHECK(same_range(must_range(empty), before));
  }

  if (TestType::kMergeIsExact) {
    // merge == observing the concatenation, bit for bit, whatever the ranges of the parts
    // (histograms included: their grid is canonical, see histogram.hpp).
    TestType x, y, z, whole, stream, reversed;
    REQUIRE(x.observe(span_of(a)) == Status::ok);
    REQUIRE(y.observe(span_of(b)) == Status::ok);
    REQUIRE(z.observe(span_of(c)) == Status::ok);
    REQUIRE(x.merge(y) == Status::ok);
    REQUIRE(x.merge(z) == Status::ok);
    REQUIRE(whole.observe(span_of(concat(concat(a, b), c))) == Status::ok);
    CHECK(same_range(must_range(x), must_range(whole)));
    // ... and the order of batches does not matter either.
    for (const auto* v : {&c, &a, &b}) REQUIRE(stream.observe(span_of(*v)) == Status::ok);
    for (const auto* v : {&b, &c, &a}) REQUIRE(reversed.observe(span_of(*v)) == Status::ok);
    CHECK(same_range(must_range(stream), must_range(whole)));
    CHECK(same_range(must_range(reversed), must_range(whole)));
  } else {
    // Averaging observers: the merged range lies between the two.
    TestType x, y;
    REQUIRE(x.observe(span_of(a)) == Status::ok);
    REQUIRE(y.observe(span_of(b)) == Status::ok);
    const Range rx = must_range(x);
    const Range ry = must_range(y);
    REQUIRE(x.merge(y) == Status::ok);
    const Range m = must_range(x);
    CHECK(m.lo >= std::fmin(rx.lo, ry.lo));
    CHECK(m.lo <= std::fmax(rx.lo, ry.lo));
    CHECK(m.hi >= std::fmin(rx.hi, ry.hi));
    CHECK(m.hi <= std::fmax(rx.hi, ry.hi));
  }
}

TEMPLATE_LIST_TEST_CASE("per-channel observer contract", "[observer][contract][per_channel]",
                        all_per_channel_observers) {
  static_assert(is_per_channel_observer_v<TestType>, "register only PerChannelObserver types");
  using Obs = typename TestType::channel_observer;
  // x: [2, 3, 50], channel axis 1; channel c is offset by 10 * c.
  std::vector<float> x = gaussian(2 * 3 * 50, 0.f, 1.f, 10);
  for (int o = 0; o < 2; ++o)
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < 50; ++i) x[(o * 3 + c) * 50 + i] += 10.f * c;
  const TensorView<const float> view(x.data(), Shape{2, 3, 50});

  std::vector<Obs> storage(3);
  TestType obs(1, Span<Obs>(storage));
  std::vector<Range> ranges(3);
  CHECK(obs.ranges(Span<Range>(ranges)) == Status::empty_input);
  REQUIRE(obs.observe(view) == Status::ok);
  REQUIRE(obs.ranges(Span<Range>(ranges)) == Status::ok);
  for (int c = 0; c < 3; ++c) {
    // Each channel saw exactly its own values: same range as a per-tensor observer fed them.
    Obs ref;
    std::vector<float> own;
    for (int o = 0; o < 2; ++o)
      for (int i = 0; i < 50; ++i) own.push_back(x[(o * 3 + c) * 50 + i]);
    REQUIRE(ref.observe(span_of(own)) == Status::ok);
    CHECK(same_range(ranges[c], must_range(ref)));
  }

  // Wrong shapes and sizes.
  const TensorView<const float> wrong(x.data(), Shape{2, 50, 3});
  CHECK(obs.observe(wrong) == Status::shape_mismatch);
  std::vector<Range> two(2);
  CHECK(obs.ranges(Span<Range>(two)) == Status::shape_mismatch);
  CHECK(obs.observe(TensorView<const float>(x.data(), Shape{2, 3, 0})) == Status::empty_input);

  // NaN anywhere: rejected, counted, every channel unchanged.
  std::vector<float> bad = x;
  bad[5] = kNaN;
  bad[299] = kInf;
  CHECK(obs.observe(TensorView<const float>(bad.data(), Shape{2, 3, 50})) == Status::non_finite_input);
  CHECK(obs.last_non_finite_count() == 2);
  std::vector<Range> after(3);
  REQUIRE(obs.ranges(Span<Range>(after)) == Status::ok);
  for (int c = 0; c < 3; ++c) CHECK(same_range(after[c], ranges[c]));

  // Merge: channel by channel; mismatched channel counts or axes are refused.
  std::vector<Obs> other_storage(3);
  TestType other(1, Span<Obs>(other_storage));
  REQUIRE(other.observe(view) == Status::ok);
  REQUIRE(obs.merge(other) == Status::ok);
  std::vector<Obs> small_storage(2);
  TestType small(1, Span<Obs>(small_storage));
  CHECK(obs.merge(small) == Status::shape_mismatch);
  std::vector<Obs> axis0_storage(3);
  TestType axis0(0, Span<Obs>(axis0_storage));
  CHECK(obs.merge(axis0) == Status::invalid_argument);
}
