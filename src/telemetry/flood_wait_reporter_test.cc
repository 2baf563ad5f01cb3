#include "telemetry/flood_wait_reporter.h"

#include <chrono>
#include <memory>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "telemetry/log_memory_sink.h"
#include "telemetry/span_memory_exporter.h"

namespace tgpulse::telemetry {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class FloodWaitReporterTest : public ::testing::Test {
 protected:
  std::vector<json> lines() {
    logger_.flush();
    std::vector<json> out;
    for (const auto& l : lines_->snapshot()) out.push_back(json::parse(l));
    return out;
  }
  std::vector<SpanData> spans() {
    tracer_.force_flush(5s);
    return spans_->snapshot();
  }
  static const AttrValue* attribute(const SpanData& s, std::string_view key) {
    for (const auto& a : s.attributes) {
      if (a.key == key) return &a.value;
    }
    return nullptr;
  }

  Registry registry_;
  TelethonMetrics metrics_{registry_};
  std::shared_ptr<LogMemorySink::Lines> lines_ = std::make_shared<LogMemorySink::Lines>();
  Logger logger_{LoggerOptions{}, std::make_unique<LogMemorySink>(lines_)};
  std::shared_ptr<SpanMemoryExporter::Spans> spans_ = std::make_shared<SpanMemoryExporter::Spans>();
  Tracer tracer_{TracerOptions{}, std::make_unique<SpanMemoryExporter>(spans_)};
  FloodWaitReporter reporter_{metrics_, logger_};
};

TEST_F(FloodWaitReporterTest, AFailFastWaitIsCountedObservedLoggedAndOnTheSpan) {
  Span span = tracer_.start_span("telethon_qr_generate");
  FloodWaitReport r;
  r.operation = floodwait_operation::kQrLogin;
  r.method = "requestQrCodeAuthentication";
  r.tenant_id = "acme";
  r.session_id = "s-1";
  r.seconds = 300;
  r.delay = 0;
  r.trace = &span.context();
  reporter_.report(r, &span);
  span.end();

  const MethodMetrics& m = metrics_.method("requestQrCodeAuthentication");
  EXPECT_EQ(m.floodwait_by_bucket[5]->value(), 1);  // seconds="300"
  // The wait Telegram asked for, although nothing was slept.
  EXPECT_EQ(m.floodwait_duration->count(), 1u);
  EXPECT_EQ(m.floodwait_duration->sum(), 300);

  std::vector<json> l = lines();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0]["message"], "FloodWait detected");
  EXPECT_EQ(l[0]["log.level"], "warn");
  EXPECT_EQ(l[0]["seconds"], 300);
  EXPECT_EQ(l[0]["delay"], 0.0);
  EXPECT_EQ(l[0]["tenant_id"], "acme");
  EXPECT_EQ(l[0]["operation"], "qr_login");
  EXPECT_EQ(l[0]["session_id"], "s-1");
  EXPECT_EQ(l[0]["td.method"], "requestQrCodeAuthentication");

  std::vector<SpanData> s = spans();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(l[0]["trace.id"], s[0].context.trace_id_hex());
  const AttrValue* seconds = attribute(s[0], "telethon.floodwait_seconds");
  ASSERT_NE(seconds, nullptr);
  EXPECT_EQ(std::get<std::int64_t>(*seconds), 300);
  ASSERT_EQ(s[0].events.size(), 1u);
  EXPECT_EQ(s[0].events[0].name, "floodwait");
}

TEST_F(FloodWaitReporterTest, AnAbsorbedWaitHasReasonEngineAndItsOwnerButNoMethod) {
  FloodWaitReport r;
  r.operation = floodwait_operation::kEngine;
  r.tenant_id = "acme";
  r.session_id = "s-2";
  r.seconds = 0;  // FLOOD_WAIT_0 counts as 1 s
  r.delay = 1;
  r.td_client_id = 4;
  r.td_total_wait = 3;
  reporter_.report(r);

  EXPECT_EQ(metrics_.engine().floodwait_by_bucket[0]->value(), 1);
  EXPECT_EQ(metrics_.engine().floodwait_duration->sum(), 1);
  std::vector<json> l = lines();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0]["seconds"], 1);
  EXPECT_EQ(l[0]["operation"], "engine");
  EXPECT_EQ(l[0]["tenant_id"], "acme");
  EXPECT_EQ(l[0]["session_id"], "s-2");
  EXPECT_EQ(l[0]["td.client_id"], 4);
  EXPECT_EQ(l[0]["td.total_wait"], 3);
  EXPECT_FALSE(l[0].contains("td.method"));
  EXPECT_FALSE(l[0].contains("trace.id"));
}

}  // namespace
}  // namespace tgpulse::telemetry
