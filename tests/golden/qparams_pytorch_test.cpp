// Golden test: qsafe::qparams_from_range against PyTorch's observer _calculate_qparams
// (fixtures made by scripts/golden/quantize.py). Scales compare as bit patterns, zero points
// exactly. The one documented difference (docs/numerics.md, "Deviations") is listed below and
// checked to be exactly that, so any other change in either direction fails.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cmath>
#include <cstring>
#include <string>

#include "golden/golden_support.hpp"
#include "qsafe/quantize.hpp"

namespace {

struct QParamsConfig {
  const char* name;
  std::int32_t qmin;
  std::int32_t qmax;
  bool symmetric;
};
struct QParamsRow {
  int config;
  float lo;
  float hi;
  float scale;
  std::int32_t zero_point;
};
struct QParamsOverflowRow {
  int config;
  float lo;
  float hi;
};

#include "fixtures/qparams_pytorch.inc"

// Where qsafe deliberately differs from PyTorch's zero point (docs/numerics.md §9): quint8 +
// symmetric + reduce_range. PyTorch (HistogramObserver; MinMaxObserver refuses the combination)
// gives 128, outside its own [0, 127]; qsafe gives the down-rounded midpoint 63, the rule PyTorch
// itself applies to every other non-default unsigned range.
struct KnownDeviation {
  const char* config;
  std::int32_t pytorch_zero_point;
  std::int32_t qsafe_zero_point;
};
constexpr KnownDeviation kKnownDeviations[] = {
    {"quint8_symmetric_reduce", 128, 63},
};

const KnownDeviation* known_deviation(const char* config, std::int32_t pytorch_zp) {
  for (const KnownDeviation& d : kKnownDeviations)
    if (std::strcmp(d.config, config) == 0 && d.pytorch_zero_point == pytorch_zp) return &d;
  return nullptr;
}

// PyTorch returns a finite scale for some huge ranges whose integer ends then dequantize to +-Inf
// (e.g. symmetric int8 over [-FLT_MAX, FLT_MAX]); qsafe rejects those with out_of_range.
// (With qsafe's zero point where it deliberately differs.)
bool ends_overflow(const QParamsRow& row, const QParamsConfig& c) {
  const KnownDeviation* d = known_deviation(c.name, row.zero_point);
  const std::int32_t zp = d != nullptr ? d->qsafe_zero_point : row.zero_point;
  return !std::isfinite(static_cast<float>(c.qmin - zp) * row.scale) ||
         !std::isfinite(static_cast<float>(c.qmax - zp) * row.scale);
}

qsafe::SchemeKind scheme_of(const QParamsConfig& c) {
  return c.symmetric ? qsafe::SchemeKind::symmetric : qsafe::SchemeKind::affine;
}

}  // namespace

TEST_CASE("golden qparams: qrange_of reproduces PyTorch's quant_min/quant_max", "[golden][qparams]") {
  for (const QParamsConfig& c : kQParamsConfigs) {
    INFO(c.name);
    qsafe::QRange r{};
    const bool known = golden::with_qrange(c.qmin, c.qmax, [&](auto* tag, auto bits, qsafe::QRangeOptions o) {
      using Int = std::remove_pointer_t<decltype(tag)>;
      r = qsafe::qrange_of<Int, decltype(bits)::value>(o);
    });
    REQUIRE(known);
    CHECK(r.qmin == c.qmin);
    CHECK(r.qmax == c.qmax);
  }
}

TEST_CASE("golden qparams: qparams_from_range matches PyTorch bit for bit", "[golden][qparams]") {
  std::size_t checked = 0, deviations = 0, rejected = 0;
  for (const QParamsRow& row : kQParamsRows) {
    const QParamsConfig& c = kQParamsConfigs[row.config];
    const qsafe::Result<qsafe::QParams> p =
        qsafe::qparams_from_range({row.lo, row.hi}, qsafe::QRange{c.qmin, c.qmax}, scheme_of(c));
    INFO(c.name << " lo=" << golden::hex(row.lo) << " (" << row.lo << ") hi=" << golden::hex(row.hi) << " ("
                << row.hi << ") PyTorch scale=" << golden::hex(row.scale) << " zp=" << row.zero_point);
    if (ends_overflow(row, c)) {
      CHECK(p.status() == qsafe::Status::out_of_range);
      ++rejected;
      continue;
    }
    REQUIRE(p.ok());
    INFO("qsafe scale=" << golden::hex(p->scale) << " zp=" << p->zero_point);
    CHECK(golden::same_bits(p->scale, row.scale));
    if (const KnownDeviation* d = known_deviation(c.name, row.zero_point)) {
      CHECK(p->zero_point == d->qsafe_zero_point);
      ++deviations;
    } else {
      CHECK(p->zero_point == row.zero_point);
    }
    ++checked;
  }
  CHECK(checked > 4000);
  CHECK(rejected > 0);  // the overflowing-ends rows exist and are rejected
  // Every entry of the deviation table must describe real rows, or it is stale.
  for (const KnownDeviation& d : kKnownDeviations) {
    std::size_t rows = 0;
    for (const QParamsRow& row : kQParamsRows)
      rows += std::strcmp(kQParamsConfigs[row.config].name, d.config) == 0 && row.zero_point == d.pytorch_zero_point;
    INFO(d.config);
    CHECK(rows > 0);
  }
  CHECK(deviations > 0);
}

TEST_CASE("golden qparams: per-channel (qparams_from_ranges) equals per-tensor rows", "[golden][qparams]") {
  // PyTorch's PerChannelMinMaxObserver gave the same numbers as MinMaxObserver on every row (the
  // generator checks it); here all rows of one config go through qsafe's element-wise form at once.
  for (int ci = 0; ci < static_cast<int>(sizeof kQParamsConfigs / sizeof kQParamsConfigs[0]); ++ci) {
    const QParamsConfig& c = kQParamsConfigs[ci];
    std::vector<qsafe::Range> ranges;
    std::vector<const QParamsRow*> rows;
    for (const QParamsRow& row : kQParamsRows)
      if (row.config == ci && !ends_overflow(row, c)) {
        ranges.push_back({row.lo, row.hi});
        rows.push_back(&row);
      }
    std::vector<qsafe::QParams> out(ranges.size());
    INFO(c.name);
    REQUIRE(qsafe::qparams_from_ranges(ranges, qsafe::QRange{c.qmin, c.qmax}, scheme_of(c), out) == qsafe::Status::ok);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const bool zp_ok = out[i].zero_point == rows[i]->zero_point || known_deviation(c.name, rows[i]->zero_point);
      if (!golden::same_bits(out[i].scale, rows[i]->scale) || !zp_ok) ++bad;
    }
    CHECK(bad == 0);
  }
}

TEST_CASE("golden qparams: ranges whose scale overflows in PyTorch are out_of_range in qsafe", "[golden][qparams]") {
  REQUIRE(sizeof kQParamsOverflowRows / sizeof kQParamsOverflowRows[0] > 0);
  for (const QParamsOverflowRow& row : kQParamsOverflowRows) {
    const QParamsConfig& c = kQParamsConfigs[row.config];
    INFO(c.name << " lo=" << row.lo << " hi=" << row.hi);
    CHECK(qsafe::qparams_from_range({row.lo, row.hi}, qsafe::QRange{c.qmin, c.qmax}, scheme_of(c)).status() ==
          qsafe::Status::out_of_range);
  }
}
