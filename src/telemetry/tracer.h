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
// Nothing configured (no endpoint) means nothing is recorded or exported: spans still get contexts (ids
// and the sampled flag) so they propagate and appear in logs and exemplars. Every span must end before
// its Tracer is destroyed; spans ending after shutdown() are dropped and counted.
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

#include "core/clock.h"
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
  std::uint32_t dropped_attributes_count = 0;  // beyond kMaxSpanAttributes
  std::uint32_t dropped_events_count = 0;      // beyond kMaxSpanEvents
};

// Per-span limits (the OTel defaults of OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT / OTEL_SPAN_EVENT_COUNT_LIMIT):
// a span's memory stays bounded whatever a caller adds; the excess is counted in the span.
inline constexpr std::size_t kMaxSpanAttributes = 128;
inline constexpr std::size_t kMaxSpanEvents = 128;

class SpanProcessor;  // receives finished spans (batch processor → exporter)
class SpanExporter;   // sends batches of finished spans (OTLP/HTTP JSON)

class Span {
 public:
  Span() = default;  // a no-op span (invalid context)
  Span(Span&&) noexcept;
  Span& operator=(Span&&) noexcept;
  ~Span();  // end()s if not ended

  const SpanContext& context() const noexcept { return data_ ? data_->context : ctx_; }
  bool recording() const noexcept { return data_ != nullptr; }
  // Setting an existing key replaces its value.
  void set_attribute(std::string_view key, AttrValue value);
  void add_event(std::string_view name, std::vector<Attr> attributes = {});
  void set_status(SpanStatus status, std::string_view message = {});
  void end();

 private:
  friend class Tracer;
  std::unique_ptr<SpanData> data_;  // null when not sampled / no-op
  SpanContext ctx_;                 // context of a non-recording span (propagation only)
  SpanProcessor* processor_ = nullptr;
  const Clock* clock_ = nullptr;
};

struct TracerOptions {
  // Filled from the OTEL_* environment by TracerOptions::from_env(); defaults per the OTel spec.
  std::string service_name = "tgpulse";                   // OTEL_SERVICE_NAME
  std::vector<Attr> resource_attributes;                  // OTEL_RESOURCE_ATTRIBUTES
  std::string sampler = "parentbased_always_on";          // OTEL_TRACES_SAMPLER
  double sampler_arg = 1.0;                               // OTEL_TRACES_SAMPLER_ARG
  std::string endpoint;                                   // full traces URL; "" = export nothing
  std::vector<std::pair<std::string, std::string>> headers;  // OTEL_EXPORTER_OTLP(_TRACES)_HEADERS
  // Longest time one export request, with its retries, may take. OTLP's default is 10 s.
  std::chrono::milliseconds export_timeout{10000};        // OTEL_EXPORTER_OTLP(_TRACES)_TIMEOUT
  std::chrono::milliseconds schedule_delay{5000};         // OTEL_BSP_SCHEDULE_DELAY
  std::chrono::milliseconds bsp_export_timeout{30000};    // OTEL_BSP_EXPORT_TIMEOUT (bounds a batch too)
  std::size_t max_queue_size = 2048;                      // OTEL_BSP_MAX_QUEUE_SIZE
  std::size_t max_export_batch_size = 512;                // OTEL_BSP_MAX_EXPORT_BATCH_SIZE
  bool sdk_disabled = false;  // OTEL_SDK_DISABLED=true: no span is recorded or exported
  // The instrumentation scope written into every export (scopeSpans[].scope) and the
  // telemetry.sdk.version resource attribute.
  std::string scope_name = "tgpulse";
  std::string scope_version = "0.1.0";
  // Exporter retry backoff (429/502/503/504 without Retry-After): first wait, then x1.5 up to the max,
  // each with +-50% jitter. Not from the environment; tests shorten them.
  std::chrono::milliseconds retry_initial_backoff{1000};
  std::chrono::milliseconds retry_max_backoff{5000};
  // Parses the environment; on a bad value returns false and sets *error naming the variable.
  static bool from_env(TracerOptions* out, std::string* error);
};

class Tracer {
 public:
  // Exports to options.endpoint over OTLP/HTTP JSON; nothing is recorded when it is empty. An unknown
  // options.sampler falls back to parentbased_always_on (from_env() rejects it earlier).
  explicit Tracer(TracerOptions options);
  // Exports to `exporter` (options.endpoint is ignored; null = record nothing). `clock` stamps spans and
  // must outlive the tracer.
  Tracer(TracerOptions options, std::unique_ptr<SpanExporter> exporter,
         const Clock& clock = SystemClock::instance());
  ~Tracer();  // shutdown()
  // `parent` may be null (new trace) or a remote/local context.
  Span start_span(std::string_view name, const SpanContext* parent = nullptr,
                  SpanKind kind = SpanKind::internal, std::vector<Attr> attributes = {});
  // Spans dropped because the queue was full or the collector refused/was away.
  std::uint64_t dropped_spans() const noexcept;
  std::uint64_t exported_spans() const noexcept;
  // Why the last failed export failed ("" if none): for a readiness or debug endpoint.
  std::string last_export_error() const;
  // The resource attributes every export carries (service.name, telemetry.sdk.*, then the configured ones).
  const std::vector<Attr>& resource() const noexcept;
  void force_flush(std::chrono::milliseconds timeout);
  void shutdown(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tgpulse::telemetry
