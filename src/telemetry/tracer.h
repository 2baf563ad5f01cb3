// Tracer and Span: OpenTelemetry-compatible tracing with explicit context passing.
//
//   Span root = tracer.start_span("telethon_qr_login", parent_ctx_or_nullptr);
//   root.set_attribute("telethon.tenant_id", tenant);
//   { Span child = tracer.start_span("telethon_connect", &root.context()); ... }  // ends on scope exit
//
// A finished span goes to the SpanExporter through a batch processor (OTEL_BSP_* semantics): a bounded
// queue, export off the request path on its own thread, a full queue drops and counts. Sampling follows
// OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on). A non-sampled span still
// has a valid context (it propagates) but records nothing.
//
// Thread-safety: Tracer is thread-safe. A Span is owned by one coroutine at a time (move-only); it may be
// moved across threads but not used concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "telemetry/trace_context.h"

namespace tgpulse::telemetry {

using AttrValue = std::variant<std::string, bool, std::int64_t, double>;
struct Attr {
  std::string key;
  AttrValue value;
};

enum class SpanKind { internal = 1, server = 2, client = 3, producer = 4, consumer = 5 };  // OTLP enum values
enum class SpanStatus { unset = 0, ok = 1, error = 2 };                                  // OTLP enum values

// A finished span as the exporter sees it.
struct SpanData {
  SpanContext context;
  SpanId parent_span_id{};  // zeros for a root
  std::string name;
  SpanKind kind = SpanKind::internal;
  std::uint64_t start_unix_nanos = 0;
  std::uint64_t end_unix_nanos = 0;
  std::vector<Attr> attributes;
  struct Event {
    std::string name;
    std::uint64_t time_unix_nanos = 0;
    std::vector<Attr> attributes;
  };
  std::vector<Event> events;
  SpanStatus status = SpanStatus::unset;
  std::string status_message;
};

class SpanProcessor;  // receives finished spans (batch processor → exporter)

class Span {
 public:
  Span() = default;  // a no-op span (invalid context)
  Span(Span&&) noexcept;
  Span& operator=(Span&&) noexcept;
  ~Span();  // end()s if not ended

  const SpanContext& context() const noexcept { return data_ ? data_->context : ctx_; }
  bool recording() const noexcept { return data_ != nullptr; }
  void set_attribute(std::string_view key, AttrValue value);
  void add_event(std::string_view name, std::vector<Attr> attributes = {});
  void set_status(SpanStatus status, std::string_view message = {});
  void end();

 private:
  friend class Tracer;
  std::unique_ptr<SpanData> data_;  // null when not sampled / no-op
  SpanContext ctx_;                 // context of a non-recording span (propagation only)
  SpanProcessor* processor_ = nullptr;
};

struct TracerOptions {
  // Filled from the OTEL_* environment by TracerOptions::from_env(); defaults per the OTel spec.
  std::string service_name = "tgpulse";                   // OTEL_SERVICE_NAME
  std::vector<Attr> resource_attributes;                  // OTEL_RESOURCE_ATTRIBUTES
  std::string sampler = "parentbased_always_on";          // OTEL_TRACES_SAMPLER
  double sampler_arg = 1.0;                               // OTEL_TRACES_SAMPLER_ARG
  std::string endpoint;                                   // full traces URL; "" = export nothing
  std::vector<std::pair<std::string, std::string>> headers;  // OTEL_EXPORTER_OTLP(_TRACES)_HEADERS
  std::chrono::milliseconds export_timeout{10000};        // OTEL_EXPORTER_OTLP(_TRACES)_TIMEOUT
  std::chrono::milliseconds schedule_delay{5000};         // OTEL_BSP_SCHEDULE_DELAY
  std::size_t max_queue_size = 2048;                      // OTEL_BSP_MAX_QUEUE_SIZE
  std::size_t max_export_batch_size = 512;                // OTEL_BSP_MAX_EXPORT_BATCH_SIZE
  // Parses the environment; on a bad value returns false and sets *error naming the variable.
  static bool from_env(TracerOptions* out, std::string* error);
};

class Tracer {
 public:
  explicit Tracer(TracerOptions options);
  ~Tracer();  // shutdown()
  // `parent` may be null (new trace) or a remote/local context.
  Span start_span(std::string_view name, const SpanContext* parent = nullptr,
                  SpanKind kind = SpanKind::internal, std::vector<Attr> attributes = {});
  // Spans dropped because the queue was full or the collector refused/was away.
  std::uint64_t dropped_spans() const noexcept;
  std::uint64_t exported_spans() const noexcept;
  void force_flush(std::chrono::milliseconds timeout);
  void shutdown(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tgpulse::telemetry
