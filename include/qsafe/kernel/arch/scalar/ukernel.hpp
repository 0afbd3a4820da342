// qsafe/kernel/arch/scalar/ukernel.hpp: the portable micro-kernel, normative for every path.
//
//   panel (kNr = 8 columns, kKr = 4):   group g = k/4:  n0:k0 k1 k2 k3 | n1:k0..k3 | ... | n7:k0..k3
//   tile: one row of A at a time x 8 columns, int32 accumulators (wrapping, as the SIMD paths)
#ifndef QSAFE_KERNEL_ARCH_SCALAR_UKERNEL_HPP_
#define QSAFE_KERNEL_ARCH_SCALAR_UKERNEL_HPP_

#include <cstdint>

#include "qsafe/kernel/arch/scalar/arch.hpp"
#include "qsafe/kernel/arch/scalar/output.hpp"
#include "qsafe/kernel/detail/ukernel.hpp"

namespace qsafe {
namespace detail {

template <>
struct GemmUkernel<arch::scalar> {
  static constexpr int kMr = 1;
  static constexpr int kNr = 8;
  static constexpr int kKr = 4;
  static constexpr int kKPad = 4;
  using BElem = std::int8_t;
  static constexpr const char* name = "u8s8_gemm_1x8c4__scalar";

  template <class AType, class Out, class Pipeline>
  static void run(const GemmTask<AType>& t, const GemmEpilogue<Out, Pipeline>& epi) noexcept {
    const auto* panel = static_cast<const std::int8_t*>(t.panel);
    for (std::int64_t m = t.row_begin; m < t.row_end; ++m) {
      std::uint32_t acc[kNr] = {};
      std::int64_t k = 0;  // k of the panel
      for (int s = 0; s < t.pieces; ++s) {
        const AType* a = t.piece[s] + m * t.lda;
        for (std::int64_t i = 0, n_i = t.piece_k(s); i < n_i; ++i, ++k) {
          const std::uint32_t av = static_cast<std::uint32_t>(activation_u8(a[i]));
          const std::int8_t* b = panel + (k / kKr) * kNr * kKr + k % kKr;
          for (int n = 0; n < kNr; ++n)
            acc[n] += av * static_cast<std::uint32_t>(static_cast<std::int32_t>(b[n * kKr]));
        }
      }
      for (int n = 0; n < t.cols; ++n)
        finish_element(epi, static_cast<std::int32_t>(acc[n]), t.col_sums[n], m, t.col_begin + n);
    }
  }
};

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_SCALAR_UKERNEL_HPP_
