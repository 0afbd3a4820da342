// tools/qsafe-report/report_inputs.hpp: the command line and the input files of qsafe-report,
// checked before any analysis runs. Every problem is one line that names the file and says what
// is wrong with it:
//   UsageError  a bad command line (exit 2), e.g. "unknown option --foo"
//   InputError  a file that is missing, unreadable or does not fit (exit 1), e.g.
//               "data/y.npy: label 12 at index 5 is outside [0, 10) (the model has 10 outputs)"
// Outputs are written only after everything succeeded, each to a temporary file renamed into
// place (write_outputs), so a failed run leaves no report behind, not even half of one.
#ifndef QSAFE_TOOLS_QSAFE_REPORT_REPORT_INPUTS_HPP_
#define QSAFE_TOOLS_QSAFE_REPORT_REPORT_INPUTS_HPP_

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "qsafe/analysis/dataset.hpp"
#include "qsafe/io/manifest.hpp"
#include "qsafe/io/model_loader.hpp"
#include "qsafe/io/npy.hpp"
#include "qsafe/nn/model.hpp"

namespace qsafe_report {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Options {
  std::string model, calib, test, labels;
  std::string groups = "builtin";
  std::string configs = "all";
  std::string out = "report.html";
  std::string json;  // default: --out with .json
  std::uint64_t seed = 0;
  double threshold = 0.02;  // flag configurations that lose more than this against float on a group
  std::string sensitivity_metric = "accuracy_drop";
  bool quiet = false;
  bool help = false;
};

inline const char* usage_text() {
  return "usage: qsafe-report --model DIR/model.txt --calib CALIB.npy --test X.npy --labels Y.npy\n"
         "                    [--groups builtin|DIR] [--configs LIST|all] [--out report.html]\n"
         "                    [--json report.json] [--seed N] [--threshold T]\n"
         "                    [--sensitivity-metric M] [--quiet]\n"
         "\n"
         "  --model      model manifest (model.txt) with its .npy weights beside it\n"
         "  --calib      calibration inputs, float32/float64, [N, C, H, W] or [N, C*H*W]\n"
         "  --test       test inputs, same layout; --labels: one integer class per test input\n"
         "  --groups     builtin: the test set plus its corruptions (noise, brightness, contrast,\n"
         "               outlier pixels, occlusion); DIR: every DIR/<group>.npy, each holding the same\n"
         "               samples in the same order as --labels (default builtin)\n"
         "  --configs    comma-separated subset of: static_minmax static_percentile static_mse\n"
         "               static_entropy dynamic_per_tensor dynamic_per_row guarded per_input_bits\n"
         "               mixed (default all)\n"
         "  --out        HTML report (default report.html); --json: JSON report (default: --out\n"
         "               with .json)\n"
         "  --seed       seed of the corruptions, resampling and the failure search (default 0)\n"
         "  --threshold  flag a configuration that loses more than T accuracy against float on\n"
         "               some group (default 0.02 = 2 points)\n"
         "  --sensitivity-metric  how per-layer damage is scored: accuracy_drop (default),\n"
         "               flip_rate, kl_mean, kl_p99, kl_max or logit_mse; worst group\n"
         "  --quiet      no progress on stderr\n"
         "Exit status: 0 done, 1 bad input file or failed analysis, 2 bad command line.\n";
}

inline std::uint64_t parse_u64(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || v[0] == '-' || end == v.c_str() || *end != '\0' || errno == ERANGE)
    throw UsageError(flag + ": expected a non-negative integer, got '" + v + "'");
  return x;
}

inline double parse_double(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || end == v.c_str() || *end != '\0' || !std::isfinite(x))
    throw UsageError(flag + ": expected a number, got '" + v + "'");
  return x;
}

