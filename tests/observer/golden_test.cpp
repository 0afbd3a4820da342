// PyTorch 1.13 golden tests for the observers: the statistics (min_val, max_val) and, through
// qparams_from_range, the scale and zero point must match bit for bit. Fixtures come from
// scripts/golden/observers.py (run with /usr/bin/python3); see that script for the cases.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "qsafe/observer/all.hpp"
#include "qsafe/quantize.hpp"

using namespace qsafe;

namespace {

struct MinMaxGolden {
  const char* name;
  const float* data;
  std::size_t n;
  const char* dtype;
  const char* scheme;
  bool reduce_range;
  std::int32_t qmin, qmax;
  float min, max, scale;
  std::int32_t zero_point;
};

struct PerChannelGolden {
  const char* name;
  const float* data;
  const std::int64_t* shape;
  int rank;
  int axis;
  const char* dtype;
  const char* scheme;
  bool reduce_range;
  std::int32_t qmin, qmax;
  std::int64_t channels;
  const float* min;
  const float* max;
  const float* scale;
  const std::int32_t* zero_point;
};

struct MovingAverageGolden {
  const char* name;
  const float* data;
  int batches;
  int batch_size;
  float averaging_constant;
  const char* dtype;
  const char* scheme;
  bool reduce_range;
  std::int32_t qmin, qmax;
  float min, max, scale;
  std::int32_t zero_point;
};

#include "fixtures/observer_minmax.inc"
#include "fixtures/observer_moving_average.inc"
#include "fixtures/observer_per_channel.inc"

QRange qrange_for(const std::string& dtype, bool reduce_range) {
  QRangeOptions o;
  o.reduce_range = reduce_range;
  return dtype == "quint8" ? qrange_of<std::uint8_t>(o) : qrange_of<std::int8_t>(o);
}

SchemeKind scheme_for(const std::string& s) { return s == "symmetric" ? SchemeKind::symmetric : SchemeKind::affine; }

std::uint32_t bits(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

// Scale and zero point from qparams_from_range against PyTorch's, bit for bit.
void check_params(Range r, QRange q, SchemeKind scheme, float scale, std::int32_t zero_point) {
  const Result<QParams> p = qparams_from_range(r, q, scheme);
  REQUIRE(p.ok());
  CHECK(bits(p->scale) == bits(scale));
  CHECK(p->zero_point == zero_point);
}

}  // namespace

TEST_CASE("golden: MinMaxObserver matches PyTorch bit for bit", "[observer][golden]") {
  for (const MinMaxGolden& g : kMinMaxGolden) {
    INFO(g.name << " " << g.dtype << " " << g.scheme << " reduce_range=" << g.reduce_range);
    const QRange q = qrange_for(g.dtype, g.reduce_range);
    CHECK(q.qmin == g.qmin);
    CHECK(q.qmax == g.qmax);
    // One batch, and the same data in three uneven batches: the same statistics.
    MinMaxObserver whole;
    REQUIRE(whole.observe(Span<const float>(g.data, g.n)) == Status::ok);
    MinMaxObserver parts;
    const std::size_t cut1 = g.n / 3 + 1;
    const std::size_t cut2 = 2 * g.n / 3;
    REQUIRE(parts.observe(Span<const float>(g.data, cut1)) == Status::ok);
    REQUIRE(parts.observe(Span<const float>(g.data + cut1, cut2 - cut1)) == Status::ok);
    REQUIRE(parts.observe(Span<const float>(g.data + cut2, g.n - cut2)) == Status::ok);
    for (const MinMaxObserver* obs : {&whole, &parts}) {
      const Range r = obs->range().value();
      CHECK(bits(r.lo) == bits(g.min));
      CHECK(bits(r.hi) == bits(g.max));
      check_params(r, q, scheme_for(g.scheme), g.scale, g.zero_point);
    }
  }
}

TEST_CASE("golden: PerChannelMinMaxObserver matches PyTorch bit for bit", "[observer][golden][per_channel]") {
  for (const PerChannelGolden& g : kPerChannelGolden) {
    INFO(g.name << " axis=" << g.axis << " " << g.dtype << " " << g.scheme << " reduce_range=" << g.reduce_range);
    const QRange q = qrange_for(g.dtype, g.reduce_range);
    CHECK(q.qmin == g.qmin);
    CHECK(q.qmax == g.qmax);
    const Shape shape = Shape::from(g.shape, g.rank);
    std::vector<MinMaxObserver> storage(static_cast<std::size_t>(g.channels));
    PerChannelMinMaxObserver obs(g.axis, Span<MinMaxObserver>(storage));
    REQUIRE(obs.observe(TensorView<const float>(g.data, shape)) == Status::ok);
    std::vector<Range> ranges(storage.size());
    REQUIRE(obs.ranges(Span<Range>(ranges)) == Status::ok);
    std::vector<QParams> params(storage.size());
    REQUIRE(qparams_from_ranges(Span<const Range>(ranges.data(), ranges.size()), q, scheme_for(g.scheme),
                                Span<QParams>(params)) == Status::ok);
    for (std::size_t c = 0; c < storage.size(); ++c) {
      INFO("channel " << c);
      CHECK(bits(ranges[c].lo) == bits(g.min[c]));
      CHECK(bits(ranges[c].hi) == bits(g.max[c]));
      CHECK(bits(params[c].scale) == bits(g.scale[c]));
      CHECK(params[c].zero_point == g.zero_point[c]);
    }
  }
}

TEST_CASE("golden: MovingAverageMinMaxObserver matches PyTorch bit for bit", "[observer][golden]") {
  for (const MovingAverageGolden& g : kMovingAverageGolden) {
    INFO(g.name << " c=" << g.averaging_constant << " " << g.dtype << " " << g.scheme
                << " reduce_range=" << g.reduce_range);
    const QRange q = qrange_for(g.dtype, g.reduce_range);
    CHECK(q.qmin == g.qmin);
    CHECK(q.qmax == g.qmax);
    MovingAverageMinMaxObserver obs(g.averaging_constant);
    for (int b = 0; b < g.batches; ++b)
      REQUIRE(obs.observe(Span<const float>(g.data + b * g.batch_size, static_cast<std::size_t>(g.batch_size))) ==
              Status::ok);
    const Range r = obs.range().value();
    CHECK(bits(r.lo) == bits(g.min));
    CHECK(bits(r.hi) == bits(g.max));
    check_params(r, q, scheme_for(g.scheme), g.scale, g.zero_point);
  }
}

TEST_CASE("golden: MovingAveragePerChannelMinMaxObserver matches PyTorch bit for bit",
          "[observer][golden][per_channel]") {
  std::vector<MovingAverageMinMaxObserver> storage(3, MovingAverageMinMaxObserver(0.25f));
  MovingAveragePerChannelMinMaxObserver obs(0, Span<MovingAverageMinMaxObserver>(storage));
  for (int b = 0; b < 4; ++b)
    REQUIRE(obs.observe(TensorView<const float>(kMaPcBatches + b * 21, Shape{3, 7})) == Status::ok);
  std::vector<Range> ranges(3);
  REQUIRE(obs.ranges(Span<Range>(ranges)) == Status::ok);
  for (std::size_t c = 0; c < 3; ++c) {
    INFO("channel " << c);
    CHECK(bits(ranges[c].lo) == bits(kMaPcMin[c]));
    CHECK(bits(ranges[c].hi) == bits(kMaPcMax[c]));
    check_params(ranges[c], qrange_of<std::int8_t>(), SchemeKind::symmetric, kMaPcScale[c], kMaPcZp[c]);
  }
}

TEST_CASE("golden: the one deliberate deviation, quint8 + symmetric + reduce_range", "[observer][golden]") {
  // PyTorch's formula gives zero point 128, outside [0, 127] (its MinMaxObserver refuses the
  // combination outright); qsafe uses the down-rounded midpoint 63 (PyTorch's own rule for other
  // non-default unsigned ranges) so that 0.0 stays representable. The scale is PyTorch's:
  // max(|lo|, hi) / 63.5.
  MinMaxObserver obs;
  const float x[] = {-1.f, 0.5f, 3.f};
  REQUIRE(obs.observe(Span<const float>(x)) == Status::ok);
  QRangeOptions o;
  o.reduce_range = true;
  const Result<QParams> p = qparams_from_range(obs.range().value(), qrange_of<std::uint8_t>(o), SchemeKind::symmetric);
  REQUIRE(p.ok());
  CHECK(p->zero_point == 63);
  CHECK(p->scale == 3.f / 63.5f);
}
