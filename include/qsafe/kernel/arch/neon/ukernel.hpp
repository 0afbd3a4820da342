// qsafe/kernel/arch/neon/ukernel.hpp: the ARMv8.0 NEON micro-kernel, u8s8_gemm_4x8c4__neon_mull.
//
// Packed weight panel (kNr = 8 columns, kKr = 4, the same as scalar): for each group g of 4 k,
// 32 bytes = two q registers of 4 columns x 4 consecutive k:
//
//   b_lo = | n0:k0 k1 k2 k3 | n1:k0..k3 | n2:k0..k3 | n3:k0..k3 |     (int8, 16 bytes)
//   b_hi = | n4:k0..k3      | n5        | n6        | n7        |
//
// A is read in place, row by row, 16 k at a time (4 groups); group g is broadcast to all four
// 32-bit lanes:  a_g = | a0 a1 a2 a3 | a0 a1 a2 a3 | a0 a1 a2 a3 | a0 a1 a2 a3 |
//
// Products, without the dot-product extension:
//
//   smull  (a_g lo 8 bytes) x (b_lo lo 8) -> int16 x8: a0*b[n0,k0] a1*b[n0,k1] ... a3*b[n1,k3]
//   sadalp  acc[r][0] += pairwise sums    -> int32 x4: | n0:k0+k1 | n0:k2+k3 | n1:k0+k1 | n1:k2+k3 |
//
// so the register tile is kMr = 4 rows x 4 q registers, each holding two columns as two partial
// sums (16 accumulators), and one final addp per pair of registers gives | n0 | n1 | n2 | n3 |.
//
//            n0n1   n2n3   n4n5   n6n7
//   row 0  [ acc ] [ acc ] [ acc ] [ acc ]     <- smull/smull2 of a_g with b_lo, b_hi, then sadalp
//   row 1  [ acc ] [ acc ] [ acc ] [ acc ]
//   row 2  [ acc ] [ acc ] [ acc ] [ acc ]
//   row 3  [ acc ] [ acc ] [ acc ] [ acc ]
//
// Why signed x signed: the contract is u8 activations x s8 weights, but NEON multiplies same-signed
// operands. Flipping the top bit of a uint8 activation (a ^ 0x80 = a - 128) makes it an int8 at the
// cost of one EOR per 16 bytes; for int8 A, u(a) - 128 = a and nothing is flipped. Then
//   raw = sum u(a) * b = sum (u(a) - 128) * b + 128 * col_sum,
// and 128 * col_sum is added per column in the epilogue (all mod 2^32, like the scalar path, so
// the results are bit-identical whatever the K). Why smull + sadalp and not smull + smlal into
// int16: (-128) * (-128) + (-128) * (-128) = 32768 overflows int16, and weights may be -128; one
// product per int16 lane never overflows (|p| <= 16384) and sadalp widens before adding.
//
// Tails: K in steps of 16 while the row has 16 bytes left, then 4-byte groups, then the last
// partial group through load_tail_group() (only bytes inside the row are read; its padding meets
// the panel's zero rows). Rows in blocks of 4, the remainder as 2 + 1. Columns past t.cols are
// computed from the panel's zero padding and never stored.
//
// Epilogue: full panels apply the output pipeline to the two accumulator registers of each row
// (arch/neon/output.hpp) and store 8 values; the last, partial panel uses finish_element().
#ifndef QSAFE_KERNEL_ARCH_NEON_UKERNEL_HPP_
#define QSAFE_KERNEL_ARCH_NEON_UKERNEL_HPP_

#include "qsafe/config.hpp"
#include "qsafe/kernel/arch/neon/arch.hpp"
#include "qsafe/kernel/arch/neon/output.hpp"
#include "qsafe/kernel/detail/ukernel.hpp"

#if QSAFE_AARCH64

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

namespace qsafe {
namespace detail {
namespace neon_impl {

// 16 activations as int8 u(a) - 128: uint8 a -> a ^ 0x80; int8 a -> a.
QSAFE_ALWAYS_INLINE int8x16_t load_a16(const std::uint8_t* p) noexcept {
  return vreinterpretq_s8_u8(veorq_u8(vld1q_u8(p), vdupq_n_u8(0x80)));
}
QSAFE_ALWAYS_INLINE int8x16_t load_a16(const std::int8_t* p) noexcept { return vld1q_s8(p); }

// A 4-byte group (raw bytes of the row) broadcast to all four 32-bit lanes, as int8 u(a) - 128.
template <class AType>
QSAFE_ALWAYS_INLINE int8x16_t broadcast_group(std::uint32_t bytes) noexcept {
  const uint8x16_t v = vreinterpretq_u8_u32(vdupq_n_u32(bytes));
  if (sizeof(AType) == 1 && static_cast<AType>(-1) > 0) return vreinterpretq_s8_u8(veorq_u8(v, vdupq_n_u8(0x80)));
  return vreinterpretq_s8_u8(v);
}

template <class AType>
QSAFE_ALWAYS_INLINE std::uint32_t load_group(const AType* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);  // unaligned 32-bit load
  return v;
}

// Finishes one row of 8 columns from its sums in signed-operand form (see the top of the file):
// acc = raw - zp_u * col_sum with raw = sums + 128 * col_sum, i.e. acc = sums + (128 - zp_u) * col_sum
// (MLA, mod 2^32). A full panel runs the pipeline on the registers (arch/neon/output.hpp); a
// partial one goes element by element through the reference epilogue, so nothing past column N
// (bias, multipliers, C) is ever read or written.
template <class Out, class Pipeline>
QSAFE_ALWAYS_INLINE void finish_row(const GemmEpilogue<Out, Pipeline>& epi, int32x4_t lo, int32x4_t hi,
                                    const std::int32_t* col_sums, int cols, std::int64_t row,
                                    std::int64_t col_begin) noexcept {
  if (cols == 8) {
    const int32x4_t correction = vdupq_n_s32(128 - epi.zero_point_u(row));
    lo = vmlaq_s32(lo, vld1q_s32(col_sums), correction);
    hi = vmlaq_s32(hi, vld1q_s32(col_sums + 4), correction);
    const auto out_lo = apply_stages<0>(arch::neon{}, *epi.pipeline, lo, Lanes4{row, col_begin});
    const auto out_hi = apply_stages<0>(arch::neon{}, *epi.pipeline, hi, Lanes4{row, col_begin + 4});
    store8(epi.c + row * epi.ldc + col_begin, out_lo, out_hi);
    return;
  }
  std::int32_t sums[8];
  vst1q_s32(sums, lo);
  vst1q_s32(sums + 4, hi);
  for (int n = 0; n < cols; ++n) {
    const std::uint32_t raw = static_cast<std::uint32_t>(sums[n]) + (static_cast<std::uint32_t>(col_sums[n]) << 7);
    finish_element(epi, static_cast<std::int32_t>(raw), col_sums[n], row, col_begin + n);
  }
}

}  // namespace neon_impl

template <>
struct GemmUkernel<arch::neon> {
  static constexpr int kMr = 4;
  static constexpr int kNr = 8;
  static constexpr int kKr = 4;
  static constexpr int kKPad = 4;
  using BElem = std::int8_t;
  static constexpr const char* name = "u8s8_gemm_4x8c4__neon_mull";