inline Options parse_args(const std::vector<std::string>& args) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw UsageError(a + ": missing value");
      return args[++i];
    };
    if (a == "--model")
      o.model = value();
    else if (a == "--calib")
      o.calib = value();
    else if (a == "--test")
      o.test = value();
    else if (a == "--labels")
      o.labels = value();
    else if (a == "--groups")
      o.groups = value();
    else if (a == "--configs")
      o.configs = value();
    else if (a == "--out")
      o.out = value();
    else if (a == "--json")
      o.json = value();
    else if (a == "--seed")
      o.seed = parse_u64(a, value());
    else if (a == "--threshold")
      o.threshold = parse_double(a, value());
    else if (a == "--sensitivity-metric")
      o.sensitivity_metric = value();
    else if (a == "--quiet")
      o.quiet = true;
    else if (a == "--help" || a == "-h")
      o.help = true;
    else
      throw UsageError("unknown option " + a + " (--help lists them)");
  }
  if (o.help) return o;
  if (o.model.empty()) throw UsageError("--model is required");
  if (o.calib.empty()) throw UsageError("--calib is required");
  if (o.test.empty()) throw UsageError("--test is required");
  if (o.labels.empty()) throw UsageError("--labels is required");
  if (!(o.threshold >= 0 && o.threshold <= 1)) throw UsageError("--threshold: expected a value in [0, 1]");
  static const char* const kMetrics[] = {"accuracy_drop", "flip_rate", "kl_mean", "kl_p99", "kl_max", "logit_mse"};
  if (std::find(std::begin(kMetrics), std::end(kMetrics), o.sensitivity_metric) == std::end(kMetrics))
    throw UsageError("--sensitivity-metric: expected accuracy_drop, flip_rate, kl_mean, kl_p99, kl_max or logit_mse");
  if (o.out.empty()) throw UsageError("--out: empty path");
  if (o.json.empty()) {
    const std::filesystem::path p(o.out);
    o.json = p.has_extension() ? std::filesystem::path(p).replace_extension(".json").string() : o.out + ".json";
  }
  if (o.json == o.out) throw UsageError("--json and --out name the same file");
  return o;
}

// What the loaded inputs are.
struct Inputs {
  qsafe::nn::Model model;
  qsafe::analysis::SampleShape shape;
  std::int64_t classes = 0;
  qsafe::analysis::Dataset calib;
  qsafe::analysis::Dataset test;               // with labels
  std::vector<qsafe::analysis::Group> groups;  // user groups (--groups DIR); builtin ones are made later
  qsafe::Range data_range{0.f, 1.f};           // of calib and test together
};

namespace detail {

inline std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

inline qsafe::io::NpyArray read(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw InputError(path + ": no such file");
  if (std::filesystem::is_directory(path, ec)) throw InputError(path + ": is a directory, expected a .npy file");
  try {
    return qsafe::io::read_npy(path);
  } catch (const qsafe::io::NpyError& e) {
    throw InputError(e.what());
  }
}

// Float samples of the model's input shape: [N, C, H, W], or [N, C*H*W], or [N, H, W] for C = 1.
inline qsafe::analysis::Dataset load_samples(const std::string& path, const qsafe::analysis::SampleShape& shape,
                                             const char* what) {
  const qsafe::io::NpyArray a = read(path);
  if (a.dtype() != qsafe::io::DType::float32 && a.dtype() != qsafe::io::DType::float64)
    throw InputError(path + ": " + what + " must be float32 or float64, got " + qsafe::io::dtype_name(a.dtype()));
  const std::vector<std::int64_t>& s = a.shape();
  const bool fits = (s.size() == 4 && s[1] == shape.channels && s[2] == shape.height && s[3] == shape.width) ||
                    (s.size() == 2 && s[1] == shape.numel()) ||
                    (s.size() == 3 && shape.channels == 1 && s[1] == shape.height && s[2] == shape.width);
  if (!fits)
    throw InputError(path + ": " + what + " shape " + shape_text(s) + " does not fit the model input " +
                     std::to_string(shape.channels) + "x" + std::to_string(shape.height) + "x" +
                     std::to_string(shape.width) + " (expected (N, " + std::to_string(shape.channels) + ", " +
                     std::to_string(shape.height) + ", " + std::to_string(shape.width) + ") or (N, " +
                     std::to_string(shape.numel()) + "))");
  if (s[0] < 1) throw InputError(path + ": " + what + " holds no samples");
  qsafe::analysis::Dataset d;
  d.n = s[0];
  d.x = a.to_float();
  for (std::size_t i = 0; i < d.x.size(); ++i)
    if (!std::isfinite(d.x[i]))
      throw InputError(path + ": " + what + " contains NaN or Inf (first at flat index " + std::to_string(i) + ")");
  return d;
}

inline std::vector<std::int64_t> load_labels(const std::string& path, std::int64_t n, std::int64_t classes) {
  const qsafe::io::NpyArray a = read(path);
  using qsafe::io::DType;
  const DType t = a.dtype();
  if (t == DType::float32 || t == DType::float64)
    throw InputError(path + ": labels must be integers (int8..int64, uint8, uint16), got " + qsafe::io::dtype_name(t));
  if (a.rank() != 1) throw InputError(path + ": labels must be 1-D, got shape " + shape_text(a.shape()));
  if (a.shape()[0] != n)
    throw InputError(path + ": " + std::to_string(a.shape()[0]) + " labels for " + std::to_string(n) + " test samples");
  const std::vector<double> v = a.to_double();
  std::vector<std::int64_t> labels(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] < 0 || v[i] >= static_cast<double>(classes))
      throw InputError(path + ": label " + std::to_string(static_cast<long long>(v[i])) + " at index " +
                       std::to_string(i) + " is outside [0, " + std::to_string(classes) + ") (the model has " +
                       std::to_string(classes) + " outputs)");
    labels[i] = static_cast<std::int64_t>(v[i]);
  }
  return labels;
}

}  // namespace detail

