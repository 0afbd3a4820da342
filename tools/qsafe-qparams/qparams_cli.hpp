// tools/qsafe-qparams/qparams_cli.hpp: everything qsafe-qparams does, as functions a test can call
// without spawning a process: argument parsing, running an observer over a .npy tensor, turning
// the ranges into scale / zero point, quantizing, and the JSON report. main.cpp only wires them.
//
//   qsafe-qparams [options] INPUT.npy
//     --observer minmax|moving_average|percentile|mse|entropy     (default minmax)
//     --dtype qint8|quint8|qint16|quint16|qint4|quint4|qint2|quint2 (default quint8)
//     --scheme affine|symmetric                                   (default affine)
//     --per-channel AXIS | --group-size G [--group-axis AXIS]     (default per tensor; groups
//                                                                  along the last axis)
//     --reduce-range  --narrow-range
//     --batches N                  per tensor: the flattened tensor in N consecutive chunks, the
//                                  first numel % N one element longer (torch.tensor_split);
//                                  per channel: chunks of the first axis (not the channel axis)
//     --averaging-constant C       moving_average, in (0, 1] (default 0.01, PyTorch's)
//     --percentile P               percentile, in [50, 100] (default 99.99)
//     --emit-quantized OUT.npy     the quantized integers, input shape, in the dtype's natural
//                                  NumPy type (int8/uint8 for 2-8 bits, int16/uint16 for 16)
//
// Output: one line of JSON on stdout,
//   {"observer":"minmax","dtype":"quint8","scheme":"affine","min":-1,"max":3,"scale":0.0156862754,"zero_point":64}
// per channel: "axis":A and arrays; per group: "group_axis","group_size","param_shape" and arrays
// (params in [outer, ceil(extent / G), inner] order, flattened). Floats are printed with %.9g,
// which reads back to the same float32. Errors: UsageError (bad arguments, exit 2) or
// std::runtime_error (bad file or data, exit 1), each one line on stderr.
#ifndef QSAFE_TOOLS_QSAFE_QPARAMS_QPARAMS_CLI_HPP_
#define QSAFE_TOOLS_QSAFE_QPARAMS_QPARAMS_CLI_HPP_

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "qsafe/io/npy.hpp"
#include "qsafe/observer/entropy.hpp"
#include "qsafe/observer/min_max.hpp"
#include "qsafe/observer/moving_average_min_max.hpp"
#include "qsafe/observer/mse.hpp"
#include "qsafe/observer/per_channel.hpp"
#include "qsafe/observer/percentile.hpp"
#include "qsafe/quantize.hpp"

