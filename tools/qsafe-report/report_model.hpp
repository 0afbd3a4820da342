// tools/qsafe-report/report_model.hpp: every number qsafe-report prints, draws or writes, in one
// plain struct. The analysis fills it (report_run.hpp); the JSON writer, the HTML writer and the
// terminal table only read it, so the three outputs cannot disagree. A number that does not exist
// (a configuration that failed, a step that was skipped) is NaN and becomes JSON null.
#ifndef QSAFE_TOOLS_QSAFE_REPORT_REPORT_MODEL_HPP_
#define QSAFE_TOOLS_QSAFE_REPORT_REPORT_MODEL_HPP_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace qsafe_report {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Quantization parameters as reported (absent: the layer ran in float or had none).
struct QP {
  bool present = false;
  double scale = kNaN;
  std::int64_t zero_point = 0;
};

// What one quantizable layer did under one configuration (from Engine::layer_stats).
struct LayerQuant {
  std::string name;
  std::string kind;
  bool quantized = false;
  QP input;                // static / envelope parameters (dynamic: the last ones used)
  QP output;               // when the engine requantizes its output
  double input_lo = kNaN;  // calibrated input range
  double input_hi = kNaN;
  std::vector<double> weight_scales;  // per output channel (or one)
  std::uint64_t values = 0;           // activation values quantized
  std::uint64_t clipped = 0;
  std::uint64_t saturated = 0;
  std::uint64_t envelope_violations = 0;
  std::uint64_t fallbacks = 0;
  std::uint64_t float_fallbacks = 0;
  std::vector<std::pair<int, std::uint64_t>> bits_chosen;  // (bit width, inputs), non-zero only
};

// Accuracy of a configuration on one input group, against the labels and against float.
struct GroupScore {
  std::string group;
  std::int64_t samples = 0;
  double accuracy = kNaN;       // fraction in [0, 1]
  double drop_vs_float = kNaN;  // float's accuracy on this group minus this accuracy
  double agreement = kNaN;      // top-1 agreement with float
  std::int64_t flips = 0;       // samples whose top-1 differs from float's
  double kl_mean = kNaN;        // softmax KL(float || quantized), nats
  double kl_p99 = kNaN;
  double kl_max = kNaN;
};

// The class a configuration gets most wrong (all groups pooled).
struct ClassScore {
  std::int64_t label = -1;
  std::int64_t samples = 0;
  double accuracy = kNaN;
  double float_accuracy = kNaN;
};

struct ConfigReport {
  std::string name;
  std::string description;
  std::string observer;     // "min_max", ... ("-" when no layer uses a calibrated range)
  std::string policy;       // "static", "dynamic_per_tensor", ..., "mixed"
  int weight_bits = 8;      // 0: set per layer (layer_weight_bits)
  int activation_bits = 8;  // 0: set per layer (layer_activation_bits)
  bool per_channel_weights = true;
  std::vector<int> bit_width_candidates;  // per-input bit-width policy: the widths it may pick
  // Per quantizable layer: the weight / activation widths, 0 for a layer kept in float.
  std::vector<int> layer_weight_bits;
  std::vector<int> layer_activation_bits;
  std::string error;  // non-empty: the configuration could not be prepared or run

  std::vector<GroupScore> groups;
  std::string worst_group;
  double worst_group_accuracy = kNaN;
  double worst_group_drop = kNaN;  // float's accuracy on that group minus this configuration's
  std::string max_drop_group;      // the group with the largest drop against float
  double max_drop = kNaN;          // float's accuracy minus this one's, largest over the groups
  double mean_accuracy = kNaN;
  std::int64_t flips = 0;  // over all groups
  ClassScore worst_class;
  bool flagged = false;           // some group more than the threshold below float's accuracy on it
  std::int64_t weight_bytes = 0;  // storage of the weights under this configuration
  std::vector<LayerQuant> layers;
};

// Per-layer sensitivity of one configuration, scored by `metric` (larger = worse) per group.
struct LayerSensitivity {
  std::string name;
  std::string kind;
  std::int64_t weights = 0;
  std::int64_t macs = 0;
  double only_worst = kNaN;           // worst-group degradation with only this layer quantized
  double only_mean = kNaN;            // its mean over groups
  double only_worst_accuracy = kNaN;  // lowest group accuracy with only this layer quantized
  double except_worst = kNaN;         // worst-group degradation with every layer but this one quantized
  double gain_worst = kNaN;           // full - except: what keeping this layer in float recovers
  int rank = 0;                       // 1 = most sensitive (by only_worst)
};

