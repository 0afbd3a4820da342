// qsafe/kernel/arch/neon_dotprod/ukernel.hpp: the ARMv8.2 dot-product micro-kernel,
// u8s8_gemm_8x8c4__neondot.
//
// Packed weight panel (kNr = 8, kKr = 4, the same as scalar and neon): per group g of 4 k,
//
//   b_lo = | n0:k0 k1 k2 k3 | n1:k0..k3 | n2:k0..k3 | n3:k0..k3 |    one q register
//   b_hi = | n4:k0..k3      | n5        | n6        | n7        |    one q register
//
// A is read in place, 16 k (4 groups) per row and load; the indexed SDOT picks group g as lane g:
//
//   a_r  = | g0: a0 a1 a2 a3 | g1: a4..a7 | g2: a8..a11 | g3: a12..a15 |
//   sdot acc[r].lo, b_lo, a_r.4b[g]   ->  acc[r].lo[n] += sum_{i<4} b[n, 4g+i] * a[4g+i]
//
// Register tile: kMr = 8 rows x 8 columns = 16 int32x4 accumulators, + 8 A + 2 B registers.
//
//            n0..n3     n4..n7
//   row 0  [ acc.lo ] [ acc.hi ]   <- sdot with b_lo / b_hi, lane g of a_0
//   ...        ...        ...
//   row 7  [ acc.lo ] [ acc.hi ]
//
// Why SDOT on flipped activations (and not UDOT or USDOT): the contract is u8 activations x s8
// weights. USDOT does exactly that but belongs to the ARMv8.6 I8MM extension, which ARMv8.2 CPUs
// (the Cortex-A55/A75/A76 generation this path targets) lack. UDOT would need unsigned weights
// (b + 128), and the correction for that offset is 128 * (row sum of A), a second pass over every
// row of A at run time. Instead a uint8 activation is flipped to int8 with one EOR per 16 bytes
// (a ^ 0x80 = a - 128; int8 activations already are u(a) - 128 and are not touched), so
//   raw = sum u(a) * b = sdot(u(a) - 128, b) + 128 * col_sum[n],
// a per-column constant added in the epilogue next to the zero-point correction. Everything is
// mod 2^32 like the scalar path, so results are bit-identical for any K.
//
// Tails: as the neon path (16-k blocks, then 4-byte groups, then load_tail_group() for the last
// partial group; rows in blocks of 8, the remainder as 4 + 2 + 1).
#ifndef QSAFE_KERNEL_ARCH_NEON_DOTPROD_UKERNEL_HPP_
#define QSAFE_KERNEL_ARCH_NEON_DOTPROD_UKERNEL_HPP_

#include "qsafe/config.hpp"
#include "qsafe/kernel/arch/neon/ukernel.hpp"
#include "qsafe/kernel/arch/neon_dotprod/arch.hpp"
#include "qsafe/kernel/detail/ukernel.hpp"

#if QSAFE_HAS_NEON_DOTPROD

#include <arm_neon.h>

#include <cstdint>

namespace qsafe {
namespace detail {

template <>
struct GemmUkernel<arch::neon_dotprod> {
  static constexpr int kMr = 8;
  static constexpr int kNr = 8;
  static constexpr int kKr = 4;
  static constexpr int kKPad = 4;
  using BElem = std::int8_t;
  static constexpr const char* name = "u8s8_gemm_8x8c4__neondot";

  template <class AType, class Out, class Pipeline>
  static void run(const GemmTask<AType>& t, const GemmEpilogue<Out, Pipeline>& epi) noexcept {
    std::int64_t m = t.row_begin;
    for (; m + kMr <= t.row_end; m += kMr) tile<8>(t, epi, m);
    if (t.row_end - m >= 4) {
      tile<4>(t, epi, m);
      m += 4;
    }
    if (t.row_end - m >= 2) {
      tile<2>(t, epi, m);
      m += 2;
    }
    if (m < t.row_end) tile<1>(t, epi, m);
  }

 private:
  // One group of 4 k for every row: lane G of each A register against the group's two B registers.
  template <int G, int R>
  static QSAFE_ALWAYS_INLINE void group(int32x4_t (&lo)[R], int32x4_t (&hi)[R], const int8x16_t (&a)[R],
                                        const std::int8_t* b) noexcept {
    const int8x16_t b_lo = vld1q_s8(b);
    const int8x16_t b_hi = vld1q_s8(b + 16);
    for (int r = 0; r < R; ++r) {
      lo[r] = vdotq_laneq_s32(lo[r], b_lo, a[r], G);
      hi[r] = vdotq_laneq_s32(hi[r], b_hi, a[r], G);
    }
  }

  template <int R, class AType, class Out, class Pipeline>
  static QSAFE_ALWAYS_INLINE void tile(const GemmTask<AType>& t, const GemmEpilogue<Out, Pipeline>& epi,
                                       std::int64_t m0) noexcept {
    const auto* b = static_cast<const std::int8_t*>(t.panel);
    const AType* rows[R];
    int32x4_t lo[R], hi[R];
    for (int r = 0; r < R; ++r) {
      lo[r] = vdupq_n_s32(0);
      hi[r] = vdupq_n_s32(0);
    }
    for (int s = 0; s < t.pieces; ++s) {
      for (int r = 0; r < R; ++r) rows[r] = t.piece[s] + (m0 + r) * t.lda;
      const std::int64_t k_n = t.piece_k(s);
      std::int64_t k = 0;
      for (; k + 16 <= k_n; k += 16, b += 4 * 32) {
        int8x16_t a[R];
        for (int r = 0; r < R; ++r) a[r] = neon_impl::load_a16(rows[r] + k);
        group<0>(lo, hi, a, b);
        group<1>(lo, hi, a, b + 32);
        group<2>(lo, hi, a, b + 64);
        group<3>(lo, hi, a, b + 96);
      }
      for (; k + 4 <= k_n; k += 4, b += 32) {
        int8x16_t a[R];
        for (int r = 0; r < R; ++r) a[r] = neon_impl::broadcast_group<AType>(neon_impl::load_group(rows[r] + k));
        group<0>(lo, hi, a, b);
      }
      if (k < k_n) {
        int8x16_t a[R];
        for (int r = 0; r < R; ++r) a[r] = neon_impl::broadcast_group<AType>(load_tail_group(rows[r], k_n));
        group<0>(lo, hi, a, b);
      }
    }
    for (int r = 0; r < R; ++r) neon_impl::finish_row(epi, lo[r], hi[r], t.col_sums, t.cols, m0 + r, t.col_begin);
  }
};

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_HAS_NEON_DOTPROD
#endif  // QSAFE_KERNEL_ARCH_NEON_DOTPROD_UKERNEL_HPP_