namespace qsafe {
namespace cli {

// A bad command line (exit status 2).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Granularity { per_tensor, per_channel, per_group };

struct Options {
  std::string observer = "minmax";
  std::string dtype = "quint8";
  std::string scheme = "affine";
  Granularity granularity = Granularity::per_tensor;
  int axis = 0;  // channel axis, or the group axis
  std::int64_t group_size = 0;
  bool reduce_range = false;
  bool narrow_range = false;
  std::int64_t batches = 1;
  float averaging_constant = MovingAverageMinMaxObserver::kDefaultAveragingConstant;
  float percentile = PercentileObserver<>::kDefaultPercentile;
  std::string emit_quantized;  // empty: do not write
  std::string input;
  bool help = false;
};

inline const char* usage() {
  return "usage: qsafe-qparams [options] INPUT.npy\n"
         "Prints, as one line of JSON, the range an observer finds in a .npy tensor and the scale and\n"
         "zero point qsafe derives from it (PyTorch's formulas).\n"
         "  --observer minmax|moving_average|percentile|mse|entropy   (default minmax)\n"
         "  --dtype qint8|quint8|qint16|quint16|qint4|quint4|qint2|quint2  (default quint8)\n"
         "  --scheme affine|symmetric                     (default affine)\n"
         "  --per-channel AXIS                            one scale/zero point per index along AXIS\n"
         "  --group-size G [--group-axis AXIS]            one per block of G along AXIS (default -1)\n"
         "  --reduce-range                                one bit less (PyTorch's reduce_range)\n"
         "  --narrow-range                                signed types drop their lowest level\n"
         "  --batches N                                   observe in N chunks (torch.tensor_split of the\n"
         "                                                flattened tensor; per channel: of axis 0)\n"
         "  --averaging-constant C                        moving_average constant (default 0.01)\n"
         "  --percentile P                                percentile observer's P (default 99.99)\n"
         "  --emit-quantized OUT.npy                      also write the quantized integers\n"
         "  -h, --help                                    this text\n";
}

namespace detail {

// The integer type a --dtype names.
struct DTypeSpec {
  const char* name;
  bool is_signed;
  int bits;
};
constexpr DTypeSpec kDTypes[] = {{"qint8", true, 8},   {"quint8", false, 8}, {"qint16", true, 16},
                                 {"quint16", false, 16}, {"qint4", true, 4},  {"quint4", false, 4},
                                 {"qint2", true, 2},   {"quint2", false, 2}};

inline const DTypeSpec* find_dtype(const std::string& name) {
  for (const DTypeSpec& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

inline bool is_one_of(const std::string& v, std::initializer_list<const char*> set) {
  for (const char* s : set)
    if (v == s) return true;
  return false;
}

inline std::int64_t parse_int(const std::string& flag, const std::string& text, std::int64_t lo, std::int64_t hi) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE || v < lo || v > hi)
    throw UsageError(flag + " needs an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" +
                     text + "'");
  return v;
}

inline float parse_float(const std::string& flag, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const float v = std::strtof(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE || !(v == v))
    throw UsageError(flag + " needs a number, got '" + text + "'");
  return v;
}

}  // namespace detail

// Parses argv[1..] (without the program name). Throws UsageError with a one-line message.
inline Options parse_args(const std::vector<std::string>& args) {
  Options o;
  bool seen_per_channel = false, seen_group = false, seen_group_axis = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i], value;
    bool has_inline_value = false;
    if (flag.size() > 2 && flag.compare(0, 2, "--") == 0) {
      const std::size_t eq = flag.find('=');
      if (eq != std::string::npos) {
        value = flag.substr(eq + 1);
        flag = flag.substr(0, eq);
        has_inline_value = true;
      }
    }
    auto take = [&]() -> std::string {
      if (has_inline_value) return value;
      if (i + 1 >= args.size()) throw UsageError(flag + " needs a value");
      return args[++i];
    };
    auto no_value = [&]() {
      if (has_inline_value) throw UsageError(flag + " takes no value");
    };
    if (flag == "-h" || flag == "--help") {
      no_value();
      o.help = true;
    } else if (flag == "--observer") {
      o.observer = take();
      if (!detail::is_one_of(o.observer, {"minmax", "moving_average", "percentile", "mse", "entropy"}))
        throw UsageError("unknown observer '" + o.observer + "' (minmax, moving_average, percentile, mse, entropy)");
    } else if (flag == "--dtype") {
      o.dtype = take();
      if (detail::find_dtype(o.dtype) == nullptr)
        throw UsageError("unknown dtype '" + o.dtype + "' (qint8, quint8, qint16, quint16, qint4, quint4, qint2, quint2)");
    } else if (flag == "--scheme") {
      o.scheme = take();
      if (!detail::is_one_of(o.scheme, {"affine", "symmetric"}))
        throw UsageError("unknown scheme '" + o.scheme + "' (affine, symmetric)");
    } else if (flag == "--per-channel") {
      o.axis = static_cast<int>(detail::parse_int(flag, take(), -kMaxRank, kMaxRank - 1));
      seen_per_channel = true;
    } else if (flag == "--group-size") {
      o.group_size = detail::parse_int(flag, take(), 1, std::int64_t{1} << 40);
      seen_group = true;
    } else if (flag == "--group-axis") {
      o.axis = static_cast<int>(detail::parse_int(flag, take(), -kMaxRank, kMaxRank - 1));
      seen_group_axis = true;
    } else if (flag == "--reduce-range") {
      no_value();
      o.reduce_range = true;
    } else if (flag == "--narrow-range") {
      no_value();
      o.narrow_range = true;
    } else if (flag == "--batches") {
      o.batches = detail::parse_int(flag, take(), 1, std::int64_t{1} << 40);
    } else if (flag == "--averaging-constant") {
      const std::string v = take();
      o.averaging_constant = detail::parse_float(flag, v);
      if (!(o.averaging_constant > 0.f && o.averaging_constant <= 1.f))
        throw UsageError("--averaging-constant must be in (0, 1], got " + v);
    } else if (flag == "--percentile") {
      const std::string v = take();
      o.percentile = detail::parse_float(flag, v);
      if (!(o.percentile >= 50.f && o.percentile <= 100.f))
        throw UsageError("--percentile must be in [50, 100], got " + v);
    } else if (flag == "--emit-quantized") {
      o.emit_quantized = take();
      if (o.emit_quantized.empty()) throw UsageError("--emit-quantized needs a file name");
    } else if (flag.size() > 1 && flag[0] == '-') {
      throw UsageError("unknown option '" + flag + "'");
    } else {
      if (!o.input.empty()) throw UsageError("more than one input file ('" + o.input + "', '" + flag + "')");
      o.input = flag;
    }
  }
  if (o.help) return o;
  if (o.input.empty()) throw UsageError("no input .npy file given");
  if (seen_per_channel && (seen_group || seen_group_axis))
    throw UsageError("--per-channel and --group-size/--group-axis exclude each other");
  if (seen_group_axis && !seen_group) throw UsageError("--group-axis needs --group-size");
  if (seen_per_channel) o.granularity = Granularity::per_channel;
  if (seen_group) {
    o.granularity = Granularity::per_group;
    if (!seen_group_axis) o.axis = -1;
    if (o.batches != 1) throw UsageError("--batches cannot be combined with --group-size");
  }
  if (o.reduce_range && o.narrow_range) throw UsageError("--reduce-range and --narrow-range exclude each other");
  if (o.narrow_range && !detail::find_dtype(o.dtype)->is_signed)
    throw UsageError("--narrow-range needs a signed dtype, got " + o.dtype);
  if (o.reduce_range && detail::find_dtype(o.dtype)->bits == 2)
    throw UsageError("--reduce-range would leave 1 bit for " + o.dtype);
  return o;
}

