// tools/qsafe-report/html_writer.hpp: the report as one self-contained HTML page: inline CSS,
// inline SVG charts, no scripts, no external assets (it opens offline and can be mailed).
//
//   1. the recommendation and the flags          4. calibration robustness: heat map + size sweep
//   2. accuracy per group per configuration      5. failure search (dynamic policies)
//      (grouped bars) and the summary table      6. per-layer quantization parameters
//   3. per-layer sensitivity (bars)              7. inputs and timings
//
// The markup is XHTML-style (every element closed, void elements written as <x/>, attributes
// quoted, text escaped) so a test can check it by tag balance alone.
#ifndef QSAFE_TOOLS_QSAFE_REPORT_HTML_WRITER_HPP_
#define QSAFE_TOOLS_QSAFE_REPORT_HTML_WRITER_HPP_

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "report_model.hpp"

namespace qsafe_report {

inline std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace html_detail {

inline std::string fmt(const char* f, double v) {
  if (!std::isfinite(v)) return "&#8211;";  // en dash for a missing number
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
inline std::string pct(double v) { return fmt("%.1f%%", 100.0 * v); }
inline std::string pts(double v) { return fmt("%+.1f", std::fabs(v) < 5e-4 ? 0.0 : 100.0 * v); }  // points
inline std::string num(double v) { return fmt("%.4g", v); }
inline std::string px(double v) { return fmt("%.1f", v); }

// Ten distinguishable colours (float is always black).
inline const char* palette(std::size_t i) {
  static const char* const k[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return k[i % 10];
}

// White -> red as a accuracy drop grows (0 .. 0.3 and beyond), for the heat map.
inline std::string heat_color(double drop) {
  if (!std::isfinite(drop)) return "#dddddd";
  const double t = std::min(1.0, std::max(0.0, drop / 0.3));
  const int g = static_cast<int>(std::lround(255 - 175 * t)), b = static_cast<int>(std::lround(255 - 200 * t));
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", 255, g, b);
  return buf;
}

inline std::string text(double x, double y, const std::string& s, const char* anchor = "middle", int size = 11,
                        const char* extra = "") {
  return "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\" text-anchor=\"" + anchor + "\" font-size=\"" +
         std::to_string(size) + "\"" + extra + ">" + (s == "&#8211;" ? s : html_escape(s)) + "</text>";
}
inline std::string rect(double x, double y, double w, double h, const std::string& fill, const std::string& tip) {
  return "<rect x=\"" + px(x) + "\" y=\"" + px(y) + "\" width=\"" + px(std::max(0.0, w)) + "\" height=\"" +
         px(std::max(0.0, h)) + "\" fill=\"" + fill + "\"><title>" + html_escape(tip) + "</title></rect>";
}
inline std::string line(double x1, double y1, double x2, double y2, const char* stroke, const char* extra = "") {
  return "<line x1=\"" + px(x1) + "\" y1=\"" + px(y1) + "\" x2=\"" + px(x2) + "\" y2=\"" + px(y2) + "\" stroke=\"" +
         stroke + "\"" + extra + "/>";
}
inline std::string svg_open(double w, double h, const std::string& label) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + px(w) + "\" height=\"" + px(h) + "\" viewBox=\"0 0 " +
         px(w) + " " + px(h) + "\" role=\"img\" aria-label=\"" + html_escape(label) + "\">";
}

// Accuracy per group (x) per configuration (bars), float first in black.
inline std::string accuracy_chart(const Report& r) {
  struct Series {
    std::string name;
    std::string color;
    std::vector<double> acc;
  };
  std::vector<Series> series;
  Series f{"float", "#000000", {}};
  for (const GroupScore& g : r.float_groups) f.acc.push_back(g.accuracy);
  series.push_back(f);
  for (std::size_t i = 0; i < r.configs.size(); ++i) {
    Series s{r.configs[i].name, palette(i), {}};
    for (std::size_t j = 0; j < r.group_names.size(); ++j)
      s.acc.push_back(j < r.configs[i].groups.size() ? r.configs[i].groups[j].accuracy : kNaN);
    series.push_back(s);
  }
  // The axis starts at the next 10 % below the lowest bar (stated on the axis), so small drops show.
  double lo = 1.0;
  for (const Series& s : series)
    for (double a : s.acc)
      if (std::isfinite(a)) lo = std::min(lo, a);
  const double floor = std::max(0.0, std::floor((lo - 0.02) * 10.0) / 10.0);
  const std::size_t groups = r.group_names.size(), n = series.size();
  const double bar = 7, gap = 14, left = 70, top = 12, plot_h = 220;
  const double group_w = static_cast<double>(n) * bar + gap;
  const double width = std::max(640.0, left + static_cast<double>(groups) * group_w + 12);
  const double legend_y = top + plot_h + 40;
  const std::size_t per_row = 4;
  const double legend_col = (width - left) / static_cast<double>(per_row);
  const double legend_rows = std::ceil(static_cast<double>(n) / static_cast<double>(per_row));
  const double height = legend_y + 16 * legend_rows + 6;
  const auto y_of = [&](double a) { return top + plot_h * (1.0 - (a - floor) / (1.0 - floor)); };
  std::string s = svg_open(width, height, "accuracy per group per configuration");
  for (int t = 0; t <= 5; ++t) {
    const double a = floor + (1.0 - floor) * t / 5.0, y = y_of(a);
    s += line(left, y, width - 8, y, "#dddddd");
    s += text(left - 4, y + 4, pct(a), "end", 10);
  }
  s += text(14, top + plot_h / 2, "accuracy (axis from " + pct(floor) + ")", "middle", 10,
            (" transform=\"rotate(-90 14 " + px(top + plot_h / 2) + ")\"").c_str());
  for (std::size_t g = 0; g < groups; ++g) {
    const double x0 = left + static_cast<double>(g) * group_w + gap / 2;
    for (std::size_t k = 0; k < n; ++k) {
      const double a = g < series[k].acc.size() ? series[k].acc[g] : kNaN;
      if (!std::isfinite(a)) continue;
      const double y = y_of(std::max(a, floor));
      s += rect(x0 + static_cast<double>(k) * bar, y, bar - 1, top + plot_h - y, series[k].color,
                series[k].name + " on " + r.group_names[g] + ": " + pct(a));
    }
    s += text(x0 + static_cast<double>(n) * bar / 2, top + plot_h + 14, r.group_names[g], "middle", 10);
  }
  s += line(left, top + plot_h, width - 8, top + plot_h, "#555555");
  for (std::size_t k = 0; k < n; ++k) {
    const double x = left + static_cast<double>(k % per_row) * legend_col;
    const double y = legend_y + 16 * static_cast<double>(k / per_row);
    s += rect(x, y - 9, 10, 10, series[k].color, series[k].name);
    s += text(x + 14, y, series[k].name, "start", 11);
  }
  return s + "</svg>";
}

// Two bars per layer: worst-group degradation with only this layer quantized (red), and what
// keeping only this layer in float recovers (blue), in the sensitivity metric's units.
inline std::string sensitivity_chart(const SensitivityReport& sr) {
  const bool points = sr.metric == "accuracy_drop" || sr.metric == "flip_rate";
  const auto val = [&](double v) { return points ? pts(v) : fmt("%.3g", v); };
  double hi = 0;
  for (const LayerSensitivity& l : sr.layers) {
    if (std::isfinite(l.only_worst)) hi = std::max(hi, l.only_worst);
    if (std::isfinite(l.gain_worst)) hi = std::max(hi, l.gain_worst);
  }
  if (!(hi > 0)) hi = 1e-6;
  const double left = 130, top = 10, row = 34, plot_w = 520;
  const double rows_h = row * static_cast<double>(sr.layers.size());
  const double height = top + rows_h + 50, width = left + plot_w + 90;
  const auto x_of = [&](double d) { return left + plot_w * std::max(0.0, d) / hi; };
  std::string s = svg_open(width, height, "per-layer sensitivity");
  for (int t = 0; t <= 4; ++t) {
    const double d = hi * t / 4.0, x = x_of(d);
    s += line(x, top, x, top + rows_h, "#dddddd");
    s += text(x, top + rows_h + 14, val(d), "middle", 10);
  }
  for (std::size_t i = 0; i < sr.layers.size(); ++i) {
    const LayerSensitivity& l = sr.layers[i];
    const double y = top + row * static_cast<double>(i);
    s += text(left - 6, y + 17, l.name + " (" + l.kind + ")", "end", 11);
    if (std::isfinite(l.only_worst)) {
      s += rect(left, y + 4, x_of(l.only_worst) - left, 12, "#d62728",
                l.name + " alone quantized: worst group " + val(l.only_worst));
      s += text(x_of(l.only_worst) + 4, y + 14, val(l.only_worst), "start", 10);
    }
    if (std::isfinite(l.gain_worst)) {
      s += rect(left, y + 17, x_of(l.gain_worst) - left, 12, "#1f77b4",
                "keeping " + l.name + " in float recovers " + val(l.gain_worst));
      s += text(x_of(l.gain_worst) + 4, y + 27, val(l.gain_worst), "start", 10);
    }
  }
  const double ly = top + rows_h + 34;
  s += rect(left, ly - 9, 10, 10, "#d62728", "only this layer quantized");
  s += text(left + 14, ly, "worst group, only this layer quantized", "start", 11);
  s += rect(left + 270, ly - 9, 10, 10, "#1f77b4", "recovered by keeping this layer in float");
  s += text(left + 284, ly, "recovered by keeping only this layer in float", "start", 11);
  return s + "</svg>";
}

// Rows: the group calibrated on; columns: the group evaluated on; cell: accuracy, coloured by the
// drop against float on that column.
inline std::string calibration_heatmap(const CalibrationReport& c, const Report& r) {
  const double left = 130, top = 92, cw = 74, ch = 24;
  const std::size_t rows = c.calib_sets.size(), cols = c.eval_groups.size();
  const double width = left + cw * static_cast<double>(cols) + 70, height = top + ch * static_cast<double>(rows) + 10;
  std::string s = svg_open(width, height, "calibration robustness heat map");
  for (std::size_t j = 0; j < cols; ++j) {
    const double x = left + cw * (static_cast<double>(j) + 0.5);
    s += text(x, top - 8, c.eval_groups[j], "start", 10,
              (" transform=\"rotate(-40 " + px(x) + " " + px(top - 8) + ")\"").c_str());
  }
  s += text(4, 14, "calibrated on (rows) / evaluated on (columns)", "start", 10);
  for (std::size_t i = 0; i < rows; ++i) {
    const double y = top + ch * static_cast<double>(i);
    s += text(left - 6, y + 16, c.calib_sets[i], "end", 10);
    for (std::size_t j = 0; j < cols; ++j) {
      const double a = j < c.accuracy[i].size() ? c.accuracy[i][j] : kNaN;
      double float_acc = kNaN;
      for (const GroupScore& g : r.float_groups)
        if (g.group == c.eval_groups[j]) float_acc = g.accuracy;
      const double drop = std::isfinite(float_acc) ? float_acc - a : kNaN;
      const double x = left + cw * static_cast<double>(j);
      s += rect(x, y, cw - 2, ch - 2, heat_color(drop),
                "calibrated on " + c.calib_sets[i] + ", evaluated on " + c.eval_groups[j] + ": " + pct(a) + " (float " +
                    pct(float_acc) + ")");
      s += text(x + (cw - 2) / 2, y + 15, pct(a), "middle", 10);
    }
  }
  return s + "</svg>";
}

inline std::string td(const std::string& s, const char* cls = nullptr) {
  return cls ? "<td class=\"" + std::string(cls) + "\">" + s + "</td>" : "<td>" + s + "</td>";
}
inline std::string th(const std::string& s) { return "<th>" + s + "</th>"; }

inline std::string bits_text(const ConfigReport& c) {
  if (c.policy == "mixed") {  // per layer: f = float
    const auto list = [](const std::vector<int>& bits) {
      std::string s;
      for (std::size_t i = 0; i < bits.size(); ++i)
        s += (i ? "/" : "") + (bits[i] == 0 ? "f" : std::to_string(bits[i]));
      return s;
    };
    return "w" + list(c.layer_weight_bits) + " a" + list(c.layer_activation_bits);
  }
  std::string s = "w" + std::to_string(c.weight_bits) + (c.per_channel_weights ? "" : "t") + "/a";
  if (!c.bit_width_candidates.empty()) {
    for (std::size_t i = 0; i < c.bit_width_candidates.size(); ++i)
      s += (i ? "|" : "") + std::to_string(c.bit_width_candidates[i]);
  } else {
    s += std::to_string(c.activation_bits);
  }
  return s;
}

}  // namespace html_detail

inline std::string report_html(const Report& r) {
  using namespace html_detail;
  const Recommendation& rec = r.recommendation;
  std::string h;
  h +=
      "<!DOCTYPE html>\n<html lang=\"en\" xmlns=\"http://www.w3.org/1999/xhtml\">\n<head>\n<meta charset=\"utf-8\"/>\n";
  h += "<title>qsafe report: " + html_escape(r.inputs.model) + "</title>\n<style>\n";
  h += "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px auto;"
       "max-width:1100px;color:#222;padding:0 16px;font-size:14px}\n"
       "h1{font-size:22px;margin-bottom:2px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}"
       "h3{font-size:14px}\n"
       "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}"
       "th{background:#f4f4f4}td.l,th.l{text-align:left}\n"
       ".rec{border:2px solid #2ca02c;background:#f3fbf3;padding:10px 14px;border-radius:6px}"
       ".flag{color:#b00;font-weight:600}.ok{color:#2a7}.muted{color:#777}.bad{background:#fde8e8}"
       ".best{background:#eaf6ea}\n"
       "svg{display:block;margin:6px 0;font-family:inherit}details{margin:6px 0}summary{cursor:pointer}\n"
       ".scroll{overflow-x:auto}table.wide{font-size:12px}table.wide td,table.wide th{padding:2px 5px}"
       "td{white-space:nowrap}td.l{white-space:normal}\n"
       "</style>\n</head>\n<body>\n";
  h += "<h1>qsafe reliability report</h1>\n<p class=\"muted\">" + html_escape(r.tool + " " + r.version) +
       " &#183; model <code>" + html_escape(r.inputs.model) + "</code> &#183; " +
       std::to_string(r.inputs.test_samples) + " test samples in " + std::to_string(r.group_names.size()) +
       " groups &#183; " + std::to_string(r.inputs.calib_samples) + " calibration samples &#183; seed " +
       std::to_string(r.inputs.seed) + "</p>\n";

  // 1. Recommendation.
  h += "<h2>Recommendation</h2>\n<div class=\"rec\">\n";
  if (rec.config.empty()) {
    h += "<p class=\"flag\">No quantized configuration ran.</p>\n";
  } else {
    h += "<p><b>Use <code>" + html_escape(rec.config) + "</code></b>: worst-group accuracy " +
         pct(rec.worst_group_accuracy) + " (float on the same group: " + pct(rec.float_accuracy_on_worst_group) +
         "; float's own worst group: " + pct(rec.float_worst_group_accuracy) + ").</p>\n";
  }
  h += "<p>" + html_escape(rec.summary) + "</p>\n";
  if (!rec.flagged.empty()) {
    h += "<p class=\"flag\">Flagged (more than " + pts(rec.threshold).substr(1) + " points below float on some group):";
    for (const std::string& f : rec.flagged) h += " <code>" + html_escape(f) + "</code>";
    h += "</p>\n";
  }
  h += "</div>\n";
  h += "<table>\n<tr>" + th("configuration") + th("worst group") + th("cost vs best") + th("mean") + th("") +
       "<th class=\"l\">note</th></tr>\n";
  for (const Alternative& a : rec.alternatives)
    h += "<tr>" + td("<code>" + html_escape(a.config) + "</code>", "l") + td(pct(a.worst_group_accuracy)) +
         td(pts(-a.cost)) + td(pct(a.mean_accuracy)) +
         td(a.flagged ? "<span class=\"flag\">flagged</span>" : "<span class=\"ok\">ok</span>") +
         td(html_escape(a.note), "l") + "</tr>\n";
  h += "</table>\n";

  // 2. Accuracy per group.
  h += "<h2>Accuracy per input group</h2>\n<p>Every configuration on every group; the worst group, not the "
       "average, is what a deployment meets on its bad days.</p>\n";
  h += accuracy_chart(r) + "\n";
  h += "<div class=\"scroll\">\n<table class=\"wide\">\n<tr><th class=\"l\">configuration</th>" + th("policy") +
       th("observer") + th("bits");
  for (const std::string& g : r.group_names) h += th(html_escape(g));
  h += th("worst group") + th("drop there") + th("largest drop") + th("worst class") + th("flips") + "</tr>\n";
  h += "<tr>" + td("<b>float</b>", "l") + td("&#8211;") + td("&#8211;") + td("fp32");
  for (const GroupScore& g : r.float_groups) h += td(pct(g.accuracy));
  h += td(html_escape(r.float_worst_group) + " " + pct(r.float_worst_group_accuracy)) + td("&#8211;") + td("&#8211;") +
       td("&#8211;") + td("0") + "</tr>\n";
  for (const ConfigReport& c : r.configs) {
    const char* cls = c.name == rec.config ? " class=\"best\"" : (c.flagged ? " class=\"bad\"" : "");
    h += std::string("<tr") + cls + ">" + td("<code>" + html_escape(c.name) + "</code>", "l") +
         td(html_escape(c.policy)) + td(html_escape(c.observer)) + td(html_escape(bits_text(c)));
    if (!c.error.empty()) {
      h += "<td class=\"l flag\" colspan=\"" + std::to_string(r.group_names.size() + 5) +
           "\">failed: " + html_escape(c.error) + "</td></tr>\n";
      continue;
    }
    for (const GroupScore& g : c.groups) h += td(pct(g.accuracy));
    const std::string max_drop = pts(-c.max_drop) + " " + html_escape(c.max_drop_group);
    h += td(html_escape(c.worst_group) + " " + pct(c.worst_group_accuracy)) + td(pts(-c.worst_group_drop)) +
         td(c.flagged ? "<span class=\"flag\">" + max_drop + "</span>" : max_drop) +
         td(c.worst_class.label >= 0 ? std::to_string(c.worst_class.label) + ": " + pct(c.worst_class.accuracy) +
                                           " (float " + pct(c.worst_class.float_accuracy) + ")"
                                     : "&#8211;") +
         td(std::to_string(c.flips)) + "</tr>\n";
  }
  h += "</table>\n</div>\n<p class=\"muted\">Accuracy changes are in percentage points against float on the same group "
       "(negative: worse than float). Largest drop: the group where the configuration loses most against float; "
       "it is flagged beyond the threshold. Flips: samples (all groups) whose top-1 class differs from float's.</p>\n";

  // 3. Sensitivity.
  const SensitivityReport& sr = r.sensitivity;
  h += "<h2>Per-layer sensitivity</h2>\n";
  if (!sr.layers.empty()) {
    const bool points = sr.metric == "accuracy_drop" || sr.metric == "flip_rate";
    const auto val = [&](double v) { return points ? pts(v) : num(v); };
    h += "<p>Configuration <code>" + html_escape(sr.config) + "</code>, scored by <code>" + html_escape(sr.metric) +
         "</code> on the worst group" + (points ? " (percentage points)" : "") +
         "; every layer quantized: " + val(sr.full_worst) +
         ". A long red bar is a layer that does damage by itself; a long blue bar, one worth keeping at higher "
         "precision.</p>\n";
    h += sensitivity_chart(sr) + "\n<table>\n<tr><th class=\"l\">layer</th>" + th("kind") + th("weights") +
         th("MACs / sample") + th("alone: worst") + th("alone: mean") + th("alone: worst accuracy") +
         th("all but this: worst") + th("recovered") + th("rank") + "</tr>\n";
    for (const LayerSensitivity& l : sr.layers)
      h += "<tr>" + td(html_escape(l.name), "l") + td(html_escape(l.kind)) + td(std::to_string(l.weights)) +
           td(std::to_string(l.macs)) + td(val(l.only_worst)) + td(val(l.only_mean)) + td(pct(l.only_worst_accuracy)) +
           td(val(l.except_worst)) + td(val(l.gain_worst)) + td(std::to_string(l.rank)) + "</tr>\n";
    h += "</table>\n";
  } else {
    h += "<p class=\"muted\">Not run.</p>\n";
  }

  // 4. Calibration robustness.
  const CalibrationReport& cal = r.calibration;
  h += "<h2>Calibration robustness</h2>\n";
  if (!cal.calib_sets.empty()) {
    h += "<p>Configuration <code>" + html_escape(cal.config) +
         "</code> calibrated on each set (the given one, each group, bootstrap resamples, small subsets) and "
         "evaluated on every group. Cells turn red as accuracy falls below float's on that group (full red at 30 "
         "points). Worst-group accuracy over the sets: " +
         pct(cal.worst_accuracy_min) + " to " + pct(cal.worst_accuracy_max) +
         "; the most harmful calibration set: <code>" + html_escape(cal.worst_set) + "</code>.</p>\n";
    h += calibration_heatmap(cal, r) + "\n";
    if (!cal.layer_names.empty()) {
      h += "<table>\n<tr><th class=\"l\">layer</th>";
      for (const std::string& n : cal.layer_names) h += th(html_escape(n));
      h += "</tr>\n<tr>" + td("input scale max / min over the sets", "l");
      for (double v : cal.layer_scale_ratio) h += td(fmt("%.2f", v));
      h += "</tr>\n</table>\n";
    }
  } else {
    h += "<p class=\"muted\">Not run.</p>\n";
  }

  // 5. Failure search.
  h += "<h2>Failure search</h2>\n<p>From test samples, a bounded search (small L&#8734; perturbations, then "
       "corruption parameters) for the inputs where the quantized model disagrees most with float. "
       "<b>detrimental</b>: on the inputs found, accuracy falls more than the threshold below float's.</p>\n";
  h += "<div class=\"scroll\">\n<table class=\"wide\">\n<tr><th class=\"l\">configuration</th>" +
       th("L&#8734; budget") + th("sources") + th("evaluations") + th("clean acc.") + th("found acc.") +
       th("float on found") + th("vs float") + th("flip rate") + th("worst KL") + th("worst corruption") +
       th("verdict") + "</tr>\n";
  for (const FailureSearchReport& f : r.failure_search) {
    const char* vcls = f.verdict == "detrimental" ? "flag" : (f.verdict == "robust" ? "ok" : "");
    h += "<tr>" + td("<code>" + html_escape(f.config) + "</code>", "l") + td(num(f.linf)) +
         td(std::to_string(f.sources)) + td(std::to_string(f.evaluations)) + td(pct(f.clean_accuracy)) +
         td(pct(f.found_accuracy)) + td(pct(f.found_float_accuracy)) + td(pts(-f.accuracy_drop)) +
         td(pct(f.found_flip_rate)) + td(num(f.worst_kl)) +
         td(html_escape(f.worst_corruption) + " (" + pts(-f.worst_corruption_drop) + ")") +
         td("<span class=\"" + std::string(vcls) + "\">" + html_escape(f.verdict) + "</span>") + "</tr>\n";
  }
  h += "</table>\n</div>\n";
  for (const FailureSearchReport& f : r.failure_search)
    if (!f.explanation.empty())
      h += "<p><code>" + html_escape(f.config) + "</code>: " + html_escape(f.explanation) + "</p>\n";

  // Mixed precision.
  const MixedPrecisionReport& mp = r.mixed_precision;
  h += "<h2>Mixed-precision plan</h2>\n";
  if (!mp.error.empty()) {
    h += "<p class=\"flag\">The planner failed: " + html_escape(mp.error) + "</p>\n";
  } else if (!mp.layer_names.empty()) {
    h += "<p>From <code>" + html_escape(mp.base_config) + "</code> under " + html_escape(mp.budget) + ": average " +
         fmt("%.2f", mp.average_weight_bits) + " weight bits, " + fmt("%.0f", mp.weight_bytes) +
         " weight bytes; worst-group accuracy " + pct(mp.worst_group_accuracy) + " (" +
         std::to_string(mp.plans_considered) + " plans predicted, " + std::to_string(mp.plans_measured) +
         " measured).</p>\n<table>\n<tr><th class=\"l\">layer</th>";
    for (const std::string& n : mp.layer_names) h += th(html_escape(n));
    h += "</tr>\n<tr>" + td("precision", "l");
    for (const std::string& c : mp.layer_choices) h += td(html_escape(c));
    h += "</tr>\n</table>\n";
  } else {
    h += "<p class=\"muted\">Not run.</p>\n";
  }

  // 6. Per-layer parameters.
  h += "<h2>Quantization parameters per layer</h2>\n";
  for (const ConfigReport& c : r.configs) {
    h += "<details><summary><code>" + html_escape(c.name) + "</code> &#8211; " + html_escape(c.description) +
         "</summary>\n<div class=\"scroll\">\n<table class=\"wide\">\n<tr><th class=\"l\">layer</th>" +
         th("input scale") + th("input zp") + th("input range") + th("output scale") + th("output zp") +
         th("weight scales (min..max)") + th("clipped") + th("saturated") + th("envelope viol.") + th("fallbacks") +
         th("bits chosen") + "</tr>\n";
    for (const LayerQuant& l : c.layers) {
      double wmin = kNaN, wmax = kNaN;
      for (double w : l.weight_scales) {
        wmin = std::isfinite(wmin) ? std::min(wmin, w) : w;
        wmax = std::isfinite(wmax) ? std::max(wmax, w) : w;
      }
      std::string bits;
      for (const auto& b : l.bits_chosen)
        bits += (bits.empty() ? "" : ", ") + std::to_string(b.first) + "b&#215;" + std::to_string(b.second);
      h += "<tr>" + td(html_escape(l.name) + (l.quantized ? "" : " <span class=\"muted\">(float)</span>"), "l") +
           td(l.input.present ? num(l.input.scale) : "&#8211;") +
           td(l.input.present ? std::to_string(l.input.zero_point) : "&#8211;") +
           td("[" + num(l.input_lo) + ", " + num(l.input_hi) + "]") +
           td(l.output.present ? num(l.output.scale) : "&#8211;") +
           td(l.output.present ? std::to_string(l.output.zero_point) : "&#8211;") + td(num(wmin) + " .. " + num(wmax)) +
           td(std::to_string(l.clipped)) + td(std::to_string(l.saturated)) + td(std::to_string(l.envelope_violations)) +
           td(std::to_string(l.fallbacks + l.float_fallbacks)) + td(bits.empty() ? "&#8211;" : bits) + "</tr>\n";
    }
    h += "</table>\n</div>\n</details>\n";
  }

  // 7. Inputs and timings.
  h += "<h2>Inputs</h2>\n<table>\n";
  const auto kv = [&](const std::string& k, const std::string& v) {
    h += "<tr>" + td(html_escape(k), "l") + td("<code>" + html_escape(v) + "</code>", "l") + "</tr>\n";
  };
  kv("model", r.inputs.model);
  kv("calibration", r.inputs.calib + " (" + std::to_string(r.inputs.calib_samples) + " samples)");
  kv("test", r.inputs.test + " (" + std::to_string(r.inputs.test_samples) + " samples)");
  kv("labels", r.inputs.labels + " (" + std::to_string(r.inputs.classes) + " classes)");
  kv("groups", r.inputs.groups);
  std::string t;
  for (const auto& p : r.timings_s) t += (t.empty() ? "" : ", ") + p.first + " " + fmt("%.2f s", p.second);
  kv("timings", t);
  h += "</table>\n<p class=\"muted\">Every number on this page is also in the JSON report.</p>\n</body>\n</html>\n";
  return h;
}

}  // namespace qsafe_report

#endif  // QSAFE_TOOLS_QSAFE_REPORT_HTML_WRITER_HPP_
