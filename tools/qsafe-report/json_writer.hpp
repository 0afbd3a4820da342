// tools/qsafe-report/json_writer.hpp: the report as JSON (schema: docs/report.md).
//
// JsonWriter is a small streaming writer: strings are escaped (", \, control characters as
// \uXXXX; UTF-8 passes through), numbers are printed with %.9g (a float32 reads back exactly),
// NaN and +-Inf become null, so the output is always valid JSON. Objects are indented one level
// per nesting; arrays of numbers stay on one line.
#ifndef QSAFE_TOOLS_QSAFE_REPORT_JSON_WRITER_HPP_
#define QSAFE_TOOLS_QSAFE_REPORT_JSON_WRITER_HPP_

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "report_model.hpp"

namespace qsafe_report {

inline std::string json_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out;
}

// %.9g, or "null" for NaN / Inf.
inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

class JsonWriter {
 public:
  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  void key(const std::string& k) {
    separator();
    out_ += '"' + json_escape(k) + "\": ";
    after_key_ = true;
  }
  void value(const std::string& s) { scalar('"' + json_escape(s) + '"'); }
  void value(const char* s) { value(std::string(s)); }
  void value(double v) { scalar(json_number(v)); }
  void value(std::int64_t v) { scalar(std::to_string(v)); }
  void value(std::uint64_t v) { scalar(std::to_string(v)); }
  void value(int v) { scalar(std::to_string(v)); }
  void value(bool b) { scalar(b ? "true" : "false"); }
  void value(const std::vector<double>& v) {  // an array of numbers as one value, on one line
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + json_number(v[i]);
    scalar(s + "]");
  }
  void null() { scalar("null"); }

  template <class T>
  void field(const std::string& k, const T& v) {
    key(k);
    value(v);
  }
  // An array of numbers or strings on one line.
  template <class T>
  void array(const std::string& k, const std::vector<T>& v) {
    key(k);
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + item(v[i]);
    scalar(s + "]");
  }

  const std::string& str() const { return out_; }

 private:
  static std::string item(double v) { return json_number(v); }
  static std::string item(int v) { return std::to_string(v); }
  static std::string item(std::int64_t v) { return std::to_string(v); }
  static std::string item(const std::string& s) { return '"' + json_escape(s) + '"'; }

  void separator() {
    if (after_key_) return;
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
      out_ += '\n' + std::string(2 * first_.size(), ' ');
    }
  }
  void scalar(const std::string& s) {
    separator();
    out_ += s;
    after_key_ = false;
  }
  void open(char c) {
    separator();
    out_ += c;
    after_key_ = false;
    first_.push_back(true);
  }
  void close(char c) {
    const bool empty = first_.back();
    first_.pop_back();
    if (!empty) out_ += '\n' + std::string(2 * first_.size(), ' ');
    out_ += c;
    if (first_.empty()) out_ += '\n';
  }

  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written in it yet
  bool after_key_ = false;
};

