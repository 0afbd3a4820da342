// qsafe/kernel/arch/scalar/output.hpp: the normative meaning of every output stage, one element at
// a time. SIMD paths provide overloads on their vector types and must match these bit for bit.
#ifndef QSAFE_KERNEL_ARCH_SCALAR_OUTPUT_HPP_
#define QSAFE_KERNEL_ARCH_SCALAR_OUTPUT_HPP_

#include <cstdint>
#include <limits>

#include "qsafe/config.hpp"
#include "qsafe/core/fixed_point.hpp"
#include "qsafe/core/rounding.hpp"
#include "qsafe/kernel/arch/scalar/arch.hpp"
#include "qsafe/kernel/output_stage.hpp"

namespace qsafe {
namespace detail {

// Where one element sits in C.
struct ElementPos {
  std::int64_t row;
  std::int64_t col;
};

// Keeps the compiler from fusing x * y + z into an FMA (GCC contracts across statements under
// -ffp-contract=fast, its default in GNU mode, once FMA is enabled): the SIMD paths round the
// product and the sum separately, so the reference must as well.
QSAFE_ALWAYS_INLINE float opaque(float x) noexcept {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__SSE2__))
  __asm__("" : "+x"(x));
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
  __asm__("" : "+w"(x));
#else
  volatile float v = x;
  x = v;
#endif
  return x;
}

constexpr std::int32_t wrap_add(std::int32_t a, std::int32_t b) noexcept {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
}

template <class T>
QSAFE_ALWAYS_INLINE T channel(Span<const T> s, std::int64_t i) noexcept {
  return s.size() == 1 ? s.data()[0] : s.data()[i];
}

// Largest float magnitude RequantizeFloat rounds; anything beyond saturates there.
constexpr float kRequantizeFloatLimit = 1073741824.f;  // 2^30

inline std::int32_t apply(arch::scalar, const AddBias& s, std::int32_t v, ElementPos p) noexcept {
  return wrap_add(v, channel(s.bias, p.col));
}

inline std::int32_t apply(arch::scalar, const RequantizeQ31& s, std::int32_t v, ElementPos p) noexcept {
  return wrap_add(multiply_by_quantized_multiplier(v, channel(s.multiplier, p.col)), s.zero_point);
}

inline std::int32_t apply(arch::scalar, const RequantizeQ31SingleRound& s, std::int32_t v, ElementPos p) noexcept {
  return wrap_add(multiply_by_quantized_multiplier_single_round(v, channel(s.multiplier, p.col)), s.zero_point);
}

inline std::int32_t apply(arch::scalar, const RequantizeFloat& s, std::int32_t v, ElementPos p) noexcept {
  float x = static_cast<float>(v) * channel(s.multiplier, p.col);
  x = x < -kRequantizeFloatLimit ? -kRequantizeFloatLimit : (x > kRequantizeFloatLimit ? kRequantizeFloatLimit : x);
  return RoundHalfEven::to_int32(x) + s.zero_point;  // |x| <= 2^30 and |zp| < 2^16: no overflow
}

inline float apply(arch::scalar, const Dequantize& s, std::int32_t v, ElementPos p) noexcept {
  const float scale = channel(s.activation_scale, p.row) * channel(s.weight_scale, p.col);
  const float y = opaque(static_cast<float>(v) * scale);
  return s.bias.empty() ? y : y + s.bias.data()[p.col];
}

inline std::int32_t apply(arch::scalar, const Clamp& s, std::int32_t v, ElementPos) noexcept {
  return v < s.lo ? s.lo : (v > s.hi ? s.hi : v);
}

inline float apply(arch::scalar, const ClampFloat& s, float v, ElementPos) noexcept {
  return v < s.lo ? s.lo : (v > s.hi ? s.hi : v);
}

template <std::size_t I, class Pipeline, class V>
QSAFE_ALWAYS_INLINE auto apply_stages_scalar(const Pipeline& p, V v, ElementPos pos) noexcept {
  if constexpr (I == Pipeline::size) {
    return v;
  } else {
    return apply_stages_scalar<I + 1>(p, apply(arch::scalar{}, std::get<I>(p.stages), v, pos), pos);
  }
}

// The final conversion into C's element type.
QSAFE_ALWAYS_INLINE void store_scalar(std::int32_t* out, std::int32_t v) noexcept { *out = v; }
QSAFE_ALWAYS_INLINE void store_scalar(float* out, float v) noexcept { *out = v; }
QSAFE_ALWAYS_INLINE void store_scalar(std::int8_t* out, std::int32_t v) noexcept {
  *out = static_cast<std::int8_t>(v < -128 ? -128 : (v > 127 ? 127 : v));
}
QSAFE_ALWAYS_INLINE void store_scalar(std::uint8_t* out, std::int32_t v) noexcept {
  *out = static_cast<std::uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_SCALAR_OUTPUT_HPP_
