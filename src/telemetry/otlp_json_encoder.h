// OtlpJsonEncoder: encodes finished spans as an OTLP ExportTraceServiceRequest in the OTLP/JSON
// encoding (opentelemetry-proto specification.md, "JSON Protobuf Encoding"):
//   {"resourceSpans":[{"resource":{"attributes":[...],"droppedAttributesCount":0},
//     "scopeSpans":[{"scope":{"name":..,"version":..},"spans":[...]}]}]}
// - traceId / spanId / parentSpanId: lowercase hex (OTLP's exception to proto3's base64); a root span
//   has no parentSpanId.
// - startTimeUnixNano / endTimeUnixNano / timeUnixNano: fixed64 as decimal strings.
// - kind and status.code: the proto enum's integer values; status.message only with a message.
// - attribute values: {"stringValue"}, {"boolValue"}, {"intValue":"<decimal string>"} (int64 as a
//   string, per the proto3 JSON mapping), {"doubleValue"} (non-finite doubles become null).
// - invalid UTF-8 in strings is replaced by U+FFFD so the body is always valid JSON.
//
// Thread-safety: immutable after construction; encode() may be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "telemetry/tracer.h"

namespace tgpulse::telemetry {

class OtlpJsonEncoder {
 public:
  OtlpJsonEncoder(std::vector<Attr> resource_attributes, std::string scope_name, std::string scope_version);
  std::string encode(const std::vector<std::unique_ptr<SpanData>>& spans) const;

 private:
  std::vector<Attr> resource_attributes_;
  std::string scope_name_;
  std::string scope_version_;
};

}  // namespace tgpulse::telemetry
