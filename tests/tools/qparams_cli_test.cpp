// qsafe-qparams' argument parsing, chunking, observers and JSON, in-process
// (tools/qsafe-qparams/qparams_cli.hpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "../../tools/qsafe-qparams/qparams_cli.hpp"
#include "tools/json_lite.hpp"

using qsafe::cli::Granularity;
using qsafe::cli::Options;
using qsafe::cli::UsageError;
using qsafe::cli::parse_args;

namespace {

qsafe::io::NpyArray array(std::vector<std::int64_t> shape, const std::vector<float>& v) {
  return qsafe::io::NpyArray::from_vector<float>(std::move(shape), v, "mem.npy");
}

Options opts(const std::vector<std::string>& args) {
  std::vector<std::string> a = args;
  a.push_back("mem.npy");
  return parse_args(a);
}

}  // namespace

TEST_CASE("qparams cli: defaults and every flag", "[tools]") {
  const Options d = parse_args({"x.npy"});
  CHECK(d.observer == "minmax");
  CHECK(d.dtype == "quint8");
  CHECK(d.scheme == "affine");
  CHECK(d.granularity == Granularity::per_tensor);
  CHECK(d.batches == 1);
  CHECK(d.averaging_constant == 0.01f);
  CHECK(d.input == "x.npy");
  CHECK(d.emit_quantized.empty());

  const Options o = parse_args({"--observer", "moving_average", "--dtype=qint4", "--scheme", "symmetric",
                                "--per-channel", "-1", "--reduce-range", "--batches", "9",
                                "--averaging-constant=0.125", "--emit-quantized", "q.npy", "in.npy"});
  CHECK(o.observer == "moving_average");
  CHECK(o.dtype == "qint4");
  CHECK(o.scheme == "symmetric");
  CHECK(o.granularity == Granularity::per_channel);
  CHECK(o.axis == -1);
  CHECK(o.reduce_range);
  CHECK(o.batches == 9);
  CHECK(o.averaging_constant == 0.125f);
  CHECK(o.emit_quantized == "q.npy");
  CHECK(o.input == "in.npy");

  const Options g = parse_args({"--group-size", "32", "w.npy"});
  CHECK(g.granularity == Granularity::per_group);
  CHECK(g.axis == -1);
  CHECK(g.group_size == 32);
  CHECK(parse_args({"--group-size", "8", "--group-axis", "0", "w.npy"}).axis == 0);
  CHECK(parse_args({"--percentile", "99.9", "--observer", "percentile", "w.npy"}).percentile == 99.9f);
  CHECK(parse_args({"--help"}).help);
  CHECK(parse_args({"--narrow-range", "--dtype", "qint8", "w.npy"}).narrow_range);
}

TEST_CASE("qparams cli: bad arguments are UsageErrors with a clear message", "[tools]") {
  const std::vector<std::pair<std::vector<std::string>, const char*>> bad = {
      {{}, "no input"},
      {{"--observer", "kl", "x.npy"}, "unknown observer 'kl'"},
      {{"--dtype", "int8", "x.npy"}, "unknown dtype 'int8'"},
      {{"--scheme", "asym", "x.npy"}, "unknown scheme"},
      {{"--batches", "0", "x.npy"}, "--batches needs an integer"},
      {{"--batches", "3x", "x.npy"}, "--batches needs an integer"},
      {{"--batches", "99999999999999999999", "x.npy"}, "--batches needs an integer"},
      {{"--batches"}, "--batches needs a value"},
      {{"--per-channel", "one", "x.npy"}, "--per-channel needs an integer"},
      {{"--averaging-constant", "0", "x.npy"}, "(0, 1]"},
      {{"--averaging-constant", "1.5", "x.npy"}, "(0, 1]"},
      {{"--averaging-constant", "nan", "x.npy"}, "needs a number"},
      {{"--percentile", "10", "x.npy"}, "[50, 100]"},
      {{"--frobnicate", "x.npy"}, "unknown option '--frobnicate'"},
      {{"--reduce-range=yes", "x.npy"}, "takes no value"},
      {{"a.npy", "b.npy"}, "more than one input"},
      {{"--per-channel", "0", "--group-size", "4", "x.npy"}, "exclude each other"},
      {{"--group-axis", "0", "x.npy"}, "--group-axis needs --group-size"},
      {{"--group-size", "4", "--batches", "2", "x.npy"}, "--batches cannot be combined"},
      {{"--narrow-range", "x.npy"}, "signed dtype"},
      {{"--reduce-range", "--narrow-range", "--dtype", "qint8", "x.npy"}, "exclude each other"},
      {{"--reduce-range", "--dtype", "qint2", "x.npy"}, "1 bit"},
      {{"--emit-quantized=", "x.npy"}, "needs a file name"},
  };
  for (const auto& b : bad) {
    std::string joined;
    for (const std::string& a : b.first) joined += a + " ";
    INFO(joined);
    CHECK_THROWS_AS(parse_args(b.first), UsageError);
    CHECK_THROWS_WITH(parse_args(b.first), Catch::Contains(b.second));
  }
}

