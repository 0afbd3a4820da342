// qsafe/quantizer/granularity.hpp: which elements share one (scale, zero point).
//
// A C-order tensor is seen as [outer, extent, inner] around `axis` (core/tensor_view.hpp):
//   PerTensor   one pair for everything;
//   PerChannel  one pair per index along `axis` (PyTorch's per_channel_affine, ch_axis);
//   PerGroup    one pair per block of `group_size` consecutive indices along `axis`, separately
//               for every (outer, inner) position: params form a [outer, ceil(extent/G), inner]
//               tensor (for weights [N, K] grouped along K: [N, ceil(K/G)], the usual int4 layout).
//               The last group may be shorter.
#ifndef QSAFE_QUANTIZER_GRANULARITY_HPP_
#define QSAFE_QUANTIZER_GRANULARITY_HPP_

#include <cstdint>

#include "qsafe/core/status.hpp"
#include "qsafe/core/tensor_view.hpp"

namespace qsafe {

struct PerTensor {
  static constexpr const char* name = "per_tensor";
};

struct PerChannel {
  static constexpr const char* name = "per_channel";
  int axis = 0;
};

struct PerGroup {
  static constexpr const char* name = "per_group";
  int axis = -1;
  std::int64_t group_size = 32;
};

// How a granularity maps a tensor of a given shape onto its parameter array.
struct ParamLayout {
  AxisSplit split;              // the tensor around the axis (all ones for PerTensor)
  std::int64_t groups = 1;      // parameter slots along the axis (1, extent, or ceil(extent / G))
  std::int64_t group_size = 1;  // consecutive axis indices sharing a slot
  bool per_inner = false;       // PerGroup: one slot per inner position as well
  std::int64_t count() const noexcept { return per_inner ? split.outer * groups * split.inner : groups; }
  // Parameter index of element (o, a, i).
  std::int64_t index(std::int64_t o, std::int64_t a, std::int64_t i) const noexcept {
    return per_inner ? (o * groups + a / group_size) * split.inner + i : a / group_size;
  }
};

inline Result<ParamLayout> param_layout(PerTensor, const Shape& shape) noexcept {
  if (shape.check() != Status::ok) return Status::invalid_argument;
  ParamLayout l;
  l.split.extent = shape.numel();
  l.group_size = l.split.extent > 0 ? l.split.extent : 1;
  return l;
}

inline Result<ParamLayout> param_layout(PerChannel g, const Shape& shape) noexcept {
  const Result<AxisSplit> s = split_at_axis(shape, g.axis);
  if (!s.ok()) return s.status();
  ParamLayout l;
  l.split = s.value();
  l.groups = l.split.extent;
  return l;
}

inline Result<ParamLayout> param_layout(PerGroup g, const Shape& shape) noexcept {
  if (g.group_size <= 0) return Status::invalid_argument;
  const Result<AxisSplit> s = split_at_axis(shape, g.axis);
  if (!s.ok()) return s.status();
  ParamLayout l;
  l.split = s.value();
  l.group_size = g.group_size;
  l.groups = (l.split.extent + g.group_size - 1) / g.group_size;
  l.per_inner = true;
  return l;
}

}  // namespace qsafe

#endif  // QSAFE_QUANTIZER_GRANULARITY_HPP_
