// qsafe/kernel/gemm.hpp: the quantized GEMM.  C[M x N] = pipeline(A[M x K] * B[K x N]).
//
//   A  uint8 or int8, affine: a zero point per tensor (span of 1) or per row (span of M), each in
//      the type's range. Row-major with a row stride; read in place, never past a row's end.
//   B  int8 symmetric (zero point 0), packed once by pack_weights for one path. Per-channel scales
//      belong to the output stage (Dequantize / RequantizeQ31 / RequantizeFloat take spans of N).
//   acc[m][n] = sum_k (A[m][k] - zp[m]) * B[k][n], exact in int32 for K <= kGemmMaxK (65793).
//   C  int32, int8, uint8 or float, row-major with a row stride; what the pipeline produces
//      (output_stage.hpp); an empty pipeline() stores the raw int32 accumulators.
//
// Three steps, as CUTLASS and CMSIS-NN split them:
//   check_gemm(...)            every precondition, no side effects;
//   gemm_workspace_size(...)   bytes of caller scratch gemm() needs (AVX2 widens A into it);
//   gemm(...)                  calls check_gemm itself, then runs with no error branches.
//
// Paths: gemm<arch::avx2>(...) forces one path; forcing one that is not compiled or that the CPU
// lacks returns Status::unsupported_arch; weights packed for another path return
// Status::invalid_argument. gemm(...) (arch::automatic) runs the path the weights were packed for,
// and pack_weights(...) (arch::automatic) packs for the best path this CPU runs.
//
// Status codes: ok; shape_mismatch (A cols != K, C not M x N, zero-point or stage span sizes);
// null_pointer (null data with non-zero size); invalid_argument (negative sizes, zero point out of
// A's range, stage parameters, weights packed for another path, empty weights);
// overflow_risk (K > kGemmMaxK); workspace_too_small; unsupported_arch; non_finite_input (a NaN or
// Inf scale or bias in a stage).
#ifndef QSAFE_KERNEL_GEMM_HPP_
#define QSAFE_KERNEL_GEMM_HPP_

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/core/tensor_view.hpp"
#include "qsafe/kernel/arch/dispatch.hpp"
#include "qsafe/kernel/arch/registry.hpp"
#include "qsafe/kernel/detail/gemm_driver.hpp"
#include "qsafe/kernel/output_stage.hpp"
#include "qsafe/kernel/packed_weights.hpp"
#include "qsafe/kernel/parallel.hpp"

