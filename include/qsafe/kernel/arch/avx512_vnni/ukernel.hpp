// qsafe/kernel/arch/avx512_vnni/ukernel.hpp: u8 x s8 -> int32 with vpdpbusd on ZMM.
//
//   panel (kNr = 64 columns, kKr = 4): per group of 4 k, 4 ZMM of 16 columns x 4 int8:
//       B0 = cols  0..15   B1 = cols 16..31   B2 = cols 32..47   B3 = cols 48..63
//       lane j of Bv: B[4g..4g+3][16v + j]
//   register tile (kMr = 7 rows x 64 columns), 28 ZMM accumulators:
//       row r:  acc[r][0] acc[r][1] acc[r][2] acc[r][3]      += vpdpbusd(bcast32(A[r][4g..4g+3]), Bv)
//   A is read in place: one 32-bit broadcast (4 consecutive k) per row and group; int8 A is
//   flipped to u8 by XOR 0x80 in the register (its zero point carries the +128).
//   28 accumulators + B0..B2 + 1 broadcast = 32 ZMM: B3 is not loaded into a register but read by
//   each row's vpdpbusd as its memory operand (7 L1 loads per group more; int8 A, whose 0x80
//   constant takes one more register, reads B2 that way too). 7 rows because the widths of
//   ResNet-style layers (56, 28, 14, 7; conv2d runs one GEMM per output row) are multiples of 7:
//   with 6 rows every 56-pixel row ended in a 2-row tile (docs/benchmarks.md, conv2d section).
//   K < 256 runs 6-row tiles instead (epilogue-heavy: 4 free registers measured slower there).
//   Tiles of 4, 2 and 1 rows take the rest (run()).
#ifndef QSAFE_KERNEL_ARCH_AVX512_VNNI_UKERNEL_HPP_
#define QSAFE_KERNEL_ARCH_AVX512_VNNI_UKERNEL_HPP_

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qsafe/kernel/arch/avx512_vnni/arch.hpp"
#include "qsafe/kernel/arch/avx512_vnni/output.hpp"
#include "qsafe/kernel/detail/ukernel.hpp"

// Tile shape (rows x ZMM vectors per row). 6 x 4 measured best on Zen 5 against 12 x 2 and 8 x 3,
// 7 x 4 (B3 from memory) then as fast per MAC as 6 x 4 and without the tail on ResNet widths
// (docs/benchmarks.md); overridable only to repeat that experiment.
#ifndef QSAFE_AVX512_MR
#define QSAFE_AVX512_MR 7
#define QSAFE_AVX512_NV 4
#endif

// GCC 12 PR105593: see config.hpp.
QSAFE_AVX512_CODE_BEGIN

namespace qsafe {
namespace detail {

template <>
struct GemmUkernel<arch::avx512_vnni> {
  static constexpr int kMr = QSAFE_AVX512_MR;
  static constexpr int kNr = 16 * QSAFE_AVX512_NV;
  static constexpr int kNv = QSAFE_AVX512_NV;  // ZMM vectors per tile row
  static constexpr int kKr = 4;
  static constexpr int kKPad = 4;
  using BElem = std::int8_t;
  static constexpr const char* name = "u8s8_gemm_7x64c4__avx512vnni";

  template <class AType, class Out, class Pipeline>
  QSAFE_TARGET_AVX512_VNNI static void run(const GemmTask<AType>& t, const GemmEpilogue<Out, Pipeline>& e) noexcept {
    // A local copy of the stages: a byte store into C may alias *e.pipeline, which would make the
    // compiler reload (and re-test) every span after each store.
    const Pipeline p = *e.pipeline;
    // Every per-column quantity of the epilogue, once per call (its tiles share the panel).
    Params<Out, Pipeline> pp;
    load_panel_params<Out>(pp, p, t.col_begin, t.cols);
    // 7-row tiles for K >= 256; for shorter K, where the 8-bit epilogue weighs more than the K
    // loop, 6-row tiles (the 7-row tile's 28 accumulators leave the epilogue 4 registers; measured
    // 1-2 % slower at K = 64). The rest in tiles of 4, 2 and 1 rows (its binary digits, as the
    // other paths do): every tile height is another copy of the K loop and the epilogue for every
    // pipeline (heights 7, 6, 4, 2, 1 here).
    std::int64_t m = t.row_begin;
    if (t.k >= 256) {
      for (; m + kMr <= t.row_end; m += kMr) tile<kMr>(t, m, e, pp);
    } else {
      for (; m + kMr - 1 <= t.row_end; m += kMr - 1) tile<kMr - 1>(t, m, e, pp);
    }
    tail_rows<kMr - 1>(t, m, e, pp);
  }

