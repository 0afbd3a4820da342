// qsafe-qparams against PyTorch: every case of tests/data/npy/tool/cases.txt (made by
// scripts/golden/qparams_tool.py from torch.ao.quantization observers, quantize_per_tensor and
// quantize_per_channel) is run twice: in-process through qsafe::cli::run, and as the real
// executable (its path comes from tests/cmake/qsafe_qparams_tool.cmake). JSON is compared
// numerically and exactly (floats as float32, integers exactly, keys in the same order); the
// --emit-quantized file element by element against PyTorch's integers.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../../tools/qsafe-qparams/qparams_cli.hpp"
#include "tools/json_lite.hpp"

namespace {

const std::string kToolDir = std::string(QSAFE_TEST_DATA_DIR) + "/npy/tool/";

struct ToolCase {
  std::string args;
  std::string expect;
  std::string quantized;  // "-" for none
};

std::vector<ToolCase> load_cases() {
  std::ifstream in(kToolDir + "cases.txt");
  REQUIRE(in);
  std::vector<ToolCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("ARGS ", 0) == 0) {
      cases.push_back({line.substr(5), "", "-"});
    } else if (line.rfind("EXPECT ", 0) == 0) {
      REQUIRE(!cases.empty());
      cases.back().expect = line.substr(7);
    } else if (line.rfind("QUANTIZED ", 0) == 0) {
      REQUIRE(!cases.empty());
      cases.back().quantized = line.substr(10);
    }
  }
  return cases;
}

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> w;
  std::string t;
  while (in >> t) w.push_back(t);
  return w;
}

bool is_integer_key(const std::string& key) {
  return key == "zero_point" || key == "axis" || key == "group_axis" || key == "group_size" || key == "param_shape";
}

// "" when equal, else what differs.
std::string compare(const json_lite::Value& got, const json_lite::Value& want, const std::string& key) {
  using K = json_lite::Value::Kind;
  if (got.kind != want.kind) return key + ": different JSON types";
  switch (want.kind) {
    case K::object: {
      if (got.order != want.order) return "keys differ (or their order)";
      for (const std::string& k : want.order) {
        const std::string d = compare(got.fields.at(k), want.fields.at(k), k);
        if (!d.empty()) return d;
      }
      return "";
    }
    case K::array: {
      if (got.items.size() != want.items.size()) return key + ": array lengths differ";
      for (std::size_t i = 0; i < want.items.size(); ++i) {
        const std::string d = compare(got.items[i], want.items[i], key + "[" + std::to_string(i) + "]");
        if (!d.empty()) return d;
      }
      return "";
    }
    case K::number: {
      const bool same = is_integer_key(key.substr(0, key.find('[')))
                            ? got.text.find_first_of(".eE") == std::string::npos && got.number() == want.number()
                            : static_cast<float>(got.number()) == static_cast<float>(want.number());
      return same ? "" : key + ": " + got.text + " vs PyTorch " + want.text;
    }
    default: return got.text == want.text ? "" : key + ": " + got.text + " vs " + want.text;
  }
}

void check_json(const std::string& out, const std::string& expect) {
  INFO("output: " << out);
  REQUIRE(!out.empty());
  CHECK(out.back() == '\n');
  CHECK(out.find('\n') == out.size() - 1);  // one line
  const json_lite::Value got = json_lite::parse(out);
  const json_lite::Value want = json_lite::parse(expect);
  const std::string diff = compare(got, want, "");
  INFO("difference: " << diff);
  CHECK(diff.empty());
}

void check_quantized(const std::string& path, const std::string& expected_name) {
  const qsafe::io::NpyArray got = qsafe::io::read_npy(path);
  const qsafe::io::NpyArray want = qsafe::io::read_npy(kToolDir + expected_name);
  CHECK(got.dtype() == want.dtype());
  CHECK(got.shape() == want.shape());
  REQUIRE(got.byte_size() == want.byte_size());
  const std::vector<double> g = got.to_double(), w = want.to_double();
  std::size_t bad = 0;
  for (std::size_t i = 0; i < g.size(); ++i) bad += g[i] != w[i] ? 1u : 0u;
  CHECK(bad == 0);
  std::remove(path.c_str());
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

// Runs a shell command, returns (exit status, captured stdout).
std::pair<int, std::string> shell(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

TEST_CASE("qsafe-qparams in-process matches PyTorch on every committed case", "[tools][golden]") {
  const std::vector<ToolCase> cases = load_cases();
  REQUIRE(cases.size() >= 15);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const ToolCase& c = cases[i];
    INFO("case " << i << ": " << c.args);
    std::vector<std::string> args = split_words(c.args);
    const std::string qpath = "qparams_inproc_" + std::to_string(i) + ".npy";
    if (c.quantized != "-") {
      args.push_back("--emit-quantized");
      args.push_back(qpath);
    }
    args.push_back(kToolDir + "x.npy");
    std::ostringstream out, err;
    REQUIRE(qsafe::cli::run(args, out, err) == 0);
    CHECK(err.str().empty());
    check_json(out.str(), c.expect);
    if (c.quantized != "-") check_quantized(qpath, c.quantized);
  }
}

TEST_CASE("qsafe-qparams executable matches PyTorch on every committed case", "[tools][golden]") {
#ifndef QSAFE_QPARAMS_EXE
  WARN("QSAFE_QPARAMS_EXE not defined (tools not built): executable test skipped");
  return;
#else
  const std::string exe = QSAFE_QPARAMS_EXE;
  const std::vector<ToolCase> cases = load_cases();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const ToolCase& c = cases[i];
    INFO("case " << i << ": " << c.args);
    const std::string qpath = "qparams_exe_" + std::to_string(i) + ".npy";
    std::string cmd = quote(exe) + " " + c.args;
    if (c.quantized != "-") cmd += " --emit-quantized " + quote(qpath);
    cmd += " " + quote(kToolDir + "x.npy");
    const auto r = shell(cmd);
    REQUIRE(r.first == 0);
    check_json(r.second, c.expect);
    if (c.quantized != "-") check_quantized(qpath, c.quantized);
  }
  // Errors: non-zero exit, nothing on stdout, exactly one line on stderr.
  const std::vector<std::pair<std::string, int>> bad = {
      {"--observer nope " + quote(kToolDir + "x.npy"), 2},
      {"--dtype qint3 " + quote(kToolDir + "x.npy"), 2},
      {"--batches " + quote(kToolDir + "x.npy"), 2},
      {"", 2},
      {quote(kToolDir + "missing.npy"), 1},
      {quote(kToolDir + "cases.txt"), 1},
      {"--per-channel 5 " + quote(kToolDir + "x.npy"), 1},
  };
  for (const auto& b : bad) {
    INFO(b.first);
    const auto out = shell(quote(exe) + " " + b.first + " 2>/dev/null");
    CHECK(out.first == b.second);
    CHECK(out.second.empty());
    const auto err = shell(quote(exe) + " " + b.first + " 2>&1 >/dev/null");
    INFO("stderr: " << err.second);
    CHECK(err.second.rfind("qsafe-qparams: ", 0) == 0);
    CHECK(err.second.find('\n') == err.second.size() - 1);
  }
  const auto help = shell(quote(exe) + " --help");
  CHECK(help.first == 0);
  CHECK(help.second.find("usage: qsafe-qparams") == 0);
#endif
}
