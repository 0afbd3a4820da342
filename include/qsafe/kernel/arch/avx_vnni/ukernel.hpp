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
    switch (t.row_end - m) {
      case 1: tile<1>(t, m, e); break;
      case 2: tile<2>(t, m, e); break;
      case 3: tile<3>(t, m, e); break;
      case 4: tile<4>(t, m, e); break;
      case 5: tile<5>(t, m, e); break;
      default: break;
    }
  }

 private:
  template <int R, class AType, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX_VNNI static void tile(const GemmTask<AType>& t, std::int64_t m0,
                                                             const GemmEpilogue<Out, Pipeline>& e) noexcept {
    constexpr bool kFlip = std::is_same<AType, std::int8_t>::value;
    const __m256i flip = _mm256_set1_epi32(kFlip ? static_cast<int>(0x80808080u) : 0);
    __m256i acc[R][2];
    const unsigned char* rows[R];
    QSAFE_UNROLL
    for (int r = 0; r < R; ++r) {
      rows[r] = reinterpret_cast<const unsigned char*>(t.a + (m0 + r) * t.lda);
      acc[r][0] = _mm256_setzero_si256();
      acc[r][1] = _mm256_setzero_si256();
    }
    const auto* b = static_cast<const std::int8_t*>(t.panel);
    const std::int64_t groups = t.k / 4;
    for (std::int64_t g = 0; g < groups; ++g, b += kNr * kKr) {
      const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
      const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32));
      QSAFE_UNROLL
      for (int r = 0; r < R; ++r) {
        std::int32_t word;
        std::memcpy(&word, rows[r] + 4 * g, 4);
        __m256i a = _mm256_set1_epi32(word);
        if (kFlip) a = _mm256_xor_si256(a, flip);
        acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], a, b0);
        acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], a, b1);
      }
    }
    if (t.k % 4 != 0) {  // K tail: a zero-padded copy of the last k % 4 values of each row
      const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
      const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32));
      QSAFE_UNROLL
      for (int r = 0; r < R; ++r) {
        __m256i a = _mm256_set1_epi32(static_cast<int>(load_tail_group(t.a + (m0 + r) * t.lda, t.k)));
        if (kFlip) a = _mm256_xor_si256(a, flip);
        acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], a, b0);
        acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], a, b1);
      }
    }
    GemmUkernel<arch::avx2>::finish_tile<R>(t, m0, e, acc);
  }
};

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_AVX_VNNI_UKERNEL_HPP_
