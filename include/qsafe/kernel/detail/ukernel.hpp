// qsafe/kernel/detail/ukernel.hpp: the micro-kernel interface every ISA implements.
//
// A path provides one specialization GemmUkernel<arch::its_tag> (in arch/<isa>/ukernel.hpp):
//
//   static constexpr int kMr;     rows of the register tile
//   static constexpr int kNr;     columns of a packed weight panel (= of the register tile)
//   static constexpr int kKr;     consecutive k per 32-bit lane in the packed panel (4: int8 dot
//                                 products; 2: int16 pairs for vpmaddwd)
//   static constexpr int kKPad;   K is zero-padded to a multiple of this in the panel (kKr | kKPad)
//   using BElem = std::int8_t;    packed weight element (std::int16_t for widening kernels)
//   template <class AType, class Out, class Pipeline>
//   static void run(const GemmTask<AType>& task, const GemmEpilogue<Out, Pipeline>& epi) noexcept;
//
// and, only if it reads A from a packed copy (the AVX2 path widens A to int16 once):
//
//   static std::size_t packed_a_size(std::int64_t m, std::int64_t k_padded) noexcept;  // bytes
//   template <class AType>
//   static void pack_a(const PiecewiseA<AType>& a, std::int64_t k_padded, void* out) noexcept;
//
// The driver then packs A into the caller's workspace (64-byte aligned) once per gemm() call and
// passes it as task.a_packed; gemm_workspace_size() reports packed_a_size + 64.
//
// run() computes C[row_begin:row_end, col_begin:col_begin+cols] for one weight panel:
//
//   raw[m][n] = sum_k u(A[m][k]) * B[k][n]        (mod 2^32; u(a) = a for uint8 A,
//                                                  u(a) = a + 128 = a ^ 0x80 for int8 A)
//   acc[m][n] = raw[m][n] - zp_u[m] * col_sums[n]  (mod 2^32; zp_u = epi.zero_point(m), which
//                                                  already holds the +128 for int8 A)
//   C[m][n]   = store(pipeline(acc[m][n]))
//
// acc is then exactly sum_k (A[m][k] - zero_point[m]) * B[k][n] (K <= kGemmMaxK, see
// packed_weights.hpp). A is read in place, row-major with stride lda: a kernel must not read past
// A[m][K-1] of any row (tails of K are copied to a small padded stack buffer), must not touch rows
// outside [row_begin, row_end) nor write columns >= col_begin + cols. The panel, its col_sums
// (kNr of them) and the padding inside them are qsafe's own and may be read in full.
//
// A comes in pieces (PiecewiseA below): row m is the concatenation of task.pieces pieces, piece s
// being piece_k(s) values at task.piece[s] + m * lda. A plain matrix is one piece; conv2d passes
// one piece per kernel row of the window (an input row's kernel_w * C values). Every piece but the
// last is a multiple of 4 values long, so a kernel that reads A four values at a time runs each
// piece's groups in turn and meets a K tail only at the end of the last; k-group g of the panel
// belongs to the piece that holds k = 4g.
//
// A is read-only: a kernel must never write A (nor a packed copy another task may read), and must
// accept rows that overlap (lda shorter than K). conv2d relies on it: consecutive output pixels'
// windows overlap in the same input rows.
//
// A kernel may do anything internally (this contract is all the driver and tests rely on). The
// helpers below give every kernel the scalar epilogue for free: finish_element() applies the
// zero-point correction, the pipeline and the store exactly as the reference does.
//
// An ISA without its own specialization inherits its parent's (the primary template below), so a
// new tag works, correctly and slowly, before its kernel exists.
#ifndef QSAFE_KERNEL_DETAIL_UKERNEL_HPP_
#define QSAFE_KERNEL_DETAIL_UKERNEL_HPP_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qsafe/config.hpp"
#include "qsafe/core/tensor_view.hpp"
#include "qsafe/kernel/arch/scalar/output.hpp"
#include "qsafe/kernel/output_stage.hpp"

namespace qsafe {
namespace detail {

template <class Isa>
struct GemmUkernel : GemmUkernel<typename Isa::parent> {};

// Whether a micro-kernel packs A (declares packed_a_size / pack_a).
template <class U, class = void>
struct packs_a : std::false_type {};
template <class U>
struct packs_a<U, decltype(void(U::packed_a_size(std::int64_t{}, std::int64_t{})))> : std::true_type {};

template <class U>
std::size_t workspace_bytes(std::int64_t m, std::int64_t k_padded) noexcept {
  if constexpr (packs_a<U>::value) {
    return U::packed_a_size(m, k_padded) + 64;
  } else {
    return 0;
  }
}

// Values of piece s of k values cut into `pieces` pieces of piece_len (the last holds the rest).
QSAFE_ALWAYS_INLINE constexpr std::int64_t piece_length(std::int64_t k, int pieces, std::int64_t piece_len,
                                                        int s) noexcept {
  return s + 1 == pieces ? k - s * piece_len : piece_len;
}

// A [rows x k] as pieces of its rows (see the contract above). Row m, columns [s * piece_len,
// s * piece_len + piece_k(s)) are piece[s][m * lda ...].
template <class AType>
struct PiecewiseA {
  const AType* const* piece = nullptr;
  int pieces = 0;
  std::int64_t piece_len = 0;  // values in every piece but the last (a multiple of 4 if pieces > 1)
  std::int64_t lda = 0;
  std::int64_t rows = 0;
  std::int64_t k = 0;  // values per row, all pieces

