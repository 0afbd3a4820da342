// qsafe/io/manifest.hpp: the model manifest, `model.txt`: one layer per line, `#` comments,
// `key=value` pairs in any order, paths relative to the manifest. Host-side; throws ManifestError
// whose message names the file and line ("model.txt:4: conv2d: unknown key 'strid'").
//
//   input shape=1,8,8                                   (C,H,W of one NCHW sample; required, first)
//   conv2d name=conv1 weight=w.npy bias=b.npy stride=1 padding=1 dilation=1 groups=1
//   linear name=fc1 weight=fc1.weight.npy bias=fc1.bias.npy
//   relu | relu6 | flatten | globalavgpool | softmax     (optional name=)
//   maxpool2d kernel=2 stride=2 padding=0               avgpool2d kernel=2 stride=2
//   add from=NAME                                       (residual: this input + NAME's output)
//
// stride, padding, dilation and kernel take 1 value (both axes) or 2 (h,w); padding also takes 4
// (top,left,bottom,right). bias is optional. Layers without a name get `<kind><index>`.
// Weights are PyTorch layouts (conv OIHW, linear [out, in]); checking them against the graph is the
// loader's job (nn/), which reports the manifest line of the layer that does not fit.
#ifndef QSAFE_IO_MANIFEST_HPP_
#define QSAFE_IO_MANIFEST_HPP_

#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "qsafe/nn/layer.hpp"

namespace qsafe {
namespace io {

class ManifestError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using LayerKind = nn::LayerKind;
using nn::to_string;

struct LayerSpec {
  LayerKind kind = LayerKind::input;
  std::string name;
  int line = 0;                     // 1-based line in the manifest
  std::vector<std::int64_t> shape;  // input: C,H,W (or features for an MLP)
  std::string weight_path;          // resolved against the manifest's folder
  std::string bias_path;            // empty when absent
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t groups = 1;
  std::string from;  // add: the other operand's layer name
};

struct Manifest {
  std::string path;  // as given, for messages
  std::vector<LayerSpec> layers;
  // "model.txt:12" for a layer, the prefix every loader error should start with.
  std::string where(const LayerSpec& l) const { return path + ":" + std::to_string(l.line); }
};

namespace detail {

inline std::string dirname_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

inline std::vector<std::int64_t> parse_int_list(const std::string& value, const std::string& where,
                                                const std::string& key) {
  std::vector<std::int64_t> out;
  std::stringstream ss(value);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty() || item.size() > 12) throw ManifestError(where + ": bad value for " + key + ": '" + value + "'");
    std::size_t used = 0;
    long long v = 0;
    for (char c : item)
      if (!(c == '-' || (c >= '0' && c <= '9')))
        throw ManifestError(where + ": bad value for " + key + ": '" + value + "'");
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      throw ManifestError(where + ": bad value for " + key + ": '" + value + "'");
    }
    if (used != item.size()) throw ManifestError(where + ": bad value for " + key + ": '" + value + "'");
    out.push_back(v);
  }
  if (out.empty() || value.back() == ',') throw ManifestError(where + ": bad value for " + key + ": '" + value + "'");
  return out;
}

// 1 value -> both axes, 2 -> (h, w). Values must be >= min_value.
inline void parse_pair(const std::string& value, const std::string& where, const std::string& key,
                       std::int64_t min_value, std::int64_t& h, std::int64_t& w) {
  const std::vector<std::int64_t> v = parse_int_list(value, where, key);
  if (v.size() > 2) throw ManifestError(where + ": " + key + " takes 1 or 2 values, got '" + value + "'");
  h = v[0];
  w = v.size() == 2 ? v[1] : v[0];
  if (h < min_value || w < min_value)
    throw ManifestError(where + ": " + key + " must be >= " + std::to_string(min_value) + ", got '" + value + "'");
}

}  // namespace detail