struct SensitivityReport {
  std::string config;        // the configuration whose layers were isolated
  std::string metric;        // what the degradations measure ("kl_mean": mean softmax KL vs float, nats)
  double full_worst = kNaN;  // every layer quantized
  std::vector<LayerSensitivity> layers;
};

// Calibrate on one set, evaluate on every group (rows: calibration sets, columns: groups).
struct CalibrationReport {
  std::string config;
  std::vector<std::string> calib_sets;  // "base", "group:<name>", "bootstrap:<k>", "subset<m>:<k>"
  std::vector<std::int64_t> calib_samples;
  std::vector<std::string> eval_groups;
  std::vector<std::vector<double>> accuracy;  // [calibration set][group]
  std::vector<double> worst_accuracy;         // per calibration set
  double worst_accuracy_min = kNaN;           // spread of worst-group accuracy over the sets
  double worst_accuracy_max = kNaN;
  std::string worst_set;                  // the set whose calibration hurts most
  std::vector<std::string> layer_names;   // per quantizable layer:
  std::vector<double> layer_scale_ratio;  //   max / min input scale over the sets
};

// The search for inputs on which a configuration disagrees most with float.
struct FailureSearchReport {
  std::string config;
  double linf = kNaN;            // L-inf budget of the perturbation phase, input units
  std::int64_t sources = 0;      // inputs searched from
  std::int64_t evaluations = 0;  // samples run (float + quantized each)
  double clean_accuracy = kNaN;  // quantized accuracy on the unperturbed sources
  double clean_float_accuracy = kNaN;
  double found_accuracy = kNaN;  // on each source's worst input found
  double found_float_accuracy = kNaN;
  double accuracy_drop = kNaN;  // found_float_accuracy - found_accuracy
  double found_flip_rate = kNaN;
  double worst_kl = kNaN;
  std::string worst_origin;      // "linf", "corruption:outliers", ...
  std::string worst_corruption;  // the most damaging corruption family and parameter
  double worst_corruption_drop = kNaN;
  double threshold = kNaN;
  std::string verdict;  // "detrimental" (accuracy_drop > threshold) or "robust"
  std::string explanation;
};

struct MixedPrecisionReport {
  std::string base_config;
  std::string budget;  // e.g. "average_weight_bits <= 8"
  std::vector<std::string> layer_names;
  std::vector<std::string> layer_choices;  // "float", "w16a16", "w8a8", "w4a8" per layer
  double average_weight_bits = kNaN;
  double weight_bytes = kNaN;
  double predicted_worst = kNaN;  // additive prediction of the worst-group degradation
  double measured_worst = kNaN;
  double worst_group_accuracy = kNaN;
  std::int64_t plans_considered = 0;
  std::int64_t plans_measured = 0;
  std::string error;  // non-empty: the planner failed
};

struct Alternative {
  std::string config;
  double worst_group_accuracy = kNaN;
  double cost = kNaN;  // best's worst-group accuracy minus this one's
  double mean_accuracy = kNaN;
  bool flagged = false;
  std::string note;
};

struct Recommendation {
  std::string config;  // the configuration with the best worst-group accuracy ("" if none ran)
  double worst_group_accuracy = kNaN;
  double float_accuracy_on_worst_group = kNaN;  // float on the recommended configuration's worst group
  double float_worst_group_accuracy = kNaN;     // float on its own worst group
  double threshold = 0.02;
  std::vector<Alternative> alternatives;  // every other configuration, best first
  std::vector<std::string> flagged;
  std::string summary;
};

struct LayerDesc {
  std::string name;
  std::string kind;
  std::int64_t weights = 0;
  std::int64_t macs = 0;
};

struct InputsInfo {
  std::string model, calib, test, labels, groups;
  std::int64_t calib_samples = 0;
  std::int64_t test_samples = 0;
  std::vector<std::int64_t> sample_shape;  // c, h, w
  std::int64_t classes = 0;
  std::uint64_t seed = 0;
  std::vector<LayerDesc> layers;  // quantizable layers
};

struct Report {
  std::string tool = "qsafe-report";
  std::string version;
  InputsInfo inputs;
  std::vector<std::string> group_names;
  std::vector<GroupScore> float_groups;  // float's accuracy per group (drop, flips: 0)
  std::string float_worst_group;
  double float_worst_group_accuracy = kNaN;
  std::vector<ConfigReport> configs;
  SensitivityReport sensitivity;
  CalibrationReport calibration;
  std::vector<FailureSearchReport> failure_search;
  MixedPrecisionReport mixed_precision;
  Recommendation recommendation;
  std::vector<std::pair<std::string, double>> timings_s;  // step -> seconds
};

}  // namespace qsafe_report

#endif  // QSAFE_TOOLS_QSAFE_REPORT_REPORT_MODEL_HPP_
