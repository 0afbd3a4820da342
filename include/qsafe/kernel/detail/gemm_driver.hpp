// qsafe/kernel/detail/gemm_driver.hpp: the loops around the micro-kernel. Runs after every check
// has passed, so it has no error paths.
//
// Work is cut into tasks = (weight panel, block of rows). The loop order is panel-outer, rows
// inner, so one panel (kNr columns x K) stays in cache while every row block streams past it.
// Each element of C is computed by exactly one task, the same way whatever the partition, so
// results are identical for any thread count.
#ifndef QSAFE_KERNEL_DETAIL_GEMM_DRIVER_HPP_
#define QSAFE_KERNEL_DETAIL_GEMM_DRIVER_HPP_

#include <cstdint>
#include <type_traits>

#include "qsafe/core/tensor_view.hpp"
#include "qsafe/kernel/detail/ukernel.hpp"
#include "qsafe/kernel/packed_weights.hpp"
#include "qsafe/kernel/parallel.hpp"

namespace qsafe {
namespace detail {

template <class Isa, class AType, class Out, class Pipeline>
struct GemmDriver {
  using Ukernel = GemmUkernel<Isa>;
  using BElem = typename Ukernel::BElem;
  // Rows per task: a few register tiles, so small M still yields one task per panel.
  static constexpr std::int64_t kRowBlock = 16 * Ukernel::kMr;

  PiecewiseA<AType> a;
  const PackedWeights* w;
  GemmEpilogue<Out, Pipeline> epi;
  std::int64_t row_blocks;
  const void* a_packed;
  std::int64_t k_begin;          // the panels' first k row A meets (a multiple of kKPad)
  const std::int32_t* col_sums;  // sums over the k rows A meets, n_padded of them

  std::int64_t tasks() const noexcept { return w->panels() * row_blocks; }

  void run_tasks(std::int64_t begin, std::int64_t end) const noexcept {
    GemmTask<AType> t;
    t.piece = a.piece;
    t.pieces = a.pieces;
    t.piece_len = a.piece_len;
    t.lda = a.lda;
    t.k = a.k;
    t.k_padded = PackedWeights::round_up(a.k, Ukernel::kKPad);
    t.a_packed = a_packed;
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t p = task / row_blocks;
      const std::int64_t rb = task % row_blocks;
      t.row_begin = rb * kRowBlock;
      t.row_end = t.row_begin + kRowBlock < a.rows ? t.row_begin + kRowBlock : a.rows;
      // Panel layout [k / kKr][kNr][kKr]: k row k_begin starts k_begin * kNr elements in.
      t.panel = static_cast<const BElem*>(w->panel(p)) + k_begin * Ukernel::kNr;
      t.col_sums = col_sums + p * Ukernel::kNr;
      t.col_begin = p * Ukernel::kNr;
      const std::int64_t left = w->n() - t.col_begin;
      t.cols = static_cast<int>(left < Ukernel::kNr ? left : Ukernel::kNr);
      Ukernel::run(t, epi);
    }
  }

  static void task_body(void* self, std::int64_t begin, std::int64_t end) noexcept {
    static_cast<const GemmDriver*>(self)->run_tasks(begin, end);
  }
};

// C = pipeline(A' * B') with A in pieces. A's k values per row meet the packed weights' k rows
// [k_begin, k_begin + a.k) (conv2d leaves out the kernel rows that lie in the padding: k_begin
// and a.k multiples of 4, col_sums the sums over those rows; a plain GEMM: 0, w.k() and
// w.col_sums()). k_begin is a multiple of 4, and so is a.k unless A reaches the weights' last k
// row: a K tail's padding bytes must meet the panel's zero rows (kernels pad A's last group with
// bytes whose value they do not control: 0, or 0x80 after the int8 flip, or -128 on NEON).
template <class Isa, class AType, class Out, class Pipeline>
void run_gemm_pieces(const PiecewiseA<AType>& a, Span<const std::int32_t> a_zero_point, const PackedWeights& w,
                     std::int64_t k_begin, const std::int32_t* col_sums, const Pipeline& pipeline, MatrixView<Out> c,
                     Span<std::byte> workspace, const ParallelFor& parallel) noexcept {
  using Driver = GemmDriver<Isa, AType, Out, Pipeline>;
  using Ukernel = typename Driver::Ukernel;
  if (a.rows == 0 || w.n() == 0) return;
  void* a_packed = nullptr;
  if constexpr (packs_a<Ukernel>::value) {
    const std::uintptr_t p = reinterpret_cast<std::uintptr_t>(workspace.data());
    a_packed = workspace.data() + ((64 - p % 64) % 64);
    Ukernel::pack_a(a, PackedWeights::round_up(a.k, Ukernel::kKPad), a_packed);
  }
  Driver d{
      a,       &w,      GemmEpilogue<Out, Pipeline>{}, (a.rows + Driver::kRowBlock - 1) / Driver::kRowBlock, a_packed,
      k_begin, col_sums};
  d.epi.pipeline = &pipeline;
  d.epi.c = c.data();
  d.epi.ldc = c.row_stride();
  d.epi.zero_point = a_zero_point.data();
  d.epi.zero_point_per_row = a_zero_point.size() != 1;
  d.epi.zero_point_offset = std::is_same<AType, std::int8_t>::value ? 128 : 0;
  const std::int64_t tasks = d.tasks();
  if (parallel.run != nullptr && tasks > 1) {
    parallel.run(parallel.pool, tasks, &Driver::task_body, &d);
  } else {
    d.run_tasks(0, tasks);
  }
}

// C = pipeline(A' * B') for a plain row-major A (one piece).
template <class Isa, class AType, class Out, class Pipeline>
void run_gemm(MatrixView<const AType> a, Span<const std::int32_t> a_zero_point, const PackedWeights& w,
              const Pipeline& pipeline, MatrixView<Out> c, Span<std::byte> workspace,
              const ParallelFor& parallel) noexcept {
  const AType* const piece = a.data();
  const PiecewiseA<AType> pa{&piece, 1, a.cols(), a.row_stride(), a.rows(), a.cols()};
  run_gemm_pieces<Isa>(pa, a_zero_point, w, 0, w.col_sums(), pipeline, c, workspace, parallel);
}

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_KERNEL_DETAIL_GEMM_DRIVER_HPP_
