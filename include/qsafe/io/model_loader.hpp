// qsafe/io/model_loader.hpp: builds an nn::Model from a manifest (io/manifest.hpp) and its .npy
// weights. Host-side; throws ManifestError with the manifest's file:line and the problem, e.g.
//   "data/model.txt:3: conv1: weight 8x3x3x3 does not fit input 1x8x8 with groups=1 ...".
#ifndef QSAFE_IO_MODEL_LOADER_HPP_
#define QSAFE_IO_MODEL_LOADER_HPP_

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "qsafe/io/manifest.hpp"
#include "qsafe/io/npy.hpp"
#include "qsafe/nn/model.hpp"

namespace qsafe {
namespace io {

namespace detail {
inline std::vector<float> load_float_tensor(const std::string& path, const std::string& where, const std::string& what,
                                            std::vector<std::int64_t>* shape) {
  NpyArray a;
  try {
    a = read_npy(path);
  } catch (const NpyError& e) {
    throw ManifestError(where + ": " + what + ": " + e.what());
  }
  if (a.dtype() != DType::float32 && a.dtype() != DType::float64)
    throw ManifestError(where + ": " + what + ": " + path + " must be float32 or float64, got " +
                        dtype_name(a.dtype()));
  if (shape != nullptr) *shape = a.shape();
  std::vector<float> v = a.to_float();
  for (float x : v)
    if (!std::isfinite(x)) throw ManifestError(where + ": " + what + ": " + path + " contains NaN or Inf");
  return v;
}
}  // namespace detail

inline nn::Model build_model(const Manifest& m) {
  nn::Model model;
  const LayerSpec& in = m.layers.front();
  if (in.shape.size() == 3)
    model.input_shape = nn::ActShape{in.shape[0], in.shape[1], in.shape[2], true};
  else
    model.input_shape = nn::ActShape{in.shape[0], 1, 1, false};
  for (std::size_t i = 1; i < m.layers.size(); ++i) {
    const LayerSpec& s = m.layers[i];
    const std::string where = m.where(s);
    nn::Layer l;
    l.kind = s.kind;
    l.name = s.name;
    l.source_line = s.line;
    l.kernel_h = s.kernel_h;
    l.kernel_w = s.kernel_w;
    l.stride_h = s.stride_h;
    l.stride_w = s.stride_w;
    l.pad_top = s.pad_top;
    l.pad_left = s.pad_left;
    l.pad_bottom = s.pad_bottom;
    l.pad_right = s.pad_right;
    l.dilation_h = s.dilation_h;
    l.dilation_w = s.dilation_w;
    l.groups = s.groups;
    if (nn::has_weights(s.kind)) {
      l.weight = detail::load_float_tensor(s.weight_path, where, s.name, &l.weight_shape);
      if (!s.bias_path.empty()) {
        std::vector<std::int64_t> bias_shape;
        l.bias = detail::load_float_tensor(s.bias_path, where, s.name, &bias_shape);
        if (bias_shape.size() != 1)
          throw ManifestError(where + ": " + s.name + ": bias " + s.bias_path + " must be 1-D");
      }
    }
    if (s.kind == LayerKind::add) {
      l.from = -1;
      for (std::size_t j = 1; j < i; ++j)
        if (m.layers[j].name == s.from) l.from = static_cast<int>(j - 1);
      if (l.from < 0 && m.layers.front().name != s.from)
        throw ManifestError(where + ": add: from=" + s.from + " names no earlier layer");
    }
    model.layers.push_back(std::move(l));
  }
  const nn::ModelError err = model.finalize();
  if (!err.ok()) {
    const std::string where = err.layer >= 0 ? m.where(m.layers[static_cast<std::size_t>(err.layer) + 1]) : m.path;
    throw ManifestError(where + ": " + err.message);
  }
  return model;
}

inline nn::Model load_model(const std::string& manifest_path) { return build_model(load_manifest(manifest_path)); }

}  // namespace io
}  // namespace qsafe

#endif  // QSAFE_IO_MODEL_LOADER_HPP_
