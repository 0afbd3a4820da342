// qsafe-report end to end: the real executable (path from tests/cmake/qsafe_report_tool.cmake) on
// a subset of the bundled digits (60 test images, 50 calibration images, the built-in groups).
// The JSON is read back and checked for every key of the schema (docs/report.md) and for the
// relations between its numbers (drops against float, worst group, flags, recommendation); the
// HTML must be well-formed and self-contained. Bad inputs must give one line on stderr naming the
// file, a non-zero exit, and no output file.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "qsafe/io/npy.hpp"
#include "support/data_paths.hpp"
#include "tools/json_lite.hpp"
#include "tools/report_html_check.hpp"

#ifdef QSAFE_REPORT_EXE

namespace {

namespace fs = std::filesystem;
using json_lite::Value;


struct Run {
  int status = -1;
  std::string out, err;
};

std::string shell_quote(const std::string& s) { return "'" + s + "'"; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Run run_tool(const std::string& args, const fs::path& dir) {
  const std::string err_file = (dir / "stderr.txt").string();
  const std::string cmd = shell_quote(QSAFE_REPORT_EXE) + " " + args + " 2>" + shell_quote(err_file);
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  Run r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = slurp(err_file);
  return r;
}

// A scratch directory removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("qsafe_report_test_" + std::to_string(static_cast<long>(getpid())));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// The first n samples of a digits array, written to dir/name.
std::string head(const std::string& src, std::int64_t n, const fs::path& dir, const std::string& name) {
  const qsafe::io::NpyArray a = qsafe::io::read_npy(qsafe_test::kDigitsDir + src);
  std::vector<std::int64_t> shape = a.shape();
  REQUIRE(shape[0] >= n);
  const std::int64_t per = a.numel() / shape[0];
  shape[0] = n;
  qsafe::io::NpyArray out(a.dtype(), shape);
  std::copy(a.bytes(), a.bytes() + static_cast<std::size_t>(n * per) * qsafe::io::dtype_size(a.dtype()), out.bytes());
  const std::string path = (dir / name).string();
  qsafe::io::write_npy(path, out);
  return path;
}

const Value& at(const Value& v, const std::string& key) {
  INFO("key " << key);
  REQUIRE(v.fields.count(key) == 1);
  return v.fields.at(key);
}

double num(const Value& v, const std::string& key) {
  const Value& x = at(v, key);
  INFO("key " << key);
  REQUIRE(x.kind == Value::Kind::number);
  return x.number();
}

}  // namespace

TEST_CASE("qsafe-report on a digits subset: JSON schema, numbers that agree, well-formed HTML", "[tools][report]") {
  TempDir tmp;
  const std::string test_x = head("test_x.npy", 60, tmp.path, "test_x.npy");
  const std::string test_y = head("test_y.npy", 60, tmp.path, "test_y.npy");
  const std::string calib = head("calib_x.npy", 50, tmp.path, "calib_x.npy");
  const std::string html_path = (tmp.path / "out" / "r.html").string();
  const std::string json_path = (tmp.path / "out" / "r.json").string();
  const Run r = run_tool("--model " + shell_quote(qsafe_test::kDigitsDir + "model/model.txt") + " --calib " + shell_quote(calib) + " --test " +
                             shell_quote(test_x) + " --labels " + shell_quote(test_y) + " --groups builtin --seed 3 --quiet" +
                             " --out " + shell_quote(html_path) + " --json " + shell_quote(json_path),
                         tmp.path);
  INFO("stderr: " << r.err);
  REQUIRE(r.status == 0);
  CHECK(r.err.empty());
  CHECK(r.out.find("HTML report: " + html_path) != std::string::npos);
  CHECK(r.out.find("static_minmax") != std::string::npos);

  const Value v = json_lite::parse(slurp(json_path));
  CHECK(at(v, "tool").text == "qsafe-report");
  CHECK(num(v, "schema") == 1);
  const Value& inputs = at(v, "inputs");
  CHECK(num(inputs, "test_samples") == 60);
  CHECK(num(inputs, "calib_samples") == 50);
  CHECK(num(inputs, "classes") == 10);
  CHECK(num(inputs, "seed") == 3);
  REQUIRE(at(inputs, "layers").items.size() == 5);  // conv1 conv2 dw3 fc1 fc2
  const std::vector<std::string> groups = {"clean",         "noise_0.1",   "noise_0.3",   "brightness_+0.3",
                                           "contrast_x0.5", "contrast_x2", "outliers_5x", "occlusion_3x3"};
  REQUIRE(at(v, "group_names").items.size() == groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) CHECK(at(v, "group_names").items[g].text == groups[g]);

  // Float: accuracy per group, the worst one named.
  const Value& fl = at(v, "float");
  std::vector<double> float_acc;
  for (const Value& g : at(fl, "groups").items) float_acc.push_back(num(g, "accuracy"));
  REQUIRE(float_acc.size() == groups.size());
  const std::size_t fworst =
      static_cast<std::size_t>(std::min_element(float_acc.begin(), float_acc.end()) - float_acc.begin());
  CHECK(at(fl, "worst_group").text == groups[fworst]);
  CHECK(float_acc[0] > 0.9);  // the bundled model is ~98 % accurate on clean digits

  // Every configuration: description, numbers per group consistent with float, per-layer parameters.
  const std::vector<std::string> names = {"static_minmax",  "static_percentile",  "static_mse",
                                          "static_entropy", "dynamic_per_tensor", "dynamic_per_row",
                                          "guarded",        "per_input_bits",     "mixed"};
  const Value& configs = at(v, "configs");
  REQUIRE(configs.items.size() == names.size());
  double best_worst = -1;
  std::set<std::string> flagged;
  for (std::size_t c = 0; c < names.size(); ++c) {
    const Value& cfg = configs.items[c];
    INFO("config " << names[c]);
    CHECK(at(cfg, "name").text == names[c]);
    CHECK(at(cfg, "error").kind == Value::Kind::null);
    CHECK(!at(cfg, "observer").text.empty());
    CHECK(!at(cfg, "policy").text.empty());
    CHECK(num(cfg, "weight_bits") == (names[c] == "mixed" ? 0 : 8));  // mixed: per layer
    CHECK(num(cfg, "activation_bits") == (names[c] == "mixed" ? 0 : 8));
    CHECK(at(cfg, "layer_weight_bits").items.size() == 5);
    const Value& gs = at(cfg, "groups");
    REQUIRE(gs.items.size() == groups.size());
    double worst = 2, max_drop = -2;
    std::string worst_name;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const double acc = num(gs.items[g], "accuracy");
      CHECK(acc >= 0.0);
      CHECK(acc <= 1.0);
      CHECK(num(gs.items[g], "drop_vs_float") == Approx(float_acc[g] - acc).margin(1e-6));
      CHECK(num(gs.items[g], "flips") >= 0);
      if (acc < worst) {
        worst = acc;
        worst_name = groups[g];
      }
      max_drop = std::max(max_drop, float_acc[g] - acc);
    }
    CHECK(at(cfg, "worst_group").text == worst_name);
    CHECK(num(cfg, "worst_group_accuracy") == Approx(worst).margin(1e-6));
    CHECK(num(cfg, "max_drop") == Approx(max_drop).margin(1e-6));
    CHECK((at(cfg, "flagged").text == "true") == (max_drop > 0.02 + 1e-9));
    if (at(cfg, "flagged").text == "true") flagged.insert(names[c]);
    const Value& wc = at(cfg, "worst_class");
    CHECK(num(wc, "label") >= 0);
    CHECK(num(wc, "label") < 10);
    best_worst = std::max(best_worst, worst);
    const Value& layers = at(cfg, "layers");
    REQUIRE(layers.items.size() == 5);
    for (const Value& l : layers.items) {
      CHECK(at(l, "counters").kind == Value::Kind::object);
      if (at(l, "quantized").text != "true") continue;
      CHECK(num(at(l, "input"), "scale") > 0);
      CHECK(num(at(l, "input"), "zero_point") >= 0);
      CHECK(num(at(l, "input"), "zero_point") <= 255);
      CHECK(!at(l, "weight_scales").items.empty());
      for (const Value& s : at(l, "weight_scales").items) CHECK(s.number() > 0);
    }
  }
  // Static configurations calibrate every layer; dynamic ones report the bit widths they chose.
  CHECK(at(configs.items[0], "observer").text == "min_max");
  CHECK(at(configs.items[4], "policy").text == "dynamic_per_tensor");
  CHECK(at(configs.items[7], "bit_width_candidates").items.size() == 2);

