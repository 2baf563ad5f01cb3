// SpanContext: the W3C Trace Context identity of a span (trace id, span id, flags), parsed from and
// formatted to a `traceparent` header. Passed explicitly (by value) through coroutines: tgpulse has no
// thread-local "current span", because a coroutine may resume on another thread.
//
// Thread-safety: a value type.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tgpulse::telemetry {

using TraceId = std::array<std::uint8_t, 16>;
using SpanId = std::array<std::uint8_t, 8>;

struct SpanContext {
  TraceId trace_id{};
  SpanId span_id{};
  std::uint8_t flags = 0;  // bit 0: sampled
  bool remote = false;     // came in through a traceparent header

  bool valid() const noexcept;  // neither id is all zeros
  bool sampled() const noexcept { return (flags & 0x01) != 0; }
  std::string trace_id_hex() const;  // 32 lowercase hex digits
  std::string span_id_hex() const;   // 16 lowercase hex digits
  std::string traceparent() const;   // "00-<trace>-<span>-<flags>"

  // Parses a W3C traceparent header; nullopt when malformed (version ff, bad lengths, zero ids, ...).
  static std::optional<SpanContext> parse_traceparent(std::string_view header) noexcept;
};

}  // namespace tgpulse::telemetry