// Parses manifest text. `path` is used for messages and to resolve relative weight paths.
inline Manifest parse_manifest(const std::string& text, const std::string& path) {
  static const std::map<std::string, LayerKind> kinds = {
      {"input", LayerKind::input},         {"conv2d", LayerKind::conv2d},
      {"linear", LayerKind::linear},       {"relu", LayerKind::relu},
      {"relu6", LayerKind::relu6},         {"maxpool2d", LayerKind::maxpool2d},
      {"avgpool2d", LayerKind::avgpool2d}, {"globalavgpool", LayerKind::globalavgpool},
      {"flatten", LayerKind::flatten},     {"add", LayerKind::add},
      {"softmax", LayerKind::softmax}};
  // Keys each kind accepts (name is accepted by all).
  static const std::map<LayerKind, std::set<std::string>> allowed = {
      {LayerKind::input, {"shape"}},
      {LayerKind::conv2d, {"weight", "bias", "stride", "padding", "dilation", "groups"}},
      {LayerKind::linear, {"weight", "bias"}},
      {LayerKind::relu, {}},
      {LayerKind::relu6, {}},
      {LayerKind::maxpool2d, {"kernel", "stride", "padding"}},
      {LayerKind::avgpool2d, {"kernel", "stride"}},
      {LayerKind::globalavgpool, {}},
      {LayerKind::flatten, {}},
      {LayerKind::add, {"from"}},
      {LayerKind::softmax, {}}};

  Manifest m;
  m.path = path;
  const std::string dir = detail::dirname_of(path);
  std::set<std::string> names;
  std::istringstream in(text);
  std::string raw;
  int line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    const std::string where = path + ":" + std::to_string(line_no);
    const std::size_t hash = raw.find('#');
    std::string line = hash == std::string::npos ? raw : raw.substr(0, hash);
    for (char& c : line)
      if (c == '\t' || c == '\r') c = ' ';
    std::istringstream words(line);
    std::string kind_word;
    if (!(words >> kind_word)) continue;  // blank or comment
    const auto kind_it = kinds.find(kind_word);
    if (kind_it == kinds.end()) throw ManifestError(where + ": unknown layer kind '" + kind_word + "'");
    LayerSpec l;
    l.kind = kind_it->second;
    l.line = line_no;
    const std::string ctx = where + ": " + kind_word;
    std::map<std::string, std::string> kv;
    std::string token;
    while (words >> token) {
      const std::size_t eq = token.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == token.size())
        throw ManifestError(ctx + ": expected key=value, got '" + token + "'");
      const std::string key = token.substr(0, eq);
      if (key != "name" && allowed.at(l.kind).count(key) == 0) throw ManifestError(ctx + ": unknown key '" + key + "'");
      if (!kv.emplace(key, token.substr(eq + 1)).second) throw ManifestError(ctx + ": duplicate key '" + key + "'");
    }
    if (l.kind == LayerKind::input) {
      if (!m.layers.empty()) throw ManifestError(ctx + ": input must be the first layer, and only once");
      if (!kv.count("shape")) throw ManifestError(ctx + ": missing shape=");
      l.shape = detail::parse_int_list(kv["shape"], where, "shape");
      if (l.shape.size() != 1 && l.shape.size() != 3)
        throw ManifestError(ctx + ": shape must be C,H,W (or one feature count)");
      for (std::int64_t d : l.shape)
        if (d < 1 || d > (std::int64_t{1} << 24)) throw ManifestError(ctx + ": shape dimensions must be in [1, 2^24]");
    } else if (m.layers.empty()) {
      throw ManifestError(ctx + ": the first layer must be 'input shape=...'");
    }
    if (l.kind == LayerKind::conv2d || l.kind == LayerKind::linear) {
      if (!kv.count("weight")) throw ManifestError(ctx + ": missing weight=");
      l.weight_path = (kv["weight"].front() == '/' ? std::string() : dir) + kv["weight"];
      if (kv.count("bias")) l.bias_path = (kv["bias"].front() == '/' ? std::string() : dir) + kv["bias"];
    }
    if (kv.count("stride")) detail::parse_pair(kv["stride"], where, "stride", 1, l.stride_h, l.stride_w);
    if (kv.count("dilation")) detail::parse_pair(kv["dilation"], where, "dilation", 1, l.dilation_h, l.dilation_w);
    if (kv.count("kernel")) detail::parse_pair(kv["kernel"], where, "kernel", 1, l.kernel_h, l.kernel_w);
    if ((l.kind == LayerKind::maxpool2d || l.kind == LayerKind::avgpool2d)) {
      if (!kv.count("kernel")) throw ManifestError(ctx + ": missing kernel=");
      if (!kv.count("stride")) {  // PyTorch's default: stride = kernel
        l.stride_h = l.kernel_h;
        l.stride_w = l.kernel_w;
      }
    }
    if (kv.count("padding")) {
      const std::vector<std::int64_t> p = detail::parse_int_list(kv["padding"], where, "padding");
      if (p.size() == 1) {
        l.pad_top = l.pad_left = l.pad_bottom = l.pad_right = p[0];
      } else if (p.size() == 2) {
        l.pad_top = l.pad_bottom = p[0];
        l.pad_left = l.pad_right = p[1];
      } else if (p.size() == 4) {
        l.pad_top = p[0];
        l.pad_left = p[1];
        l.pad_bottom = p[2];
        l.pad_right = p[3];
      } else {
        throw ManifestError(ctx + ": padding takes 1, 2 (h,w) or 4 (top,left,bottom,right) values");
      }
      for (std::int64_t v : p)
        if (v < 0) throw ManifestError(ctx + ": padding must be >= 0");
    }
    if (kv.count("groups")) {
      const std::vector<std::int64_t> g = detail::parse_int_list(kv["groups"], where, "groups");
      if (g.size() != 1 || g[0] < 1) throw ManifestError(ctx + ": groups must be one integer >= 1");
      l.groups = g[0];
    }
    if (l.kind == LayerKind::add) {
      if (!kv.count("from")) throw ManifestError(ctx + ": missing from=");
      l.from = kv["from"];
      if (!names.count(l.from)) throw ManifestError(ctx + ": from=" + l.from + " names no earlier layer");
    }
    l.name = kv.count("name") ? kv["name"] : std::string(kind_word) + std::to_string(m.layers.size());
    if (!names.insert(l.name).second) throw ManifestError(ctx + ": duplicate layer name '" + l.name + "'");
    m.layers.push_back(std::move(l));
  }
  if (m.layers.empty()) throw ManifestError(path + ": no layers (expected 'input shape=...' first)");
  return m;
}

inline Manifest load_manifest(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ManifestError(path + ": cannot open manifest");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw ManifestError(path + ": read error");
  return parse_manifest(ss.str(), path);
}

}  // namespace io
}  // namespace qsafe

#endif  // QSAFE_IO_MANIFEST_HPP_