// The integer range of o.dtype under its reduce/narrow options.
inline QRange qrange_for(const Options& o) {
  const detail::DTypeSpec& d = *detail::find_dtype(o.dtype);
  const int bits = o.reduce_range ? d.bits - 1 : d.bits;
  QRange r;
  if (d.is_signed) {
    r.qmin = -(std::int32_t{1} << (bits - 1)) + (o.narrow_range ? 1 : 0);
    r.qmax = (std::int32_t{1} << (bits - 1)) - 1;
  } else {
    r.qmin = 0;
    r.qmax = (std::int32_t{1} << bits) - 1;
  }
  return r;
}

// What the tool found: one entry per parameter group.
struct Report {
  Options options;
  std::vector<std::int64_t> param_shape;  // per group: [outer, groups, inner]
  std::vector<Range> ranges;
  std::vector<QParams> params;
};

// torch.tensor_split(n elements, k): chunk sizes, the first n % k one longer (zeros if k > n).
inline std::vector<std::int64_t> split_sizes(std::int64_t n, std::int64_t k) {
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(k), n / k);
  for (std::int64_t i = 0; i < n % k; ++i) sizes[static_cast<std::size_t>(i)] += 1;
  return sizes;
}

namespace detail {

[[noreturn]] inline void fail_status(const std::string& file, const std::string& what, Status s, std::size_t non_finite) {
  if (s == Status::non_finite_input)
    throw std::runtime_error(file + ": " + std::to_string(non_finite) + " NaN or Inf value(s) " + what +
                             "; observers reject non-finite data");
  throw std::runtime_error(file + ": " + what + ": " + to_string(s));
}

template <class Obs>
void observe_per_tensor(const Options& o, const std::vector<float>& x, Obs proto, Report& r) {
  Obs obs = proto;
  const std::vector<std::int64_t> sizes = split_sizes(static_cast<std::int64_t>(x.size()), o.batches);
  std::size_t offset = 0;
  for (std::size_t b = 0; b < sizes.size(); ++b) {
    const std::size_t n = static_cast<std::size_t>(sizes[b]);
    if (n == 0) continue;  // as PyTorch's observers skip empty tensors
    const Status s = obs.observe(Span<const float>(x.data() + offset, n));
    if (s != Status::ok) fail_status(o.input, "in batch " + std::to_string(b), s, obs.last_non_finite_count());
    offset += n;
  }
  const Result<Range> range = obs.range();
  if (!range.ok()) fail_status(o.input, "observer range", range.status(), 0);
  r.param_shape = {1};
  r.ranges = {range.value()};
}

template <class Obs>
void observe_per_channel(const Options& o, const std::vector<float>& x, const Shape& shape, Obs proto, Report& r) {
  const Result<AxisSplit> split = split_at_axis(shape, o.axis);
  if (!split.ok())
    throw std::runtime_error(o.input + ": --per-channel " + std::to_string(o.axis) + " is not an axis of a rank-" +
                             std::to_string(shape.rank()) + " tensor");
  const std::int64_t channels = split.value().extent;
  const int axis = o.axis < 0 ? o.axis + shape.rank() : o.axis;
  if (o.batches > 1 && axis == 0)
    throw std::runtime_error(o.input + ": --batches splits axis 0, which is the channel axis here");
  std::vector<Obs> chans(static_cast<std::size_t>(channels), proto);
  PerChannelObserver<Obs> pco(axis, Span<Obs>(chans.data(), chans.size()));
  const std::int64_t rows = shape.rank() > 0 ? shape[0] : 1;
  const std::int64_t row_elems = rows > 0 ? shape.numel() / rows : 0;
  const std::vector<std::int64_t> sizes = split_sizes(rows, o.batches);
  std::int64_t row = 0;
  for (std::size_t b = 0; b < sizes.size(); ++b) {
    if (sizes[b] == 0) continue;
    std::int64_t dims[kMaxRank];
    for (int i = 0; i < shape.rank(); ++i) dims[i] = shape[i];
    dims[0] = sizes[b];
    const TensorView<const float> chunk(x.data() + row * row_elems, Shape::from(dims, shape.rank()));
    const Status s = pco.observe(chunk);
    if (s != Status::ok) fail_status(o.input, "in batch " + std::to_string(b), s, pco.last_non_finite_count());
    row += sizes[b];
  }
  r.ranges.resize(static_cast<std::size_t>(channels));
  const Status s = pco.ranges(Span<Range>(r.ranges.data(), r.ranges.size()));
  if (s != Status::ok) fail_status(o.input, "observer ranges", s, 0);
  r.param_shape = {channels};
}

template <class Obs>
void observe_per_group(const Options& o, const std::vector<float>& x, const Shape& shape, Obs proto, Report& r) {
  const Result<ParamLayout> lr = param_layout(PerGroup{o.axis, o.group_size}, shape);
  if (!lr.ok())
    throw std::runtime_error(o.input + ": --group-axis " + std::to_string(o.axis) + " is not an axis of a rank-" +
                             std::to_string(shape.rank()) + " tensor");
  const ParamLayout& l = lr.value();
  const AxisSplit s = l.split;
  // Gather each group's values, then one observer per group.
  std::vector<std::vector<float>> groups(static_cast<std::size_t>(l.count()));
  for (std::int64_t a0 = 0; a0 < s.outer; ++a0)
    for (std::int64_t a = 0; a < s.extent; ++a)
      for (std::int64_t i = 0; i < s.inner; ++i)
        groups[static_cast<std::size_t>(l.index(a0, a, i))].push_back(x[static_cast<std::size_t>((a0 * s.extent + a) * s.inner + i)]);
  r.ranges.resize(groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) {
    Obs obs = proto;
    const Status st = obs.observe(Span<const float>(groups[g].data(), groups[g].size()));
    if (st != Status::ok) fail_status(o.input, "in group " + std::to_string(g), st, obs.last_non_finite_count());
    const Result<Range> range = obs.range();
    if (!range.ok()) fail_status(o.input, "observer range", range.status(), 0);
    r.ranges[g] = range.value();
  }
  r.param_shape = {s.outer, l.groups, s.inner};
}

template <class Obs>
void observe_with(const Options& o, const std::vector<float>& x, const Shape& shape, Obs proto, Report& r) {
  switch (o.granularity) {
    case Granularity::per_tensor: observe_per_tensor(o, x, proto, r); break;
    case Granularity::per_channel: observe_per_channel(o, x, shape, proto, r); break;
    case Granularity::per_group: observe_per_group(o, x, shape, proto, r); break;
  }
}

}  // namespace detail