  // Sensitivity: one entry per quantizable layer, ranks 1..5.
  const Value& sens = at(v, "sensitivity");
  REQUIRE(at(sens, "layers").items.size() == 5);
  std::set<double> ranks;
  for (const Value& l : at(sens, "layers").items) {
    ranks.insert(num(l, "rank"));
    num(l, "only_worst");
    num(l, "except_worst");
  }
  CHECK(ranks == std::set<double>{1, 2, 3, 4, 5});

  // Calibration robustness: a full matrix, one row per calibration set.
  const Value& cal = at(v, "calibration_robustness");
  REQUIRE(!at(cal, "calib_sets").items.empty());
  CHECK(at(cal, "calib_sets").items[0].text == "base");
  CHECK(at(cal, "accuracy").items.size() == at(cal, "calib_sets").items.size());
  for (const Value& row : at(cal, "accuracy").items) CHECK(row.items.size() == groups.size());

  // Failure search: every dynamic configuration, each with a verdict.
  const Value& fs_ = at(v, "failure_search");
  std::set<std::string> searched;
  for (const Value& f : fs_.items) {
    searched.insert(at(f, "config").text);
    const std::string verdict = at(f, "verdict").text;
    CHECK((verdict == "robust" || verdict == "detrimental"));
    CHECK(num(f, "evaluations") > 0);
    CHECK((verdict == "detrimental") == (num(f, "accuracy_drop") > num(f, "threshold")));
  }
  for (const char* d : {"dynamic_per_tensor", "dynamic_per_row", "guarded", "per_input_bits"})
    CHECK(searched.count(d) == 1);

