// qsafe-report's pieces in-process, on hand-made reports: the JSON writer (escaping, NaN/Inf as
// null, reads back), the HTML writer (well-formed, self-contained, text escaped), the
// recommendation (best worst-group accuracy, costs, flags) and the command-line checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../../tools/qsafe-report/html_writer.hpp"
#include "../../tools/qsafe-report/json_writer.hpp"
#include "../../tools/qsafe-report/recommend.hpp"
#include "../../tools/qsafe-report/report_inputs.hpp"
#include "tools/json_lite.hpp"
#include "tools/report_html_check.hpp"

namespace {

using qsafe_report::ConfigReport;
using qsafe_report::GroupScore;
using qsafe_report::Report;

GroupScore group(const std::string& name, double acc, double float_acc) {
  GroupScore g;
  g.group = name;
  g.samples = 100;
  g.accuracy = acc;
  g.drop_vs_float = float_acc - acc;
  g.agreement = 0.99;
  return g;
}

// Two groups; float gets 0.90 / 0.60.
ConfigReport config(const std::string& name, double clean, double shifted) {
  ConfigReport c;
  c.name = name;
  c.policy = "static";
  c.observer = "min_max";
  c.groups = {group("clean", clean, 0.90), group("noise", shifted, 0.60)};
  const bool noise_worse = shifted < clean;
  c.worst_group = noise_worse ? "noise" : "clean";
  c.worst_group_accuracy = noise_worse ? shifted : clean;
  c.worst_group_drop = noise_worse ? 0.60 - shifted : 0.90 - clean;
  c.max_drop = std::max(0.90 - clean, 0.60 - shifted);
  c.max_drop_group = 0.90 - clean >= 0.60 - shifted ? "clean" : "noise";
  c.mean_accuracy = (clean + shifted) / 2;
  c.flagged = c.max_drop > 0.02;
  return c;
}

Report sample_report() {
  Report r;
  r.version = "0.1.0";
  r.inputs.model = "m/model.txt";
  r.group_names = {"clean", "noise"};
  r.float_groups = {group("clean", 0.90, 0.90), group("noise", 0.60, 0.60)};
  r.float_worst_group = "noise";
  r.float_worst_group_accuracy = 0.60;
  r.configs = {config("a", 0.89, 0.55), config("b", 0.90, 0.59), config("c", 0.80, 0.59)};
  return r;
}

}  // namespace

TEST_CASE("report JSON: escaped strings, NaN and Inf as null, numbers read back", "[tools][report]") {
  Report r = sample_report();
  r.inputs.model = "dir \"q\"\\x\n\ttab";
  r.configs[0].worst_group_accuracy = std::numeric_limits<double>::quiet_NaN();
  r.configs[0].mean_accuracy = std::numeric_limits<double>::infinity();
  r.configs[1].error = "engine said <no>";
  const std::string json = qsafe_report::report_json(r);
  CHECK(json.find("NaN") == std::string::npos);
  CHECK(json.find("inf") == std::string::npos);
  CHECK(json.find("\"dir \\\"q\\\"\\\\x\\n\\ttab\"") != std::string::npos);
  // json_lite reads \" and \\ only: strip the other escapes before parsing.
  std::string plain = json;
  for (const char* e : {"\\n", "\\t"})
    for (std::size_t p; (p = plain.find(e)) != std::string::npos;) plain.replace(p, 2, " ");
  const json_lite::Value v = json_lite::parse(plain);
  const json_lite::Value& c0 = v.fields.at("configs").items.at(0);
  CHECK(c0.fields.at("worst_group_accuracy").kind == json_lite::Value::Kind::null);
  CHECK(c0.fields.at("mean_accuracy").kind == json_lite::Value::Kind::null);
  CHECK(c0.fields.at("groups").items.at(1).fields.at("accuracy").number() == Approx(0.55));
  CHECK(v.fields.at("configs").items.at(1).fields.at("error").text == "engine said <no>");
  CHECK(qsafe_report::json_escape(std::string("\x01", 1)) == "\\u0001");
  CHECK(qsafe_report::json_number(0.1f) == "0.100000001");
}