namespace detail {

inline void write_qp(JsonWriter& w, const std::string& k, const QP& p) {
  w.key(k);
  if (!p.present) {
    w.null();
    return;
  }
  w.begin_object();
  w.field("scale", p.scale);
  w.field("zero_point", p.zero_point);
  w.end_object();
}

inline void write_group_score(JsonWriter& w, const GroupScore& g) {
  w.begin_object();
  w.field("group", g.group);
  w.field("samples", g.samples);
  w.field("accuracy", g.accuracy);
  w.field("drop_vs_float", g.drop_vs_float);
  w.field("agreement", g.agreement);
  w.field("flips", g.flips);
  w.field("kl_mean", g.kl_mean);
  w.field("kl_p99", g.kl_p99);
  w.field("kl_max", g.kl_max);
  w.end_object();
}

inline void write_layer(JsonWriter& w, const LayerQuant& l) {
  w.begin_object();
  w.field("name", l.name);
  w.field("kind", l.kind);
  w.field("quantized", l.quantized);
  write_qp(w, "input", l.input);
  write_qp(w, "output", l.output);
  w.array("input_range", std::vector<double>{l.input_lo, l.input_hi});
  w.array("weight_scales", l.weight_scales);
  w.key("counters");
  w.begin_object();
  w.field("values", l.values);
  w.field("clipped", l.clipped);
  w.field("saturated", l.saturated);
  w.field("envelope_violations", l.envelope_violations);
  w.field("fallbacks", l.fallbacks);
  w.field("float_fallbacks", l.float_fallbacks);
  w.end_object();
  w.key("bits_chosen");
  w.begin_object();
  for (const auto& b : l.bits_chosen) w.field(std::to_string(b.first), b.second);
  w.end_object();
  w.end_object();
}

inline void write_config(JsonWriter& w, const ConfigReport& c) {
  w.begin_object();
  w.field("name", c.name);
  w.field("description", c.description);
  w.field("observer", c.observer);
  w.field("policy", c.policy);
  w.field("weight_bits", c.weight_bits);
  w.field("activation_bits", c.activation_bits);
  w.field("per_channel_weights", c.per_channel_weights);
  w.array("bit_width_candidates", c.bit_width_candidates);
  w.array("layer_weight_bits", c.layer_weight_bits);
  w.array("layer_activation_bits", c.layer_activation_bits);
  w.field("weight_bytes", c.weight_bytes);
  w.key("error");
  if (c.error.empty())
    w.null();
  else
    w.value(c.error);
  w.key("groups");
  w.begin_array();
  for (const GroupScore& g : c.groups) write_group_score(w, g);
  w.end_array();
  w.field("worst_group", c.worst_group);
  w.field("worst_group_accuracy", c.worst_group_accuracy);
  w.field("worst_group_drop", c.worst_group_drop);
  w.field("max_drop_group", c.max_drop_group);
  w.field("max_drop", c.max_drop);
  w.field("mean_accuracy", c.mean_accuracy);
  w.field("flips", c.flips);
  w.key("worst_class");
  w.begin_object();
  w.field("label", c.worst_class.label);
  w.field("samples", c.worst_class.samples);
  w.field("accuracy", c.worst_class.accuracy);
  w.field("float_accuracy", c.worst_class.float_accuracy);
  w.end_object();
  w.field("flagged", c.flagged);
  w.key("layers");
  w.begin_array();
  for (const LayerQuant& l : c.layers) write_layer(w, l);
  w.end_array();
  w.end_object();
}

}  // namespace detail