// Runs the chosen observer over x and derives the parameters. Throws std::runtime_error naming
// the file for empty tensors, non-finite values, bad axes and ranges whose scale overflows.
inline Report compute(const Options& o, const io::NpyArray& array) {
  if (array.numel() == 0) throw std::runtime_error(o.input + ": the tensor is empty");
  const Shape shape = array.view_shape();
  const std::vector<float> x = array.to_float();
  Report r;
  r.options = o;
  const QRange qr = qrange_for(o);
  const SchemeKind scheme = o.scheme == "symmetric" ? SchemeKind::symmetric : SchemeKind::affine;
  if (o.observer == "minmax") {
    detail::observe_with(o, x, shape, MinMaxObserver{}, r);
  } else if (o.observer == "moving_average") {
    detail::observe_with(o, x, shape, MovingAverageMinMaxObserver(o.averaging_constant), r);
  } else if (o.observer == "percentile") {
    detail::observe_with(o, x, shape, PercentileObserver<2048>(o.percentile), r);
  } else if (o.observer == "mse") {
    detail::observe_with(o, x, shape, MseObserver<2048>(qr, scheme), r);
  } else {
    detail::observe_with(o, x, shape, EntropyObserver<4096>{}, r);
  }
  r.params.resize(r.ranges.size());
  for (std::size_t i = 0; i < r.ranges.size(); ++i) {
    const Result<QParams> p = qparams_from_range(r.ranges[i], qr, scheme);
    if (!p.ok())
      throw std::runtime_error(o.input + ": cannot derive a scale from the range [" + std::to_string(r.ranges[i].lo) +
                               ", " + std::to_string(r.ranges[i].hi) + "]: " + to_string(p.status()));
    r.params[i] = p.value();
  }
  return r;
}

