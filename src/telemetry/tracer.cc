#include "telemetry/tracer.h"

#include <algorithm>

#include "telemetry/otlp_http_exporter.h"
#include "telemetry/span_batch_processor.h"
#include "telemetry/span_id_generator.h"
#include "telemetry/span_processor.h"
#include "telemetry/span_sampler.h"

namespace tgpulse::telemetry {
namespace {

std::uint64_t unix_nanos(const Clock& clock) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock.wall().time_since_epoch()).count());
}

std::vector<Attr> build_resource(const TracerOptions& options) {
  std::vector<Attr> resource = {
      {"service.name", options.service_name},
      {"telemetry.sdk.language", std::string("cpp")},
      {"telemetry.sdk.name", std::string("tgpulse")},
      {"telemetry.sdk.version", options.scope_version},
  };
  for (const Attr& attr : options.resource_attributes) {
    auto same_key = [&](const Attr& a) { return a.key == attr.key; };
    if (std::none_of(resource.begin(), resource.end(), same_key)) resource.push_back(attr);
  }
  return resource;
}

}  // namespace

// ---- Span ----

Span::Span(Span&& other) noexcept
    : data_(std::move(other.data_)), ctx_(other.ctx_), processor_(other.processor_), clock_(other.clock_) {
  other.processor_ = nullptr;
}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    end();
    data_ = std::move(other.data_);
    ctx_ = other.ctx_;
    processor_ = other.processor_;
    clock_ = other.clock_;
    other.processor_ = nullptr;
  }
  return *this;
}

Span::~Span() { end(); }

void Span::set_attribute(std::string_view key, AttrValue value) {
  if (!data_) return;
  for (Attr& attr : data_->attributes) {
    if (attr.key == key) {
      attr.value = std::move(value);
      return;
    }
  }
  if (data_->attributes.size() >= kMaxSpanAttributes) {
    ++data_->dropped_attributes_count;
    return;
  }
  data_->attributes.push_back(Attr{std::string(key), std::move(value)});
}

void Span::add_event(std::string_view name, std::vector<Attr> attributes) {
  if (!data_) return;
  if (data_->events.size() >= kMaxSpanEvents) {
    ++data_->dropped_events_count;
    return;
  }
  data_->events.push_back(SpanData::Event{std::string(name), unix_nanos(*clock_), std::move(attributes)});
}

void Span::set_status(SpanStatus status, std::string_view message) {
  if (!data_) return;
  if (data_->status == SpanStatus::ok) return;  // OTel: Ok is final
  if (status == SpanStatus::unset) return;      // OTel: setting Unset is ignored
  data_->status = status;
  // OTel: the description only goes with Error.
  data_->status_message = status == SpanStatus::error ? std::string(message) : std::string();
}

void Span::end() {
  if (!data_) return;
  data_->end_unix_nanos = std::max(unix_nanos(*clock_), data_->start_unix_nanos);
  ctx_ = data_->context;
  processor_->on_end(std::move(data_));
  data_.reset();
}

// ---- Tracer ----

struct Tracer::Impl {
  TracerOptions options;
  SpanSampler sampler;
  const Clock& clock;
  std::vector<Attr> resource;
  SpanExporter* exporter = nullptr;             // owned by processor
  std::unique_ptr<SpanProcessor> processor;     // null: record nothing
};

namespace {

SpanSampler sampler_or_default(const TracerOptions& options) {
  SpanSampler sampler;
  std::string ignored;
  if (options.sdk_disabled) {
    SpanSampler::parse("always_off", 0.0, &sampler, &ignored);
  } else if (!SpanSampler::parse(options.sampler, options.sampler_arg, &sampler, &ignored)) {
    sampler = SpanSampler();
  }
  return sampler;
}

std::unique_ptr<SpanExporter> make_otlp_exporter(const TracerOptions& options) {
  if (options.sdk_disabled || options.endpoint.empty()) return nullptr;
  OtlpHttpExporterOptions exporter_options;
  exporter_options.endpoint = options.endpoint;
  exporter_options.headers = options.headers;
  exporter_options.timeout = options.export_timeout;
  exporter_options.initial_backoff = options.retry_initial_backoff;
  exporter_options.max_backoff = options.retry_max_backoff;
  return std::make_unique<OtlpHttpExporter>(
      exporter_options, OtlpJsonEncoder(build_resource(options), options.scope_name, options.scope_version));
}

}  // namespace

Tracer::Tracer(TracerOptions options) : Tracer(options, make_otlp_exporter(options)) {}

Tracer::Tracer(TracerOptions options, std::unique_ptr<SpanExporter> exporter, const Clock& clock)
    : impl_(std::make_unique<Impl>(Impl{options, sampler_or_default(options), clock, build_resource(options),
                                        nullptr, nullptr})) {
  if (!exporter || impl_->options.sdk_disabled) return;
  impl_->exporter = exporter.get();
  SpanBatchOptions batch;
  batch.schedule_delay = impl_->options.schedule_delay;
  batch.export_timeout = impl_->options.bsp_export_timeout;
  batch.max_queue_size = impl_->options.max_queue_size;
  batch.max_export_batch_size = std::min(impl_->options.max_export_batch_size, impl_->options.max_queue_size);
  impl_->processor = std::make_unique<SpanBatchProcessor>(std::move(exporter), batch);
}

Tracer::~Tracer() { shutdown(); }

Span Tracer::start_span(std::string_view name, const SpanContext* parent, SpanKind kind,
                        std::vector<Attr> attributes) {
  const bool has_parent = parent != nullptr && parent->valid();
  SpanContext ctx;
  ctx.trace_id = has_parent ? parent->trace_id : SpanIdGenerator::new_trace_id();
  ctx.span_id = SpanIdGenerator::new_span_id();
  const bool sampled = impl_->sampler.should_sample(has_parent ? parent : nullptr, ctx.trace_id);
  ctx.flags = sampled ? 0x01 : 0x00;
  Span span;
  span.ctx_ = ctx;
  if (!sampled || !impl_->processor) return span;
  auto data = std::make_unique<SpanData>();
  data->context = ctx;
  if (has_parent) data->parent_span_id = parent->span_id;
  data->name = std::string(name);
  data->kind = kind;
  data->start_unix_nanos = unix_nanos(impl_->clock);
  if (attributes.size() > kMaxSpanAttributes) {
    data->dropped_attributes_count = static_cast<std::uint32_t>(attributes.size() - kMaxSpanAttributes);
    attributes.resize(kMaxSpanAttributes);
  }
  data->attributes = std::move(attributes);
  span.data_ = std::move(data);
  span.processor_ = impl_->processor.get();
  span.clock_ = &impl_->clock;
  return span;
}

std::uint64_t Tracer::dropped_spans() const noexcept {
  return impl_->processor ? impl_->processor->dropped_spans() : 0;
}

std::uint64_t Tracer::exported_spans() const noexcept {
  return impl_->processor ? impl_->processor->exported_spans() : 0;
}

std::string Tracer::last_export_error() const { return impl_->exporter ? impl_->exporter->last_error() : ""; }

const std::vector<Attr>& Tracer::resource() const noexcept { return impl_->resource; }

void Tracer::force_flush(std::chrono::milliseconds timeout) {
  if (impl_->processor) impl_->processor->force_flush(timeout);
}

void Tracer::shutdown(std::chrono::milliseconds timeout) {
  if (impl_->processor) impl_->processor->shutdown(timeout);
}

}  // namespace tgpulse::telemetry
