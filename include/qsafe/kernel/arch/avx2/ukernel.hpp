// qsafe/kernel/arch/avx2/ukernel.hpp: u8 x s8 -> int32 on AVX2 without VNNI, widened to int16.
//
// Why widen: vpmaddubsw adds two u8*s8 products into a *saturating* int16, and 255*127*2 = 64770
// does not fit; PyTorch's reduce_range exists to dodge exactly that. Here both operands are int16
// and vpmaddwd sums each pair into an int32 lane, so no intermediate can saturate, for any input,
// by construction. (Its cost: one vpmaddwd + one vpaddd per 16 MACs, and 2-byte weights.)
//
//   packed weights (kKr = 2, int16): per pair of k, 2 YMM of 8 columns x (k, k+1):
//       lane j of Bv: B[2g][8v + j], B[2g + 1][8v + j]
//   packed A (pack_a, once per call): u(A) as int16, row-major, row stride k_padded (zero tail)
//   register tile (kMr = 6 rows x kNr = 16 columns), 12 YMM accumulators:
//       B_v = load(panel group g, vector v)        (2 loads per step, shared by the 6 rows)
//       acc[r][v] += vpmaddwd(bcast32(A16[r][2g..2g+1]), B_v)
//   12 accumulators + 2 B + 1 broadcast + 1 product = all 16 YMM registers.
//
// Why not an exact vpmaddubsw (weights split into digits, or A into 7 + 1 bits): each full u8 x s8
// product then needs two byte products, i.e. 16 useful MACs per multiply like vpmaddwd, plus the
// int16 -> int32 step; every such scheme costs more vector ops per MAC than vpmaddwd + vpaddd
// (docs/kernels.md counts them).
#ifndef QSAFE_KERNEL_ARCH_AVX2_UKERNEL_HPP_
#define QSAFE_KERNEL_ARCH_AVX2_UKERNEL_HPP_

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qsafe/core/tensor_view.hpp"
#include "qsafe/kernel/arch/avx2/arch.hpp"
#include "qsafe/kernel/arch/avx2/output.hpp"
#include "qsafe/kernel/detail/ukernel.hpp"

// Tile shape (rows x YMM vectors per row). 6 x 2 measured best on Zen 5 (docs/benchmarks.md):
// 12 accumulators + 2 B + 1 broadcast + 1 product = all 16 YMM registers, no spill.
#ifndef QSAFE_AVX2_MR
#define QSAFE_AVX2_MR 6
#define QSAFE_AVX2_NV 2
#endif

namespace qsafe {
namespace detail {

template <>
struct GemmUkernel<arch::avx2> {
  static constexpr int kMr = QSAFE_AVX2_MR;
  static constexpr int kNv = QSAFE_AVX2_NV;  // YMM vectors per tile row
  static constexpr int kNr = 8 * kNv;
  static constexpr int kKr = 2;
  static constexpr int kKPad = 4;
  using BElem = std::int16_t;
  static constexpr const char* name = "u8s8_gemm_6x16c2__avx2_widen16";

  static std::size_t packed_a_size(std::int64_t m, std::int64_t k_padded) noexcept {
    return static_cast<std::size_t>(m * k_padded) * sizeof(std::int16_t);
  }

