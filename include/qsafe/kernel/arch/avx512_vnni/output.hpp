// qsafe/kernel/arch/avx512_vnni/output.hpp: the output stages on a ZMM row of 16 accumulators
// (16 consecutive columns of one row of C). Bit-identical to arch/scalar/output.hpp; every function
// carries QSAFE_TARGET_AVX512_VNNI and is inlined into the micro-kernel.
#ifndef QSAFE_KERNEL_ARCH_AVX512_VNNI_OUTPUT_HPP_
#define QSAFE_KERNEL_ARCH_AVX512_VNNI_OUTPUT_HPP_

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>

#include "qsafe/config.hpp"
#include "qsafe/kernel/arch/avx512_vnni/arch.hpp"
#include "qsafe/kernel/arch/scalar/output.hpp"
#include "qsafe/kernel/output_stage.hpp"

#define QSAFE_AVX512_INLINE QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI

// GCC 12 PR105593: see config.hpp.
QSAFE_AVX512_CODE_BEGIN

namespace qsafe {
namespace detail {

// 16 columns [col, col + 16) of row `row`; lanes at or beyond N are off in `mask`.
struct Lanes16 {
  std::int64_t row;
  std::int64_t col;
  __mmask16 mask;
};

QSAFE_AVX512_INLINE __m512i load_channel(Span<const std::int32_t> s, std::int64_t col, __mmask16 mask) noexcept {
  return s.size() == 1 ? _mm512_set1_epi32(s.data()[0]) : _mm512_maskz_loadu_epi32(mask, s.data() + col);
}

QSAFE_AVX512_INLINE __m512 load_channel(Span<const float> s, std::int64_t col, __mmask16 mask) noexcept {
  return s.size() == 1 ? _mm512_set1_ps(s.data()[0]) : _mm512_maskz_loadu_ps(mask, s.data() + col);
}

// Per-channel {multiplier, shift} pairs, split into two vectors.
QSAFE_AVX512_INLINE void load_multipliers(Span<const QuantizedMultiplier> s, std::int64_t col, __mmask16 mask,
                                          __m512i& mult, __m512i& shift) noexcept {
  static_assert(sizeof(QuantizedMultiplier) == 8 && offsetof(QuantizedMultiplier, shift) == 4,
                "QuantizedMultiplier must be {int32 multiplier; int32 shift}");
  if (s.size() == 1) {
    mult = _mm512_set1_epi32(s.data()[0].multiplier);
    shift = _mm512_set1_epi32(s.data()[0].shift);
    return;
  }
  // Lane i of the 64-bit view is pair i: masks of the first and second 8 pairs.
  const auto m_lo = static_cast<__mmask8>(mask & 0xff);
  const auto m_hi = static_cast<__mmask8>(mask >> 8);
  const auto* p = reinterpret_cast<const long long*>(s.data() + col);
  const __m512i lo = _mm512_maskz_loadu_epi64(m_lo, p);
  const __m512i hi = _mm512_maskz_loadu_epi64(m_hi, p + 8);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  mult = _mm512_permutex2var_epi32(lo, even, hi);
  shift = _mm512_permutex2var_epi32(lo, odd, hi);
}

// round(x * m / 2^31), ties up: the high half of the 64-bit product plus 2^30, lanes done in even
// and odd halves (vpmuldq multiplies the low dword of each qword; m_odd = m >> 32 per qword).
// m >= 0, so no saturation case.
QSAFE_AVX512_INLINE __m512i srdhm(__m512i x, __m512i m, __m512i m_odd) noexcept {
  const __m512i nudge = _mm512_set1_epi64(std::int64_t{1} << 30);
  const __m512i even = _mm512_add_epi64(_mm512_mul_epi32(x, m), nudge);
  const __m512i odd = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), m_odd), nudge);
  // Result = bits 31..62 of each sum: low dword of (even >> 31), high dword of (odd << 1).
  return _mm512_mask_blend_epi32(0xaaaa, _mm512_srli_epi64(even, 31), _mm512_slli_epi64(odd, 1));
}

