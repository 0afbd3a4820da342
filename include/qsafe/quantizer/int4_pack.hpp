// qsafe/quantizer/int4_pack.hpp: packed int4 - two 4-bit values per byte.
//
// Layout (the usual one: ONNX int4, GGML, PyTorch's quint4x2): element 2i sits in the LOW nibble
// (bits 0-3) of byte i, element 2i+1 in the HIGH nibble (bits 4-7):
//
//   byte i:  [ 7 6 5 4 | 3 2 1 0 ]
//              x[2i+1]    x[2i]
//
// Signed values (Int = int8_t) are stored as 4-bit two's complement, [-8, 7] (narrow range
// [-7, 7] allowed); unsigned ones (Int = uint8_t) as [0, 15]. n values take (n + 1) / 2 bytes; for
// odd n the unused high nibble of the last byte is written as 0 and ignored when unpacking.
// The quantize/dequantize helpers use exactly Quantizer<Int, 4, ...>'s arithmetic (same loops),
// so packing is the only difference from the unpacked int4-in-int8 form.
#ifndef QSAFE_QUANTIZER_INT4_PACK_HPP_
#define QSAFE_QUANTIZER_INT4_PACK_HPP_

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/rounding.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/quantizer/detail/vector_loops.hpp"
#include "qsafe/quantizer/qparams_from_range.hpp"

namespace qsafe {

// Bytes needed for n packed int4 values.
constexpr std::size_t packed_int4_bytes(std::size_t n) noexcept { return n / 2 + (n & 1u); }

namespace detail {

template <class Int>
constexpr void check_int4_storage() noexcept {
  static_assert(std::is_same<Int, std::int8_t>::value || std::is_same<Int, std::uint8_t>::value,
                "packed int4 unpacks to int8_t (signed) or uint8_t (unsigned)");
}

template <class Int>
constexpr bool fits_int4(Int v) noexcept {
  return std::is_signed<Int>::value ? (v >= -8 && v <= 7) : (static_cast<int>(v) <= 15);
}

template <class Int>
constexpr Int nibble_value(std::uint8_t nibble) noexcept {
  if constexpr (std::is_signed<Int>::value) {
    return static_cast<Int>(static_cast<int>(nibble ^ 0x8u) - 8);  // sign-extend 4 bits
  } else {
    return static_cast<Int>(nibble);
  }
}

// Packs values known to fit (no checks).
template <class Int>
inline void pack_int4_unchecked(const Int* v, std::size_t n, std::uint8_t* packed) noexcept {
  std::size_t i = 0;
  for (; i + 1 < n; i += 2)
    packed[i / 2] = static_cast<std::uint8_t>((static_cast<unsigned>(v[i]) & 0xfu) |
                                              ((static_cast<unsigned>(v[i + 1]) & 0xfu) << 4));
  if (i < n) packed[i / 2] = static_cast<std::uint8_t>(static_cast<unsigned>(v[i]) & 0xfu);
}

}  // namespace detail

// values[0..n) -> packed[0..packed_int4_bytes(n)). Errors: shape_mismatch (packed has another
// size), out_of_range (a value outside [-8, 7] / [0, 15]; nothing is written), null_pointer.
template <class Int>
[[nodiscard]] Status pack_int4(Span<const Int> values, Span<std::uint8_t> packed) noexcept {
  detail::check_int4_storage<Int>();
  if (packed.size() != packed_int4_bytes(values.size())) return Status::shape_mismatch;
  if (!values.empty() && (values.data() == nullptr || packed.data() == nullptr)) return Status::null_pointer;
  for (const Int v : values)
    if (!detail::fits_int4(v)) return Status::out_of_range;
  detail::pack_int4_unchecked(values.data(), values.size(), packed.data());
  return Status::ok;
}

// packed[0..packed_int4_bytes(n)) -> values[0..n), n = values.size().
template <class Int>
[[nodiscard]] Status unpack_int4(Span<const std::uint8_t> packed, Span<Int> values) noexcept {
  detail::check_int4_storage<Int>();
  if (packed.size() != packed_int4_bytes(values.size())) return Status::shape_mismatch;
  if (!values.empty() && (values.data() == nullptr || packed.data() == nullptr)) return Status::null_pointer;
  const std::size_t n = values.size();
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t byte = packed[i / 2];
    values[i] = detail::nibble_value<Int>((i & 1u) ? static_cast<std::uint8_t>(byte >> 4)
                                                   : static_cast<std::uint8_t>(byte & 0xfu));
  }
  return Status::ok;
}

// Quantizes x (per tensor: one QParams) straight into packed int4, as Quantizer<Int, 4, ...,
// Rounding>(options) would, then packs. NaN -> zero point, +-Inf -> the ends, reported as
// non_finite_input after everything is written. Errors as pack_int4, plus check_qparams's.
template <class Int, class Rounding = RoundHalfEven>
[[nodiscard]] Status quantize_int4_packed(Span<const float> x, QParams p, Span<std::uint8_t> packed,
                                          QRangeOptions options = {}) noexcept {
  detail::check_int4_storage<Int>();
  if (packed.size() != packed_int4_bytes(x.size())) return Status::shape_mismatch;
  if (!x.empty() && (x.data() == nullptr || packed.data() == nullptr)) return Status::null_pointer;
  const QRange r = qrange_of<Int, 4>(options);
  QSAFE_RETURN_IF_ERROR(check_qparams(p, r));
  const detail::QuantScale s(p.scale);
  constexpr std::size_t kChunk = 256;  // even, so chunks start on byte boundaries
  Int q[kChunk];
  std::size_t non_finite = 0;
  for (std::size_t i = 0; i < x.size(); i += kChunk) {
    const std::size_t n = x.size() - i < kChunk ? x.size() - i : kChunk;
    non_finite += detail::quantize_loop<Rounding>(x.data() + i, n, s, p.zero_point, r, q);
    detail::pack_int4_unchecked(q, n, packed.data() + i / 2);
  }
  return non_finite == 0 ? Status::ok : Status::non_finite_input;
}

// x[i] = (q[i] - zero_point) * scale for the n = x.size() packed values.
template <class Int>
[[nodiscard]] Status dequantize_int4_packed(Span<const std::uint8_t> packed, QParams p, Span<float> x) noexcept {
  detail::check_int4_storage<Int>();
  if (packed.size() != packed_int4_bytes(x.size())) return Status::shape_mismatch;
  if (!x.empty() && (x.data() == nullptr || packed.data() == nullptr)) return Status::null_pointer;
  if (!detail::is_finite(p.scale)) return Status::non_finite_input;
  constexpr std::size_t kChunk = 256;
  Int q[kChunk];
  for (std::size_t i = 0; i < x.size(); i += kChunk) {
    const std::size_t n = x.size() - i < kChunk ? x.size() - i : kChunk;
    const Status s =
        unpack_int4(Span<const std::uint8_t>(packed.data() + i / 2, packed_int4_bytes(n)), Span<Int>(q, n));
    if (s != Status::ok) return s;
    detail::dequantize_loop(q, n, p.scale, p.zero_point, x.data() + i);
  }
  return Status::ok;
}

}  // namespace qsafe

#endif  // QSAFE_QUANTIZER_INT4_PACK_HPP_
