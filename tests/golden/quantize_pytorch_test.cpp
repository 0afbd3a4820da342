// Golden test: qsafe::Quantizer against torch.quantize_per_tensor / quantize_per_channel,
// dequantize and fake_quantize_per_{tensor,channel}_affine (fixtures made by
// scripts/golden/quantize.py): exact rounding ties, ties that only a divide would see,
// all-zero, constant, heavy-tailed, outlier, tiny and saturating tensors; quint8, qint8,
// reduce-range, narrow, 4-bit and 16-bit ranges; per-channel along every axis.
// Integers compare exactly, floats as bit patterns.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "golden/golden_support.hpp"
#include "qsafe/quantize.hpp"

namespace {

struct PerTensorCase {
  const char* tensor;
  const char* target;
  std::int32_t qmin;
  std::int32_t qmax;
  bool symmetric;
  float scale;
  std::int32_t zero_point;
  bool observed;  // scale/zero_point/min/max from MinMaxObserver on x
  float min;
  float max;
  const float* x;
  std::size_t n;
  const std::int32_t* q;  // nullptr: PyTorch has no dtype for this range (fake-quant only)
  const float* dq;
  const float* fq;
};

struct PerChannelCase {
  const char* tensor;
  const char* target;
  std::int32_t qmin;
  std::int32_t qmax;
  bool symmetric;
  const std::int32_t* shape;
  int rank;
  int axis;
  const float* scales;
  const std::int32_t* zero_points;
  const float* x;
  std::size_t channels;
  bool observed;  // scales/zero_points/min/max from PerChannelMinMaxObserver on x
  const float* min;
  const float* max;
  const std::int32_t* q;
  const float* dq;
  const float* fq;
};

#include "fixtures/quantize_pytorch.inc"

const auto eq_float = [](float a, float b) { return golden::same_bits(a, b); };
const auto eq_int = [](auto a, std::int32_t b) { return static_cast<std::int32_t>(a) == b; };

template <class Quant>
void check_quantizer(const Quant& quant, qsafe::TensorView<const float> x,
                     qsafe::Span<const qsafe::QParams> params, const std::int32_t* want_q, const float* want_dq,
                     const float* want_fq) {
  using Int = typename Quant::storage_type;
  const std::size_t n = static_cast<std::size_t>(x.numel());
  if (want_q != nullptr) {
    std::vector<Int> q(n);
    REQUIRE(quant.quantize(x, params, qsafe::TensorView<Int>(q.data(), x.shape)) == qsafe::Status::ok);
    const std::string qm = golden::first_mismatch(q.data(), want_q, n, eq_int, x.data);
    INFO("quantize: " << qm);
    CHECK(qm.empty());
    std::vector<float> dq(n);
    REQUIRE(quant.dequantize(qsafe::TensorView<const Int>(q.data(), x.shape), params,
                             qsafe::TensorView<float>(dq.data(), x.shape)) == qsafe::Status::ok);
    const std::string dm = golden::first_mismatch(dq.data(), want_dq, n, eq_float, x.data);
    INFO("dequantize: " << dm);
    CHECK(dm.empty());
  }
  std::vector<float> fq(n);
  REQUIRE(quant.fake_quantize(x, params, qsafe::TensorView<float>(fq.data(), x.shape)) == qsafe::Status::ok);
  const std::string fm = golden::first_mismatch(fq.data(), want_fq, n, eq_float, x.data);
  INFO("fake_quantize: " << fm);
  CHECK(fm.empty());
}

template <class Int, int Bits, class Scheme>
void run_per_tensor(const PerTensorCase& c, qsafe::QRangeOptions options) {
  const qsafe::Quantizer<Int, Bits, Scheme> quant(qsafe::PerTensor{}, options);
  REQUIRE(quant.qrange().qmin == c.qmin);
  REQUIRE(quant.qrange().qmax == c.qmax);
  const qsafe::TensorView<const float> x(c.x, qsafe::Shape{static_cast<std::int64_t>(c.n)});
  qsafe::QParams p{c.scale, c.zero_point};
  if (c.observed) {  // qsafe's own weight path: exact range, then qparams_from_range
    qsafe::Range r{};
    qsafe::QParams mine{};
    REQUIRE(quant.params_from_data(x, qsafe::Span<qsafe::Range>(&r, 1), qsafe::Span<qsafe::QParams>(&mine, 1)) ==
            qsafe::Status::ok);
    CHECK(golden::same_bits(r.lo, c.min));
    CHECK(golden::same_bits(r.hi, c.max));
    CHECK(golden::same_bits(mine.scale, c.scale));
    CHECK(mine.zero_point == c.zero_point);
  }
  check_quantizer(quant, x, qsafe::Span<const qsafe::QParams>(&p, 1), c.q, c.dq, c.fq);
}

template <class Int, int Bits, class Scheme>
void run_per_channel(const PerChannelCase& c, qsafe::QRangeOptions options) {
  const qsafe::Quantizer<Int, Bits, Scheme, qsafe::PerChannel> quant(qsafe::PerChannel{c.axis}, options);
  REQUIRE(quant.qrange().qmin == c.qmin);
  REQUIRE(quant.qrange().qmax == c.qmax);
  std::int64_t dims[qsafe::kMaxRank] = {};
  for (int i = 0; i < c.rank; ++i) dims[i] = c.shape[i];
  const qsafe::TensorView<const float> x(c.x, qsafe::Shape::from(dims, c.rank));
  std::vector<qsafe::QParams> p(c.channels);
  for (std::size_t i = 0; i < c.channels; ++i) p[i] = {c.scales[i], c.zero_points[i]};
  if (c.observed) {
    std::vector<qsafe::Range> r(c.channels);
    std::vector<qsafe::QParams> mine(c.channels);
    REQUIRE(quant.params_from_data(x, r, mine) == qsafe::Status::ok);
    for (std::size_t i = 0; i < c.channels; ++i) {
      INFO("channel " << i);
      CHECK(golden::same_bits(r[i].lo, c.min[i]));
      CHECK(golden::same_bits(r[i].hi, c.max[i]));
      CHECK(golden::same_bits(mine[i].scale, c.scales[i]));
      CHECK(mine[i].zero_point == c.zero_points[i]);
    }
  }
  check_quantizer(quant, x, qsafe::Span<const qsafe::QParams>(p.data(), p.size()), c.q, c.dq, c.fq);
}

template <template <class, int, class> class Run, class Case>
void dispatch(const Case& c) {
  const bool known = golden::with_qrange(c.qmin, c.qmax, [&](auto* tag, auto bits, qsafe::QRangeOptions o) {
    using Int = std::remove_pointer_t<decltype(tag)>;
    constexpr int kBits = decltype(bits)::value;
    if (c.symmetric)
      Run<Int, kBits, qsafe::Symmetric>::run(c, o);
    else
      Run<Int, kBits, qsafe::Affine>::run(c, o);
  });
  REQUIRE(known);
}

template <class Int, int Bits, class Scheme>
struct PerTensorRunner {
  static void run(const PerTensorCase& c, qsafe::QRangeOptions o) { run_per_tensor<Int, Bits, Scheme>(c, o); }
};
template <class Int, int Bits, class Scheme>
struct PerChannelRunner {
  static void run(const PerChannelCase& c, qsafe::QRangeOptions o) { run_per_channel<Int, Bits, Scheme>(c, o); }
};

}  // namespace