// Every stage's parameters for one ZMM column of C (16 output channels from `col`): load() reads
// them and precomputes whatever depends only on the channel (shift masks, rounding terms, the
// per-tensor scale product), apply(v, row) is the per-row arithmetic alone.
template <class Stage>
struct ZmmStage;

template <>
struct ZmmStage<AddBias> {
  __m512i bias;
  QSAFE_AVX512_INLINE static ZmmStage load(const AddBias& s, std::int64_t col, __mmask16 mask) noexcept {
    return {load_channel(s.bias, col, mask)};
  }
  QSAFE_AVX512_INLINE __m512i apply(__m512i v, std::int64_t) const noexcept { return _mm512_add_epi32(v, bias); }
};

// multiply_by_quantized_multiplier: (v << left) -> srdhm -> round(/ 2^right), ties away from zero
// (gemmlowp's RoundingDivideByPOT: remainder > (2^right - 1) / 2 + [v < 0] rounds up), then + zp.
template <>
struct ZmmStage<RequantizeQ31> {
  __m512i mult, mult_odd, left, right, low_bits, half, zero_point;
  QSAFE_AVX512_INLINE static ZmmStage load(const RequantizeQ31& s, std::int64_t col, __mmask16 mask) noexcept {
    ZmmStage z;
    __m512i shift;
    load_multipliers(s.multiplier, col, mask, z.mult, shift);
    const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
    z.mult_odd = _mm512_srli_epi64(z.mult, 32);
    z.left = _mm512_max_epi32(shift, zero);
    z.right = _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero);
    z.low_bits = _mm512_sub_epi32(_mm512_sllv_epi32(one, z.right), one);
    z.half = _mm512_srli_epi32(z.low_bits, 1);
    z.zero_point = _mm512_set1_epi32(s.zero_point);
    return z;
  }
  QSAFE_AVX512_INLINE __m512i apply(__m512i v, std::int64_t) const noexcept {
    const __m512i x = srdhm(_mm512_sllv_epi32(v, left), mult, mult_odd);  // the shift wraps, as the reference
    const __m512i threshold = _mm512_add_epi32(half, _mm512_srli_epi32(x, 31));
    const __m512i q = _mm512_srav_epi32(x, right);
    const __m512i y = _mm512_mask_add_epi32(q, _mm512_cmpgt_epi32_mask(_mm512_and_si512(x, low_bits), threshold), q,
                                            _mm512_set1_epi32(1));
    return _mm512_add_epi32(y, zero_point);
  }
};

// (v * mult + 2^(total-1)) >> total, total = 31 - shift in [1, 62], saturated to int32, + zp; in
// 64-bit even and odd halves.
template <>
struct ZmmStage<RequantizeQ31SingleRound> {
  __m512i mult, mult_odd, total_even, total_odd, round_even, round_odd, zero_point;
  QSAFE_AVX512_INLINE static ZmmStage load(const RequantizeQ31SingleRound& s, std::int64_t col,
                                           __mmask16 mask) noexcept {
    ZmmStage z;
    __m512i shift;
    load_multipliers(s.multiplier, col, mask, z.mult, shift);
    const __m512i total = _mm512_sub_epi32(_mm512_set1_epi32(31), shift);
    const __m512i one = _mm512_set1_epi64(1);
    z.mult_odd = _mm512_srli_epi64(z.mult, 32);
    z.total_even = _mm512_and_si512(total, _mm512_set1_epi64(0xffffffffLL));
    z.total_odd = _mm512_srli_epi64(total, 32);
    z.round_even = _mm512_sllv_epi64(one, _mm512_sub_epi64(z.total_even, one));
    z.round_odd = _mm512_sllv_epi64(one, _mm512_sub_epi64(z.total_odd, one));
    z.zero_point = _mm512_set1_epi32(s.zero_point);
    return z;
  }
  QSAFE_AVX512_INLINE __m512i apply(__m512i v, std::int64_t) const noexcept {
    const __m512i lo = _mm512_set1_epi64(-2147483648LL), hi = _mm512_set1_epi64(2147483647LL);
    __m512i even = _mm512_add_epi64(_mm512_mul_epi32(v, mult), round_even);
    __m512i odd = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(v, 32), mult_odd), round_odd);
    even = _mm512_min_epi64(_mm512_max_epi64(_mm512_srav_epi64(even, total_even), lo), hi);
    odd = _mm512_min_epi64(_mm512_max_epi64(_mm512_srav_epi64(odd, total_odd), lo), hi);
    const __m512i y = _mm512_mask_blend_epi32(0xaaaa, even, _mm512_slli_epi64(odd, 32));
    return _mm512_add_epi32(y, zero_point);
  }
};

