// qsafe/kernel/packed_weights.hpp: int8 weights laid out once for one kernel path.
//
// PackedWeights is a non-owning view over caller storage (no allocation in the core). It records
// the path it was packed for; running it on another path returns Status::invalid_argument.
//
// Storage (64-byte aligned inside the caller's bytes; packed_weights_size() includes the slack):
//
//   [ col_sums : n_padded x int32 ]   col_sums[n] = sum_k B[k][n]  (0 in padding columns)
//   [ pad to 64 bytes ]
//   [ panel 0 ][ panel 1 ] ... [ panel n_padded/nr - 1 ]
//
// n_padded = N rounded up to nr, k_padded = K rounded up to the path's K padding (a multiple of
// kr). Panel p holds columns [p*nr, p*nr + nr) as k_padded/kr groups of nr x kr elements:
//
//   panel p:  group 0                     group 1                     ...
//             n0:k0..k(kr-1) n1:k0.. ...  n0:kkr..k(2kr-1) n1:...     ...
//
//   element (k, n) of the panel sits at ((k / kr) * nr + n % nr) * kr + k % kr
//
// so a vector load at group g holds, in each 32-bit lane, kr consecutive k of one column: the
// operand vpdpbusd (kr = 4, int8), sdot (kr = 4) or vpmaddwd (kr = 2, int16) wants.
// Padding (columns >= N, k >= K) is zero, so kernels may compute on it freely.
#ifndef QSAFE_KERNEL_PACKED_WEIGHTS_HPP_
#define QSAFE_KERNEL_PACKED_WEIGHTS_HPP_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/core/tensor_view.hpp"
#include "qsafe/kernel/arch/arch_id.hpp"

namespace qsafe {

// How the caller's int8 weight matrix is laid out.
enum class WeightLayout : std::uint8_t {
  nk,  // [N, K] row-major: PyTorch nn.Linear.weight, TFLite FullyConnected (output channel first)
  kn,  // [K, N] row-major: the B of C = A * B
};

// Overflow contract. With A in uint8 (zero point in [0, 255]) or int8 (zero point in
// [-128, 127]), |A - zero_point| <= 255, and |B| <= 128, so each product is at most 32640 in
// magnitude and the int32 accumulator is exact for K <= floor((2^31 - 1) / 32640) = 65793.
// Intermediate sums are formed modulo 2^32 (vpdpbusd, vpaddd wrap), which is exact whenever the
// true result fits in int32. (Weights in the narrow range [-127, 127] would allow K <= 66311;
// the check does not depend on the data.) pack_weights and gemm return Status::overflow_risk above.
inline constexpr std::int64_t kGemmMaxK = 65793;

class PackedWeights {
 public:
  constexpr PackedWeights() noexcept = default;

  constexpr arch::Id arch() const noexcept { return arch_; }
  constexpr std::int64_t n() const noexcept { return n_; }
  constexpr std::int64_t k() const noexcept { return k_; }
  constexpr std::int64_t k_padded() const noexcept { return k_padded_; }
  constexpr std::int64_t n_padded() const noexcept { return panels_ * nr_; }
  constexpr std::int64_t panels() const noexcept { return panels_; }
  constexpr int nr() const noexcept { return nr_; }
  constexpr int kr() const noexcept { return kr_; }
  constexpr bool empty() const noexcept { return arch_ == arch::Id::none; }
  // Column sums, n_padded() of them.
  constexpr const std::int32_t* col_sums() const noexcept { return col_sums_; }
  // Panel p: k_padded() * nr() elements of the path's weight type.
  const void* panel(std::int64_t p) const noexcept { return panels_data_ + p * panel_bytes_; }