  // Values of piece s.
  QSAFE_ALWAYS_INLINE std::int64_t piece_k(int s) const noexcept { return piece_length(k, pieces, piece_len, s); }
};

// The A side and the weight panel of one kernel call.
template <class AType>
struct GemmTask {
  const AType* const* piece = nullptr;  // A in pieces (PiecewiseA): piece s of row m at piece[s] + m * lda
  int pieces = 0;
  std::int64_t piece_len = 0;
  std::int64_t lda = 0;
  std::int64_t k = 0;          // logical K (A columns, all pieces)
  std::int64_t k_padded = 0;   // K of the panel (multiple of kKPad); k_padded - k zero rows
  std::int64_t row_begin = 0;  // rows [row_begin, row_end) of A and C
  std::int64_t row_end = 0;
  const void* a_packed = nullptr;          // the kernel's own packed copy of A (pack_a), or null
  const void* panel = nullptr;             // packed weights of columns [col_begin, col_begin + kNr)
  const std::int32_t* col_sums = nullptr;  // kNr sums for this panel
  std::int64_t col_begin = 0;
  int cols = 0;  // valid columns of the panel, 1..kNr

  // Values of piece s (the last holds what is left of k).
  QSAFE_ALWAYS_INLINE std::int64_t piece_k(int s) const noexcept { return piece_length(k, pieces, piece_len, s); }
};

// Where and how results are written.
template <class Out, class Pipeline>
struct GemmEpilogue {
  const Pipeline* pipeline = nullptr;
  Out* c = nullptr;  // C[0][0]; row m starts at c + m * ldc
  std::int64_t ldc = 0;
  const std::int32_t* zero_point = nullptr;  // A's zero point(s) + 128 if A is int8
  bool zero_point_per_row = false;
  std::int32_t zero_point_offset = 0;  // 128 for int8 A, 0 for uint8 A

  QSAFE_ALWAYS_INLINE std::int32_t zero_point_u(std::int64_t row) const noexcept {
    return (zero_point_per_row ? zero_point[row] : zero_point[0]) + zero_point_offset;
  }
};

// Whether a pipeline's first stage is AddBias (kernels fold it into the zero-point correction).
template <class Pipeline>
struct starts_with_bias : std::false_type {};
template <class... S>
struct starts_with_bias<OutputPipeline<AddBias, S...>> : std::true_type {};

// u(a): A's value as the unsigned operand of a u8 x s8 dot product.
QSAFE_ALWAYS_INLINE std::int32_t activation_u8(std::uint8_t a) noexcept { return a; }
QSAFE_ALWAYS_INLINE std::int32_t activation_u8(std::int8_t a) noexcept { return static_cast<std::int32_t>(a) + 128; }

// The reference epilogue of one element (zero-point correction, pipeline, store).
template <class Out, class Pipeline>
QSAFE_ALWAYS_INLINE void finish_element(const GemmEpilogue<Out, Pipeline>& epi, std::int32_t raw, std::int32_t col_sum,
                                        std::int64_t row, std::int64_t col) noexcept {
  const std::uint32_t correction =
      static_cast<std::uint32_t>(epi.zero_point_u(row)) * static_cast<std::uint32_t>(col_sum);
  const std::int32_t acc = static_cast<std::int32_t>(static_cast<std::uint32_t>(raw) - correction);
  store_scalar(epi.c + row * epi.ldc + col, apply_stages_scalar<0>(*epi.pipeline, acc, ElementPos{row, col}));
}

// Copies the last k % 4 values of a row into a zero-padded 4-byte group (the K tail of kernels
// that read A four bytes at a time). Only bytes inside the row are read; the padding bytes meet
// zero weights (the panel is zero-padded in k), so their value does not matter.
// No loop: GCC turns a byte-copy loop into a call to memcpy, and any call inside a micro-kernel
// makes it keep the register tile in memory (calls clobber every vector register).
template <class AType>
QSAFE_ALWAYS_INLINE std::uint32_t load_tail_group(const AType* row, std::int64_t k) noexcept {
  const std::int64_t full = k & ~std::int64_t{3};
  unsigned char bytes[4] = {0, 0, 0, 0};
  if (k > full) bytes[0] = static_cast<unsigned char>(row[full]);
  if (k > full + 1) bytes[1] = static_cast<unsigned char>(row[full + 1]);
  if (k > full + 2) bytes[2] = static_cast<unsigned char>(row[full + 2]);
  std::uint32_t v;
  std::memcpy(&v, bytes, 4);
  return v;
}

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_KERNEL_DETAIL_UKERNEL_HPP_
