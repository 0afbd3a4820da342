#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "qsafe/analysis/metrics.hpp"

using qsafe::Span;
using qsafe::Status;
namespace qa = qsafe::analysis;

TEST_CASE("metrics: MSE, SQNR, cosine and max error by hand", "[analysis][metrics]") {
  const std::vector<float> ref = {1.f, 2.f, 3.f, 4.f};
  const std::vector<float> test = {1.f, 2.5f, 3.f, 3.f};
  const auto m = qa::error_metrics(Span<const float>(ref), Span<const float>(test));
  REQUIRE(m.ok());
  // errors 0, -0.5, 0, 1 -> squared sum 1.25, mean 0.3125; signal 30.
  CHECK(m->mse == Approx(0.3125));
  CHECK(m->sqnr_db == Approx(10.0 * std::log10(30.0 / 1.25)));
  CHECK(m->max_abs == Approx(1.0));
  // <r,t> = 1 + 5 + 9 + 12 = 27; |t|^2 = 1 + 6.25 + 9 + 9 = 25.25
  CHECK(m->cosine == Approx(27.0 / (std::sqrt(30.0) * std::sqrt(25.25))));
  CHECK(m->count == 4);
}

TEST_CASE("metrics: exact match, zero signal, bad input", "[analysis][metrics]") {
  const std::vector<float> a = {0.5f, -1.f};
  const auto same = qa::error_metrics(Span<const float>(a), Span<const float>(a));
  REQUIRE(same.ok());
  CHECK(std::isinf(same->sqnr_db));
  CHECK(same->sqnr_db > 0);
  CHECK(same->cosine == Approx(1.0));
  const std::vector<float> zeros = {0.f, 0.f};
  const auto z = qa::error_metrics(Span<const float>(zeros), Span<const float>(a));
  REQUIRE(z.ok());
  CHECK(std::isinf(z->sqnr_db));
  CHECK(z->sqnr_db < 0);
  CHECK(z->cosine == 0.0);
  const std::vector<float> three = {1.f, 2.f, 3.f};
  CHECK(qa::error_metrics(Span<const float>(a), Span<const float>(three)).status() == Status::shape_mismatch);
  CHECK(qa::error_metrics(Span<const float>(), Span<const float>()).status() == Status::empty_input);
  const std::vector<float> nan = {std::numeric_limits<float>::quiet_NaN(), 0.f};
  CHECK(qa::error_metrics(Span<const float>(a), Span<const float>(nan)).status() == Status::non_finite_input);
}

TEST_CASE("metrics: softmax KL by hand and its invariances", "[analysis][metrics]") {
  // p = softmax(0, 0) = (1/2, 1/2); q = softmax(0, ln 3) = (1/4, 3/4)
  const std::vector<float> p = {0.f, 0.f};
  const std::vector<float> q = {0.f, static_cast<float>(std::log(3.0))};
  const double expected = 0.5 * std::log(0.5 / 0.25) + 0.5 * std::log(0.5 / 0.75);
  CHECK(qa::softmax_kl(Span<const float>(p), Span<const float>(q)) == Approx(expected).epsilon(1e-6));
  // Shifting logits does not change softmax; huge logits stay finite.
  const std::vector<float> q_shift = {1000.f, 1000.f + static_cast<float>(std::log(3.0))};
  CHECK(qa::softmax_kl(Span<const float>(p), Span<const float>(q_shift)) == Approx(expected).epsilon(1e-3));
  CHECK(qa::softmax_kl(Span<const float>(q), Span<const float>(q)) == 0.0);
}

TEST_CASE("metrics: top-1 flips, accuracy and tails", "[analysis][metrics]") {
  // 4 samples x 3 classes
  const std::vector<float> ref = {3, 1, 0, 0, 2, 1, 0, 0, 5, 1, 1, 0};
  const std::vector<float> test = {3, 1, 0, 2, 0, 1, 0, 0, 5, 0, 1, 0};  // sample 1 and 3 flip
  const std::vector<std::int64_t> labels = {0, 1, 2, 1};
  const auto m =
      qa::classification_metrics(Span<const float>(ref), Span<const float>(test), 3, Span<const std::int64_t>(labels));
  REQUIRE(m.ok());
  CHECK(m->samples == 4);
  CHECK(m->top1_agreement == 2);
  REQUIRE(m->flipped.size() == 2);
  CHECK(m->flipped[0] == 1);
  CHECK(m->flipped[1] == 3);
  // reference argmax: 0, 1, 2, 0 (tie 1,1 -> first) -> correct 3/4; test: 0, 0, 2, 1 -> 3/4
  CHECK(m->reference_accuracy == Approx(0.75));
  CHECK(m->test_accuracy == Approx(0.75));
  CHECK(m->kl[0] == 0.0);
  CHECK(m->kl_tail.max == Approx(m->kl[1]));
  CHECK(m->kl_tail.argmax == 1);
  const std::vector<std::int64_t> bad = {0, 1, 3, 1};
  CHECK(qa::classification_metrics(Span<const float>(ref), Span<const float>(test), 3, Span<const std::int64_t>(bad))
            .status() == Status::invalid_argument);
  CHECK(qa::classification_metrics(Span<const float>(ref), Span<const float>(test), 5).status() ==
        Status::shape_mismatch);
}

TEST_CASE("metrics: quantile interpolates like numpy", "[analysis][metrics]") {
  std::vector<double> v;
  for (int i = 0; i <= 100; ++i) v.push_back(static_cast<double>(100 - i));
  CHECK(qa::quantile(v, 0.99) == Approx(99.0));
  CHECK(qa::quantile({1.0, 2.0}, 0.5) == Approx(1.5));
  CHECK(qa::quantile({}, 0.5) == 0.0);
  const qa::TailStats t = qa::tail_stats({0.0, 4.0, 1.0});
  CHECK(t.max == 4.0);
  CHECK(t.argmax == 1);
  CHECK(t.mean == Approx(5.0 / 3.0));
}