TEST_CASE("report HTML: well-formed, self-contained, every string escaped", "[tools][report]") {
  Report r = sample_report();
  r.configs[2].name = "<script>alert(1)</script>&";
  r.configs[2].layers.push_back({});
  r.configs[2].layers.back().name = "l\"1'";
  r.sensitivity.config = "a";
  r.sensitivity.metric = "accuracy_drop";
  r.sensitivity.layers.push_back({});
  r.sensitivity.layers.back().name = "conv<1>";
  r.sensitivity.layers.back().only_worst = 0.05;
  r.calibration.config = "a";
  r.calibration.calib_sets = {"base", "group:noise"};
  r.calibration.eval_groups = {"clean", "noise"};
  r.calibration.accuracy = {{0.9, 0.5}, {0.88, std::numeric_limits<double>::quiet_NaN()}};
  r.failure_search.push_back({});
  r.failure_search.back().config = "a";
  r.failure_search.back().verdict = "detrimental";
  r.recommendation = qsafe_report::recommend(r, 0.02);
  const std::string html = qsafe_report::report_html(r);
  const std::string problem = report_check::html_problem(html);
  INFO(problem);
  CHECK(problem.empty());
  CHECK(html.find("<script>") == std::string::npos);
  CHECK(html.find("&lt;script&gt;") != std::string::npos);
  CHECK(html.find("<svg") != std::string::npos);
  // The checker itself must catch the problems it is there for.
  CHECK_FALSE(report_check::html_problem("<p><b>x</p></b>").empty());
  CHECK_FALSE(report_check::html_problem("<p>a & b</p>").empty());
  CHECK_FALSE(report_check::html_problem("<p><br></p>").empty());
  CHECK_FALSE(report_check::html_problem("<p>x</p><img src=\"http://x/y.png\"/>").empty());
  CHECK_FALSE(report_check::html_problem("<div class=x></div>").empty());
  CHECK(report_check::html_problem("<p>a &amp; b<br/></p>").empty());
}

TEST_CASE("recommendation: best worst-group accuracy, costs and flags", "[tools][report]") {
  Report r = sample_report();
  // a: worst 0.55 (drop 5 points on noise, flagged); b: worst 0.59 (1 point, ok); c: worst 0.59,
  // mean lower (clean drops 10 points, flagged).
  const qsafe_report::Recommendation rec = qsafe_report::recommend(r, 0.02);
  CHECK(rec.config == "b");
  CHECK(rec.worst_group_accuracy == Approx(0.59));
  CHECK(rec.float_accuracy_on_worst_group == Approx(0.60));
  REQUIRE(rec.alternatives.size() == 2);
  CHECK(rec.alternatives[0].config == "c");  // same worst group as b, lower mean
  CHECK(rec.alternatives[0].cost == Approx(0.0));
  CHECK(rec.alternatives[1].config == "a");
  CHECK(rec.alternatives[1].cost == Approx(0.04));
  CHECK(rec.flagged == std::vector<std::string>{"a", "c"});
  CHECK(rec.summary.find("b has the best worst-group accuracy") != std::string::npos);
  CHECK(rec.summary.find("2 of 3 configurations") != std::string::npos);

  r.configs[1].error = "prepare failed";
  r.configs[1].flagged = true;
  const qsafe_report::Recommendation rec2 = qsafe_report::recommend(r, 0.02);
  CHECK(rec2.config == "c");
  CHECK(rec2.flagged == std::vector<std::string>{"a", "b", "c"});
  CHECK(rec2.summary.find("Even so it loses") != std::string::npos);

  r.configs.clear();
  CHECK(qsafe_report::recommend(r, 0.02).config.empty());
}

TEST_CASE("qsafe-report command line: required flags, values, defaults", "[tools][report]") {
  using qsafe_report::parse_args;
  using qsafe_report::UsageError;
  const std::vector<std::string> base = {"--model", "m.txt", "--calib",  "c.npy",
                                         "--test",  "x.npy", "--labels", "y.npy"};
  const qsafe_report::Options o = parse_args(base);
  CHECK(o.groups == "builtin");
  CHECK(o.out == "report.html");
  CHECK(o.json == "report.json");
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  CHECK(parse_args(with({"--out", "d/r.html", "--seed", "7"})).json == "d/r.json");
  CHECK(parse_args(with({"--seed", "7"})).seed == 7);
  CHECK_THROWS_AS(parse_args(with({"--seed", "-1"})), UsageError);
  CHECK_THROWS_AS(parse_args(with({"--seed"})), UsageError);
  CHECK_THROWS_AS(parse_args(with({"--bogus"})), UsageError);
  CHECK_THROWS_AS(parse_args(with({"--threshold", "2"})), UsageError);
  CHECK_THROWS_AS(parse_args(with({"--json", "report.html"})), UsageError);
  CHECK_THROWS_AS(parse_args({"--model", "m.txt"}), UsageError);
}
