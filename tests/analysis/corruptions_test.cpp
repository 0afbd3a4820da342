#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "qsafe/analysis/corruptions.hpp"

using qsafe::Range;
using qsafe::Span;
using qsafe::Status;
namespace qa = qsafe::analysis;

namespace {
std::vector<float> ramp_images(int n, int c, int h, int w) {
  std::vector<float> x(static_cast<std::size_t>(n * c * h * w));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17) / 16.f;
  return x;
}
qa::Corruption find(const char* name) {
  for (const qa::Corruption& c : qa::builtin_corruptions())
    if (c.name == name) return c;
  FAIL("no corruption " << name);
  return {};
}
}  // namespace

TEST_CASE("corruptions: the RNG is reproducible and the Gaussian has the right moments", "[analysis][corruptions]") {
  qa::Rng a(42), b(42), c(43);
  for (int i = 0; i < 10; ++i) REQUIRE(a.next() == b.next());
  CHECK(a.next() != c.next());
  qa::Rng g(7);
  double sum = 0, sq = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double v = g.normal();
    sum += v;
    sq += v * v;
  }
  CHECK(std::fabs(sum / n) < 0.01);
  CHECK(std::fabs(sq / n - 1.0) < 0.02);
  for (int i = 0; i < 1000; ++i) CHECK(g.below(5) < 5);
}

TEST_CASE("corruptions: each built-in group does what its name says", "[analysis][corruptions]") {
  const int n = 4, ch = 2, h = 8, w = 8;
  const std::vector<float> x = ramp_images(n, ch, h, w);
  std::vector<float> y(x.size()), y2(x.size());
  const Range r{0.f, 1.f};

  REQUIRE(qa::apply_corruption(find("brightness_+0.3"), n, ch, h, w, r, 1, Span<const float>(x), Span<float>(y)) ==
          Status::ok);
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(y[i] == Approx(std::fmin(x[i] + 0.3f, 1.f)));

  REQUIRE(qa::apply_corruption(find("contrast_x0.5"), n, ch, h, w, r, 1, Span<const float>(x), Span<float>(y)) ==
          Status::ok);
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < 128; ++i) {
    mx += x[i];
    my += y[i];
  }
  CHECK(my == Approx(mx).epsilon(1e-5));  // contrast keeps each image's mean (no clipping at x0.5)

  REQUIRE(qa::apply_corruption(find("outliers_5x"), n, ch, h, w, r, 9, Span<const float>(x), Span<float>(y)) ==
          Status::ok);
  for (int i = 0; i < n; ++i) {
    int changed = 0;
    for (int j = 0; j < ch * h * w; ++j) changed += y[static_cast<std::size_t>(i * ch * h * w + j)] == 5.f ? 1 : 0;
    CHECK(changed >= ch);      // at least one pixel in every channel
    CHECK(changed <= 3 * ch);  // at most three pixels
  }

  REQUIRE(qa::apply_corruption(find("occlusion_3x3"), n, ch, h, w, r, 9, Span<const float>(x), Span<float>(y)) ==
          Status::ok);
  int zeros_added = 0;
  for (std::size_t i = 0; i < x.size(); ++i) zeros_added += (y[i] == 0.f && x[i] != 0.f) ? 1 : 0;
  CHECK(zeros_added > 0);
  CHECK(zeros_added <= n * ch * 9);

  REQUIRE(qa::apply_corruption(find("noise_0.3"), n, ch, h, w, r, 5, Span<const float>(x), Span<float>(y)) ==
          Status::ok);
  REQUIRE(qa::apply_corruption(find("noise_0.3"), n, ch, h, w, r, 5, Span<const float>(x), Span<float>(y2)) ==
          Status::ok);
  CHECK(y == y2);  // same seed, same output
  for (float v : y) {
    CHECK(v >= 0.f);
    CHECK(v <= 1.f);
  }
  // Image i does not depend on the batch it is in.
  std::vector<float> single(y.begin() + 128, y.begin() + 256), one(128);
  REQUIRE(qa::apply_corruption(find("noise_0.3"), 1, ch, h, w, r, 5, Span<const float>(x.data() + 128, 128),
                               Span<float>(one)) == Status::ok);
  // Stream of image 1 in a batch vs image 0 alone differ by design (index is part of the seed):
  CHECK(one != single);
}

TEST_CASE("corruptions: bad input is an error", "[analysis][corruptions]") {
  std::vector<float> x(16, 0.5f), y(16);
  const qa::Corruption noise = qa::builtin_corruptions()[0];
  CHECK(qa::apply_corruption(noise, 1, 1, 4, 4, Range{1.f, 1.f}, 0, Span<const float>(x), Span<float>(y)) ==
        Status::invalid_argument);
  CHECK(qa::apply_corruption(noise, 2, 1, 4, 4, Range{0.f, 1.f}, 0, Span<const float>(x), Span<float>(y)) ==
        Status::shape_mismatch);
  CHECK(qa::apply_corruption(noise, 0, 1, 4, 4, Range{0.f, 1.f}, 0, Span<const float>(x), Span<float>(y)) ==
        Status::invalid_argument);
  x[3] = std::numeric_limits<float>::infinity();
  CHECK(qa::apply_corruption(noise, 1, 1, 4, 4, Range{0.f, 1.f}, 0, Span<const float>(x), Span<float>(y)) ==
        Status::non_finite_input);
}
