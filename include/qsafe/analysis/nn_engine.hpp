// qsafe/analysis/nn_engine.hpp: NnEngine - qsafe's own layer graph (nn::Model) behind the
// analysis Engine interface (engine.hpp).
//
//   nn::Model model = io::load_model("data/digits/model/model.txt");   // finalized
//   analysis::NnEngine engine(model);          // holds a reference: model must outlive engine
//   engine.prepare(config, calib, n_calib);    // calibrate + quantize weights + plan
//   engine.run_quantized(x, n, logits);        // n NCHW samples -> [n, num_outputs()]
//   engine.layer_stats(i);                     // qparams, ranges, counters, bits_chosen ...
//
// Quantizable layers are the model's conv2d and linear layers in execution order. Execution
// semantics per policy: nn/quantized_model.hpp (static 8-bit min-max per-channel is PyTorch's
// eager-mode int8 model integer for integer). run_float gives Model::forward_float's results bit for
// bit (QuantizedModel::forward_float). Outputs are the
// last layer's values per sample, flattened in PyTorch's order (logits for a classifier).
//
// Every call returns a Status; a model that is not finalized gives invalid_argument everywhere
// (and zero layers / sizes). last_error() holds the message of the last failed prepare()
// ("conv1: observing its input failed"). Host-side: allocates, never throws.
#ifndef QSAFE_ANALYSIS_NN_ENGINE_HPP_
#define QSAFE_ANALYSIS_NN_ENGINE_HPP_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qsafe/analysis/engine.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/nn/model.hpp"
#include "qsafe/nn/quantized_model.hpp"

namespace qsafe {
namespace analysis {

class NnEngine : public Engine {
 public:
  // `model` must be finalized (Model::finalize) and outlive the engine; it is not copied.
  explicit NnEngine(const nn::Model& model) : model_(&model), qm_(model) {}

  std::size_t num_layers() const override { return qm_.num_quantizable(); }

  LayerInfo layer_info(std::size_t i) const override {
    LayerInfo info;
    if (i >= qm_.num_quantizable()) return info;
    const nn::Layer& l = model_->layers[static_cast<std::size_t>(qm_.layer_index(i))];
    info.name = l.name;
    info.kind = nn::to_string(l.kind);
    info.weight_count = static_cast<std::int64_t>(l.weight.size());
    if (l.kind == nn::LayerKind::conv2d) {
      const nn::ActShape o = l.out_shape;
      const std::int64_t per_output = l.weight_shape[1] * l.weight_shape[2] * l.weight_shape[3];  // (C/groups) kh kw
      info.macs_per_sample = o.numel() * per_output;
    } else {
      info.macs_per_sample = l.weight_shape[0] * l.weight_shape[1];
    }
    return info;
  }

  std::int64_t sample_numel() const override { return model_->finalized() ? model_->input_shape.numel() : 0; }
  std::int64_t num_outputs() const override { return model_->finalized() ? model_->output_shape().numel() : 0; }

  Status run_float(Span<const float> x, std::int64_t n, Span<float> out) override {
    return qm_.forward_float(x, n, out);
  }

  Status prepare(const QuantConfig& config, Span<const float> calib, std::int64_t n) override {
    const nn::ModelError e = qm_.prepare(config, calib, n);
    last_error_ = e.message;
    return e.status;
  }

  Status run_quantized(Span<const float> x, std::int64_t n, Span<float> out) override { return qm_.run(x, n, out); }

  LayerRunStats layer_stats(std::size_t i) const override {
    if (!qm_.prepared() || i >= qm_.num_quantizable()) return LayerRunStats{};
    return qm_.stats(i);
  }

  // Beyond Engine: the message of the last failed prepare(), and the executor itself (modes,
  // per-layer traces, the plan's qparams).
  const std::string& last_error() const noexcept { return last_error_; }
  nn::QuantizedModel& executor() noexcept { return qm_; }
  const nn::QuantizedModel& executor() const noexcept { return qm_; }

 private:
  const nn::Model* model_;
  nn::QuantizedModel qm_;
  std::string last_error_;
};

}  // namespace analysis
}  // namespace qsafe

#endif  // QSAFE_ANALYSIS_NN_ENGINE_HPP_