namespace detail {

template <class Int, int Bits, class Gran>
io::NpyArray quantize_as(const Report& r, const io::NpyArray& array, Gran gran) {
  const Options& o = r.options;
  const Quantizer<Int, Bits, Affine, Gran> q(gran, QRangeOptions{o.narrow_range, o.reduce_range});
  const std::vector<float> x = array.to_float();
  io::NpyArray out(io::DTypeOf<Int>::value, array.shape(), o.emit_quantized);
  const Shape shape = array.view_shape();
  const Status s = q.quantize(TensorView<const float>(x.data(), shape), Span<const QParams>(r.params.data(), r.params.size()),
                              TensorView<Int>(out.data<Int>(), shape));
  if (s != Status::ok) throw std::runtime_error(o.input + ": quantize: " + to_string(s));
  return out;
}

template <class Int, int Bits>
io::NpyArray quantize_bits(const Report& r, const io::NpyArray& array) {
  const Options& o = r.options;
  switch (o.granularity) {
    case Granularity::per_tensor: return quantize_as<Int, Bits>(r, array, PerTensor{});
    case Granularity::per_channel: return quantize_as<Int, Bits>(r, array, PerChannel{o.axis});
    case Granularity::per_group: return quantize_as<Int, Bits>(r, array, PerGroup{o.axis, o.group_size});
  }
  return {};
}

}  // namespace detail

