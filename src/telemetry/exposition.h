// ExpositionWriter: appends metric families to a text buffer in the Prometheus text format 0.0.4 or
// in OpenMetrics 1.0 — the metadata lines, samples, exemplars, escaping and number rendering. The
// metrics core (metrics.cc) feeds it snapshots; it knows nothing of atomics or locks.
//
// Number rendering: whole numbers below 2^53 as integers; other values as Go's strconv 'g' shortest
// rendering (scientific when the decimal exponent is < -4 or >= 6: 0.0001, 1e-05, 100000, 1e+06),
// "+Inf", "-Inf", "NaN". Timestamps as unix seconds with three decimals.
//
// Thread-safety: an instance is confined to one thread; the static helpers are pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "telemetry/metrics.h"

namespace tgpulse::telemetry {

class ExpositionWriter {
 public:
  ExpositionWriter(std::string& out, ExpositionFormat format) : out_(out), format_(format) {}

  ExpositionFormat format() const noexcept { return format_; }
  bool openmetrics() const noexcept { return format_ == ExpositionFormat::openmetrics_100; }

  // "# HELP" and "# TYPE" lines (OpenMetrics: TYPE first, counters named without "_total").
  void metadata(std::string_view name, std::string_view help, detail::MetricType type);

  // `<name><suffix>{<label_pairs>[,<extra_pair>]} ` — the start of a sample line, up to its value.
  void sample_start(std::string_view name, std::string_view suffix, std::string_view label_pairs,
                    std::string_view extra_pair = {});
  void value(double v);
  void value(std::uint64_t v);
  void timestamp(double unix_seconds);
  // ` # {trace_id="...",span_id="..."} <value> <timestamp>` (OpenMetrics only; call before end_line).
  void exemplar(const detail::Exemplar& e);
  void end_line() { out_.push_back('\n'); }
  // "# EOF\n" in OpenMetrics; nothing in the text format.
  void finish();

  // Rendering helpers, also used at registration to pre-render label pairs and bucket bounds.
  static void append_label_value(std::string& out, std::string_view v);        // escapes \ " \n
  static void append_help_text(std::string& out, std::string_view v);          // escapes \ \n
  static void append_go_float(std::string& out, double v);                      // Go 'g' shortest
  static void append_number(std::string& out, double v);                        // integer if whole
  // The value of an "le" label: Go rendering, plus ".0" in OpenMetrics when it has no '.' or 'e'.
  static std::string le_value(double bound, ExpositionFormat format);
  // The OpenMetrics family name of a counter: `name` without its "_total" suffix.
  static std::string_view counter_family_name(std::string_view name) noexcept;

 private:
  std::string& out_;
  ExpositionFormat format_;
};

}  // namespace tgpulse::telemetry