 private:
  // The epilogue's per-column parameters of one call (output.hpp, "Panel parameters").
  template <class Out, class Pipeline>
  using Params = PanelParams<Pipeline, kNv>;

  // The last row_end - m (< kMr) rows, in tiles of 4, 2 and 1 rows.
  template <int R, class AType, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void tail_rows(const GemmTask<AType>& t, std::int64_t m,
                                                                     const GemmEpilogue<Out, Pipeline>& e,
                                                                     const Params<Out, Pipeline>& pp) noexcept {
    if constexpr (R > 0) {
      if constexpr ((R & (R - 1)) == 0) {
        if (t.row_end - m >= R) {
          tile<R>(t, m, e, pp);
          m += R;
        }
      }
      tail_rows<R - 1>(t, m, e, pp);
    }
  }

  // The tile is walked by template recursion over its rows rather than by loops: every index into
  // acc[][] is then a constant as soon as these always-inline helpers are inlined, which is what
  // lets GCC keep the 28 accumulators in registers (with loops it spills them on every step).
  template <int r, int R, class AType>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void dot_rows(__m512i (&acc)[R][kNv], const AType* a,
                                                                    std::int64_t lda, std::int64_t k,
                                                                    const __m512i (&b)[kNv],
                                                                    const std::int8_t*& bp) noexcept {
    if constexpr (r < R) {
      std::int32_t word;
      std::memcpy(&word, a + r * lda + k, 4);
      __m512i x = _mm512_set1_epi32(word);
      // int8 A: u(a) = a ^ 0x80 in every byte (its zero point carries the +128).
      if (std::is_same<AType, std::int8_t>::value)
        x = _mm512_xor_si512(x, _mm512_set1_epi32(static_cast<int>(0x80808080u)));
      dot_vectors<0, reg_b<R, AType>()>(acc[r], x, b, bp);
      dot_rows<r + 1, R>(acc, a, lda, k, b, bp);
    }
  }

  // The first NB vectors of one panel group into registers.
  template <int v, int NB>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void load_panel_group(__m512i (&bv)[kNv],
                                                                            const std::int8_t* b) noexcept {
    if constexpr (v < NB) {
      bv[v] = _mm512_loadu_si512(b + 64 * v);
      load_panel_group<v + 1, NB>(bv, b);
    }
  }

  // B vectors a tile of R rows keeps in registers: all of them while R * kNv accumulators, kNv B,
  // the broadcast and (int8 A) the 0x80 constant fit in the 32 ZMM, else what is left (7 x 4, u8 A:
  // 28 + 3 + 1; int8 A: 28 + 2 + 1 + 1); the others are read from L1 by every row (vpdpbusd's
  // memory operand).
  template <int R, class AType>
  static constexpr int reg_b() noexcept {
    constexpr int kFree = 32 - R * kNv - 1 - (std::is_same<AType, std::int8_t>::value ? 1 : 0);
    return kFree >= kNv ? kNv : kFree;
  }

  // acc[v] += vpdpbusd(x, B[v]) for every vector of one tile row: B[v] from b[] for v < NB, else
  // from memory at bp. bp comes out of an empty asm for every row, so the compiler cannot merge the
  // rows' loads of the same vector into one register (which it would then have to spill).
  template <int v, int NB>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void dot_vectors(__m512i (&acc)[kNv], __m512i x,
                                                                       const __m512i (&b)[kNv],
                                                                       const std::int8_t*& bp) noexcept {
    if constexpr (v < kNv) {
      if constexpr (v < NB) {
        acc[v] = _mm512_dpbusd_epi32(acc[v], x, b[v]);
      } else {
        if constexpr (v == NB) __asm__("" : "+r"(bp));
        acc[v] = _mm512_dpbusd_epi32(acc[v], x, _mm512_loadu_si512(bp + 64 * v));
      }
      dot_vectors<v + 1, NB>(acc, x, b, bp);
    }
  }

  template <int v, std::size_t First, bool Full, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void finish_vectors(
      const __m512i (&acc)[kNv], std::int64_t row, Out* c, const PanelParams<Pipeline, kNv>& pp) noexcept {
    if constexpr (v < kNv) {
      if (Full || pp.mask[v] != 0) panel_vector<First, Full>(pp, v, acc[v], row, c + 16 * v);
      finish_vectors<v + 1, First, Full>(acc, row, c, pp);
    }
  }

