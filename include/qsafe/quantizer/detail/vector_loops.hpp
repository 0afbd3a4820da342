// qsafe/quantizer/detail/vector_loops.hpp: the loops Quantizer calls. They pick a vectorised
// implementation at the compile-time ISA when one exists, else the scalar reference
// (element_loops.hpp); both give bit-identical results.
#ifndef QSAFE_QUANTIZER_DETAIL_VECTOR_LOOPS_HPP_
#define QSAFE_QUANTIZER_DETAIL_VECTOR_LOOPS_HPP_

#include <cstddef>
#include <cstdint>

#include "qsafe/quantizer/detail/element_loops.hpp"

namespace qsafe {
namespace detail {

template <class Rounding, class Int>
inline std::size_t quantize_loop(const float* x, std::size_t n, float inv_scale, std::int32_t zero_point, QRange r,
                                 Int* q) noexcept {
  return quantize_loop_scalar<Rounding>(x, n, inv_scale, zero_point, r, q);
}

template <class Int>
inline void dequantize_loop(const Int* q, std::size_t n, float scale, std::int32_t zero_point, float* x) noexcept {
  dequantize_loop_scalar(q, n, scale, zero_point, x);
}

template <class Rounding>
inline std::size_t fake_quantize_loop(const float* x, std::size_t n, float scale, float inv_scale,
                                      std::int32_t zero_point, QRange r, float* y, std::uint8_t* mask) noexcept {
  return fake_quantize_loop_scalar<Rounding>(x, n, scale, inv_scale, zero_point, r, y, mask);
}

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_QUANTIZER_DETAIL_VECTOR_LOOPS_HPP_