template <>
struct ZmmStage<RequantizeFloat> {
  __m512 mult;
  __m512i zero_point;
  QSAFE_AVX512_INLINE static ZmmStage load(const RequantizeFloat& s, std::int64_t col, __mmask16 mask) noexcept {
    return {load_channel(s.multiplier, col, mask), _mm512_set1_epi32(s.zero_point)};
  }
  QSAFE_AVX512_INLINE __m512i apply(__m512i v, std::int64_t) const noexcept {
    const __m512 limit = _mm512_set1_ps(kRequantizeFloatLimit);
    __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(v), mult);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-kRequantizeFloatLimit)), limit);
    const __m512i q = _mm512_cvt_roundps_epi32(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);  // half even
    return _mm512_add_epi32(q, zero_point);
  }
};

template <>
struct ZmmStage<Dequantize> {
  __m512 weight_scale, scale, bias;  // scale = sa * sw when sa is per tensor
  const float* row_scale;            // sa per row, or null
  bool has_bias;
  QSAFE_AVX512_INLINE static ZmmStage load(const Dequantize& s, std::int64_t col, __mmask16 mask) noexcept {
    ZmmStage z;
    z.weight_scale = load_channel(s.weight_scale, col, mask);
    z.row_scale = s.activation_scale.size() == 1 ? nullptr : s.activation_scale.data();
    z.scale = _mm512_mul_ps(_mm512_set1_ps(s.activation_scale.data()[0]), z.weight_scale);
    z.has_bias = !s.bias.empty();
    z.bias = z.has_bias ? _mm512_maskz_loadu_ps(mask, s.bias.data() + col) : _mm512_setzero_ps();
    return z;
  }
  QSAFE_AVX512_INLINE __m512 apply(__m512i v, std::int64_t row) const noexcept {
    const __m512 sc = row_scale == nullptr ? scale : _mm512_mul_ps(_mm512_set1_ps(row_scale[row]), weight_scale);
    __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(v), sc);
    if (!has_bias) return y;  // (adding +0 instead would turn -0 into +0)
    __asm__("" : "+v"(y));    // round the product before the add: never an FMA (see scalar opaque())
    return _mm512_add_ps(y, bias);
  }
};

template <>
struct ZmmStage<Clamp> {
  __m512i lo, hi;
  bool nonnegative;  // lo >= 0
  QSAFE_AVX512_INLINE static ZmmStage load(const Clamp& s, std::int64_t, __mmask16) noexcept {
    return {_mm512_set1_epi32(s.lo), _mm512_set1_epi32(s.hi), s.lo >= 0};
  }
  QSAFE_AVX512_INLINE __m512i apply(__m512i v, std::int64_t) const noexcept {
    return _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
  }
};

// Compare-and-select, not vmaxps: it keeps -0.0 as the scalar `v < lo ? lo : v` does.
template <>
struct ZmmStage<ClampFloat> {
  __m512 lo, hi;
  QSAFE_AVX512_INLINE static ZmmStage load(const ClampFloat& s, std::int64_t, __mmask16) noexcept {
    return {_mm512_set1_ps(s.lo), _mm512_set1_ps(s.hi)};
  }
  QSAFE_AVX512_INLINE __m512 apply(__m512 v, std::int64_t) const noexcept {
    v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ), v, lo);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, hi, _CMP_GT_OQ), v, hi);
  }
};