TEST_CASE("qparams cli: integer ranges of every dtype", "[tools]") {
  auto range = [](std::vector<std::string> a) { return qsafe::cli::qrange_for(opts(a)); };
  CHECK(range({"--dtype", "quint8"}).qmax == 255);
  CHECK(range({"--dtype", "qint8"}).qmin == -128);
  CHECK(range({"--dtype", "qint8", "--reduce-range"}).qmin == -64);
  CHECK(range({"--dtype", "quint8", "--reduce-range"}).qmax == 127);
  CHECK(range({"--dtype", "qint8", "--narrow-range"}).qmin == -127);
  CHECK(range({"--dtype", "qint16"}).qmin == -32768);
  CHECK(range({"--dtype", "quint16"}).qmax == 65535);
  CHECK(range({"--dtype", "qint4"}).qmin == -8);
  CHECK(range({"--dtype", "quint4"}).qmax == 15);
  CHECK(range({"--dtype", "qint2"}).qmin == -2);
  CHECK(range({"--dtype", "quint2"}).qmax == 3);
  // The tool's ranges are the library's.
  CHECK(range({"--dtype", "qint4"}).qmax == qsafe::qrange_of<std::int8_t, 4>().qmax);
  CHECK(range({"--dtype", "quint16"}).qmax == qsafe::qrange_of<std::uint16_t>().qmax);
}

TEST_CASE("qparams cli: batches split like torch.tensor_split", "[tools]") {
  CHECK(qsafe::cli::split_sizes(10, 3) == std::vector<std::int64_t>{4, 3, 3});
  CHECK(qsafe::cli::split_sizes(11, 4) == std::vector<std::int64_t>{3, 3, 3, 2});
  CHECK(qsafe::cli::split_sizes(2, 4) == std::vector<std::int64_t>{1, 1, 0, 0});
  CHECK(qsafe::cli::split_sizes(6, 1) == std::vector<std::int64_t>{6});
  // minmax does not depend on batching; moving_average does.
  const std::vector<float> v = {-1.f, 0.5f, 2.f, -3.f, 4.f, 0.f, 1.f, 7.f, -2.f, 0.25f};
  const auto x = array({10}, v);
  const auto mm1 = qsafe::cli::compute(opts({}), x);
  const auto mm3 = qsafe::cli::compute(opts({"--batches", "3"}), x);
  CHECK(mm1.ranges[0].lo == mm3.ranges[0].lo);
  CHECK(mm1.ranges[0].hi == mm3.ranges[0].hi);
  const auto ma = qsafe::cli::compute(opts({"--observer", "moving_average", "--batches", "3", "--averaging-constant", "0.5"}), x);
  // chunks {-1, .5, 2, -3} {4, 0, 1} {7, -2, .25}: lo -3 -> -3 + .5 * (0 + 3) = -1.5 -> -1.5 + .5 * (-2 + 1.5) = -1.75
  CHECK(ma.ranges[0].lo == -1.75f);
  // hi 2 -> 3 -> 5
  CHECK(ma.ranges[0].hi == 5.f);
}

TEST_CASE("qparams cli: every observer and granularity gives valid parameters", "[tools]") {
  std::vector<float> v(4 * 6 * 10);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<float>(i) * 0.37f) * (1.f + static_cast<float>(i % 7));
  v[17] = 60.f;  // an outlier the clipping observers may drop
  const auto x = array({4, 6, 10}, v);
  for (const char* obs : {"minmax", "moving_average", "percentile", "mse", "entropy"})
    for (const char* scheme : {"affine", "symmetric"})
      for (const std::vector<std::string>& gran :
           {std::vector<std::string>{}, {"--per-channel", "1"}, {"--per-channel", "-1"}, {"--group-size", "4"},
            {"--group-size", "3", "--group-axis", "1"}}) {
        // MSE and entropy searches cost milliseconds per group: their per-group runs are skipped
        // here to keep the test fast (the code path is the same as percentile's).
        const bool slow = std::string(obs) == "mse" || std::string(obs) == "entropy";
        if (slow && !gran.empty() && gran[0] == "--group-size") continue;
        std::vector<std::string> a = {"--observer", obs, "--scheme", scheme, "--dtype", "qint8"};
        a.insert(a.end(), gran.begin(), gran.end());
        INFO(obs << " " << scheme << " " << (gran.empty() ? "per-tensor" : gran[0] + " " + gran[1]));
        const qsafe::cli::Report r = qsafe::cli::compute(opts(a), x);
        REQUIRE(r.ranges.size() == r.params.size());
        std::int64_t expect_count = 1;
        if (!gran.empty() && gran[0] == "--per-channel") expect_count = gran[1] == "1" ? 6 : 10;
        if (!gran.empty() && gran[0] == "--group-size") expect_count = gran.size() == 2 ? 4 * 6 * 3 : 4 * 2 * 10;
        CHECK(static_cast<std::int64_t>(r.ranges.size()) == expect_count);
        for (std::size_t i = 0; i < r.ranges.size(); ++i) {
          CHECK(r.ranges[i].lo <= r.ranges[i].hi);
          CHECK(r.ranges[i].lo >= -60.f);
          CHECK(r.ranges[i].hi <= 60.f);
          CHECK(r.params[i].scale > 0.f);
          CHECK(r.params[i].zero_point >= -128);
          CHECK(r.params[i].zero_point <= 127);
          if (std::string(scheme) == "symmetric") CHECK(r.params[i].zero_point == 0);
        }
        const json_lite::Value j = json_lite::parse(qsafe::cli::to_json(r));
        CHECK(j.fields.at("observer").text == obs);
        CHECK(j.fields.at("scale").kind ==
              (gran.empty() ? json_lite::Value::Kind::number : json_lite::Value::Kind::array));
        // Quantizing with the report's parameters works for every granularity.
        const qsafe::io::NpyArray q = qsafe::cli::quantize(r, x);
        CHECK(q.dtype() == qsafe::io::DType::int8);
        CHECK(q.shape() == x.shape());
      }
}