namespace qsafe {
namespace detail {

template <class Isa>
constexpr PackedWeights::Layout packed_layout(std::int64_t n, std::int64_t k) noexcept {
  using U = GemmUkernel<Isa>;
  return PackedWeights::Layout{
      Isa::id, n, k, PackedWeights::round_up(k, U::kKPad), U::kNr, U::kKr, static_cast<int>(sizeof(typename U::BElem))};
}

template <class Isa, class F>
decltype(auto) with_isa(F&& f) noexcept {
  if constexpr (std::is_same<Isa, arch::automatic>::value) {
    return arch::dispatch(arch::compiled{}, std::forward<F>(f));
  } else {
    return std::forward<F>(f)(Isa{});
  }
}

template <class AType>
constexpr bool zero_point_in_range(std::int32_t zp) noexcept {
  return std::is_same<AType, std::uint8_t>::value ? (zp >= 0 && zp <= 255) : (zp >= -128 && zp <= 127);
}

}  // namespace detail

// Bytes of storage pack_weights<Isa> needs for N x K weights (64 bytes of alignment slack
// included); 0 if n or k is negative or K > kGemmMaxK.
template <class Isa = arch::automatic>
std::size_t packed_weights_size(std::int64_t n, std::int64_t k) noexcept {
  if (n < 0 || k < 0 || k > kGemmMaxK) return 0;
  return detail::with_isa<Isa>(
      [&](auto isa) noexcept { return PackedWeights::storage_bytes(detail::packed_layout<decltype(isa)>(n, k)); });
}

// Packs int8 weights for path Isa into `storage` (kept alive by the caller as long as the
// PackedWeights is used). layout nk: w is [N, K] (PyTorch nn.Linear.weight); kn: w is [K, N].
// Status: invalid_argument / null_pointer (bad view), overflow_risk (K > kGemmMaxK),
// workspace_too_small (storage smaller than packed_weights_size), null_pointer (null storage).
template <class Isa = arch::automatic>
Result<PackedWeights> pack_weights(MatrixView<const std::int8_t> w, WeightLayout layout,
                                   Span<std::byte> storage) noexcept {
  QSAFE_RETURN_IF_ERROR(w.check());
  const std::int64_t n = layout == WeightLayout::nk ? w.rows() : w.cols();
  const std::int64_t k = layout == WeightLayout::nk ? w.cols() : w.rows();
  if (k > kGemmMaxK) return Status::overflow_risk;
  return detail::with_isa<Isa>([&](auto isa) noexcept -> Result<PackedWeights> {
    using I = decltype(isa);
    const PackedWeights::Layout l = detail::packed_layout<I>(n, k);
    if (storage.size() < PackedWeights::storage_bytes(l)) return Status::workspace_too_small;
    if (storage.data() == nullptr) return Status::null_pointer;
    const PackedWeights packed = PackedWeights::over(l, storage.data());
    detail::pack_panels<typename detail::GemmUkernel<I>::BElem>(w, layout, packed);
    return packed;
  });
}

// Scratch bytes gemm<Isa>() needs for M rows with these weights: 0 for paths that read A in place
// (scalar, VNNI), M x K_padded x 2 + 64 for AVX2, which widens A to int16 once per call.
// arch::automatic: the path the weights were packed for.
template <class Isa = arch::automatic>
std::size_t gemm_workspace_size(std::int64_t m, const PackedWeights& w) noexcept {
  if (m < 0) return 0;
  if constexpr (std::is_same<Isa, arch::automatic>::value) {
    return arch::visit(arch::compiled{}, w.arch(), std::size_t{0}, [&](auto isa) noexcept {
      return detail::workspace_bytes<detail::GemmUkernel<decltype(isa)>>(m, w.k_padded());
    });
  } else {
    return detail::workspace_bytes<detail::GemmUkernel<Isa>>(m, w.k_padded());
  }
}

// Every precondition of gemm<Isa>(...) (see the status list at the top of this file).
template <class Isa = arch::automatic, class AType, class Pipeline, class Out>
Status check_gemm(MatrixView<const AType> a, Span<const std::int32_t> a_zero_point, const PackedWeights& w,
                  const Pipeline& pipeline, MatrixView<Out> c) noexcept {
  static_assert(std::is_same<AType, std::uint8_t>::value || std::is_same<AType, std::int8_t>::value,
                "A must be uint8_t or int8_t");
  static_assert(detail::storable<detail::pipeline_output_t<Pipeline>, Out>::value,
                "C's element type does not match the pipeline's output (int32 -> int32_t/int8_t/uint8_t, "
                "float -> float)");
  QSAFE_RETURN_IF_ERROR(arch::check_packed_for<Isa>(w.arch()));
  QSAFE_RETURN_IF_ERROR(a.check());
  QSAFE_RETURN_IF_ERROR(c.check());
  if (w.k() > kGemmMaxK) return Status::overflow_risk;
  if (a.cols() != w.k() || c.rows() != a.rows() || c.cols() != w.n()) return Status::shape_mismatch;
  if (a_zero_point.size() != 1 && static_cast<std::int64_t>(a_zero_point.size()) != a.rows())
    return Status::shape_mismatch;
  if (a_zero_point.data() == nullptr) return Status::null_pointer;
  for (std::int32_t zp : a_zero_point)
    if (!detail::zero_point_in_range<AType>(zp)) return Status::invalid_argument;
  return check_pipeline(pipeline, a.rows(), w.n());
}

// C = pipeline(A * B). a_zero_point: 1 value (per tensor) or M (per row). workspace: at least
// gemm_workspace_size() bytes. parallel: optional pool hook (parallel.hpp).
template <class Isa = arch::automatic, class AType, class Pipeline, class Out>
[[nodiscard]] Status gemm(MatrixView<const AType> a, Span<const std::int32_t> a_zero_point, const PackedWeights& w,
                          const Pipeline& pipeline, MatrixView<Out> c, Span<std::byte> workspace = {},
                          const ParallelFor& parallel = {}) noexcept {
  QSAFE_RETURN_IF_ERROR(check_gemm<Isa>(a, a_zero_point, w, pipeline, c));
  const std::size_t needed = gemm_workspace_size<Isa>(a.rows(), w);
  if (workspace.size() < needed) return Status::workspace_too_small;
  if (needed != 0 && workspace.data() == nullptr) return Status::null_pointer;
  if constexpr (std::is_same<Isa, arch::automatic>::value) {
    return arch::visit(arch::compiled{}, w.arch(), Status::unsupported_arch, [&](auto isa) noexcept {
      detail::run_gemm<decltype(isa)>(a, a_zero_point, w, pipeline, c, workspace, parallel);
      return Status::ok;
    });
  } else {
    detail::run_gemm<Isa>(a, a_zero_point, w, pipeline, c, workspace, parallel);
    return Status::ok;
  }
}

}  // namespace qsafe

#endif  // QSAFE_KERNEL_GEMM_HPP_