// Whether the last stage already makes its results >= 0, so that a uint8 store needs no vpmaxsd
// before its unsigned saturation: Clamp with lo >= 0 (ReLU). (RequantizeFloat could do it by
// clamping at -zp instead of -2^30, but rebuilding that bound costs more than the vpmaxsd.)
template <class Stage>
QSAFE_AVX512_INLINE bool fold_u8_floor(ZmmStage<Stage>&) noexcept {
  return false;
}
QSAFE_AVX512_INLINE bool fold_u8_floor(ZmmStage<Clamp>& z) noexcept { return z.nonnegative; }

// One stage on one vector (parameters loaded for this call alone).
template <class Stage, class V>
QSAFE_AVX512_INLINE auto apply(arch::avx512_vnni, const Stage& s, V v, const Lanes16& l) noexcept {
  return ZmmStage<Stage>::load(s, l.col, l.mask).apply(v, l.row);
}

template <std::size_t I, class Pipeline, class V>
QSAFE_AVX512_INLINE auto apply_stages(arch::avx512_vnni isa, const Pipeline& p, V v, const Lanes16& l) noexcept {
  if constexpr (I == Pipeline::size) {
    return v;
  } else {
    return apply_stages<I + 1>(isa, p, apply(isa, std::get<I>(p.stages), v, l), l);
  }
}

// Stages I.. of the pipeline on v, then the store into `out`. A uint8 store after a last stage
// that can keep its results >= 0 (fold_u8_floor) skips its own clamp at 0.
template <std::size_t I, class Pipeline, class V, class Out>
QSAFE_AVX512_INLINE void apply_and_store(arch::avx512_vnni isa, const Pipeline& p, V v, const Lanes16& l,
                                         Out* out) noexcept;

QSAFE_AVX512_INLINE void store(arch::avx512_vnni, std::int32_t* out, __m512i v, __mmask16 m) noexcept {
  _mm512_mask_storeu_epi32(out, m, v);
}
QSAFE_AVX512_INLINE void store(arch::avx512_vnni, std::int8_t* out, __m512i v, __mmask16 m) noexcept {
  _mm512_mask_cvtsepi32_storeu_epi8(out, m, v);  // saturating to [-128, 127]
}
QSAFE_AVX512_INLINE void store(arch::avx512_vnni, std::uint8_t* out, __m512i v, __mmask16 m) noexcept {
  // vpmovusdb saturates unsigned: clear negatives first.
  _mm512_mask_cvtusepi32_storeu_epi8(out, m, _mm512_max_epi32(v, _mm512_setzero_si512()));
}
QSAFE_AVX512_INLINE void store(arch::avx512_vnni, float* out, __m512 v, __mmask16 m) noexcept {
  _mm512_mask_storeu_ps(out, m, v);
}
// The same, knowing whether v >= 0 already (fold_u8_floor): only the uint8 store uses it.
template <class Out, class V>
QSAFE_AVX512_INLINE void store(arch::avx512_vnni isa, Out* out, V v, __mmask16 m, bool) noexcept {
  store(isa, out, v, m);
}
QSAFE_AVX512_INLINE void store(arch::avx512_vnni isa, std::uint8_t* out, __m512i v, __mmask16 m,
                               bool nonnegative) noexcept {
  if (nonnegative) {
    _mm512_mask_cvtusepi32_storeu_epi8(out, m, v);
  } else {
    store(isa, out, v, m);
  }
}