  // neg_corr[v] = -(zp_u * col_sums[16v .. 16v + 15]): where the accumulators of one row start (the
  // zero-point correction). A leading AddBias is folded in: neg_corr[v] += bias, so the sum ends
  // at (acc - zp_u * sums) + bias (mod 2^32: the same bits). Per-tensor zero points: once per tile.
  template <int v, class AType, class Pipeline>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void make_neg_corrections(
      __m512i (&neg_corr)[kNv], const GemmTask<AType>& t, std::int32_t zp,
      const PanelParams<Pipeline, kNv>& pp) noexcept {
    if constexpr (v < kNv) {
      neg_corr[v] = _mm512_mullo_epi32(_mm512_set1_epi32(-zp), _mm512_loadu_si512(t.col_sums + 16 * v));
      if constexpr (starts_with_bias<Pipeline>::value)  // lanes past N hold a zero bias
        neg_corr[v] = _mm512_add_epi32(neg_corr[v], zmm_get<0>(pp.stage[v]).bias);
      make_neg_corrections<v + 1>(neg_corr, t, zp, pp);
    }
  }

  template <int r, int R, class AType>
  QSAFE_ALWAYS_INLINE static void prefetch_rows(const AType* a, std::int64_t lda, std::int64_t k) noexcept {
    if constexpr (r < R) {
      // Integer address arithmetic: the next tile may lie past A's last row (a prefetch never faults).
      const std::uintptr_t p =
          reinterpret_cast<std::uintptr_t>(a) + static_cast<std::uintptr_t>(r * lda + k) * sizeof(AType);
      _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
      prefetch_rows<r + 1, R>(a, lda, k);
    }
  }

  // The K tail: a zero-padded copy of the last k % 4 values of each row.
  template <int r, int R, class AType>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void dot_rows_tail(__m512i (&acc)[R][kNv], const AType* a,
                                                                         std::int64_t lda, std::int64_t k,
                                                                         const __m512i (&b)[kNv],
                                                                         const std::int8_t*& bp) noexcept {
    if constexpr (r < R) {
      __m512i x = _mm512_set1_epi32(static_cast<int>(load_tail_group(a + r * lda, k)));
      if (std::is_same<AType, std::int8_t>::value)
        x = _mm512_xor_si512(x, _mm512_set1_epi32(static_cast<int>(0x80808080u)));
      dot_vectors<0, reg_b<R, AType>()>(acc[r], x, b, bp);
      dot_rows_tail<r + 1, R>(acc, a, lda, k, b, bp);
    }
  }

  // An empty asm on every accumulator after the K loop: the epilogue then works on new values, so
  // the register allocator does not let the epilogue's needs (the 8-bit row store packs four
  // accumulators at once) decide where the K loop keeps its accumulators (without it, GCC 12
  // moved them through the stack on every k step: -45 %).
  template <int r, int R>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void barrier_rows(__m512i (&acc)[R][kNv]) noexcept {
    if constexpr (r < R) {
      barrier_vectors<0>(acc[r]);
      barrier_rows<r + 1, R>(acc);
    }
  }
  template <int v>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void barrier_vectors(__m512i (&acc)[kNv]) noexcept {
    if constexpr (v < kNv) {
      __asm__("" : "+v"(acc[v]));
      barrier_vectors<v + 1>(acc);
    }
  }

  // The accumulators start at neg_corr (the zero-point correction, and a leading AddBias): the
  // epilogue then needs no subtraction (acc = -corr + sum of products, the same bits mod 2^32).
  template <int r, int R, class AType, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void init_rows(__m512i (&acc)[R][kNv], const GemmTask<AType>& t,
                                                                     std::int64_t m0,
                                                                     const GemmEpilogue<Out, Pipeline>& e,
                                                                     const Params<Out, Pipeline>& pp) noexcept {
    if constexpr (r < R) {
      if (r == 0 || e.zero_point_per_row) {
        make_neg_corrections<0>(acc[r], t, e.zero_point_u(m0 + r), pp);
      } else {
        copy_vectors<0>(acc[r], acc[0]);  // a per-tensor zero point: every row starts alike
      }
      init_rows<r + 1, R>(acc, t, m0, e, pp);
    }
  }
  template <int v>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void copy_vectors(__m512i (&dst)[kNv],
                                                                        const __m512i (&src)[kNv]) noexcept {
    if constexpr (v < kNv) {
      dst[v] = src[v];
      copy_vectors<v + 1>(dst, src);
    }
  }