inline Inputs load_inputs(const Options& o) {
  Inputs in;
  {
    std::error_code ec;
    if (!std::filesystem::exists(o.model, ec)) throw InputError(o.model + ": no such file");
  }
  try {
    in.model = qsafe::io::load_model(o.model);
  } catch (const qsafe::io::ManifestError& e) {
    throw InputError(e.what());
  } catch (const qsafe::io::NpyError& e) {
    throw InputError(e.what());
  }
  const qsafe::nn::ActShape is = in.model.input_shape;
  in.shape = is.spatial ? qsafe::analysis::SampleShape{is.c, is.h, is.w} : qsafe::analysis::SampleShape{1, 1, is.c};
  in.classes = in.model.output_shape().numel();
  if (in.classes < 2)
    throw InputError(o.model + ": the model has " + std::to_string(in.classes) +
                     " output(s); qsafe-report needs a classifier with at least 2 classes");
  in.calib = detail::load_samples(o.calib, in.shape, "calibration inputs");
  in.test = detail::load_samples(o.test, in.shape, "test inputs");
  in.test.labels = detail::load_labels(o.labels, in.test.n, in.classes);

  float lo = in.test.x.front(), hi = lo;
  for (const std::vector<float>* v : {&in.calib.x, &in.test.x})
    for (float x : *v) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  if (!(lo < hi)) hi = lo + 1.f;
  in.data_range = qsafe::Range{lo, hi};

  if (o.groups != "builtin") {
    std::error_code ec;
    if (!std::filesystem::is_directory(o.groups, ec))
      throw InputError(o.groups + ": --groups must be 'builtin' or a directory of <group>.npy files");
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(o.groups, ec))
      if (e.path().extension() == ".npy") files.push_back(e.path());
    if (ec) throw InputError(o.groups + ": cannot list the directory: " + ec.message());
    std::sort(files.begin(), files.end());
    if (files.empty()) throw InputError(o.groups + ": no .npy files in the group directory");
    for (const auto& f : files) {
      qsafe::analysis::Dataset d = detail::load_samples(f.string(), in.shape, "group inputs");
      if (d.n != in.test.n)
        throw InputError(f.string() + ": " + std::to_string(d.n) + " samples, but " + o.labels + " has " +
                         std::to_string(in.test.n) + " labels (a group holds the same samples in the same order)");
      qsafe::analysis::Group g;
      g.name = f.stem().string();
      g.x = std::move(d.x);
      g.n = d.n;
      g.labels = in.test.labels;
      in.groups.push_back(std::move(g));
    }
  }
  return in;
}

// Writes every (path, contents) pair to "<path>.tmp.<pid>" first, then renames them all into place;
// on any failure the temporary files are removed and nothing is left. Parent directories are created.
inline void write_outputs(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<std::string> temps;
  const auto cleanup = [&] {
    for (const std::string& t : temps) std::remove(t.c_str());
  };
  for (const auto& f : files) {
    const std::filesystem::path p(f.first);
    std::error_code ec;
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
    const std::string tmp = f.first + ".tmp." + std::to_string(static_cast<long>(getpid()));
    temps.push_back(tmp);
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << f.second;
    out.close();
    if (!out) {
      cleanup();
      throw InputError(f.first + ": cannot write the report");
    }
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (std::rename(temps[i].c_str(), files[i].first.c_str()) != 0) {
      for (std::size_t j = 0; j < i; ++j) std::remove(files[j].first.c_str());
      cleanup();
      throw InputError(files[i].first + ": cannot write the report (rename failed)");
    }
  }
}

}  // namespace qsafe_report

#endif  // QSAFE_TOOLS_QSAFE_REPORT_REPORT_INPUTS_HPP_
