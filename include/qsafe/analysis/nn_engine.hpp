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
// bit (QuantizedModel::forward_float), and remembers the outputs of the last 16 distinct inputs
// (the analyses run the float model over the same groups once per configuration; a repeated input,
// compared byte for byte, costs a copy). Outputs are the
// last layer's values per sample, flattened in PyTorch's order (logits for a classifier).
//
// Every call returns a Status; a model that is not finalized gives invalid_argument everywhere
// (and zero layers / sizes). last_error() holds the message of the last failed prepare()
// ("conv1: observing its input failed"). Host-side: allocates, never throws.
#ifndef QSAFE_ANALYSIS_NN_ENGINE_HPP_
#define QSAFE_ANALYSIS_NN_ENGINE_HPP_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

  // Remembers the outputs of the last float_cache_entries() distinct inputs (compared byte for
  // byte), so the analyses' repeated float passes over the same groups cost a copy.
  Status run_float(Span<const float> x, std::int64_t n, Span<float> out) override {
    if (!model_->finalized()) return Status::invalid_argument;
    if (n < 1) return Status::empty_input;
    if (x.size() != static_cast<std::size_t>(n * sample_numel())) return Status::shape_mismatch;
    if (out.size() != static_cast<std::size_t>(n * num_outputs())) return Status::shape_mismatch;
    for (FloatMemo& m : memo_)
      if (m.n == n && std::memcmp(m.x.data(), x.data(), x.size() * sizeof(float)) == 0) {
        std::copy(m.y.begin(), m.y.end(), out.data());
        m.used = ++tick_;
        return Status::ok;
      }
    QSAFE_RETURN_IF_ERROR(qm_.forward_float(x, n, out));
    if (memo_capacity_ == 0) return Status::ok;
    FloatMemo* slot = nullptr;
    if (memo_.size() < memo_capacity_) {
      memo_.emplace_back();
      slot = &memo_.back();
    } else {
      slot = &memo_[0];
      for (FloatMemo& m : memo_)
        if (m.used < slot->used) slot = &m;
    }
    slot->n = n;
    slot->x.assign(x.data(), x.data() + x.size());
    slot->y.assign(out.data(), out.data() + out.size());
    slot->used = ++tick_;
    return Status::ok;
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
  // Float outputs remembered by run_float (default 16 inputs; 0 turns the memo off).
  std::size_t float_cache_entries() const noexcept { return memo_capacity_; }
  void set_float_cache_entries(std::size_t k) {
    memo_capacity_ = k;
    if (memo_.size() > k) memo_.clear();
  }
  nn::QuantizedModel& executor() noexcept { return qm_; }
  const nn::QuantizedModel& executor() const noexcept { return qm_; }

 private:
  const nn::Model* model_;
  nn::QuantizedModel qm_;
  std::string last_error_;
  struct FloatMemo {
    std::int64_t n = 0;
    std::vector<float> x, y;
    std::uint64_t used = 0;
  };
  std::vector<FloatMemo> memo_;
  std::size_t memo_capacity_ = 16;
  std::uint64_t tick_ = 0;
};

}  // namespace analysis
}  // namespace qsafe

#endif  // QSAFE_ANALYSIS_NN_ENGINE_HPP_