  // Mixed precision: a choice per layer.
  CHECK(at(at(v, "mixed_precision"), "layer_choices").items.size() == 5);

  // Recommendation: the best worst-group accuracy, every other configuration as an alternative,
  // the flags exactly those beyond the threshold.
  const Value& rec = at(v, "recommendation");
  CHECK(num(rec, "worst_group_accuracy") == Approx(best_worst).margin(1e-9));
  CHECK(at(rec, "alternatives").items.size() == names.size() - 1);
  for (const Value& a : at(rec, "alternatives").items) CHECK(num(a, "cost") >= -1e-12);
  std::set<std::string> rec_flagged;
  for (const Value& f : at(rec, "flagged").items) rec_flagged.insert(f.text);
  CHECK(rec_flagged == flagged);
  CHECK(!at(rec, "summary").text.empty());

  // HTML: well-formed, self-contained, with the three charts.
  const std::string html = slurp(html_path);
  const std::string problem = report_check::html_problem(html);
  INFO(problem);
  CHECK(problem.empty());
  std::size_t svgs = 0;
  for (std::size_t p = 0; (p = html.find("<svg", p)) != std::string::npos; ++p) ++svgs;
  CHECK(svgs == 3);
  CHECK(!fs::exists(html_path + ".tmp." + std::to_string(0)));
  for (const auto& e : fs::directory_iterator(tmp.path / "out"))
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("qsafe-report with --groups DIR and a subset of configurations", "[tools][report]") {
  TempDir tmp;
  const std::string test_x = head("test_x.npy", 40, tmp.path, "test_x.npy");
  const std::string test_y = head("test_y.npy", 40, tmp.path, "test_y.npy");
  const std::string calib = head("calib_x.npy", 30, tmp.path, "calib_x.npy");
  // Two user groups: the images as they are ("day") and darkened to a third ("night").
  const fs::path gdir = tmp.path / "groups";
  fs::create_directories(gdir);
  fs::copy_file(test_x, gdir / "day.npy");
  qsafe::io::NpyArray night = qsafe::io::read_npy(test_x);
  float* px = night.data<float>();
  for (std::int64_t i = 0; i < night.numel(); ++i) px[i] /= 3.f;
  qsafe::io::write_npy((gdir / "night.npy").string(), night);
  const std::string json_path = (tmp.path / "g.json").string();
  const Run r =
      run_tool("--model " + shell_quote(qsafe_test::kDigitsDir + "model/model.txt") + " --calib " + shell_quote(calib) + " --test " +
                   shell_quote(test_x) + " --labels " + shell_quote(test_y) + " --groups " + shell_quote(gdir.string()) +
                   " --configs static_mse,dynamic_per_row --quiet --out " + shell_quote((tmp.path / "g.html").string()),
               tmp.path);
  INFO("stderr: " << r.err);
  REQUIRE(r.status == 0);
  const Value v = json_lite::parse(slurp(json_path));
  REQUIRE(at(v, "group_names").items.size() == 2);
  CHECK(at(v, "group_names").items[0].text == "day");
  CHECK(at(v, "group_names").items[1].text == "night");
  REQUIRE(at(v, "configs").items.size() == 2);
  CHECK(at(at(v, "configs").items[0], "name").text == "static_mse");
  CHECK(at(at(v, "configs").items[1], "name").text == "dynamic_per_row");
  // "day" is the test set itself: float's accuracy there is float's clean accuracy on these 40.
  CHECK(num(at(at(v, "float"), "groups").items[0], "accuracy") > 0.9);
  CHECK(at(at(v, "mixed_precision"), "layer_choices").items.empty());  // not requested
}

TEST_CASE("qsafe-report bad input: one line naming the file, non-zero exit, no output", "[tools][report]") {
  TempDir tmp;
  const std::string test_x = head("test_x.npy", 20, tmp.path, "test_x.npy");
  const std::string test_y = head("test_y.npy", 20, tmp.path, "test_y.npy");
  const std::string calib = head("calib_x.npy", 20, tmp.path, "calib_x.npy");
  const std::string model = qsafe_test::kDigitsDir + "model/model.txt";

  // Wrong dtype (int64 images), wrong shape, labels out of range, NaN, too few labels.
  const std::string x_int = (tmp.path / "x_int.npy").string();
  qsafe::io::write_npy(
      x_int, qsafe::io::NpyArray::from_vector<std::int64_t>({20, 1, 8, 8}, std::vector<std::int64_t>(1280, 1)));
  const std::string x_shape = (tmp.path / "x_shape.npy").string();
  qsafe::io::write_npy(x_shape, qsafe::io::NpyArray::from_vector<float>({20, 65}, std::vector<float>(1300, 0.5f)));
  std::vector<float> nan_x(1280, 0.5f);
  nan_x[77] = std::nanf("");
  const std::string x_nan = (tmp.path / "x_nan.npy").string();
  qsafe::io::write_npy(x_nan, qsafe::io::NpyArray::from_vector<float>({20, 1, 8, 8}, nan_x));
  std::vector<std::int64_t> bad_labels(20, 3);
  bad_labels[5] = 10;
  const std::string y_range = (tmp.path / "y_range.npy").string();
  qsafe::io::write_npy(y_range, qsafe::io::NpyArray::from_vector<std::int64_t>({20}, bad_labels));
  const std::string y_short = (tmp.path / "y_short.npy").string();
  qsafe::io::write_npy(y_short, qsafe::io::NpyArray::from_vector<std::int64_t>({19}, std::vector<std::int64_t>(19, 1)));

  // A manifest that does not fit its weights: fc1 given fc2's weight file.
  const fs::path mdir = tmp.path / "model";
  fs::create_directories(mdir);
  for (const auto& e : fs::directory_iterator(qsafe_test::kDigitsDir + "model")) fs::copy_file(e.path(), mdir / e.path().filename());
  std::string manifest = slurp((mdir / "model.txt").string());
  const std::size_t at_fc1 = manifest.find("weight=fc1.weight.npy");
  REQUIRE(at_fc1 != std::string::npos);
  manifest.replace(at_fc1, 21, "weight=fc2.weight.npy");
  std::ofstream((mdir / "model.txt").string()) << manifest;

  struct Case {
    std::string what, model, calib, test, labels, extra, expect_in_message;
    int status;
  };
  const std::string missing = (tmp.path / "missing.npy").string();
  const std::vector<Case> cases = {
      {"missing test file", model, calib, missing, test_y, "", missing, 1},
      {"missing model", (tmp.path / "nope/model.txt").string(), calib, test_x, test_y, "", "nope/model.txt", 1},
      {"int64 images", model, calib, x_int, test_y, "", "float32 or float64", 1},
      {"wrong image shape", model, x_shape, test_x, test_y, "", "does not fit the model input", 1},
      {"NaN in the test set", model, calib, x_nan, test_y, "", "NaN", 1},
      {"label out of range", model, calib, test_x, y_range, "", "label 10 at index 5", 1},
      {"labels and samples differ", model, calib, test_x, y_short, "", "19 labels for 20", 1},
      {"manifest does not fit its weights", (mdir / "model.txt").string(), calib, test_x, test_y, "", "model.txt:", 1},
      {"group directory missing", model, calib, test_x, test_y, "--groups " + shell_quote((tmp.path / "nogroups").string()),
       "nogroups", 1},
      {"unknown configuration", model, calib, test_x, test_y, "--configs static_minmax,fancy", "fancy", 2},
      {"unknown option", model, calib, test_x, test_y, "--colour", "--colour", 2},
  };
  const fs::path out_dir = tmp.path / "out";
  for (const Case& c : cases) {
    INFO(c.what);
    const Run r = run_tool("--model " + shell_quote(c.model) + " --calib " + shell_quote(c.calib) + " --test " + shell_quote(c.test) +
                               " --labels " + shell_quote(c.labels) + " --quiet --out " +
                               shell_quote((out_dir / "r.html").string()) + " " + c.extra,
                           tmp.path);
    INFO("stderr: " << r.err);
    CHECK(r.status == c.status);
    CHECK(r.out.empty());
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.rfind("qsafe-report: ", 0) == 0);
    CHECK(r.err.find(c.expect_in_message) != std::string::npos);
    CHECK_FALSE(fs::exists(out_dir / "r.html"));
    CHECK_FALSE(fs::exists(out_dir / "r.json"));
  }
}

#else

TEST_CASE("qsafe-report executable tests", "[tools][report]") {
  WARN("QSAFE_REPORT_EXE not defined (tools not built): qsafe-report end-to-end tests skipped");
}

#endif
