// Fuzz target: qparams_from_range + Quantizer (quantize, dequantize, fake_quantize, per tensor and
// per channel) on arbitrary float bytes: NaN, +-Inf, denormals, huge values.
//
// Input layout (little-endian, short inputs are zero-extended):
//   byte 0      configuration: bits 0-2 storage/bit width (int8, uint8, int16, uint16, int4 in
//               int8, uint4 in uint8, int2 in int8, int12 in int16), bit 3 symmetric, bit 4 half
//               away, bit 5 narrow range, bit 6 reduce range, bit 7 a custom eps follows
//   byte 1      channels for the per-channel pass (1 + byte % 8)
//   4 + 4 bytes the range [lo, hi] given to qparams_from_range
//   4 bytes     eps (only with bit 7)
//   rest        the tensor, float32 values
// Every broken invariant traps (__builtin_trap), which libFuzzer and the replay test report.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "qsafe/quantize.hpp"

namespace {

#define QSAFE_FUZZ_CHECK(cond)                                                 \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      __builtin_trap();                                                        \
    }                                                                          \
  } while (0)

struct Reader {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t pos = 0;
  std::uint8_t byte() noexcept { return pos < size ? data[pos++] : 0; }
  float f32() noexcept {
    std::uint8_t b[4] = {byte(), byte(), byte(), byte()};
    float f;
    std::memcpy(&f, b, sizeof f);
    return f;
  }
  std::size_t remaining() const noexcept { return pos < size ? size - pos : 0; }
};

bool finite(float x) noexcept { return qsafe::detail::is_finite(x); }

// |dequantize(quantize(x)) - clamp(x)| <= scale / 2, with slack for the float products
// x * (1/scale) (two roundings) and (q - zp) * scale (one rounding).
bool within_half_step(float x, float y, qsafe::QParams p, qsafe::QRange r) noexcept {
  const double lo = (static_cast<double>(r.qmin) - p.zero_point) * p.scale;
  const double hi = (static_cast<double>(r.qmax) - p.zero_point) * p.scale;
  double c = x;
  c = c < lo ? lo : (c > hi ? hi : c);
  const double eps = std::numeric_limits<float>::epsilon();
  const double mag = (c < 0 ? -c : c) + p.scale;  // bounds |x| and |y| (an infinite y must fail)
  const double err = c > y ? c - y : y - c;
  return err <= 0.5 * p.scale * (1.0 + 4 * eps) + 4 * eps * mag;
}