template <std::size_t I, class Pipeline, class V, class Out>
QSAFE_AVX512_INLINE void apply_and_store(arch::avx512_vnni isa, const Pipeline& p, V v, const Lanes16& l,
                                         Out* out) noexcept {
  if constexpr (I == Pipeline::size) {
    store(isa, out, v, l.mask);
  } else if constexpr (I + 1 == Pipeline::size && std::is_same<Out, std::uint8_t>::value) {
    using Last = std::tuple_element_t<I, decltype(p.stages)>;
    ZmmStage<Last> z = ZmmStage<Last>::load(std::get<I>(p.stages), l.col, l.mask);
    const bool nonnegative = fold_u8_floor(z);
    store(isa, out, z.apply(v, l.row), l.mask, nonnegative);
  } else {
    apply_and_store<I + 1>(isa, p, apply(isa, std::get<I>(p.stages), v, l), l, out);
  }
}

// ---------------------------------------------------------------------------------------------
// 8-bit row store: the 64 columns of one tile row (4 ZMM of int32) saturated and packed into one
// 64-byte store, instead of four vpmaxsd + vpmovusdb stores. vpackssdw then vpackuswb / vpacksswb
// saturate int32 -> int16 -> 8 bits, which equals saturating int32 -> 8 bits directly; the packs
// interleave 128-bit lanes, so one vpermd puts the dwords (4 columns each) back in order.
// On top of that, the pipeline's tail is done on the packed vectors where it is exact:
//   * a last Clamp{lo, hi} becomes an 8-bit clamp at sat(lo), sat(hi) after the pack (saturation is
//     monotone, so sat(clamp(y, lo, hi)) = clamp(sat(y), sat(lo), sat(hi)) for lo <= hi): 2 ops per
//     64 outputs instead of 8;
//   * a RequantizeFloat right before the store (or before that Clamp) adds its zero point with a
//     saturating int16 add after the first pack (2 adds instead of 4) and clamps only from above
//     (panel_requant8). Exact for |zp| <= 32512: then sat8(sat16(sat16(q) + zp)) equals
//     sat8(q + zp) for every int32 q; other zero points take the int32 route.

template <class Out>
struct Pack8;
template <>
struct Pack8<std::uint8_t> {
  QSAFE_AVX512_INLINE static __m512i pack(__m512i a, __m512i b) noexcept { return _mm512_packus_epi16(a, b); }
  QSAFE_AVX512_INLINE static __m512i clamp(__m512i v, __m512i lo, __m512i hi) noexcept {
    return _mm512_min_epu8(_mm512_max_epu8(v, lo), hi);
  }
  static constexpr std::int32_t sat(std::int32_t v) noexcept { return v < 0 ? 0 : (v > 255 ? 255 : v); }
};
template <>
struct Pack8<std::int8_t> {
  QSAFE_AVX512_INLINE static __m512i pack(__m512i a, __m512i b) noexcept { return _mm512_packs_epi16(a, b); }
  QSAFE_AVX512_INLINE static __m512i clamp(__m512i v, __m512i lo, __m512i hi) noexcept {
    return _mm512_min_epi8(_mm512_max_epi8(v, lo), hi);
  }
  static constexpr std::int32_t sat(std::int32_t v) noexcept { return v < -128 ? -128 : (v > 127 ? 127 : v); }
};

// How stages [First, size) of a pipeline split around an 8-bit row store.
template <class Pipeline, std::size_t First>
struct Row8Plan {
  using Stages = decltype(Pipeline::stages);
  static constexpr std::size_t kSize = Pipeline::size;
  template <std::size_t I, class S>
  static constexpr bool is() noexcept {
    if constexpr (I < First || I >= kSize) {
      return false;
    } else {
      return std::is_same<std::tuple_element_t<I, Stages>, S>::value;
    }
  }
  static constexpr bool kClampLast = kSize > First&& is<kSize - 1, Clamp>();
  static constexpr std::size_t kEnd = kSize - (kClampLast ? 1 : 0);  // stages before the 8-bit clamp
  static constexpr bool kRequantLast = kEnd > First&& is<kEnd - 1, RequantizeFloat>();
  static constexpr std::size_t kIntEnd = kEnd - (kRequantLast ? 1 : 0);  // stages done on int32 as usual
};

