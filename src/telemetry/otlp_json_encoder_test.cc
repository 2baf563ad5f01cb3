#include "telemetry/otlp_json_encoder.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

namespace tgpulse::telemetry {
namespace {

using nlohmann::json;

std::unique_ptr<SpanData> sample_span() {
  auto s = std::make_unique<SpanData>();
  s->context = *SpanContext::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  s->parent_span_id = {0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11};
  s->name = "telethon_qr_wait";
  s->kind = SpanKind::client;
  s->start_unix_nanos = 1767225600123456789ULL;
  s->end_unix_nanos = 1767225601000000000ULL;
  s->attributes = {{"telethon.tenant_id", std::string("acme")},
                   {"telethon.floodwait_seconds", std::int64_t{9007199254740993}},  // > 2^53: exact as a string
                   {"qr.authorized", true},
                   {"ratio", 0.25},
                   {"nan", std::numeric_limits<double>::quiet_NaN()}};
  s->events.push_back({"qr.refreshed", 1767225600500000000ULL, {{"attempt", std::int64_t{2}}}});
  s->status = SpanStatus::error;
  s->status_message = "expired";
  s->dropped_attributes_count = 3;
  return s;
}

TEST(OtlpJsonEncoderTest, EncodesAnExportTraceServiceRequestPerTheOtlpJsonMapping) {
  std::vector<std::unique_ptr<SpanData>> spans;
  spans.push_back(sample_span());
  OtlpJsonEncoder encoder({{"service.name", std::string("tgpulse")}, {"host.cores", std::int64_t{2}}}, "tgpulse",
                          "0.1.0");
  json doc = json::parse(encoder.encode(spans));

  ASSERT_EQ(doc.at("resourceSpans").size(), 1u);
  const json& rs = doc["resourceSpans"][0];
  EXPECT_EQ(rs.at("resource"),
            json::parse(R"({"attributes":[{"key":"service.name","value":{"stringValue":"tgpulse"}},
                                          {"key":"host.cores","value":{"intValue":"2"}}],
                           "droppedAttributesCount":0})"));
  ASSERT_EQ(rs.at("scopeSpans").size(), 1u);
  EXPECT_EQ(rs["scopeSpans"][0].at("scope"), json::parse(R"({"name":"tgpulse","version":"0.1.0"})"));
  ASSERT_EQ(rs["scopeSpans"][0].at("spans").size(), 1u);
  const json& span = rs["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(span, json::parse(R"({
    "traceId":"4bf92f3577b34da6a3ce929d0e0e4736",
    "spanId":"00f067aa0ba902b7",
    "parentSpanId":"0a0b0c0d0e0f1011",
    "name":"telethon_qr_wait",
    "kind":3,
    "startTimeUnixNano":"1767225600123456789",
    "endTimeUnixNano":"1767225601000000000",
    "attributes":[
      {"key":"telethon.tenant_id","value":{"stringValue":"acme"}},
      {"key":"telethon.floodwait_seconds","value":{"intValue":"9007199254740993"}},
      {"key":"qr.authorized","value":{"boolValue":true}},
      {"key":"ratio","value":{"doubleValue":0.25}},
      {"key":"nan","value":{"doubleValue":null}}],
    "droppedAttributesCount":3,
    "events":[{"attributes":[{"key":"attempt","value":{"intValue":"2"}}],"name":"qr.refreshed",
               "timeUnixNano":"1767225600500000000","droppedAttributesCount":0}],
    "droppedEventsCount":0,
    "status":{"code":2,"message":"expired"},
    "links":[],
    "droppedLinksCount":0})"));
}

TEST(OtlpJsonEncoderTest, RootSpanHasNoParentAndUnsetStatusHasNoMessage) {
  std::vector<std::unique_ptr<SpanData>> spans;
  spans.push_back(sample_span());
  spans[0]->parent_span_id = {};
  spans[0]->status = SpanStatus::unset;
  spans[0]->status_message.clear();
  spans[0]->name = "bad utf8 \xff";
  json doc = json::parse(OtlpJsonEncoder({}, "s", "v").encode(spans));
  const json& span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  EXPECT_FALSE(span.contains("parentSpanId"));
  EXPECT_EQ(span.at("status"), json::parse(R"({"code":0})"));
  EXPECT_EQ(span.at("name"), "bad utf8 \xef\xbf\xbd");
}

}  // namespace
}  // namespace tgpulse::telemetry
