// qsafe/core/tensor_view.hpp: shapes and non-owning views over C-order (row-major) data.
#ifndef QSAFE_CORE_TENSOR_VIEW_HPP_
#define QSAFE_CORE_TENSOR_VIEW_HPP_

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "qsafe/config.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {

inline constexpr int kMaxRank = 8;

// Dimensions of a C-order tensor. Rank 0 is a scalar (one element).
class Shape {
 public:
  constexpr Shape() noexcept = default;
  constexpr Shape(std::initializer_list<std::int64_t> dims) noexcept {
    for (std::int64_t d : dims) {
      if (rank_ == kMaxRank) {  // too many dims: mark invalid, check() reports it
        valid_ = false;
        break;
      }
      dims_[rank_++] = d;
    }
  }
  static constexpr Shape from(const std::int64_t* dims, int rank) noexcept {
    Shape s;
    if (rank < 0 || rank > kMaxRank) {
      s.valid_ = false;
      return s;
    }
    for (int i = 0; i < rank; ++i) s.dims_[i] = dims[i];
    s.rank_ = rank;
    return s;
  }
  constexpr int rank() const noexcept { return rank_; }
  constexpr std::int64_t operator[](int i) const noexcept {
    QSAFE_DCHECK(i >= 0 && i < rank_);
    return dims_[i];
  }
  constexpr std::int64_t dim(int i) const noexcept { return (*this)[i]; }
  // Number of elements; 0 if any dim is 0. Only meaningful when check() is ok.
  constexpr std::int64_t numel() const noexcept {
    std::int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[i];
    return n;
  }
  // ok, or invalid_argument for negative dims, too many dims or an element count over 2^62.
  constexpr Status check() const noexcept {
    if (!valid_) return Status::invalid_argument;
    std::int64_t n = 1;
    for (int i = 0; i < rank_; ++i) {
      if (dims_[i] < 0) return Status::invalid_argument;
      if (dims_[i] != 0 && n > (std::int64_t{1} << 62) / dims_[i]) return Status::invalid_argument;
      n *= dims_[i];
    }
    return Status::ok;
  }
  friend constexpr bool operator==(const Shape& a, const Shape& b) noexcept {
    if (a.rank_ != b.rank_ || a.valid_ != b.valid_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.dims_[i] != b.dims_[i]) return false;
    return true;
  }
  friend constexpr bool operator!=(const Shape& a, const Shape& b) noexcept { return !(a == b); }

 private:
  std::int64_t dims_[kMaxRank] = {};
  int rank_ = 0;
  bool valid_ = true;
};

// A C-order tensor seen as [outer, extent, inner] around one axis: the shape every per-channel
// and per-group loop walks. Element (o, a, i) sits at (o * extent + a) * inner + i.
struct AxisSplit {
  std::int64_t outer = 1;
  std::int64_t extent = 1;
  std::int64_t inner = 1;
};

// Negative axes count from the back, as in NumPy and PyTorch.
constexpr Result<AxisSplit> split_at_axis(const Shape& shape, int axis) noexcept {
  if (shape.check() != Status::ok) return Status::invalid_argument;
  if (axis < 0) axis += shape.rank();
  if (axis < 0 || axis >= shape.rank()) return Status::invalid_argument;
  AxisSplit s;
  for (int i = 0; i < axis; ++i) s.outer *= shape[i];
  s.extent = shape[axis];
  for (int i = axis + 1; i < shape.rank(); ++i) s.inner *= shape[i];
  return s;
}

// A non-owning C-order tensor.
template <class T>
struct TensorView {
  T* data = nullptr;
  Shape shape;

  constexpr TensorView() noexcept = default;
  constexpr TensorView(T* d, Shape s) noexcept : data(d), shape(s) {}
  template <class U, class = std::enable_if_t<std::is_convertible<U*, T*>::value>>
  constexpr TensorView(const TensorView<U>& o) noexcept : data(o.data), shape(o.shape) {}  // NOLINT
  constexpr std::int64_t numel() const noexcept { return shape.numel(); }
  constexpr Span<T> span() const noexcept { return Span<T>(data, static_cast<std::size_t>(numel())); }
  // ok, invalid_argument for a bad shape, null_pointer for null data with elements.
  constexpr Status check() const noexcept {
    QSAFE_RETURN_IF_ERROR(shape.check());
    if (data == nullptr && numel() != 0) return Status::null_pointer;
    return Status::ok;
  }
};

// A row-major matrix view with a row stride (in elements), so sub-blocks and padded rows work.
template <class T>
class MatrixView {
 public:
  constexpr MatrixView() noexcept = default;
  constexpr MatrixView(T* data, std::int64_t rows, std::int64_t cols) noexcept
      : data_(data), rows_(rows), cols_(cols), stride_(cols) {}
  constexpr MatrixView(T* data, std::int64_t rows, std::int64_t cols, std::int64_t row_stride) noexcept
      : data_(data), rows_(rows), cols_(cols), stride_(row_stride) {}
  template <class U, class = std::enable_if_t<std::is_convertible<U*, T*>::value>>
  constexpr MatrixView(const MatrixView<U>& o) noexcept  // NOLINT: T -> const T
      : data_(o.data()), rows_(o.rows()), cols_(o.cols()), stride_(o.row_stride()) {}

  constexpr T* data() const noexcept { return data_; }
  constexpr std::int64_t rows() const noexcept { return rows_; }
  constexpr std::int64_t cols() const noexcept { return cols_; }
  constexpr std::int64_t row_stride() const noexcept { return stride_; }
  constexpr T* row(std::int64_t r) const noexcept { return data_ + r * stride_; }
  constexpr T& operator()(std::int64_t r, std::int64_t c) const noexcept {
    QSAFE_DCHECK(r >= 0 && r < rows_ && c >= 0 && c < cols_);
    return data_[r * stride_ + c];
  }
  // ok, invalid_argument for negative sizes or a stride shorter than a row, null_pointer for
  // null data with elements.
  constexpr Status check() const noexcept {
    if (rows_ < 0 || cols_ < 0 || stride_ < cols_) return Status::invalid_argument;
    if (data_ == nullptr && rows_ != 0 && cols_ != 0) return Status::null_pointer;
    return Status::ok;
  }

 private:
  T* data_ = nullptr;
  std::int64_t rows_ = 0;
  std::int64_t cols_ = 0;
  std::int64_t stride_ = 0;
};

}  // namespace qsafe

#endif  // QSAFE_CORE_TENSOR_VIEW_HPP_