QSAFE_AVX512_INLINE __mmask16 lane_mask16(int left) noexcept {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>(left <= 0 ? 0u : (1u << left) - 1u);
}

// A value the compiler must take as it comes out of an empty asm: a pointer laundered this way
// makes it load what the pointer points to where it is used, instead of keeping it in registers
// across the K loop, where the 24 accumulators leave none spare (measured: the K loop then spills,
// -45 %).
template <class T>
QSAFE_ALWAYS_INLINE T here(T v) noexcept {
  __asm__ volatile("" : "+r"(v));
  return v;
}

alignas(64) constexpr std::int32_t kRow8Permutation[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};

// ---------------------------------------------------------------------------------------------
// Panel parameters: the micro-kernel's epilogue with every per-column quantity computed once per
// kernel call instead of once per vector per row. All tiles of one call share their columns (one
// panel), so each stage's ZmmStage (per-channel loads, derived masks and rounding terms), the lane
// masks of a column tail and the 8-bit row store's constants live in this struct, on the stack, and the per-row code
// reads them as memory operands: no span-size tests, no mask arithmetic and no branches per vector. Lanes at or past N
// hold zero parameters; what they compute is never stored.

// One ZmmStage per stage. Not a std::tuple: its default constructor value-initializes (zeroes)
// every element, a 768-byte memset per kernel call for AddBias + RequantizeFloat.
template <class... S>
struct ZmmStages {};
template <class S0, class... S>
struct ZmmStages<S0, S...> {
  ZmmStage<S0> head;
  ZmmStages<S...> tail;
};

template <std::size_t I, class S0, class... S>
QSAFE_AVX512_INLINE auto& zmm_get(ZmmStages<S0, S...>& z) noexcept {
  if constexpr (I == 0) {
    return z.head;
  } else {
    return zmm_get<I - 1>(z.tail);
  }
}
template <std::size_t I, class S0, class... S>
QSAFE_AVX512_INLINE const auto& zmm_get(const ZmmStages<S0, S...>& z) noexcept {
  if constexpr (I == 0) {
    return z.head;
  } else {
    return zmm_get<I - 1>(z.tail);
  }
}

template <class Pipeline>
struct ZmmStagesOf;
template <class... S>
struct ZmmStagesOf<OutputPipeline<S...>> {
  using type = ZmmStages<S...>;
};

template <class Pipeline, int Nv>
struct PanelParams {
  typename ZmmStagesOf<Pipeline>::type stage[Nv];  // every stage, per ZMM column
  __m512i perm;                                    // kRow8Permutation
  __m512i zp;                                      // RequantizeFloat's zero point (int16 lanes if zp16)
  __m512 limit;                                    // 2^30
  __m512i clamp_lo, clamp_hi;                      // a last Clamp's bounds, saturated to 8 bits (bytes)
  __mmask64 mask64;                                // the row's stored bytes (8-bit row store)
  __mmask16 mask[Nv];                              // stored lanes of each ZMM column
  bool zp16;
};

template <std::size_t I, class Pipeline, int Nv>
QSAFE_AVX512_INLINE void load_panel_stages(PanelParams<Pipeline, Nv>& pp, const Pipeline& p, std::int64_t col,
                                           int v) noexcept {
  if constexpr (I < Pipeline::size) {
    using S = std::tuple_element_t<I, decltype(p.stages)>;
    zmm_get<I>(pp.stage[v]) = ZmmStage<S>::load(std::get<I>(p.stages), col, pp.mask[v]);
    load_panel_stages<I + 1>(pp, p, col, v);
  }
}