  // A16[m][k] = u(A[m][k]) for k < K, 0 up to k_padded (A's pieces gathered into one row).
  template <class AType>
  QSAFE_TARGET_AVX2 static void pack_a(const PiecewiseA<AType>& a, std::int64_t k_padded, void* out) noexcept {
    constexpr bool kFlip = std::is_same<AType, std::int8_t>::value;
    const __m128i flip = _mm_set1_epi8(static_cast<char>(kFlip ? 0x80 : 0));
    for (std::int64_t m = 0; m < a.rows; ++m) {
      std::int16_t* dst = static_cast<std::int16_t*>(out) + m * k_padded;
      for (int s = 0; s < a.pieces; ++s) {
        const AType* src = a.piece[s] + m * a.lda;
        const std::int64_t k = a.piece_k(s);
        std::int64_t i = 0;
        for (; i + 16 <= k; i += 16) {
          const __m128i bytes = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)), flip);
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_cvtepu8_epi16(bytes));
        }
        for (; i < k; ++i) dst[i] = static_cast<std::int16_t>(activation_u8(src[i]));
        dst += k;
      }
      for (std::int64_t i = a.k; i < k_padded; ++i, ++dst) *dst = 0;
    }
  }

  template <class AType, class Out, class Pipeline>
  QSAFE_TARGET_AVX2 static void run(const GemmTask<AType>& t, const GemmEpilogue<Out, Pipeline>& e) noexcept {
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
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX2 static void tail_rows(const GemmTask<AType>& t, std::int64_t m,
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

  // Rows are walked by template recursion (not loops) so every acc[][] index is a constant once
  // inlined and the accumulators stay in registers (see the AVX-512 kernel).
  template <int r, int R>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX2 static void madd_rows(__m256i (&acc)[R][kNv], const std::int16_t* a,
                                                              std::int64_t lda, std::int64_t k,
                                                              const __m256i (&b)[kNv]) noexcept {
    if constexpr (r < R) {
      std::int32_t word;
      std::memcpy(&word, a + r * lda + k, 4);
      const __m256i x = _mm256_set1_epi32(word);  // (A16[r][k], A16[r][k+1]) in every lane
      madd_vectors<0>(acc[r], x, b);
      madd_rows<r + 1, R>(acc, a, lda, k, b);
    }
  }

  // acc += vpmaddwd(x, b), with b already in a register. GCC 12 written with intrinsics folds one
  // of the B loads back into every vpmaddwd (a load per multiply: the loop then runs at the load
  // ports' limit, ~2/3 of the multiplier's) and adds a register move per accumulator per step
  // (it computes the sum into a fresh register). The two instructions in one asm statement, with
  // the accumulator as a read-write operand, leave it nothing to choose.
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX2 static void madd_add(__m256i& acc, __m256i x, __m256i b) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    __m256i product;
    __asm__(  // AT&T and Intel operand order (-masm=intel)
        "vpmaddwd {%[b], %[x], %[p]|%[p], %[x], %[b]}\n\t"
        "vpaddd {%[p], %[acc], %[acc]|%[acc], %[acc], %[p]}"
        : [acc] "+x"(acc), [p] "=&x"(product)
        : [x] "x"(x), [b] "x"(b));
#else
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, b));
#endif
  }

  // acc[v] += vpmaddwd(x, B_v), B_v loaded once per step (below) and shared by the R rows.
  template <int v>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX2 static void madd_vectors(__m256i (&acc)[kNv], __m256i x,
                                                                 const __m256i (&b)[kNv]) noexcept {
    if constexpr (v < kNv) {
      madd_add(acc[v], x, b[v]);
      madd_vectors<v + 1>(acc, x, b);
    }
  }

  template <int v>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX2 static void load_b(__m256i (&b)[kNv], const std::int16_t* p) noexcept {
    if constexpr (v < kNv) {
      b[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 16 * v));
      load_b<v + 1>(b, p);
    }
  }

  template <int R>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX2 static void step(__m256i (&acc)[R][kNv], const std::int16_t* a,
                                                         std::int64_t lda, std::int64_t k,
                                                         const std::int16_t* b) noexcept {
    __m256i bv[kNv];
    load_b<0>(bv, b);
    madd_rows<0, R>(acc, a, lda, k, bv);
  }

  template <int R, class AType, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX2 static void tile(const GemmTask<AType>& t, std::int64_t m0,
                                                         const GemmEpilogue<Out, Pipeline>& e) noexcept {
    __m256i acc[R][kNv];
    QSAFE_UNROLL
    for (int i = 0; i < R * kNv; ++i) acc[i / kNv][i % kNv] = _mm256_setzero_si256();
    const std::int16_t* a = static_cast<const std::int16_t*>(t.a_packed) + m0 * t.k_padded;
    const auto* b = static_cast<const std::int16_t*>(t.panel);
    // No software prefetch of the next tile's A: it measured no faster on the large shapes and 15 %
    // slower on 16 x 4096 x 4096 (6 rows x 8 KB of int16 A pulled into L1 evict the B panel).
    for (std::int64_t k = 0; k < t.k_padded; k += 2, b += kNr * kKr) step<R>(acc, a, t.k_padded, k, b);
    finish_rows<0, R, kNv>(acc, t, m0, e);
  }

  template <int v, class AType, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX2 static void finish_vector(__m256i acc, const GemmTask<AType>& t,
                                                                  std::int64_t row, __m256i zp, Out* c,
                                                                  const GemmEpilogue<Out, Pipeline>& e) noexcept {
    const int left = t.cols - 8 * v;
    if (left <= 0) return;
    const int lanes = left >= 8 ? 8 : left;
    const __m256i sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.col_sums + 8 * v));
    const __m256i x = _mm256_sub_epi32(acc, _mm256_mullo_epi32(zp, sums));
    const Lanes8 l{row, t.col_begin + 8 * v, lanes, lane_mask8(lanes)};
    store(arch::avx2{}, c + 8 * v, apply_stages<0>(arch::avx2{}, *e.pipeline, x, l), l);
  }

 public:
  // Zero-point correction, pipeline and store on a YMM tile of R rows x NV vectors (8 columns
  // each); shared with the AVX-VNNI kernel.
  template <int r, int R, int NV, class AType, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX2 static void finish_rows(const __m256i (&acc)[R][NV], const GemmTask<AType>& t,
                                                                std::int64_t m0,
                                                                const GemmEpilogue<Out, Pipeline>& e) noexcept {
    if constexpr (r < R) {
      const std::int64_t row = m0 + r;
      const __m256i zp = _mm256_set1_epi32(e.zero_point_u(row));
      Out* c = e.c + row * e.ldc + t.col_begin;
      finish_vectors<0, NV>(acc[r], t, row, zp, c, e);
      finish_rows<r + 1, R, NV>(acc, t, m0, e);
    }
  }

 private:
  template <int v, int NV, class AType, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX2 static void finish_vectors(const __m256i (&acc)[NV], const GemmTask<AType>& t,
                                                                   std::int64_t row, __m256i zp, Out* c,
                                                                   const GemmEpilogue<Out, Pipeline>& e) noexcept {
    if constexpr (v < NV) {
      finish_vector<v>(acc[v], t, row, zp, c, e);
      finish_vectors<v + 1, NV>(acc, t, row, zp, c, e);
    }
  }
};

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_AVX2_UKERNEL_HPP_
