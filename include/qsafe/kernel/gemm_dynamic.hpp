// qsafe/kernel/gemm_dynamic.hpp: the GEMM with dynamically quantized activations, as PyTorch's
// dynamic Linear does it: float A in, float C out.
//
//   for each row m of A (float, [M, K]):
//       (scale[m], zp[m]) = policy.row_params(row)     per-row policies look at the row now, while it
//                                                       is cache-hot; per-tensor ones fixed it in begin()
//       Aq[m] = policy.quantize_row(row)               uint8, clamp(round_half_even(x / s) + zp)
//   C = Dequantize{scale (per row), weight_scale, bias}(Aq * B)     (output_stage.hpp)
//
// So each row of A is read once from memory (a per-tensor dynamic policy makes its one min/max
// pass over A inside begin(), which no single pass can avoid), quantized straight into the layout
// the integer kernels read (row-major uint8: the VNNI paths read it in place, AVX2 widens it), and
// the zero points and scales go per row into the epilogue. The policy's row loops (its min/max and
// counting quantize) run at the best ISA the CPU has, chosen at run time (policy/detail/
// row_scan.hpp): with AVX-512, ~0.09 ns per element at K = 4096, about 1 % of a 128x4096x4096
// GEMM (docs/benchmarks.md, "Dynamic quantization overhead"). Any policy modelling the RangePolicy
// contract works (policy/range_policy.hpp): DynamicRange<PerTensor|PerRow>, StaticRange,
// GuardedRange.
//
// The quantization target is uint8 affine, [0, 255] by default (QuantTarget{}); a narrower range
// (e.g. PyTorch's reduce_range [0, 127]) is allowed, anything outside [0, 255] is not.
//
// Workspace: gemm_dynamic_workspace_size<Isa>(M, w) bytes: the quantized A (M x K bytes), M zero
// points and M scales, plus what the integer GEMM needs.
//
// Status: everything gemm() returns, plus whatever the policy returns (non_finite_input for NaN/Inf
// in A, out_of_range from a guarded policy whose fallback is "run in float", ...). C is not
// written unless the result is ok.
#ifndef QSAFE_KERNEL_GEMM_DYNAMIC_HPP_
#define QSAFE_KERNEL_GEMM_DYNAMIC_HPP_

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/core/tensor_view.hpp"
#include "qsafe/kernel/gemm.hpp"
#include "qsafe/policy/range_policy.hpp"

