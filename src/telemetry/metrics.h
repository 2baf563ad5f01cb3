// The metrics core: Counter, Gauge and Histogram families in a Registry, exposed in the Prometheus text
// format 0.0.4 and in OpenMetrics 1.0 (with exemplars).
//
// Usage: resolve a labelled child once, at start-up, and keep the handle:
//   auto& fam = registry.counter("telethon_requests_total", "Total requests", {"method", "status"});
//   Counter& ok = fam.labels({"getChats", "success"});   // takes a lock; do it once
//   ok.inc();                                             // hot path: lock-free, no allocation
//
// Names and label names are validated at registration (Prometheus data model); an invalid name or a
// duplicate family with a different type/labels throws std::invalid_argument naming it. Values are
// never validated on the hot path.
//
// Thread-safety: everything is thread-safe. Handles (Counter&, Gauge&, Histogram&) stay valid for the
// Registry's lifetime; updates to them are lock-free. Child creation and exposition take the family's
// mutex (exposition only while copying the child list, never while formatting values).
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "telemetry/trace_context.h"

namespace tgpulse::telemetry {

class Counter {
 public:
  void inc(double v = 1.0) noexcept;
  // Also records an exemplar (OpenMetrics) carrying the trace and span id.
  void inc(double v, const SpanContext& exemplar) noexcept;
  double value() const noexcept;
  // (implementation detail members are defined in metrics.h by the implementation)
};

class Gauge {
 public:
  void set(double v) noexcept;
  void inc(double v = 1.0) noexcept;
  void dec(double v = 1.0) noexcept;
  double value() const noexcept;
};

class Histogram {
 public:
  void observe(double v) noexcept;
  void observe(double v, const SpanContext& exemplar) noexcept;
  // Snapshot helpers for tests.
  std::uint64_t count() const noexcept;
  double sum() const noexcept;
};

template <typename Child>
class Family {
 public:
  // Returns the child for these label values (in label-name order), creating it at zero if new.
  // Throws std::invalid_argument if the number of values differs from the number of label names.
  Child& labels(std::initializer_list<std::string_view> values);
  Child& labels(const std::vector<std::string>& values);
  // For a family without labels.
  Child& get() { return labels({}); }
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

enum class ExpositionFormat { prometheus_text_004, openmetrics_100 };

class Registry {
 public:
  Registry();
  ~Registry();
  CounterFamily& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  // `buckets`: strictly increasing finite upper bounds; +Inf is implicit.
  HistogramFamily& histogram(std::string name, std::string help, std::vector<double> buckets,
                             std::vector<std::string> label_names = {});

  std::string expose(ExpositionFormat format) const;
  // Picks the format from an HTTP Accept header (OpenMetrics when it asks for
  // application/openmetrics-text) and returns the Content-Type to answer with.
  static ExpositionFormat negotiate(std::string_view accept_header, std::string* content_type);
};

}  // namespace tgpulse::telemetry
