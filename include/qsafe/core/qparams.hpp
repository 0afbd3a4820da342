// qsafe/core/qparams.hpp: the value types that describe a quantization: a real range, an integer
// range, a scheme, and the resulting (scale, zero point).
#ifndef QSAFE_CORE_QPARAMS_HPP_
#define QSAFE_CORE_QPARAMS_HPP_

#include <cstdint>
#include <limits>
#include <type_traits>

#include "qsafe/core/status.hpp"

namespace qsafe {

// A closed real interval [lo, hi] as seen by an observer (lo <= hi once valid).
struct Range {
  float lo = 0.f;
  float hi = 0.f;
};

// The integer interval quantized values are clamped to.
struct QRange {
  std::int32_t qmin = 0;
  std::int32_t qmax = 0;
  constexpr std::int32_t levels_minus_one() const noexcept { return qmax - qmin; }
};

// Scale and zero point of one quantization group: x ~= (q - zero_point) * scale.
struct QParams {
  float scale = 1.f;
  std::int32_t zero_point = 0;
};

// Symmetric: zero point fixed at the middle of the integer range, scale from max(|lo|, |hi|).
// Affine: zero point chosen so that both ends of the range are representable.
enum class SchemeKind : std::uint8_t { affine, symmetric };

struct Affine {
  static constexpr SchemeKind kind = SchemeKind::affine;
  static constexpr const char* name = "affine";
};
struct Symmetric {
  static constexpr SchemeKind kind = SchemeKind::symmetric;
  static constexpr const char* name = "symmetric";
};

// How the integer range is derived from a storage type and a logical bit width.
struct QRangeOptions {
  // Symmetric signed types drop the most negative level (int8: [-127, 127]), as TFLite weights do.
  bool narrow_range = false;
  // PyTorch's reduce_range: one bit less (quint8 [0, 127], qint8 [-64, 63]), which keeps x86
  // u8*s8 pair sums inside int16 for kernels that use vpmaddubsw without widening.
  bool reduce_range = false;
};

// [qmin, qmax] of a Bits-wide integer held in Int. Bits in [2, 16], at most Int's width.
template <class Int, int Bits = static_cast<int>(sizeof(Int) * 8)>
constexpr QRange qrange_of(QRangeOptions options = {}) noexcept {
  static_assert(std::is_integral<Int>::value, "Int must be an integer type");
  static_assert(Bits >= 2 && Bits <= 16, "logical bit width must be in [2, 16]");
  static_assert(Bits <= static_cast<int>(sizeof(Int) * 8), "Bits must fit in Int");
  const int bits = options.reduce_range ? Bits - 1 : Bits;
  QRange r;
  if (std::is_signed<Int>::value) {
    r.qmin = -(std::int32_t{1} << (bits - 1));
    r.qmax = (std::int32_t{1} << (bits - 1)) - 1;
    if (options.narrow_range) r.qmin += 1;
  } else {
    r.qmin = 0;
    r.qmax = (std::int32_t{1} << bits) - 1;
  }
  return r;
}

// Checks a run-time integer range: qmin < qmax and both within int16/uint16 storage.
constexpr Status check_qrange(QRange r) noexcept {
  if (r.qmin >= r.qmax) return Status::invalid_argument;
  if (r.qmin < -32768 || r.qmax > 65535) return Status::invalid_argument;
  return Status::ok;
}

}  // namespace qsafe

#endif  // QSAFE_CORE_QPARAMS_HPP_