template <class Q>
void run_per_tensor(const Q& quant, qsafe::Range range, float eps, const std::vector<float>& x) {
  using Int = typename Q::storage_type;
  const qsafe::QRange r = quant.qrange();
  const qsafe::Result<qsafe::QParams> rp = qsafe::qparams_from_range(range, r, Q::scheme_type::kind, eps);
  if (!finite(range.lo) || !finite(range.hi)) {
    QSAFE_FUZZ_CHECK(rp.status() == qsafe::Status::non_finite_input);
    return;
  }
  if (range.lo > range.hi) {
    QSAFE_FUZZ_CHECK(rp.status() == qsafe::Status::invalid_argument);
    return;
  }
  if (!(eps > 0.f) || !finite(eps) || qsafe::check_qrange(r) != qsafe::Status::ok) {
    // (a 2-bit type with reduce_range and narrow_range has a single level: rejected)
    QSAFE_FUZZ_CHECK(rp.status() == qsafe::Status::invalid_argument);
    return;
  }
  if (!rp.ok()) {
    // Only a range too wide for float32 may fail now.
    QSAFE_FUZZ_CHECK(rp.status() == qsafe::Status::out_of_range);
    return;
  }
  const qsafe::QParams p = rp.value();
  QSAFE_FUZZ_CHECK(finite(p.scale) && p.scale >= eps);
  QSAFE_FUZZ_CHECK(p.zero_point >= r.qmin && p.zero_point <= r.qmax);
  if (Q::scheme_type::kind == qsafe::SchemeKind::symmetric)
    QSAFE_FUZZ_CHECK(p.zero_point == (r.qmin < 0 ? 0 : qsafe::symmetric_unsigned_zero_point(r)));
  if (qsafe::check_qparams(p, r) != qsafe::Status::ok) {
    // A denormal scale (only reachable with a denormal eps) has no finite reciprocal: the
    // quantizer must refuse it rather than produce garbage.
    QSAFE_FUZZ_CHECK(!finite(1.f / p.scale));
    std::vector<Int> q(x.size());
    QSAFE_FUZZ_CHECK(quant.quantize(qsafe::Span<const float>(x), p, qsafe::Span<Int>(q)) != qsafe::Status::ok);
    return;
  }

  // quantize: every output in [qmin, qmax], bit-identical to the scalar reference, the status
  // reports non-finite inputs, NaN maps to the zero point, 0 maps to the zero point.
  std::vector<Int> q(x.size()), q_ref(x.size());
  const qsafe::Status s = quant.quantize(qsafe::Span<const float>(x), p, qsafe::Span<Int>(q));
  const std::size_t non_finite = qsafe::detail::quantize_loop_scalar<typename Q::rounding_type>(
      x.data(), x.size(), qsafe::detail::QuantScale(p.scale), p.zero_point, r, q_ref.data());
  QSAFE_FUZZ_CHECK(s == (non_finite == 0 ? qsafe::Status::ok : qsafe::Status::non_finite_input));
  for (std::size_t i = 0; i < x.size(); ++i) {
    QSAFE_FUZZ_CHECK(q[i] == q_ref[i]);
    QSAFE_FUZZ_CHECK(q[i] >= r.qmin && q[i] <= r.qmax);
    if (x[i] != x[i] || x[i] == 0.f) QSAFE_FUZZ_CHECK(q[i] == p.zero_point);
  }

  // dequantize, fake_quantize: fake_quantize == dequantize(quantize) bit for bit; finite x is
  // reproduced within half a step of its clamped value.
  std::vector<float> y(x.size()), fq(x.size());
  std::vector<std::uint8_t> mask(x.size());
  QSAFE_FUZZ_CHECK(quant.dequantize(qsafe::Span<const Int>(q), p, qsafe::Span<float>(y)) == qsafe::Status::ok);
  QSAFE_FUZZ_CHECK(quant.fake_quantize(qsafe::Span<const float>(x), p, qsafe::Span<float>(fq),
                                       qsafe::Span<std::uint8_t>(mask)) == s);
  for (std::size_t i = 0; i < x.size(); ++i) {
    // NOLINTNEXTLINE(bugprone-suspicious-memory-comparison): bit-exact on purpose (NaN, -0)
    QSAFE_FUZZ_CHECK(std::memcmp(&y[i], &fq[i], sizeof(float)) == 0);
    QSAFE_FUZZ_CHECK(mask[i] <= 1);
    if (finite(x[i])) {
      QSAFE_FUZZ_CHECK(within_half_step(x[i], y[i], p, r));
    }
  }
}

template <class Int, int Bits, class Scheme, class Rounding>
void run_per_channel(qsafe::QRangeOptions opt, int channels, float eps, const std::vector<float>& x) {
  const std::int64_t cols = static_cast<std::int64_t>(x.size()) / channels;
  if (cols == 0) return;
  const qsafe::Quantizer<Int, Bits, Scheme, qsafe::PerChannel, Rounding> quant(qsafe::PerChannel{0}, opt);
  const qsafe::Shape shape{channels, cols};
  const qsafe::TensorView<const float> xv(x.data(), shape);
  std::vector<qsafe::Range> ranges(static_cast<std::size_t>(channels));
  std::vector<qsafe::QParams> params(static_cast<std::size_t>(channels));
  const qsafe::Status s = quant.params_from_data(xv, qsafe::Span<qsafe::Range>(ranges),
                                                 qsafe::Span<qsafe::QParams>(params), eps);
  bool all_finite = true;
  for (std::int64_t i = 0; i < channels * cols; ++i) all_finite = all_finite && finite(x[static_cast<std::size_t>(i)]);
  if (!all_finite) {
    QSAFE_FUZZ_CHECK(s == qsafe::Status::non_finite_input);
    return;
  }
  if (s != qsafe::Status::ok) {
    QSAFE_FUZZ_CHECK(s == qsafe::Status::out_of_range || s == qsafe::Status::invalid_argument);
    return;
  }
  for (std::size_t c = 0; c < ranges.size(); ++c) {
    QSAFE_FUZZ_CHECK(ranges[c].lo <= ranges[c].hi);
    for (std::int64_t j = 0; j < cols; ++j) {
      const float v = x[c * static_cast<std::size_t>(cols) + static_cast<std::size_t>(j)];
      QSAFE_FUZZ_CHECK(v >= ranges[c].lo && v <= ranges[c].hi);
    }
  }
  std::vector<Int> q(static_cast<std::size_t>(channels * cols));
  const qsafe::Status sq = quant.quantize(xv, qsafe::Span<const qsafe::QParams>(params),
                                          qsafe::TensorView<Int>(q.data(), shape));
  if (sq != qsafe::Status::ok) {
    // Only a denormal scale from a denormal eps may be refused.
    QSAFE_FUZZ_CHECK(sq == qsafe::Status::out_of_range && !(eps >= std::numeric_limits<float>::min()));
    return;
  }
  std::vector<float> y(q.size());
  QSAFE_FUZZ_CHECK(quant.dequantize(qsafe::TensorView<const Int>(q.data(), shape),
                                    qsafe::Span<const qsafe::QParams>(params),
                                    qsafe::TensorView<float>(y.data(), shape)) == qsafe::Status::ok);
  const qsafe::QRange r = quant.qrange();
  for (std::size_t i = 0; i < q.size(); ++i) {
    const qsafe::QParams& p = params[i / static_cast<std::size_t>(cols)];
    QSAFE_FUZZ_CHECK(q[i] >= r.qmin && q[i] <= r.qmax);
    // Inside its own channel's range every value is representable within half a step.
    QSAFE_FUZZ_CHECK(within_half_step(x[i], y[i], p, r));
  }
}