inline std::string report_json(const Report& r) {
  JsonWriter w;
  w.begin_object();
  w.field("tool", r.tool);
  w.field("version", r.version);
  w.field("schema", 1);

  w.key("inputs");
  w.begin_object();
  w.field("model", r.inputs.model);
  w.field("calib", r.inputs.calib);
  w.field("test", r.inputs.test);
  w.field("labels", r.inputs.labels);
  w.field("groups", r.inputs.groups);
  w.field("calib_samples", r.inputs.calib_samples);
  w.field("test_samples", r.inputs.test_samples);
  w.array("sample_shape", r.inputs.sample_shape);
  w.field("classes", r.inputs.classes);
  w.field("seed", static_cast<std::uint64_t>(r.inputs.seed));
  w.key("layers");
  w.begin_array();
  for (const LayerDesc& l : r.inputs.layers) {
    w.begin_object();
    w.field("name", l.name);
    w.field("kind", l.kind);
    w.field("weights", l.weights);
    w.field("macs", l.macs);
    w.end_object();
  }
  w.end_array();
  w.end_object();

  w.array("group_names", r.group_names);
  w.key("float");
  w.begin_object();
  w.key("groups");
  w.begin_array();
  for (const GroupScore& g : r.float_groups) detail::write_group_score(w, g);
  w.end_array();
  w.field("worst_group", r.float_worst_group);
  w.field("worst_group_accuracy", r.float_worst_group_accuracy);
  w.end_object();

  w.key("configs");
  w.begin_array();
  for (const ConfigReport& c : r.configs) detail::write_config(w, c);
  w.end_array();

  w.key("sensitivity");
  w.begin_object();
  w.field("config", r.sensitivity.config);
  w.field("metric", r.sensitivity.metric);
  w.field("full_worst", r.sensitivity.full_worst);
  w.key("layers");
  w.begin_array();
  for (const LayerSensitivity& l : r.sensitivity.layers) {
    w.begin_object();
    w.field("name", l.name);
    w.field("kind", l.kind);
    w.field("weights", l.weights);
    w.field("macs", l.macs);
    w.field("only_worst", l.only_worst);
    w.field("only_mean", l.only_mean);
    w.field("only_worst_accuracy", l.only_worst_accuracy);
    w.field("except_worst", l.except_worst);
    w.field("gain_worst", l.gain_worst);
    w.field("rank", l.rank);
    w.end_object();
  }
  w.end_array();
  w.end_object();

  const CalibrationReport& cal = r.calibration;
  w.key("calibration_robustness");
  w.begin_object();
  w.field("config", cal.config);
  w.array("calib_sets", cal.calib_sets);
  w.array("calib_samples", cal.calib_samples);
  w.array("eval_groups", cal.eval_groups);
  w.key("accuracy");
  w.begin_array();
  for (const std::vector<double>& row : cal.accuracy) w.value(row);  // one row per line
  w.end_array();
  w.array("worst_accuracy", cal.worst_accuracy);
  w.field("worst_accuracy_min", cal.worst_accuracy_min);
  w.field("worst_accuracy_max", cal.worst_accuracy_max);
  w.field("worst_set", cal.worst_set);
  w.array("layer_names", cal.layer_names);
  w.array("layer_scale_ratio", cal.layer_scale_ratio);
  w.end_object();

  w.key("failure_search");
  w.begin_array();
  for (const FailureSearchReport& f : r.failure_search) {
    w.begin_object();
    w.field("config", f.config);
    w.field("linf", f.linf);
    w.field("sources", f.sources);
    w.field("evaluations", f.evaluations);
    w.field("clean_accuracy", f.clean_accuracy);
    w.field("clean_float_accuracy", f.clean_float_accuracy);
    w.field("found_accuracy", f.found_accuracy);
    w.field("found_float_accuracy", f.found_float_accuracy);
    w.field("accuracy_drop", f.accuracy_drop);
    w.field("found_flip_rate", f.found_flip_rate);
    w.field("worst_kl", f.worst_kl);
    w.field("worst_origin", f.worst_origin);
    w.field("worst_corruption", f.worst_corruption);
    w.field("worst_corruption_drop", f.worst_corruption_drop);
    w.field("threshold", f.threshold);
    w.field("verdict", f.verdict);
    w.field("explanation", f.explanation);
    w.end_object();
  }
  w.end_array();

  const MixedPrecisionReport& mp = r.mixed_precision;
  w.key("mixed_precision");
  w.begin_object();
  w.field("base_config", mp.base_config);
  w.field("budget", mp.budget);
  w.array("layer_names", mp.layer_names);
  w.array("layer_choices", mp.layer_choices);
  w.field("average_weight_bits", mp.average_weight_bits);
  w.field("weight_bytes", mp.weight_bytes);
  w.field("predicted_worst", mp.predicted_worst);
  w.field("measured_worst", mp.measured_worst);
  w.field("worst_group_accuracy", mp.worst_group_accuracy);
  w.field("plans_considered", mp.plans_considered);
  w.field("plans_measured", mp.plans_measured);
  w.key("error");
  if (mp.error.empty())
    w.null();
  else
    w.value(mp.error);
  w.end_object();

  const Recommendation& rec = r.recommendation;
  w.key("recommendation");
  w.begin_object();
  w.field("config", rec.config);
  w.field("worst_group_accuracy", rec.worst_group_accuracy);
  w.field("float_accuracy_on_worst_group", rec.float_accuracy_on_worst_group);
  w.field("float_worst_group_accuracy", rec.float_worst_group_accuracy);
  w.field("threshold", rec.threshold);
  w.key("alternatives");
  w.begin_array();
  for (const Alternative& a : rec.alternatives) {
    w.begin_object();
    w.field("config", a.config);
    w.field("worst_group_accuracy", a.worst_group_accuracy);
    w.field("cost", a.cost);
    w.field("mean_accuracy", a.mean_accuracy);
    w.field("flagged", a.flagged);
    w.field("note", a.note);
    w.end_object();
  }
  w.end_array();
  w.array("flagged", rec.flagged);
  w.field("summary", rec.summary);
  w.end_object();

  w.key("timings_s");
  w.begin_object();
  for (const auto& t : r.timings_s) w.field(t.first, t.second);
  w.end_object();
  w.end_object();
  return w.str();
}

}  // namespace qsafe_report

#endif  // QSAFE_TOOLS_QSAFE_REPORT_JSON_WRITER_HPP_
