#include "telemetry/tracer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>

#include "telemetry/span_batch_processor.h"
#include "telemetry/span_exporter.h"
#include "telemetry/span_id_generator.h"
#include "telemetry/span_memory_exporter.h"
#include "telemetry/span_sampler.h"

namespace tgpulse::telemetry {
namespace {

using std::chrono::milliseconds;

// A SpanExporter double: keeps copies of what it is given; can block inside export_batch().
class MemoryExporter : public SpanExporter {
 public:
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<SpanData> spans;
    int batches = 0;
    bool hold = false;
    bool inside = false;
    ExportResult result = ExportResult::success;
  };
  explicit MemoryExporter(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  ExportResult export_batch(const std::vector<std::unique_ptr<SpanData>>& spans,
                            std::chrono::steady_clock::time_point) override {
    std::unique_lock lock(shared_->mu);
    shared_->inside = true;
    shared_->cv.notify_all();
    shared_->cv.wait(lock, [&] { return !shared_->hold; });
    ++shared_->batches;
    for (const auto& s : spans) shared_->spans.push_back(*s);
    return shared_->result;
  }

 private:
  std::shared_ptr<Shared> shared_;
};

TracerOptions quick_options() {
  TracerOptions o;
  o.schedule_delay = milliseconds(20);
  return o;
}

const SpanData* find(const std::vector<SpanData>& spans, const std::string& name) {
  for (const auto& s : spans) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

TEST(TracerTest, ChildrenShareTheTraceAndPointToTheirParent) {
  auto shared = std::make_shared<MemoryExporter::Shared>();
  FakeClock clock;
  Tracer tracer(quick_options(), std::make_unique<MemoryExporter>(shared), clock);
  SpanContext root_ctx, child_ctx, grandchild_ctx;
  {
    Span root = tracer.start_span("telethon_qr_login", nullptr, SpanKind::server);
    root_ctx = root.context();
    Span child = tracer.start_span("telethon_connect", &root.context(), SpanKind::client);
    child_ctx = child.context();
    clock.advance(milliseconds(5));
    Span grandchild = tracer.start_span("telethon_qr_generate", &child.context());
    grandchild_ctx = grandchild.context();
    EXPECT_TRUE(root.recording());
  }
  tracer.force_flush(milliseconds(5000));
  EXPECT_TRUE(root_ctx.valid());
  EXPECT_TRUE(root_ctx.sampled());
  EXPECT_EQ(child_ctx.trace_id, root_ctx.trace_id);
  EXPECT_EQ(grandchild_ctx.trace_id, root_ctx.trace_id);
  EXPECT_NE(child_ctx.span_id, root_ctx.span_id);
  EXPECT_NE(grandchild_ctx.span_id, child_ctx.span_id);

  std::lock_guard lock(shared->mu);
  ASSERT_EQ(shared->spans.size(), 3u);
  const SpanData* root = find(shared->spans, "telethon_qr_login");
  const SpanData* child = find(shared->spans, "telethon_connect");
  const SpanData* grandchild = find(shared->spans, "telethon_qr_generate");
  ASSERT_TRUE(root && child && grandchild);
  EXPECT_EQ(root->parent_span_id, SpanId{});
  EXPECT_EQ(child->parent_span_id, root_ctx.span_id);
  EXPECT_EQ(grandchild->parent_span_id, child_ctx.span_id);
  EXPECT_EQ(root->kind, SpanKind::server);
  EXPECT_EQ(child->kind, SpanKind::client);
  EXPECT_EQ(grandchild->end_unix_nanos - grandchild->start_unix_nanos, 0u);
  EXPECT_EQ(root->end_unix_nanos - root->start_unix_nanos, 5'000'000u);
  EXPECT_EQ(tracer.exported_spans(), 3u);
}

TEST(TracerTest, ContinuesARemoteTraceparent) {
  auto exported = std::make_shared<SpanMemoryExporter::Spans>();
  Tracer tracer(quick_options(), std::make_unique<SpanMemoryExporter>(exported));
  auto remote = SpanContext::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  Span span = tracer.start_span("http.request", &*remote, SpanKind::server);
  EXPECT_EQ(span.context().trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_NE(span.context().span_id_hex(), "00f067aa0ba902b7");
  EXPECT_FALSE(span.context().remote);
  span.end();
  tracer.force_flush(milliseconds(5000));
  auto spans = exported->snapshot();
  ASSERT_EQ(spans.size(), 1u);
  SpanContext parent;
  parent.span_id = spans[0].parent_span_id;
  EXPECT_EQ(parent.span_id_hex(), "00f067aa0ba902b7");
}

TEST(TracerTest, AttributesEventsAndStatusFollowTheOtelRules) {
  auto shared = std::make_shared<MemoryExporter::Shared>();
  Tracer tracer(quick_options(), std::make_unique<MemoryExporter>(shared));
  {
    Span span = tracer.start_span("telethon_qr_wait", nullptr, SpanKind::internal,
                                  {{"telethon.operation", std::string("qr_login")}});
    span.set_attribute("telethon.floodwait_seconds", std::int64_t{5});
    span.set_attribute("telethon.floodwait_seconds", std::int64_t{30});  // replaces
    span.add_event("qr.refreshed", {{"attempt", std::int64_t{2}}});
    span.set_status(SpanStatus::error, "expired");
    span.set_status(SpanStatus::unset);  // ignored
    for (int i = 0; i < 200; ++i) span.set_attribute("k" + std::to_string(i), true);
    span.end();
    span.set_attribute("after.end", true);  // ignored
  }
  {
    Span span = tracer.start_span("ok_is_final");
    span.set_status(SpanStatus::ok, "ignored description");
    span.set_status(SpanStatus::error, "too late");
  }
  tracer.force_flush(milliseconds(5000));
  std::lock_guard lock(shared->mu);
  ASSERT_EQ(shared->spans.size(), 2u);
  const SpanData& s = shared->spans[0];
  EXPECT_EQ(s.attributes.size(), kMaxSpanAttributes);
  EXPECT_EQ(s.dropped_attributes_count, 200u + 2u - kMaxSpanAttributes);
  EXPECT_EQ(s.attributes[0].key, "telethon.operation");
  EXPECT_EQ(s.attributes[1].key, "telethon.floodwait_seconds");
  EXPECT_EQ(std::get<std::int64_t>(s.attributes[1].value), 30);
  ASSERT_EQ(s.events.size(), 1u);
  EXPECT_EQ(s.events[0].name, "qr.refreshed");
  EXPECT_GE(s.events[0].time_unix_nanos, s.start_unix_nanos);
  EXPECT_EQ(s.status, SpanStatus::error);
  EXPECT_EQ(s.status_message, "expired");
  EXPECT_EQ(shared->spans[1].status, SpanStatus::ok);
  EXPECT_EQ(shared->spans[1].status_message, "");
}

TEST(TracerTest, WithoutAnExporterSpansPropagateButRecordNothing) {
  Tracer tracer(TracerOptions{});  // no endpoint
  Span span = tracer.start_span("x");
  EXPECT_TRUE(span.context().valid());
  EXPECT_TRUE(span.context().sampled());
  EXPECT_FALSE(span.recording());
  Span child = tracer.start_span("y", &span.context());
  EXPECT_EQ(child.context().trace_id, span.context().trace_id);
  EXPECT_EQ(tracer.exported_spans(), 0u);
  EXPECT_EQ(tracer.dropped_spans(), 0u);
}

TEST(TracerTest, MovedSpanEndsOnce) {
  auto shared = std::make_shared<MemoryExporter::Shared>();
  Tracer tracer(quick_options(), std::make_unique<MemoryExporter>(shared));
  {
    Span a = tracer.start_span("a");
    Span b = std::move(a);
    Span c;
    c = std::move(b);
    EXPECT_TRUE(c.recording());
  }
  tracer.force_flush(milliseconds(5000));
  std::lock_guard lock(shared->mu);
  EXPECT_EQ(shared->spans.size(), 1u);
}

TEST(SpanIdGeneratorTest, IdsAreNonZeroAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    SpanContext ctx;
    ctx.trace_id = SpanIdGenerator::new_trace_id();
    ctx.span_id = SpanIdGenerator::new_span_id();
    ASSERT_TRUE(ctx.valid());
    ASSERT_TRUE(seen.insert(ctx.trace_id_hex()).second);
  }
}

// ---- sampler ----

SpanSampler sampler(const char* name, double arg = 1.0) {
  SpanSampler s;
  std::string error;
  EXPECT_TRUE(SpanSampler::parse(name, arg, &s, &error)) << error;
  return s;
}

TraceId trace_with_low_bytes(std::uint8_t b) {
  TraceId id{};
  id[0] = 1;
  for (std::size_t i = 8; i < 16; ++i) id[i] = b;
  return id;
}

TEST(SpanSamplerTest, RootSamplers) {
  TraceId any = SpanIdGenerator::new_trace_id();
  EXPECT_TRUE(sampler("always_on").should_sample(nullptr, any));
  EXPECT_FALSE(sampler("always_off").should_sample(nullptr, any));
  EXPECT_TRUE(sampler("traceidratio", 0.5).should_sample(nullptr, trace_with_low_bytes(0x00)));
  EXPECT_FALSE(sampler("traceidratio", 0.5).should_sample(nullptr, trace_with_low_bytes(0xff)));
  EXPECT_TRUE(sampler("traceidratio", 1.0).should_sample(nullptr, trace_with_low_bytes(0xff)));
  EXPECT_FALSE(sampler("traceidratio", 0.0).should_sample(nullptr, trace_with_low_bytes(0x00)));
  int kept = 0;
  SpanSampler quarter = sampler("traceidratio", 0.25);
  for (int i = 0; i < 20000; ++i) kept += quarter.should_sample(nullptr, SpanIdGenerator::new_trace_id());
  EXPECT_GT(kept, 4000);  // expected 5000; the bounds are > 20 standard deviations away
  EXPECT_LT(kept, 6000);
}

TEST(SpanSamplerTest, ParentBasedFollowsTheParentAndIgnoresItWhenNot) {
  SpanContext sampled_parent = *SpanContext::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  SpanContext unsampled_parent = *SpanContext::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  TraceId low = trace_with_low_bytes(0x00);
  for (const char* name : {"parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"}) {
    SpanSampler s = sampler(name, 0.0);
    EXPECT_TRUE(s.should_sample(&sampled_parent, low)) << name;
    EXPECT_FALSE(s.should_sample(&unsampled_parent, low)) << name;
  }
  EXPECT_TRUE(sampler("parentbased_always_on").should_sample(nullptr, low));
  EXPECT_FALSE(sampler("parentbased_always_off").should_sample(nullptr, low));
  EXPECT_FALSE(sampler("always_off").should_sample(&sampled_parent, low));  // not parent based
  EXPECT_TRUE(SpanSampler().should_sample(nullptr, low));                     // default: parentbased_always_on
  EXPECT_FALSE(SpanSampler().should_sample(&unsampled_parent, low));
}

TEST(SpanSamplerTest, RejectsUnknownNamesAndBadRatios) {
  SpanSampler s;
  std::string error;
  EXPECT_FALSE(SpanSampler::parse("sometimes", 1.0, &s, &error));
  EXPECT_NE(error.find("sometimes"), std::string::npos);
  EXPECT_FALSE(SpanSampler::parse("traceidratio", 1.5, &s, &error));
  EXPECT_FALSE(SpanSampler::parse("parentbased_traceidratio", -0.1, &s, &error));
}

TEST(TracerTest, SamplerDecidesWhatIsRecorded) {
  auto shared = std::make_shared<MemoryExporter::Shared>();
  TracerOptions options = quick_options();
  options.sampler = "always_off";
  Tracer tracer(options, std::make_unique<MemoryExporter>(shared));
  Span span = tracer.start_span("not sampled");
  EXPECT_FALSE(span.recording());
  EXPECT_TRUE(span.context().valid());
  EXPECT_FALSE(span.context().sampled());
}

// ---- batch processor ----

TEST(SpanBatchProcessorTest, FullQueueDropsAndCountsWithoutBlocking) {
  auto shared = std::make_shared<MemoryExporter::Shared>();
  shared->hold = true;
  SpanBatchOptions options;
  options.schedule_delay = std::chrono::hours(1);  // only full batches and flushes export
  options.max_queue_size = 4;
  options.max_export_batch_size = 2;
  SpanBatchProcessor processor(std::make_unique<MemoryExporter>(shared), options);
  processor.on_end(std::make_unique<SpanData>());
  processor.on_end(std::make_unique<SpanData>());
  {  // the exporter now holds the first batch of 2
    std::unique_lock lock(shared->mu);
    shared->cv.wait(lock, [&] { return shared->inside; });
  }
  for (int i = 0; i < 10; ++i) processor.on_end(std::make_unique<SpanData>());
  EXPECT_EQ(processor.dropped_spans(), 6u);
  {
    std::lock_guard lock(shared->mu);
    shared->hold = false;
  }
  shared->cv.notify_all();
  EXPECT_TRUE(processor.force_flush(milliseconds(5000)));
  EXPECT_EQ(processor.exported_spans(), 6u);
  EXPECT_EQ(shared->batches, 3);  // batches of at most 2
  processor.shutdown(milliseconds(1000));
  processor.on_end(std::make_unique<SpanData>());
  EXPECT_EQ(processor.dropped_spans(), 7u);
}

TEST(SpanBatchProcessorTest, FailedExportsCountTheirSpansAsDropped) {
  auto shared = std::make_shared<MemoryExporter::Shared>();
  shared->result = ExportResult::failure;
  SpanBatchProcessor processor(std::make_unique<MemoryExporter>(shared), SpanBatchOptions{});
  for (int i = 0; i < 3; ++i) processor.on_end(std::make_unique<SpanData>());
  EXPECT_TRUE(processor.force_flush(milliseconds(5000)));
  EXPECT_EQ(processor.dropped_spans(), 3u);
  EXPECT_EQ(processor.exported_spans(), 0u);
}

TEST(SpanBatchProcessorTest, ExportsAfterTheScheduleDelayWithoutAFlush) {
  auto shared = std::make_shared<MemoryExporter::Shared>();
  SpanBatchOptions options;
  options.schedule_delay = milliseconds(50);
  SpanBatchProcessor processor(std::make_unique<MemoryExporter>(shared), options);
  processor.on_end(std::make_unique<SpanData>());
  std::unique_lock lock(shared->mu);
  EXPECT_TRUE(shared->cv.wait_for(lock, std::chrono::seconds(10), [&] { return shared->inside; }));
}

TEST(SpanBatchProcessorTest, ShutdownExportsWhatIsQueued) {
  auto shared = std::make_shared<MemoryExporter::Shared>();
  SpanBatchOptions options;
  options.schedule_delay = std::chrono::hours(1);
  SpanBatchProcessor processor(std::make_unique<MemoryExporter>(shared), options);
  for (int i = 0; i < 5; ++i) processor.on_end(std::make_unique<SpanData>());
  processor.shutdown(milliseconds(5000));
  EXPECT_EQ(processor.exported_spans(), 5u);
}

// ---- from_env ----

const char* const kOtelVars[] = {
    "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"};

// Sets the given OTEL_* variables (all others unset) for one test.
class ScopedOtelEnv {
 public:
  ScopedOtelEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const char* name : kOtelVars) ::unsetenv(name);
    for (const auto& [name, value] : vars) ::setenv(name, value, 1);
  }
  ~ScopedOtelEnv() {
    for (const char* name : kOtelVars) ::unsetenv(name);
  }
};

TEST(TracerOptionsTest, DefaultsWhenNothingIsSet) {
  ScopedOtelEnv env({});
  TracerOptions o;
  std::string error;
  ASSERT_TRUE(TracerOptions::from_env(&o, &error)) << error;
  EXPECT_EQ(o.service_name, "tgpulse");
  EXPECT_EQ(o.sampler, "parentbased_always_on");
  EXPECT_EQ(o.endpoint, "");
  EXPECT_EQ(o.export_timeout, milliseconds(10000));
  EXPECT_EQ(o.schedule_delay, milliseconds(5000));
  EXPECT_EQ(o.bsp_export_timeout, milliseconds(30000));
  EXPECT_EQ(o.max_queue_size, 2048u);
  EXPECT_EQ(o.max_export_batch_size, 512u);
  EXPECT_FALSE(o.sdk_disabled);
}

TEST(TracerOptionsTest, ReadsEveryVariable) {
  ScopedOtelEnv env({{"OTEL_SERVICE_NAME", "svc"},
                     {"OTEL_RESOURCE_ATTRIBUTES", "service.name=ignored, deployment.environment=prod,team=a%2Cb"},
                     {"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"},
                     {"OTEL_TRACES_SAMPLER_ARG", "0.25"},
                     {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/"},
                     {"OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20abc,x-a=1"},
                     {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-a=2"},
                     {"OTEL_EXPORTER_OTLP_TIMEOUT", "7000"},
                     {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "3000"},
                     {"OTEL_BSP_SCHEDULE_DELAY", "100"},
                     {"OTEL_BSP_EXPORT_TIMEOUT", "2000"},
                     {"OTEL_BSP_MAX_QUEUE_SIZE", "64"},
                     {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16"},
                     {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}});
  TracerOptions o;
  std::string error;
  ASSERT_TRUE(TracerOptions::from_env(&o, &error)) << error;
  EXPECT_EQ(o.service_name, "svc");
  ASSERT_EQ(o.resource_attributes.size(), 2u);
  EXPECT_EQ(o.resource_attributes[0].key, "deployment.environment");
  EXPECT_EQ(std::get<std::string>(o.resource_attributes[0].value), "prod");
  EXPECT_EQ(std::get<std::string>(o.resource_attributes[1].value), "a,b");
  EXPECT_EQ(o.sampler, "parentbased_traceidratio");
  EXPECT_DOUBLE_EQ(o.sampler_arg, 0.25);
  EXPECT_EQ(o.endpoint, "http://127.0.0.1:4318/v1/traces");
  ASSERT_EQ(o.headers.size(), 2u);
  EXPECT_EQ(o.headers[0], (std::pair<std::string, std::string>{"Authorization", "Bearer abc"}));
  EXPECT_EQ(o.headers[1], (std::pair<std::string, std::string>{"x-a", "2"}));
  EXPECT_EQ(o.export_timeout, milliseconds(3000));
  EXPECT_EQ(o.schedule_delay, milliseconds(100));
  EXPECT_EQ(o.bsp_export_timeout, milliseconds(2000));
  EXPECT_EQ(o.max_queue_size, 64u);
  EXPECT_EQ(o.max_export_batch_size, 16u);
}

TEST(TracerOptionsTest, TracesEndpointIsUsedAsIsAndServiceNameCanComeFromResource) {
  ScopedOtelEnv env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"},
                     {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://b/custom/path"},
                     {"OTEL_RESOURCE_ATTRIBUTES", "service.name=from-resource"}});
  TracerOptions o;
  std::string error;
  ASSERT_TRUE(TracerOptions::from_env(&o, &error)) << error;
  EXPECT_EQ(o.endpoint, "https://b/custom/path");
  EXPECT_EQ(o.service_name, "from-resource");
}

TEST(TracerOptionsTest, DisabledSdkOrNoneExporterExportsNothing) {
  {
    ScopedOtelEnv env({{"OTEL_SDK_DISABLED", "TRUE"}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"}});
    TracerOptions o;
    std::string error;
    ASSERT_TRUE(TracerOptions::from_env(&o, &error)) << error;
    EXPECT_TRUE(o.sdk_disabled);
    Tracer tracer(o);
    Span span = tracer.start_span("x");
    EXPECT_FALSE(span.recording());
  }
  {
    ScopedOtelEnv env({{"OTEL_TRACES_EXPORTER", "none"}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"}});
    TracerOptions o;
    std::string error;
    ASSERT_TRUE(TracerOptions::from_env(&o, &error)) << error;
    EXPECT_EQ(o.endpoint, "");
  }
}

TEST(TracerOptionsTest, BadValuesAreRejectedNamingTheVariable) {
  const std::pair<const char*, const char*> cases[] = {
      {"OTEL_SDK_DISABLED", "yes"},
      {"OTEL_TRACES_SAMPLER", "sometimes"},
      {"OTEL_TRACES_SAMPLER_ARG", "lots"},
      {"OTEL_TRACES_EXPORTER", "zipkin"},
      {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
      {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"},
      {"OTEL_EXPORTER_OTLP_ENDPOINT", "127.0.0.1:4318"},
      {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://x"},
      {"OTEL_EXPORTER_OTLP_HEADERS", "novalue"},
      {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "a=%zz"},
      {"OTEL_RESOURCE_ATTRIBUTES", "=x"},
      {"OTEL_EXPORTER_OTLP_TIMEOUT", "-5"},
      {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "10s"},
      {"OTEL_BSP_SCHEDULE_DELAY", "0"},
      {"OTEL_BSP_EXPORT_TIMEOUT", "x"},
      {"OTEL_BSP_MAX_QUEUE_SIZE", "1e3"},
      {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096"},  // larger than the default queue (2048)
  };
  for (const auto& [name, value] : cases) {
    ScopedOtelEnv env({{name, value}});
    TracerOptions o;
    std::string error;
    EXPECT_FALSE(TracerOptions::from_env(&o, &error)) << name << "=" << value;
    EXPECT_NE(error.find(name), std::string::npos) << error;
  }
  {
    ScopedOtelEnv env({{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "2"}});
    TracerOptions o;
    std::string error;
    EXPECT_FALSE(TracerOptions::from_env(&o, &error));
    EXPECT_NE(error.find("OTEL_TRACES_SAMPLER_ARG"), std::string::npos) << error;
  }
  {  // a header value may be a credential: it never appears in the error
    ScopedOtelEnv env({{"OTEL_EXPORTER_OTLP_HEADERS", "ok=1,Authorization%zzBearer-s3cret"}});
    TracerOptions o;
    std::string error;
    EXPECT_FALSE(TracerOptions::from_env(&o, &error));
    EXPECT_EQ(error.find("s3cret"), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace tgpulse::telemetry