TEST_CASE("golden quantize: per-tensor quantize, dequantize, fake_quantize match PyTorch", "[golden][quantize]") {
  std::size_t with_q = 0;
  for (const PerTensorCase& c : kPerTensorCases) {
    INFO("tensor " << c.tensor << ", target " << c.target << ", scale " << golden::hex(c.scale) << ", zp "
                   << c.zero_point);
    dispatch<PerTensorRunner>(c);
    with_q += c.q != nullptr ? 1 : 0;
  }
  CHECK(with_q >= 40);
}

TEST_CASE("golden quantize: per-channel quantize, dequantize, fake_quantize match PyTorch", "[golden][quantize]") {
  for (const PerChannelCase& c : kPerChannelCases) {
    INFO("tensor " << c.tensor << ", target " << c.target << ", axis " << c.axis);
    dispatch<PerChannelRunner>(c);
  }
}

TEST_CASE("golden quantize: the fixtures contain real ties", "[golden][quantize]") {
  // Guards the generator: every "ties" value must be an exact float32 tie of x * (1/scale), and
  // every "div_only_ties" value a tie of x / scale only.
  std::size_t ties = 0, div_only = 0;
  for (const PerTensorCase& c : kPerTensorCases) {
    const std::string name = c.tensor;
    const float inv = 1.f / c.scale;
    for (std::size_t i = 0; i < c.n; ++i) {
      volatile float prod = c.x[i] * inv;  // volatile: one float rounding, no contraction
      volatile float quot = c.x[i] / c.scale;
      const float pf = prod, qf = quot;
      const bool prod_tie = pf - static_cast<float>(static_cast<std::int64_t>(pf)) == (pf < 0 ? -0.5f : 0.5f);
      const bool quot_tie = qf - static_cast<float>(static_cast<std::int64_t>(qf)) == (qf < 0 ? -0.5f : 0.5f);
      if (name == "ties") {
        CHECK(prod_tie);
        ++ties;
      } else if (name == "div_only_ties") {
        CHECK(quot_tie);
        CHECK_FALSE(prod_tie);
        ++div_only;
      }
    }
  }
  CHECK(ties > 1000);
  CHECK(div_only > 300);
}