  // Used by pack_weights (gemm.hpp) only.
  struct Layout {
    arch::Id arch;
    std::int64_t n, k, k_padded;
    int nr, kr, elem_size;
  };
  static constexpr std::size_t kAlign = 64;
  static constexpr std::int64_t round_up(std::int64_t x, std::int64_t m) noexcept { return (x + m - 1) / m * m; }
  static constexpr std::size_t col_sums_bytes(const Layout& l) noexcept {
    return static_cast<std::size_t>(round_up(round_up(l.n, l.nr) * 4, static_cast<std::int64_t>(kAlign)));
  }
  static constexpr std::size_t panel_bytes(const Layout& l) noexcept {
    return static_cast<std::size_t>(l.k_padded * l.nr * l.elem_size);
  }
  static constexpr std::size_t storage_bytes(const Layout& l) noexcept {
    return kAlign - 1 + col_sums_bytes(l) + panel_bytes(l) * static_cast<std::size_t>(round_up(l.n, l.nr) / l.nr);
  }
  // Lays out the view over `storage` (already checked to be large enough) without filling it.
  static PackedWeights over(const Layout& l, std::byte* storage) noexcept {
    const std::uintptr_t p = reinterpret_cast<std::uintptr_t>(storage);
    std::byte* base = storage + ((kAlign - p % kAlign) % kAlign);
    PackedWeights w;
    w.arch_ = l.arch;
    w.n_ = l.n;
    w.k_ = l.k;
    w.k_padded_ = l.k_padded;
    w.nr_ = l.nr;
    w.kr_ = l.kr;
    w.panels_ = round_up(l.n, l.nr) / l.nr;
    w.panel_bytes_ = static_cast<std::int64_t>(panel_bytes(l));
    w.col_sums_ = reinterpret_cast<std::int32_t*>(base);
    w.panels_data_ = base + col_sums_bytes(l);
    return w;
  }
  std::int32_t* mutable_col_sums() const noexcept { return const_cast<std::int32_t*>(col_sums_); }
  std::byte* mutable_panels() const noexcept { return const_cast<std::byte*>(panels_data_); }

 private:
  arch::Id arch_ = arch::Id::none;
  std::int64_t n_ = 0;
  std::int64_t k_ = 0;
  std::int64_t k_padded_ = 0;
  std::int64_t panels_ = 0;
  std::int64_t panel_bytes_ = 0;
  int nr_ = 0;
  int kr_ = 0;
  const std::int32_t* col_sums_ = nullptr;
  const std::byte* panels_data_ = nullptr;
};

namespace detail {

// Fills a PackedWeights view from an [N, K] or [K, N] int8 matrix: zero padding, the (g, n, kk)
// panel order above, and the column sums. BElem is the path's packed element (int8, or int16 for
// kernels that widen before multiplying).
template <class BElem>
void pack_panels(MatrixView<const std::int8_t> w, WeightLayout layout, const PackedWeights& out) noexcept {
  const std::int64_t n = out.n(), k = out.k(), kp = out.k_padded();
  const int nr = out.nr(), kr = out.kr();
  std::int32_t* sums = out.mutable_col_sums();
  for (std::int64_t j = 0; j < out.n_padded(); ++j) sums[j] = 0;
  for (std::int64_t p = 0; p < out.panels(); ++p) {
    BElem* panel = reinterpret_cast<BElem*>(out.mutable_panels()) + p * kp * nr;
    for (std::int64_t i = 0; i < kp * nr; ++i) panel[i] = 0;
    for (int jn = 0; jn < nr; ++jn) {
      const std::int64_t col = p * nr + jn;
      if (col >= n) break;
      std::int32_t sum = 0;
      for (std::int64_t kk = 0; kk < k; ++kk) {
        const std::int8_t v = layout == WeightLayout::nk ? w(col, kk) : w(kk, col);
        panel[((kk / kr) * nr + jn) * kr + kk % kr] = static_cast<BElem>(v);
        sum += v;  // |sum| <= 128 * kGemmMaxK < 2^31
      }
      sums[col] = sum;
    }
  }
}

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_KERNEL_PACKED_WEIGHTS_HPP_
