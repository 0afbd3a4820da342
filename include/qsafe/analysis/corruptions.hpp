// qsafe/analysis/corruptions.hpp: the built-in input groups for worst-case evaluation — the
// shifts a calibration set rarely contains — applied to NCHW float batches, seeded and
// reproducible on every platform (own RNG and Gaussian sampler: std::normal_distribution's output
// is implementation-defined).
//
// `range` is the clean data's [lo, hi] (e.g. [0, 1] for images); `width` = hi - lo.
//   gaussian_noise  x + N(0, (p * width)^2), then clipped to [lo, hi]      (p = 0.1, 0.3)
//   brightness      x + p * width, clipped to [lo, hi]                     (p = +0.3)
//   contrast        m + p * (x - m), m = the image's mean, clipped          (p = 0.5, 2)
//   outlier_pixels  k random pixels (all channels) set to p * hi, NOT clipped: the
//                   range blow-up that collapses dynamic per-tensor quantization   (p = 5, k = 3)
//   occlusion       a p x p square at a random position set to lo           (p = 3)
// Each image draws from its own stream (seed, image index), so a group does not depend on the
// batch it was made in.
#ifndef QSAFE_ANALYSIS_CORRUPTIONS_HPP_
#define QSAFE_ANALYSIS_CORRUPTIONS_HPP_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {
namespace analysis {

// splitmix64-seeded xoshiro256** : small, fast, identical everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept {
    for (std::uint64_t& s : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      s = z ^ (z >> 31);
    }
  }
  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  // Uniform integer in [0, n) for 1 <= n < 2^53 (scaling a 53-bit uniform; exact and portable).
  std::uint64_t below(std::uint64_t n) noexcept {
    const std::uint64_t v = static_cast<std::uint64_t>(uniform() * static_cast<double>(n));
    return v < n ? v : n - 1;
  }
  // Standard normal by Box-Muller (the cosine branch only, so the stream is stateless).
  double normal() noexcept {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

enum class CorruptionKind { gaussian_noise, brightness, contrast, outlier_pixels, occlusion };

struct Corruption {
  std::string name;
  CorruptionKind kind = CorruptionKind::gaussian_noise;
  float param = 0.f;
  int count = 0;  // outlier_pixels: how many pixels
};

// The built-in suite, in report order.
inline std::vector<Corruption> builtin_corruptions() {
  return {
      {"noise_0.1", CorruptionKind::gaussian_noise, 0.1f, 0},   {"noise_0.3", CorruptionKind::gaussian_noise, 0.3f, 0},
      {"brightness_+0.3", CorruptionKind::brightness, 0.3f, 0}, {"contrast_x0.5", CorruptionKind::contrast, 0.5f, 0},
      {"contrast_x2", CorruptionKind::contrast, 2.f, 0},        {"outliers_5x", CorruptionKind::outlier_pixels, 5.f, 3},
      {"occlusion_3x3", CorruptionKind::occlusion, 3.f, 0},
  };
}

// Applies `c` to a batch of n images of c_dim x h x w (NCHW, contiguous) into `out` (may alias).
// Errors: invalid_argument (non-positive dims, an empty or non-finite range, a bad parameter),
// shape_mismatch, non_finite_input.
inline Status apply_corruption(const Corruption& c, std::int64_t n, std::int64_t channels, std::int64_t h,
                               std::int64_t w, Range range, std::uint64_t seed, Span<const float> images,
                               Span<float> out) {
  if (n < 1 || channels < 1 || h < 1 || w < 1) return Status::invalid_argument;
  if (!(std::isfinite(range.lo) && std::isfinite(range.hi) && range.lo < range.hi)) return Status::invalid_argument;
  if (!std::isfinite(c.param)) return Status::invalid_argument;
  const std::size_t per_image = static_cast<std::size_t>(channels * h * w);
  if (images.size() != per_image * static_cast<std::size_t>(n) || out.size() != images.size())
    return Status::shape_mismatch;
  for (float v : images)
    if (!std::isfinite(v)) return Status::non_finite_input;
  const double lo = range.lo, hi = range.hi, width = hi - lo;
  const auto clip = [&](double v) { return static_cast<float>(v < lo ? lo : (v > hi ? hi : v)); };
  const std::size_t plane = static_cast<std::size_t>(h * w);
  for (std::int64_t i = 0; i < n; ++i) {
    Rng rng(seed * 0x100000001b3ull + static_cast<std::uint64_t>(i) + 1);
    const float* x = images.data() + static_cast<std::size_t>(i) * per_image;
    float* y = out.data() + static_cast<std::size_t>(i) * per_image;
    switch (c.kind) {
      case CorruptionKind::gaussian_noise: {
        if (c.param < 0) return Status::invalid_argument;
        const double sigma = c.param * width;
        for (std::size_t j = 0; j < per_image; ++j) y[j] = clip(x[j] + sigma * rng.normal());
        break;
      }
      case CorruptionKind::brightness:
        for (std::size_t j = 0; j < per_image; ++j) y[j] = clip(x[j] + c.param * width);
        break;
      case CorruptionKind::contrast: {
        if (c.param < 0) return Status::invalid_argument;
        double mean = 0;
        for (std::size_t j = 0; j < per_image; ++j) mean += x[j];
        mean /= static_cast<double>(per_image);
        for (std::size_t j = 0; j < per_image; ++j) y[j] = clip(mean + c.param * (x[j] - mean));
        break;
      }
      case CorruptionKind::outlier_pixels: {
        if (c.count < 0) return Status::invalid_argument;
        for (std::size_t j = 0; j < per_image; ++j) y[j] = x[j];
        const float value = static_cast<float>(c.param * hi);
        for (int k = 0; k < c.count; ++k) {
          const std::size_t p = static_cast<std::size_t>(rng.below(plane));
          for (std::int64_t ch = 0; ch < channels; ++ch) y[static_cast<std::size_t>(ch) * plane + p] = value;
        }
        break;
      }
      case CorruptionKind::occlusion: {
        const std::int64_t side = static_cast<std::int64_t>(c.param);
        if (side < 1 || static_cast<float>(side) != c.param) return Status::invalid_argument;
        for (std::size_t j = 0; j < per_image; ++j) y[j] = x[j];
        const std::int64_t sh = side < h ? side : h, sw = side < w ? side : w;
        const std::int64_t top = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(h - sh + 1)));
        const std::int64_t left = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(w - sw + 1)));
        for (std::int64_t ch = 0; ch < channels; ++ch)
          for (std::int64_t r = top; r < top + sh; ++r)
            for (std::int64_t q = left; q < left + sw; ++q)
              y[static_cast<std::size_t>(ch) * plane + static_cast<std::size_t>(r * w + q)] = static_cast<float>(lo);
        break;
      }
    }
  }
  return Status::ok;
}

}  // namespace analysis
}  // namespace qsafe

#endif  // QSAFE_ANALYSIS_CORRUPTIONS_HPP_