  template <class AType, class Out, class Pipeline>
  static void run(const GemmTask<AType>& t, const GemmEpilogue<Out, Pipeline>& epi) noexcept {
    std::int64_t m = t.row_begin;
    for (; m + kMr <= t.row_end; m += kMr) tile<4>(t, epi, m);
    if (t.row_end - m >= 2) {
      tile<2>(t, epi, m);
      m += 2;
    }
    if (m < t.row_end) tile<1>(t, epi, m);
  }

 private:
  // acc[r][j] += a_g (x) b for columns 2j, 2j+1 (two partial sums each).
  template <int R>
  static QSAFE_ALWAYS_INLINE void group(int32x4_t (&acc)[R][4], const int8x16_t (&a)[R],
                                        const std::int8_t* b) noexcept {
    const int8x16_t b_lo = vld1q_s8(b);
    const int8x16_t b_hi = vld1q_s8(b + 16);
    for (int r = 0; r < R; ++r) {
      acc[r][0] = vpadalq_s16(acc[r][0], vmull_s8(vget_low_s8(a[r]), vget_low_s8(b_lo)));
      acc[r][1] = vpadalq_s16(acc[r][1], vmull_high_s8(a[r], b_lo));
      acc[r][2] = vpadalq_s16(acc[r][2], vmull_s8(vget_low_s8(a[r]), vget_low_s8(b_hi)));
      acc[r][3] = vpadalq_s16(acc[r][3], vmull_high_s8(a[r], b_hi));
    }
  }

  template <int G, int R>
  static QSAFE_ALWAYS_INLINE void group_of_block(int32x4_t (&acc)[R][4], const int8x16_t (&a16)[R],
                                                 const std::int8_t* b) noexcept {
    int8x16_t a[R];
    for (int r = 0; r < R; ++r) a[r] = vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(a16[r]), G));
    group<R>(acc, a, b + G * 32);
  }

  template <int R, class AType, class Out, class Pipeline>
  static QSAFE_ALWAYS_INLINE void tile(const GemmTask<AType>& t, const GemmEpilogue<Out, Pipeline>& epi,
                                       std::int64_t m0) noexcept {
    const auto* b = static_cast<const std::int8_t*>(t.panel);
    const AType* rows[R];
    int32x4_t acc[R][4];
    for (int r = 0; r < R; ++r) {
      for (int j = 0; j < 4; ++j) acc[r][j] = vdupq_n_s32(0);
    }
    for (int s = 0; s < t.pieces; ++s) {
      for (int r = 0; r < R; ++r) rows[r] = t.piece[s] + (m0 + r) * t.lda;
      const std::int64_t k_n = t.piece_k(s);
      std::int64_t k = 0;
      for (; k + 16 <= k_n; k += 16, b += 4 * 32) {
        int8x16_t a16[R];
        for (int r = 0; r < R; ++r) a16[r] = neon_impl::load_a16(rows[r] + k);
        group_of_block<0>(acc, a16, b);
        group_of_block<1>(acc, a16, b);
        group_of_block<2>(acc, a16, b);
        group_of_block<3>(acc, a16, b);
      }
      for (; k + 4 <= k_n; k += 4, b += 32) {
        int8x16_t a[R];
        for (int r = 0; r < R; ++r) a[r] = neon_impl::broadcast_group<AType>(neon_impl::load_group(rows[r] + k));
        group<R>(acc, a, b);
      }
      if (k < k_n) {
        int8x16_t a[R];
        for (int r = 0; r < R; ++r) a[r] = neon_impl::broadcast_group<AType>(load_tail_group(rows[r], k_n));
        group<R>(acc, a, b);
      }
    }
    for (int r = 0; r < R; ++r) {
      // addp joins each column's two partial sums: | n0 n1 n2 n3 | and | n4 n5 n6 n7 |.
      neon_impl::finish_row(epi, vpaddq_s32(acc[r][0], acc[r][1]), vpaddq_s32(acc[r][2], acc[r][3]), t.col_sums, t.cols,
                            m0 + r, t.col_begin);
    }
  }
};

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_AARCH64
#endif  // QSAFE_KERNEL_ARCH_NEON_UKERNEL_HPP_
