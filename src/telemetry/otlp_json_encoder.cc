#include "telemetry/otlp_json_encoder.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace tgpulse::telemetry {
namespace {

using nlohmann::json;

json any_value(const AttrValue& value) {
  return std::visit(
      [](const auto& v) -> json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return {{"stringValue", v}};
        } else if constexpr (std::is_same_v<T, bool>) {
          return {{"boolValue", v}};
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return {{"intValue", std::to_string(v)}};
        } else {
          return {{"doubleValue", std::isfinite(v) ? json(v) : json(nullptr)}};
        }
      },
      value);
}

json attributes(const std::vector<Attr>& attrs) {
  json out = json::array();
  for (const Attr& a : attrs) out.push_back({{"key", a.key}, {"value", any_value(a.value)}});
  return out;
}

bool is_zero(const SpanId& id) {
  for (std::uint8_t b : id) {
    if (b != 0) return false;
  }
  return true;
}

json span_json(const SpanData& s) {
  json span = {
      {"traceId", s.context.trace_id_hex()},
      {"spanId", s.context.span_id_hex()},
  };
  if (!is_zero(s.parent_span_id)) {
    SpanContext parent;
    parent.span_id = s.parent_span_id;
    span["parentSpanId"] = parent.span_id_hex();
  }
  span["name"] = s.name;
  span["kind"] = static_cast<int>(s.kind);
  span["startTimeUnixNano"] = std::to_string(s.start_unix_nanos);
  span["endTimeUnixNano"] = std::to_string(s.end_unix_nanos);
  span["attributes"] = attributes(s.attributes);
  span["droppedAttributesCount"] = s.dropped_attributes_count;
  json events = json::array();
  for (const SpanData::Event& e : s.events) {
    events.push_back({{"attributes", attributes(e.attributes)},
                      {"name", e.name},
                      {"timeUnixNano", std::to_string(e.time_unix_nanos)},
                      {"droppedAttributesCount", 0}});
  }
  span["events"] = std::move(events);
  span["droppedEventsCount"] = s.dropped_events_count;
  json status = {{"code", static_cast<int>(s.status)}};
  if (!s.status_message.empty()) status["message"] = s.status_message;
  span["status"] = std::move(status);
  span["links"] = json::array();
  span["droppedLinksCount"] = 0;
  return span;
}

}  // namespace

OtlpJsonEncoder::OtlpJsonEncoder(std::vector<Attr> resource_attributes, std::string scope_name,
                                 std::string scope_version)
    : resource_attributes_(std::move(resource_attributes)),
      scope_name_(std::move(scope_name)),
      scope_version_(std::move(scope_version)) {}

std::string OtlpJsonEncoder::encode(const std::vector<std::unique_ptr<SpanData>>& spans) const {
  json span_list = json::array();
  for (const auto& s : spans) span_list.push_back(span_json(*s));
  json request = {
      {"resourceSpans",
       json::array({{
           {"resource", {{"attributes", attributes(resource_attributes_)}, {"droppedAttributesCount", 0}}},
           {"scopeSpans",
            json::array({{{"scope", {{"name", scope_name_}, {"version", scope_version_}}},
                          {"spans", std::move(span_list)}}})},
       }})},
  };
  return request.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace tgpulse::telemetry
