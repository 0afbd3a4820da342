// qsafe/nn/layer.hpp: the layer vocabulary of qsafe's minimal graph (CNNs and MLPs).
#ifndef QSAFE_NN_LAYER_HPP_
#define QSAFE_NN_LAYER_HPP_

#include <cstdint>
#include <string>
#include <vector>

namespace qsafe {
namespace nn {

enum class LayerKind { input, conv2d, linear, relu, relu6, maxpool2d, avgpool2d, globalavgpool, flatten, add, softmax };

inline const char* to_string(LayerKind k) noexcept {
  switch (k) {
    case LayerKind::input: return "input";
    case LayerKind::conv2d: return "conv2d";
    case LayerKind::linear: return "linear";
    case LayerKind::relu: return "relu";
    case LayerKind::relu6: return "relu6";
    case LayerKind::maxpool2d: return "maxpool2d";
    case LayerKind::avgpool2d: return "avgpool2d";
    case LayerKind::globalavgpool: return "globalavgpool";
    case LayerKind::flatten: return "flatten";
    case LayerKind::add: return "add";
    case LayerKind::softmax: return "softmax";
  }
  return "?";
}

// True for layers that own weights (the ones quantization configurations are about).
constexpr bool has_weights(LayerKind k) noexcept { return k == LayerKind::conv2d || k == LayerKind::linear; }

// The per-sample shape of an activation: spatial (C, H, W; stored NHWC inside qsafe) or flat
// features (C = features, H = W = 1, spatial = false).
struct ActShape {
  std::int64_t c = 1, h = 1, w = 1;
  bool spatial = true;
  constexpr std::int64_t numel() const noexcept { return c * h * w; }
  friend constexpr bool operator==(const ActShape& a, const ActShape& b) noexcept {
    return a.c == b.c && a.h == b.h && a.w == b.w && a.spatial == b.spatial;
  }
  friend constexpr bool operator!=(const ActShape& a, const ActShape& b) noexcept { return !(a == b); }
};

inline std::string to_string(const ActShape& s) {
  return s.spatial ? std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w) : std::to_string(s.c);
}

// One layer. Window parameters apply to conv2d and pooling; weights to conv2d (OIHW) and linear
// ([out, in]), as PyTorch stores them.
struct Layer {
  LayerKind kind = LayerKind::relu;
  std::string name;
  int source_line = 0;  // manifest line, 0 if built in code
  std::int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  std::int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  std::int64_t dilation_h = 1, dilation_w = 1, groups = 1;
  std::vector<std::int64_t> weight_shape;
  std::vector<float> weight;
  std::vector<float> bias;  // empty = no bias
  int from = -1;            // add: index of the other operand's layer (-1 = the model input)

  // Filled by Model::finalize().
  ActShape in_shape, out_shape;
};

}  // namespace nn
}  // namespace qsafe

#endif  // QSAFE_NN_LAYER_HPP_
