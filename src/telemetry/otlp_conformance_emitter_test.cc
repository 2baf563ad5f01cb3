// The tgpulse side of tests/integration/test_otlp_conformance.py: when OTLP_CONFORMANCE_ENDPOINT is
// set, builds the conformance span tree with the real Tracer and OTLP/HTTP exporter and exports it
// there; otherwise skipped. tests/node/otlp_reference.js builds the same tree with the OpenTelemetry JS
// SDK, and the Python test compares the two export requests' structure.
#include <gtest/gtest.h>

#include <cstdlib>

#include "telemetry/tracer.h"

namespace tgpulse::telemetry {
namespace {

TEST(OtlpConformanceEmitter, ExportsTheConformanceSpanTree) {
  const char* endpoint = std::getenv("OTLP_CONFORMANCE_ENDPOINT");
  if (endpoint == nullptr || *endpoint == '\0') GTEST_SKIP() << "OTLP_CONFORMANCE_ENDPOINT is not set";

  TracerOptions options;
  options.endpoint = endpoint;
  options.service_name = "tgpulse-conformance";
  options.resource_attributes = {{"deployment.environment", std::string("conformance")}};
  options.scope_name = "tgpulse";
  options.scope_version = "0.1.0";
  options.schedule_delay = std::chrono::milliseconds(100);
  Tracer tracer(options);
  {
    Span root = tracer.start_span("telethon_qr_login", nullptr, SpanKind::server,
                                  {{"telethon.operation", std::string("qr_login")},
                                   {"telethon.tenant_id", std::string("acme")},
                                   {"telethon.session_id", std::string("sess-1")},
                                   {"telethon.floodwait_seconds", std::int64_t{30}},
                                   {"telethon.qr.authorized", true},
                                   {"telethon.qr.wait_ratio", 0.25}});
    Span wait = tracer.start_span("telethon_qr_wait", &root.context(), SpanKind::internal,
                                  {{"telethon.operation", std::string("qr_wait")}});
    wait.add_event("qr.refreshed", {{"attempt", std::int64_t{2}}, {"qr.expires_in", 29.5}});
    Span connect = tracer.start_span("telethon_connect", &wait.context(), SpanKind::client,
                                     {{"telethon.operation", std::string("connect")}});
    connect.set_status(SpanStatus::error, "FLOOD_WAIT_30");
    connect.end();
    wait.end();
    root.set_status(SpanStatus::ok);
    root.end();
  }
  tracer.force_flush(std::chrono::milliseconds(10000));
  EXPECT_EQ(tracer.exported_spans(), 3u) << tracer.last_export_error();
  EXPECT_EQ(tracer.dropped_spans(), 0u);
  tracer.shutdown();
}

}  // namespace
}  // namespace tgpulse::telemetry
