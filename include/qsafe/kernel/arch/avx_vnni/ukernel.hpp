// qsafe/kernel/arch/avx_vnni/ukernel.hpp: u8 x s8 -> int32 with VEX vpdpbusd on YMM (no AVX-512).
//
//   panel (kNr = 16 columns, kKr = 4): per group of 4 k, 2 YMM of 8 columns x 4 int8:
//       lane j of Bv: B[4g..4g+3][8v + j]
//   register tile (kMr = 6 rows x 16 columns), 12 YMM accumulators:
//       acc[r][v] += vpdpbusd(bcast32(A[r][4g..4g+3]), Bv)
//   A read in place (int8 A flipped to u8 by XOR 0x80 in the register); the epilogue is the AVX2
//   path's (same tile shape, output.hpp inlines into this superset target).
//   12 accumulators + 2 B + 1 broadcast = 15 of the 16 YMM registers.
#ifndef QSAFE_KERNEL_ARCH_AVX_VNNI_UKERNEL_HPP_
#define QSAFE_KERNEL_ARCH_AVX_VNNI_UKERNEL_HPP_

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qsafe/kernel/arch/avx2/ukernel.hpp"
#include "qsafe/kernel/arch/avx_vnni/arch.hpp"
#include "qsafe/kernel/detail/ukernel.hpp"

namespace qsafe {
namespace detail {

template <>
struct GemmUkernel<arch::avx_vnni> {
  static constexpr int kMr = 6;
  static constexpr int kNr = 16;
  static constexpr int kKr = 4;
  static constexpr int kKPad = 4;
  using BElem = std::int8_t;
  static constexpr const char* name = "u8s8_gemm_6x16c4__avxvnni";

  template <class AType, class Out, class Pipeline>
  QSAFE_TARGET_AVX_VNNI static void run(const GemmTask<AType>& t, const GemmEpilogue<Out, Pipeline>& e) noexcept {
    std::int64_t m = t.row_begin;
    for (; m + kMr <= t.row_end; m += kMr) tile<kMr>(t, m, e);
    tail_rows<kMr - 1>(t, m, e);
  }

 private:
  // The last row_end - m (< kMr) rows, in tiles of 4, 2 and 1 rows (its binary digits, as the NEON
  // kernels do): every tile height is another copy of the K loop and the epilogue for every
  // pipeline, and heights 5 and 3 cost 30 % of the kernel tests' compile time; only M % kMr = 3 or
  // 5 pays for it, with a second pass over the panel for its last row.
  template <int R, class AType, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX_VNNI static void tail_rows(const GemmTask<AType>& t, std::int64_t m,
                                                                  const GemmEpilogue<Out, Pipeline>& e) noexcept {
    if constexpr (R > 0) {
      if constexpr ((R & (R - 1)) == 0) {
        if (t.row_end - m >= R) {
          tile<R>(t, m, e);
          m += R;
        }
      }
      tail_rows<R - 1>(t, m, e);
    }
  }

  // Rows by template recursion so the accumulators stay in registers (see the AVX-512 kernel).
  template <int r, int R, class AType>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX_VNNI static void dot_rows(__m256i (&acc)[R][2], const AType* a, std::int64_t lda,
                                                                 std::int64_t k, __m256i b0, __m256i b1,
                                                                 bool tail) noexcept {
    if constexpr (r < R) {
      std::int32_t word;
      if (tail) {
        word = static_cast<std::int32_t>(load_tail_group(a + r * lda, k));
      } else {
        std::memcpy(&word, a + r * lda + k, 4);
      }
      __m256i x = _mm256_set1_epi32(word);
      // int8 A: u(a) = a ^ 0x80 in every byte (its zero point carries the +128).
      if (std::is_same<AType, std::int8_t>::value)
        x = _mm256_xor_si256(x, _mm256_set1_epi32(static_cast<int>(0x80808080u)));
      acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], x, b0);
      acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], x, b1);
      dot_rows<r + 1, R>(acc, a, lda, k, b0, b1, tail);
    }
  }

  template <int R, class AType, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX_VNNI static void tile(const GemmTask<AType>& t, std::int64_t m0,
                                                             const GemmEpilogue<Out, Pipeline>& e) noexcept {
    __m256i acc[R][2];
    QSAFE_UNROLL
    for (int i = 0; i < R * 2; ++i) acc[i / 2][i % 2] = _mm256_setzero_si256();
    const auto* b = static_cast<const std::int8_t*>(t.panel);
    for (int s = 0; s < t.pieces; ++s) {
      const AType* a = t.piece[s] + m0 * t.lda;
      const std::int64_t k_n = t.piece_k(s), k_full = k_n & ~std::int64_t{3};
      for (std::int64_t k = 0; k < k_full; k += 4, b += kNr * kKr) {
        dot_rows<0, R>(acc, a, t.lda, k, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)),
                       _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32)), false);
      }
      if (k_full != k_n) {  // K tail (last piece): a zero-padded copy of the last k % 4 values of each row
        dot_rows<0, R>(acc, a, t.lda, k_n, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)),
                       _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32)), true);
      }
    }
    GemmUkernel<arch::avx2>::finish_rows<0, R, 2>(acc, t, m0, e);
  }
};

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_AVX_VNNI_UKERNEL_HPP_
