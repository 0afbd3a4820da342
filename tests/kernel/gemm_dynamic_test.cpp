// gemm_dynamic: float A quantized through a range policy in the same pass, float C out. Checked
// bit for bit against an independent two-step computation (range -> qparams -> quantize each row
// by hand, then the integer GEMM with a Dequantize stage), and loosely against the float product.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernel/gemm_support.hpp"
#include "qsafe/kernel/gemm_dynamic.hpp"
#include "qsafe/policy/dynamic_range.hpp"

using qsafe::MatrixView;
using qsafe::Span;
using qsafe::Status;

namespace {

// Per-row (or per-tensor) affine uint8 quantization written out long-hand.
std::vector<std::uint8_t> quantize_by_hand(const std::vector<float>& a, std::int64_t m, std::int64_t k, bool per_row,
                                           std::vector<std::int32_t>& zp, std::vector<float>& scale) {
  std::vector<std::uint8_t> q(a.size());
  zp.assign(static_cast<std::size_t>(m), 0);
  scale.assign(static_cast<std::size_t>(m), 0.f);
  float tlo = 0.f, thi = 0.f;
  for (float x : a) tlo = std::min(tlo, x), thi = std::max(thi, x);
  for (std::int64_t r = 0; r < m; ++r) {
    float lo = 0.f, hi = 0.f;
    for (std::int64_t i = 0; i < k; ++i) {
      lo = std::min(lo, a[static_cast<std::size_t>(r * k + i)]);
      hi = std::max(hi, a[static_cast<std::size_t>(r * k + i)]);
    }
    if (!per_row) lo = tlo, hi = thi;
    const qsafe::QParams p =
        qsafe::qparams_from_range(qsafe::Range{lo, hi}, qsafe::qrange_of<std::uint8_t>(), qsafe::SchemeKind::affine)
            .value();
    zp[static_cast<std::size_t>(r)] = p.zero_point;
    scale[static_cast<std::size_t>(r)] = p.scale;
    const float inv = qsafe::inverse_scale(p.scale);
    for (std::int64_t i = 0; i < k; ++i) {
      const std::int32_t v =
          qsafe::RoundHalfEven::to_int32(a[static_cast<std::size_t>(r * k + i)] * inv) + p.zero_point;
      q[static_cast<std::size_t>(r * k + i)] = static_cast<std::uint8_t>(std::min(255, std::max(0, v)));
    }
  }
  return q;
}

template <class Policy>
void check_dynamic(std::int64_t m, std::int64_t n, std::int64_t k, bool per_row, std::uint32_t seed,
                   qsafe::RowScanPath scan = qsafe::RowScanPath::automatic) {
  std::mt19937 rng(seed);
  std::vector<float> a(static_cast<std::size_t>(m * k));
  for (std::size_t i = 0; i < a.size(); ++i)
    a[i] = std::normal_distribution<float>(0.3f, 1.f)(rng) *
           (1.f + static_cast<float>(i / static_cast<std::size_t>(k) % 5));
  auto w = qsafe_test::random_vector<std::int8_t>(rng, static_cast<std::size_t>(n * k), -127, 127);
  std::vector<float> sw(static_cast<std::size_t>(n)), bias(static_cast<std::size_t>(n));
  for (auto& x : sw) x = std::uniform_real_distribution<float>(0.001f, 0.02f)(rng);
  for (auto& x : bias) x = std::uniform_real_distribution<float>(-1.f, 1.f)(rng);

  std::vector<std::int32_t> zp;
  std::vector<float> scale;
  const auto q = quantize_by_hand(a, m, k, per_row, zp, scale);

  qsafe_test::for_each_arch(qsafe_test::kernel_paths{}, [&](auto isa) {
    using Isa = decltype(isa);
    if (!Isa::available()) return;
    const qsafe_test::Packed p = qsafe_test::pack<Isa>(w, n, k);
    // Two steps, by hand.
    std::vector<float> want(static_cast<std::size_t>(m * n));
    REQUIRE(qsafe_test::gemm<Isa>(MatrixView<const std::uint8_t>(q.data(), m, k), Span<const std::int32_t>(zp), p.w,
                                  qsafe::pipeline(qsafe::Dequantize{Span<const float>(scale), Span<const float>(sw),
                                                                    Span<const float>(bias)}),
                                  MatrixView<float>(want.data(), m, n)) == Status::ok);
    // One call.
    Policy policy;
    policy.set_scan_path(scan);
    std::vector<std::byte> ws(qsafe::gemm_dynamic_workspace_size<Isa>(m, p.w));
    std::vector<float> got(static_cast<std::size_t>(m * n), -7.f);
    REQUIRE(qsafe::gemm_dynamic<Isa>(MatrixView<const float>(a.data(), m, k), policy, p.w, Span<const float>(sw),
                                     Span<const float>(bias), MatrixView<float>(got.data(), m, n),
                                     Span<std::byte>(ws)) == Status::ok);
    INFO(Isa::name << " M=" << m << " N=" << n << " K=" << k << " per_row=" << per_row << " row scan "
                   << qsafe::detail::row_scan_name(scan));
    CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
    CHECK(policy.counters().values == static_cast<std::uint64_t>(m * k));
    // And it approximates the float product.
    double err = 0, ref = 0;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double s = bias[static_cast<std::size_t>(j)];
        for (std::int64_t kk = 0; kk < k; ++kk)
          s += static_cast<double>(a[static_cast<std::size_t>(i * k + kk)]) * w[static_cast<std::size_t>(j * k + kk)] *
               sw[static_cast<std::size_t>(j)];
        err += std::abs(s - got[static_cast<std::size_t>(i * n + j)]);
        ref += std::abs(s);
      }
    CHECK(err / ref < 0.02);
  });
}

}  // namespace