  // Epilogue on the register tile: pipeline and store, row by row.
  template <int r, int R, bool Full, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void finish_rows(const __m512i (&acc)[R][kNv],
                                                                       std::int64_t col_begin, std::int64_t m0, Out* c,
                                                                       std::int64_t ldc,
                                                                       const Params<Out, Pipeline>& pp) noexcept {
    if constexpr (r < R) {
      const std::int64_t row = m0 + r;
      Out* out = c + row * ldc + col_begin;
      constexpr std::size_t kFirst = starts_with_bias<Pipeline>::value ? 1 : 0;  // the bias is in acc
      if constexpr (kNv == 4 && (std::is_same<Out, std::uint8_t>::value || std::is_same<Out, std::int8_t>::value)) {
        store_row_8bit_panel<kFirst, Full>(pp, acc[r][0], acc[r][1], acc[r][2], acc[r][3], row, out);
      } else {
        finish_vectors<0, kFirst, Full>(acc[r], row, out, pp);
      }
      finish_rows<r + 1, R, Full>(acc, col_begin, m0, c, ldc, pp);
    }
  }

  // K groups [0, k_full) of one piece of A (b moves on through the panel).
  template <int R, class AType>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void k_loop(__m512i (&acc)[R][kNv], const AType* a,
                                                                  std::int64_t lda, std::int64_t k_full,
                                                                  std::int64_t prefetch_ahead,
                                                                  const std::int8_t*& b) noexcept {
    for (std::int64_t k = 0; k < k_full; k += 4, b += kNr * kKr) {
      if ((k & 63) == 0) prefetch_rows<0, R>(a, lda, k + prefetch_ahead);
      __m512i bv[kNv];
      load_panel_group<0, reg_b<R, AType>()>(bv, b);
      dot_rows<0, R>(acc, a, lda, k, bv, b);
    }
  }

  template <int R, class AType, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void tile(const GemmTask<AType>& t, std::int64_t m0,
                                                                const GemmEpilogue<Out, Pipeline>& e,
                                                                const Params<Out, Pipeline>& params) noexcept {
    // Read the parameters through a pointer the compiler cannot see through: it then loads them
    // where they are used instead of keeping them in registers across the K loop (where the 28
    // accumulators leave none spare).
    const Params<Out, Pipeline>* pp = here(&params);
    __m512i acc[R][kNv];
    init_rows<0, R>(acc, t, m0, e, *pp);
    const auto* b = static_cast<const std::int8_t*>(t.panel);
    // A prefetch, one line per row every 64 k: for short rows the next tile's A (it arrives while
    // this tile runs); for long rows (K >= 1024) this tile's own A, 256 bytes ahead: a line fetched
    // for the next tile would meet K * 64 bytes of panel streaming through L1 before its use and be
    // evicted (128 x 4096 x 4096: +3 to +6 %).
    const std::int64_t prefetch_ahead = t.k >= 1024 ? 256 : R * t.lda;
    // The pieces of A in turn (pieces but the last are whole groups), the K tail after the last.
    // Written as one loop with the next piece set up after the exit test: a nested loop with the
    // tail inside cost the short-K 8-bit tiles 3 %, a flat loop switching A inside the K loop
    // cost int32 64 x 64 x 64 5 %, a separate one-piece loop 1.5 % (code size); this shape
    // measured at par with the one-piece kernel (docs/benchmarks.md, "The row path").
    const AType* a = t.piece[0] + m0 * t.lda;
    std::int64_t k_n = t.piece_k(0), k_full = k_n & ~std::int64_t{3};
    for (int s = 0;; ++s) {
      k_loop<R>(acc, a, t.lda, k_full, prefetch_ahead, b);
      if (s + 1 == t.pieces) break;
      a = t.piece[s + 1] + m0 * t.lda;
      k_n = t.piece_k(s + 1);
      k_full = k_n & ~std::int64_t{3};
    }
    if (k_full != k_n) {
      __m512i bv[kNv];
      load_panel_group<0, reg_b<R, AType>()>(bv, b);
      dot_rows_tail<0, R>(acc, a, t.lda, k_n, bv, b);
    }
    barrier_rows<0, R>(acc);
    pp = here(pp);
    // Unmasked stores only for the full-height tiles: the rest tiles (4, 2, 1 rows, a few per
    // panel) store through the lane masks, which are all-ones on a full panel, and so carry one
    // copy of the epilogue instead of two.
    if constexpr (R >= kMr - 1) {
      if (t.cols == kNr) {
        finish_rows<0, R, true>(acc, t.col_begin, m0, e.c, e.ldc, *pp);
        return;
      }
    }
    finish_rows<0, R, false>(acc, t.col_begin, m0, e.c, e.ldc, *pp);
  }
};

}  // namespace detail
}  // namespace qsafe

QSAFE_AVX512_CODE_END

#endif  // QSAFE_KERNEL_ARCH_AVX512_VNNI_UKERNEL_HPP_