TEST_CASE("qparams cli: JSON format, float round trip and natural NumPy types", "[tools]") {
  const auto x = array({2, 2}, {-1.f, 0.1f, 0.2f, 3.f});
  const qsafe::cli::Report r = qsafe::cli::compute(opts({}), x);
  const std::string j = qsafe::cli::to_json(r);
  CHECK(j == "{\"observer\":\"minmax\",\"dtype\":\"quint8\",\"scheme\":\"affine\",\"min\":-1,\"max\":3,"
             "\"scale\":0.0156862754,\"zero_point\":64}");
  // %.9g reads back to the same float for awkward values.
  for (float f : {0.1f, 1.f / 3.f, 3.4028235e38f, 1.17549435e-38f, 1e-45f, -0.f, 16777217.f, 0.0156862754f}) {
    const std::string s = qsafe::cli::json_number(f);
    CHECK(std::strtof(s.c_str(), nullptr) == f);
  }
  const std::pair<const char*, qsafe::io::DType> types[] = {
      {"qint8", qsafe::io::DType::int8},   {"quint8", qsafe::io::DType::uint8},   {"qint4", qsafe::io::DType::int8},
      {"quint4", qsafe::io::DType::uint8}, {"qint2", qsafe::io::DType::int8},     {"quint2", qsafe::io::DType::uint8},
      {"qint16", qsafe::io::DType::int16}, {"quint16", qsafe::io::DType::uint16}};
  for (const auto& t : types) {
    INFO(t.first);
    const qsafe::cli::Report rt = qsafe::cli::compute(opts({"--dtype", t.first}), x);
    const qsafe::io::NpyArray q = qsafe::cli::quantize(rt, x);
    CHECK(q.dtype() == t.second);
    const std::vector<double> qv = q.to_double();
    const qsafe::QRange qr = qsafe::cli::qrange_for(rt.options);
    CHECK(qv.front() == qr.qmin);  // the minimum maps to qmin, the maximum to qmax
    CHECK(qv.back() == qr.qmax);
  }
}

TEST_CASE("qparams cli: data errors name the file", "[tools]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(qsafe::cli::compute(opts({}), array({3}, {1.f, nan, 2.f})),
                    Catch::Contains("mem.npy") && Catch::Contains("1 NaN or Inf"));
  CHECK_THROWS_WITH(qsafe::cli::compute(opts({}), array({0}, {})), Catch::Contains("empty"));
  CHECK_THROWS_WITH(qsafe::cli::compute(opts({"--per-channel", "2"}), array({3}, {1.f, 2.f, 3.f})),
                    Catch::Contains("not an axis"));
  CHECK_THROWS_WITH(qsafe::cli::compute(opts({"--per-channel", "0", "--batches", "2"}), array({2, 2}, {1, 2, 3, 4})),
                    Catch::Contains("channel axis"));
  CHECK_THROWS_WITH(qsafe::cli::compute(opts({}), array({2}, {-3e38f, 3e38f})), Catch::Contains("cannot derive a scale"));

  std::ostringstream out, err;
  CHECK(qsafe::cli::run({"/nonexistent/x.npy"}, out, err) == 1);
  CHECK(out.str().empty());
  CHECK(err.str() == "qsafe-qparams: /nonexistent/x.npy: cannot open for reading: No such file or directory\n");
  std::ostringstream out2, err2;
  CHECK(qsafe::cli::run({"--dtype", "int7", "x.npy"}, out2, err2) == 2);
  CHECK(err2.str().find('\n') == err2.str().size() - 1);
  std::ostringstream out3, err3;
  CHECK(qsafe::cli::run({"-h"}, out3, err3) == 0);
  CHECK(out3.str() == qsafe::cli::usage());
}