TEST_CASE("gemm_dynamic: per-row and per-tensor dynamic ranges equal quantize-then-GEMM", "[kernel][gemm_dynamic]") {
  check_dynamic<qsafe::DynamicRange<qsafe::PerRow>>(7, 33, 129, true, 1);
  check_dynamic<qsafe::DynamicRange<qsafe::PerTensor>>(7, 33, 129, false, 2);
  check_dynamic<qsafe::DynamicRange<qsafe::PerRow>>(1, 64, 256, true, 3);
  check_dynamic<qsafe::DynamicRange<qsafe::PerRow>>(65, 17, 31, true, 4);
}

TEST_CASE("gemm_dynamic: every row-scan path (policy/detail/row_scan.hpp) on awkward K", "[kernel][gemm_dynamic]") {
  for (const qsafe::RowScanPath scan : {qsafe::RowScanPath::portable, qsafe::RowScanPath::avx2,
                                        qsafe::RowScanPath::avx512, qsafe::RowScanPath::automatic}) {
    if (!qsafe::detail::row_scan_available(scan)) {
      WARN("row-scan path " << qsafe::detail::row_scan_name(scan) << " not run: this CPU lacks it");
      continue;
    }
    std::uint32_t seed = 10;
    for (const std::int64_t k : {1, 7, 15, 16, 17, 31, 64, 65, 4097}) {
      check_dynamic<qsafe::DynamicRange<qsafe::PerRow>>(3, 17, k, true, ++seed, scan);
      check_dynamic<qsafe::DynamicRange<qsafe::PerTensor>>(3, 17, k, false, ++seed, scan);
    }
  }
}

TEST_CASE("gemm_dynamic: bad input and non-finite activations are statuses; C untouched", "[kernel][gemm_dynamic]") {
  const std::int64_t m = 3, n = 4, k = 5;
  std::vector<float> a(static_cast<std::size_t>(m * k), 0.5f);
  std::vector<std::int8_t> w(static_cast<std::size_t>(n * k), 3);
  std::vector<float> sw{0.1f}, c(static_cast<std::size_t>(m * n), -1.f);
  const qsafe_test::Packed p = qsafe_test::pack<qsafe::arch::automatic>(w, n, k);
  std::vector<std::byte> ws(qsafe::gemm_dynamic_workspace_size(m, p.w));
  qsafe::DynamicRange<qsafe::PerRow> policy;
  const MatrixView<float> cv(c.data(), m, n);
  CHECK(qsafe::gemm_dynamic(MatrixView<const float>(a.data(), m, k - 1), policy, p.w, Span<const float>(sw), {}, cv,
                            Span<std::byte>(ws)) == Status::shape_mismatch);
  CHECK(qsafe::gemm_dynamic(MatrixView<const float>(a.data(), m, k), policy, p.w, Span<const float>(sw), {}, cv,
                            Span<std::byte>(ws.data(), ws.size() - 1)) == Status::workspace_too_small);
  a[7] = std::numeric_limits<float>::quiet_NaN();
  CHECK(qsafe::gemm_dynamic(MatrixView<const float>(a.data(), m, k), policy, p.w, Span<const float>(sw), {}, cv,
                            Span<std::byte>(ws)) == Status::non_finite_input);
  for (float x : c) CHECK(x == -1.f);
  a[7] = 0.25f;
  CHECK(qsafe::gemm_dynamic(MatrixView<const float>(a.data(), m, k), policy, p.w, Span<const float>(sw), {}, cv,
                            Span<std::byte>(ws)) == Status::ok);
  qsafe::QuantTarget signed_target;
  signed_target.qrange = qsafe::qrange_of<std::int8_t>();
  CHECK(qsafe::gemm_dynamic(MatrixView<const float>(a.data(), m, k), policy, p.w, Span<const float>(sw), {}, cv,
                            Span<std::byte>(ws), signed_target) == Status::invalid_argument);
}