// The quantized integers of `array` with r's parameters: int8/uint8 arrays for 2-8 bit dtypes,
// int16/uint16 for 16-bit ones; same shape as the input.
inline io::NpyArray quantize(const Report& r, const io::NpyArray& array) {
  const detail::DTypeSpec& d = *detail::find_dtype(r.options.dtype);
  if (d.is_signed) {
    if (d.bits == 2) return detail::quantize_bits<std::int8_t, 2>(r, array);
    if (d.bits == 4) return detail::quantize_bits<std::int8_t, 4>(r, array);
    if (d.bits == 8) return detail::quantize_bits<std::int8_t, 8>(r, array);
    return detail::quantize_bits<std::int16_t, 16>(r, array);
  }
  if (d.bits == 2) return detail::quantize_bits<std::uint8_t, 2>(r, array);
  if (d.bits == 4) return detail::quantize_bits<std::uint8_t, 4>(r, array);
  if (d.bits == 8) return detail::quantize_bits<std::uint8_t, 8>(r, array);
  return detail::quantize_bits<std::uint16_t, 16>(r, array);
}

// %.9g: the shortest fixed precision that reads back to the same float32.
inline std::string json_number(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
  return buf;
}

inline std::string to_json(const Report& r) {
  const Options& o = r.options;
  const bool scalar = o.granularity == Granularity::per_tensor;
  auto list = [&](auto get) {
    std::string s = scalar ? "" : "[";
    for (std::size_t i = 0; i < r.ranges.size(); ++i) s += (i > 0 ? "," : "") + get(i);
    return s + (scalar ? "" : "]");
  };
  std::string j = "{\"observer\":\"" + o.observer + "\",\"dtype\":\"" + o.dtype + "\",\"scheme\":\"" + o.scheme + "\"";
  if (o.granularity == Granularity::per_channel) j += ",\"axis\":" + std::to_string(o.axis);
  if (o.granularity == Granularity::per_group) {
    j += ",\"group_axis\":" + std::to_string(o.axis) + ",\"group_size\":" + std::to_string(o.group_size) +
         ",\"param_shape\":[";
    for (std::size_t i = 0; i < r.param_shape.size(); ++i) j += (i > 0 ? "," : "") + std::to_string(r.param_shape[i]);
    j += "]";
  }
  j += ",\"min\":" + list([&](std::size_t i) { return json_number(r.ranges[i].lo); });
  j += ",\"max\":" + list([&](std::size_t i) { return json_number(r.ranges[i].hi); });
  j += ",\"scale\":" + list([&](std::size_t i) { return json_number(r.params[i].scale); });
  j += ",\"zero_point\":" + list([&](std::size_t i) { return std::to_string(r.params[i].zero_point); });
  return j + "}";
}

// The whole tool: returns the exit status (0 ok, 1 file/data error, 2 usage error).
inline int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Options o;
  try {
    o = parse_args(args);
  } catch (const UsageError& e) {
    err << "qsafe-qparams: " << e.what() << " (see --help)\n";
    return 2;
  }
  if (o.help) {
    out << usage();
    return 0;
  }
  try {
    const io::NpyArray x = io::read_npy(o.input);
    const Report r = compute(o, x);
    if (!o.emit_quantized.empty()) io::write_npy(o.emit_quantized, quantize(r, x));
    out << to_json(r) << "\n";
  } catch (const std::exception& e) {
    err << "qsafe-qparams: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace cli
}  // namespace qsafe

#endif  // QSAFE_TOOLS_QSAFE_QPARAMS_QPARAMS_CLI_HPP_