// Columns [col, col + cols), 1 <= cols <= 16 Nv.
template <class Out, class Pipeline, int Nv>
QSAFE_AVX512_INLINE void load_panel_params(PanelParams<Pipeline, Nv>& pp, const Pipeline& p, std::int64_t col,
                                           int cols) noexcept {
  for (int v = 0; v < Nv; ++v) {
    pp.mask[v] = lane_mask16(cols - 16 * v);
    load_panel_stages<0>(pp, p, col + 16 * v, v);
  }
  if constexpr (std::is_same<Out, std::uint8_t>::value || std::is_same<Out, std::int8_t>::value) {
    // The 8-bit row store's constants (other outputs never read them).
    using Plan = Row8Plan<Pipeline, 0>;
    pp.mask64 = cols >= 64 ? ~__mmask64{0} : (__mmask64{1} << cols) - 1;
    pp.perm = _mm512_load_si512(kRow8Permutation);
    pp.limit = _mm512_set1_ps(kRequantizeFloatLimit);
    pp.zp16 = false;
    if constexpr (Plan::kRequantLast) {
      const std::int32_t zp = std::get<Plan::kIntEnd>(p.stages).zero_point;
      pp.zp16 = zp >= -32512 && zp <= 32512;
      pp.zp = pp.zp16 ? _mm512_set1_epi16(static_cast<short>(zp)) : _mm512_set1_epi32(zp);
    }
    if constexpr (Plan::kClampLast) {
      const Clamp& c = std::get<Pipeline::size - 1>(p.stages);
      pp.clamp_lo = _mm512_set1_epi8(static_cast<char>(Pack8<Out>::sat(c.lo)));
      pp.clamp_hi = _mm512_set1_epi8(static_cast<char>(Pack8<Out>::sat(c.hi)));
    }
  }
}

// Stages [I, End) on v with the panel's parameters of ZMM column z.
template <std::size_t I, std::size_t End, class Stages, class V>
QSAFE_AVX512_INLINE auto apply_panel(const Stages& z, V v, std::int64_t row) noexcept {
  if constexpr (I == End) {
    return v;
  } else {
    return apply_panel<I + 1, End>(z, zmm_get<I>(z).apply(v, row), row);
  }
}

template <class Stage>
QSAFE_AVX512_INLINE bool panel_u8_floor(const ZmmStage<Stage>&) noexcept {
  return false;
}
QSAFE_AVX512_INLINE bool panel_u8_floor(const ZmmStage<Clamp>& z) noexcept { return z.nonnegative; }

// Stages [First, size) on one ZMM column of one row and its store (16 lanes; masked unless Full).
template <std::size_t First, bool Full, class Pipeline, int Nv, class Out>
QSAFE_AVX512_INLINE void panel_vector(const PanelParams<Pipeline, Nv>& pp, int v, __m512i x, std::int64_t row,
                                      Out* out) noexcept {
  const auto& z = pp.stage[v];
  const auto y = apply_panel<First, Pipeline::size>(z, x, row);
  const __mmask16 m = Full ? static_cast<__mmask16>(0xffff) : pp.mask[v];
  if constexpr (std::is_same<Out, std::uint8_t>::value) {
    bool nonnegative = false;
    if constexpr (Pipeline::size > First) nonnegative = panel_u8_floor(zmm_get<Pipeline::size - 1>(z));
    store(arch::avx512_vnni{}, out, y, m, nonnegative);
  } else if constexpr (Full && std::is_same<Out, std::int32_t>::value) {
    _mm512_storeu_si512(out, y);
  } else if constexpr (Full && std::is_same<Out, float>::value) {
    _mm512_storeu_ps(out, y);
  } else {
    store(arch::avx512_vnni{}, out, y, m);
  }
}

// The RequantizeFloat of an 8-bit row store on one ZMM column, without its zero point (Zp16) or
// with it and the two-sided float clamp (otherwise): see the 8-bit row store above.
template <bool Zp16, class Pipeline, int Nv>
QSAFE_AVX512_INLINE __m512i panel_requant8(const PanelParams<Pipeline, Nv>& pp, const ZmmStage<RequantizeFloat>& z,
                                           __m512i y) noexcept {
  __m512 f = _mm512_min_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(y), z.mult), pp.limit);
  if constexpr (Zp16) {
    // Below -2^31 the conversion gives INT_MIN, which saturates like the reference's -2^30 + zp.
    return _mm512_cvt_roundps_epi32(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);  // half even
  } else {
    f = _mm512_max_ps(f, _mm512_sub_ps(_mm512_setzero_ps(), pp.limit));
    return _mm512_add_epi32(_mm512_cvt_roundps_epi32(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), pp.zp);
  }
}