namespace qsafe {
namespace detail {

struct DynamicWorkspace {
  std::uint8_t* a = nullptr;
  std::int32_t* zero_point = nullptr;
  float* scale = nullptr;
  Span<std::byte> gemm;
};

constexpr std::size_t round_up64(std::size_t x) noexcept { return (x + 63) / 64 * 64; }

inline std::size_t dynamic_own_bytes(std::int64_t m, std::int64_t k) noexcept {
  const auto mu = static_cast<std::size_t>(m), ku = static_cast<std::size_t>(k);
  return 64 + round_up64(mu * ku) + round_up64(mu * 4) + round_up64(mu * 4);
}

inline DynamicWorkspace carve_dynamic(Span<std::byte> ws, std::int64_t m, std::int64_t k) noexcept {
  const auto mu = static_cast<std::size_t>(m), ku = static_cast<std::size_t>(k);
  const std::uintptr_t p = reinterpret_cast<std::uintptr_t>(ws.data());
  std::byte* base = ws.data() + ((64 - p % 64) % 64);
  DynamicWorkspace d;
  d.a = reinterpret_cast<std::uint8_t*>(base);
  base += round_up64(mu * ku);
  d.zero_point = reinterpret_cast<std::int32_t*>(base);
  base += round_up64(mu * 4);
  d.scale = reinterpret_cast<float*>(base);
  base += round_up64(mu * 4);
  const std::size_t own = dynamic_own_bytes(m, k);
  d.gemm = Span<std::byte>(ws.data() + own, ws.size() - own);
  return d;
}

// The A side of gemm_dynamic: begin the policy, then each row's parameters (found now, while the
// row is cache-hot) and quantized bytes (row r to q + r * a.cols()), zero point and scale. Short
// rows go in groups (up to 8 rows, 16 KB of float): the group's parameters first, so their scalar
// chains (divisions, rounding) overlap, then its rows are quantized from L1 (-15 % at K = 64). An
// error stops the run at the group that met it (its earlier rows are then not quantized).
template <class Policy>
Status dynamic_quantize_rows(MatrixView<const float> a, Policy& policy, const QuantTarget& target, std::uint8_t* q,
                             std::int32_t* zero_point, float* scale) noexcept {
  QSAFE_RETURN_IF_ERROR(policy.begin(a, target));
  const std::int64_t m = a.rows(), k = a.cols();
  constexpr std::int64_t kGroup = 8;
  // Rows per group: as many as fit 16 KB of float (so they are still in L1 when quantized), <= 8.
  std::int64_t group = k > 0 ? (std::int64_t{4096} / k) : kGroup;
  group = group < 1 ? 1 : (group > kGroup ? kGroup : group);
  RowParams params[kGroup];
  for (std::int64_t r0 = 0; r0 < m; r0 += group) {
    const std::int64_t rows = m - r0 < group ? m - r0 : group;
    for (std::int64_t j = 0; j < rows; ++j) {  // the group's ranges and parameters first: independent chains
      const Result<RowParams> p = policy.row_params(Span<const float>(a.row(r0 + j), static_cast<std::size_t>(k)));
      if (!p.ok()) return p.status();
      params[j] = p.value();
    }
    for (std::int64_t j = 0; j < rows; ++j) {
      const std::int64_t r = r0 + j;
      QSAFE_RETURN_IF_ERROR(
          policy.quantize_row(Span<const float>(a.row(r), static_cast<std::size_t>(k)), params[j], q + r * k));
      zero_point[r] = params[j].params.zero_point;
      scale[r] = params[j].params.scale;
    }
  }
  return Status::ok;
}

}  // namespace detail

// Bytes of workspace gemm_dynamic<Isa>() needs for M rows with these weights.
template <class Isa = arch::automatic>
std::size_t gemm_dynamic_workspace_size(std::int64_t m, const PackedWeights& w) noexcept {
  if (m < 0) return 0;
  return detail::dynamic_own_bytes(m, w.k()) + gemm_workspace_size<Isa>(m, w);
}

// C[M x N] = float(quantize_policy(A) * B) * (scale_A[m] * weight_scale[n]) + bias[n].
// weight_scale: N values (per channel) or 1; bias: N values or empty.
template <class Isa = arch::automatic, class Policy>
[[nodiscard]] Status gemm_dynamic(MatrixView<const float> a, Policy& policy, const PackedWeights& w,
                                  Span<const float> weight_scale, Span<const float> bias, MatrixView<float> c,
                                  Span<std::byte> workspace, const QuantTarget& target = QuantTarget{},
                                  const ParallelFor& parallel = {}) noexcept {
  static_assert(is_range_policy_v<Policy>, "policy must model qsafe::RangePolicy (policy/range_policy.hpp)");
  QSAFE_RETURN_IF_ERROR(a.check());
  QSAFE_RETURN_IF_ERROR(c.check());
  if (a.cols() != w.k() || c.rows() != a.rows() || c.cols() != w.n()) return Status::shape_mismatch;
  if (target.qrange.qmin < 0 || target.qrange.qmax > 255) return Status::invalid_argument;
  const std::int64_t m = a.rows(), k = a.cols();
  if (workspace.size() < gemm_dynamic_workspace_size<Isa>(m, w)) return Status::workspace_too_small;
  if (workspace.data() == nullptr && workspace.size() != 0) return Status::null_pointer;
  if (workspace.data() == nullptr && m != 0) return Status::null_pointer;
  const detail::DynamicWorkspace ws = detail::carve_dynamic(workspace, m, k);

  // Check everything the integer GEMM will check before touching the policy, with a stand-in
  // zero point and scale, so a bad shape or stage is reported as such.
  const std::int32_t zp0[1] = {0};
  const float one[1] = {1.f};
  const auto probe = pipeline(Dequantize{Span<const float>(one), weight_scale, bias});
  QSAFE_RETURN_IF_ERROR(
      check_gemm<Isa>(MatrixView<const std::uint8_t>(ws.a, m, k, k), Span<const std::int32_t>(zp0), w, probe, c));
  if (m == 0) return Status::ok;

  QSAFE_RETURN_IF_ERROR(detail::dynamic_quantize_rows(a, policy, target, ws.a, ws.zero_point, ws.scale));
  const auto out = pipeline(Dequantize{Span<const float>(ws.scale, static_cast<std::size_t>(m)), weight_scale, bias});
  return gemm<Isa>(MatrixView<const std::uint8_t>(ws.a, m, k, k),
                   Span<const std::int32_t>(ws.zero_point, static_cast<std::size_t>(m)), w, out, c, ws.gemm, parallel);
}

}  // namespace qsafe

#endif  // QSAFE_KERNEL_GEMM_DYNAMIC_HPP_