template <class Int, int Bits, class Scheme, class Rounding>
void run(qsafe::QRangeOptions opt, qsafe::Range range, float eps, int channels, const std::vector<float>& x) {
  const qsafe::Quantizer<Int, Bits, Scheme, qsafe::PerTensor, Rounding> quant(qsafe::PerTensor{}, opt);
  run_per_tensor(quant, range, eps, x);
  run_per_channel<Int, Bits, Scheme, Rounding>(opt, channels, eps, x);
}

template <class Scheme, class Rounding>
void dispatch_type(int type, qsafe::QRangeOptions opt, qsafe::Range range, float eps, int channels,
                   const std::vector<float>& x) {
  switch (type) {
    case 0: return run<std::int8_t, 8, Scheme, Rounding>(opt, range, eps, channels, x);
    case 1: return run<std::uint8_t, 8, Scheme, Rounding>(opt, range, eps, channels, x);
    case 2: return run<std::int16_t, 16, Scheme, Rounding>(opt, range, eps, channels, x);
    case 3: return run<std::uint16_t, 16, Scheme, Rounding>(opt, range, eps, channels, x);
    case 4: return run<std::int8_t, 4, Scheme, Rounding>(opt, range, eps, channels, x);
    case 5: return run<std::uint8_t, 4, Scheme, Rounding>(opt, range, eps, channels, x);
    case 6: return run<std::int8_t, 2, Scheme, Rounding>(opt, range, eps, channels, x);
    default: return run<std::int16_t, 12, Scheme, Rounding>(opt, range, eps, channels, x);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in{data, size};
  const std::uint8_t config = in.byte();
  const int channels = 1 + in.byte() % 8;
  qsafe::Range range;
  range.lo = in.f32();
  range.hi = in.f32();
  const float eps = (config & 0x80u) ? in.f32() : qsafe::kDefaultScaleEps;
  std::vector<float> x(in.remaining() / sizeof(float));
  if (!x.empty()) std::memcpy(x.data(), data + in.pos, x.size() * sizeof(float));
  qsafe::QRangeOptions opt;
  opt.narrow_range = (config & 0x20u) != 0;
  opt.reduce_range = (config & 0x40u) != 0;
  const int type = config & 0x7;
  const bool symmetric = (config & 0x08u) != 0;
  const bool half_away = (config & 0x10u) != 0;
  if (symmetric) {
    if (half_away) dispatch_type<qsafe::Symmetric, qsafe::RoundHalfAway>(type, opt, range, eps, channels, x);
    else dispatch_type<qsafe::Symmetric, qsafe::RoundHalfEven>(type, opt, range, eps, channels, x);
  } else {
    if (half_away) dispatch_type<qsafe::Affine, qsafe::RoundHalfAway>(type, opt, range, eps, channels, x);
    else dispatch_type<qsafe::Affine, qsafe::RoundHalfEven>(type, opt, range, eps, channels, x);
  }
  return 0;
}