template <std::size_t First, bool Zp16, class Pipeline, int Nv>
QSAFE_AVX512_INLINE __m512i panel_row8_vector(const PanelParams<Pipeline, Nv>& pp, int v, __m512i x,
                                              std::int64_t row) noexcept {
  using Plan = Row8Plan<Pipeline, First>;
  const auto& z = pp.stage[v];
  __m512i y = apply_panel<First, Plan::kIntEnd>(z, x, row);
  if constexpr (Plan::kRequantLast) y = panel_requant8<Zp16>(pp, zmm_get<Plan::kIntEnd>(z), y);
  return y;
}

template <std::size_t First, bool Zp16, bool Full, class Pipeline, int Nv, class Out>
QSAFE_AVX512_INLINE void panel_row8(const PanelParams<Pipeline, Nv>& pp, __m512i x0, __m512i x1, __m512i x2, __m512i x3,
                                    std::int64_t row, Out* out) noexcept {
  using Plan = Row8Plan<Pipeline, First>;
  // Straight-line, no loop over the vectors (a loop over x[] keeps the tile in memory under GCC).
  __m512i w01 = _mm512_packs_epi32(panel_row8_vector<First, Zp16>(pp, 0, x0, row),
                                   panel_row8_vector<First, Zp16>(pp, 1, x1, row));
  __m512i w23 = _mm512_packs_epi32(panel_row8_vector<First, Zp16>(pp, 2, x2, row),
                                   panel_row8_vector<First, Zp16>(pp, 3, x3, row));
  if constexpr (Plan::kRequantLast && Zp16) {
    w01 = _mm512_adds_epi16(w01, pp.zp);
    w23 = _mm512_adds_epi16(w23, pp.zp);
  }
  __m512i b = Pack8<Out>::pack(w01, w23);
  if constexpr (Plan::kClampLast) b = Pack8<Out>::clamp(b, pp.clamp_lo, pp.clamp_hi);
  // 128-bit lane i of b holds columns 4i..4i+3 of y0, y1, y2, y3 (one dword each).
  b = _mm512_permutexvar_epi32(pp.perm, b);
  if constexpr (Full) {
    _mm512_storeu_si512(out, b);
  } else {
    _mm512_mask_storeu_epi8(out, pp.mask64, b);
  }
}

// Stages [First, size) on the 64 columns of one row (x0..x3) and the saturating 8-bit store into
// out[0 .. cols) (the 8-bit row store above; masked unless Full). Per 64 uint8 outputs of AddBias +
// RequantizeFloat: 4 x (vcvtdq2ps, vmulps with the multiplier as a memory operand, vminps,
// vcvtps2dq), 2 vpackssdw, 2 vpaddsw, vpackuswb, the permutation's load, vpermd, one store.
template <std::size_t First, bool Full, class Pipeline, int Nv, class Out>
QSAFE_AVX512_INLINE void store_row_8bit_panel(const PanelParams<Pipeline, Nv>& pp, __m512i x0, __m512i x1, __m512i x2,
                                              __m512i x3, std::int64_t row, Out* out) noexcept {
  if (!Row8Plan<Pipeline, First>::kRequantLast || pp.zp16) {
    panel_row8<First, true, Full>(pp, x0, x1, x2, x3, row, out);
  } else {
    panel_row8<First, false, Full>(pp, x0, x1, x2, x3, row, out);
  }
}

}  // namespace detail
}  // namespace qsafe

QSAFE_AVX512_CODE_END

#endif  // QSAFE_KERNEL_ARCH_AVX512_VNNI_OUTPUT_HPP_
