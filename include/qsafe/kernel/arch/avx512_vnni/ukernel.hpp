// qsafe/kernel/arch/avx512_vnni/ukernel.hpp: u8 x s8 -> int32 with vpdpbusd on ZMM.
//
//   panel (kNr = 64 columns, kKr = 4): per group of 4 k, 4 ZMM of 16 columns x 4 int8:
//       B0 = cols  0..15   B1 = cols 16..31   B2 = cols 32..47   B3 = cols 48..63
//       lane j of Bv: B[4g..4g+3][16v + j]
//   register tile (kMr = 6 rows x 64 columns), 24 ZMM accumulators:
//       row r:  acc[r][0] acc[r][1] acc[r][2] acc[r][3]      += vpdpbusd(bcast32(A[r][4g..4g+3]), Bv)
//   A is read in place: one 32-bit broadcast (4 consecutive k) per row and group; int8 A is
//   flipped to u8 by XOR 0x80 in the register (its zero point carries the +128).
//   24 accumulators + 4 B + 1 broadcast = 29 of the 32 ZMM registers.
#ifndef QSAFE_KERNEL_ARCH_AVX512_VNNI_UKERNEL_HPP_
#define QSAFE_KERNEL_ARCH_AVX512_VNNI_UKERNEL_HPP_

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qsafe/kernel/arch/avx512_vnni/arch.hpp"
#include "qsafe/kernel/arch/avx512_vnni/output.hpp"
#include "qsafe/kernel/detail/ukernel.hpp"

// GCC 12 reports its own _mm512_undefined_*() (self-initialised) as uninitialised once an
// intrinsic is inlined into a target("avx512f") function (GCC PR105593); the pragma must cover
// the inlining site, so it wraps this header's functions.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace qsafe {
namespace detail {

template <>
struct GemmUkernel<arch::avx512_vnni> {
  static constexpr int kMr = 6;
  static constexpr int kNr = 64;
  static constexpr int kKr = 4;
  static constexpr int kKPad = 4;
  using BElem = std::int8_t;
  static constexpr const char* name = "u8s8_gemm_6x64c4__avx512vnni";

  template <class AType, class Out, class Pipeline>
  QSAFE_TARGET_AVX512_VNNI static void run(const GemmTask<AType>& t, const GemmEpilogue<Out, Pipeline>& e) noexcept {
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
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void tile(const GemmTask<AType>& t, std::int64_t m0,
                                                                const GemmEpilogue<Out, Pipeline>& e) noexcept {
    constexpr bool kFlip = std::is_same<AType, std::int8_t>::value;
    const __m512i flip = _mm512_set1_epi32(kFlip ? static_cast<int>(0x80808080u) : 0);
    __m512i acc[R][4];
    const unsigned char* rows[R];
    for (int r = 0; r < R; ++r) {
      rows[r] = reinterpret_cast<const unsigned char*>(t.a + (m0 + r) * t.lda);
      for (int v = 0; v < 4; ++v) acc[r][v] = _mm512_setzero_si512();
    }
    const auto* b = static_cast<const std::int8_t*>(t.panel);
    const std::int64_t groups = t.k / 4;
    for (std::int64_t g = 0; g < groups; ++g, b += kNr * kKr) {
      const __m512i b0 = _mm512_loadu_si512(b);
      const __m512i b1 = _mm512_loadu_si512(b + 64);
      const __m512i b2 = _mm512_loadu_si512(b + 128);
      const __m512i b3 = _mm512_loadu_si512(b + 192);
      for (int r = 0; r < R; ++r) {
        std::int32_t word;
        std::memcpy(&word, rows[r] + 4 * g, 4);
        __m512i a = _mm512_set1_epi32(word);
        if (kFlip) a = _mm512_xor_si512(a, flip);
        acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], a, b0);
        acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], a, b1);
        acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], a, b2);
        acc[r][3] = _mm512_dpbusd_epi32(acc[r][3], a, b3);
      }
    }
    if (t.k % 4 != 0) {  // K tail: a zero-padded copy of the last k % 4 values of each row
      const __m512i b0 = _mm512_loadu_si512(b);
      const __m512i b1 = _mm512_loadu_si512(b + 64);
      const __m512i b2 = _mm512_loadu_si512(b + 128);
      const __m512i b3 = _mm512_loadu_si512(b + 192);
      for (int r = 0; r < R; ++r) {
        __m512i a = _mm512_set1_epi32(static_cast<int>(load_tail_group(t.a + (m0 + r) * t.lda, t.k)));
        if (kFlip) a = _mm512_xor_si512(a, flip);
        acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], a, b0);
        acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], a, b1);
        acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], a, b2);
        acc[r][3] = _mm512_dpbusd_epi32(acc[r][3], a, b3);
      }
    }
    // Epilogue on the register tile: zero-point correction, pipeline, masked store.
    for (int r = 0; r < R; ++r) {
      const std::int64_t row = m0 + r;
      const __m512i zp = _mm512_set1_epi32(e.zero_point_u(row));
      Out* c = e.c + row * e.ldc + t.col_begin;
      for (int v = 0; v < 4; ++v) {
        const int left = t.cols - 16 * v;
        if (left <= 0) break;
        const __mmask16 mask = left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
        const __m512i sums = _mm512_loadu_si512(t.col_sums + 16 * v);
        const __m512i x = _mm512_sub_epi32(acc[r][v], _mm512_mullo_epi32(zp, sums));
        const Lanes16 lanes{row, t.col_begin + 16 * v, mask};
        store(arch::avx512_vnni{}, c + 16 * v, apply_stages<0>(arch::avx512_vnni{}, *e.pipeline, x, lanes), mask);
      }
    }
  }
};

}  // namespace detail
}  // namespace qsafe

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // QSAFE_KERNEL_ARCH_AVX512_VNNI_UKERNEL_HPP_
