// LogLineFormatter: turns one log event into one line, either an ECS JSON object or the human console
// format, applying the redaction rules (log_redaction.h) to every field and to the message.
//
// JSON layout, in this order: "@timestamp" (RFC 3339, UTC, milliseconds, "Z"), "log.level", "message",
// "ecs.version" ("8.11.0"), "service.name", then "trace.id"/"span.id" when a valid context is given,
// then the event fields in the order given. Dotted keys are written as given (ECS accepts both dotted and
// nested forms). An event field whose key is one of the core keys above is written as "fields.<key>" so
// a caller can never forge or duplicate a core field. Strings are JSON-escaped; invalid UTF-8 becomes
// U+FFFD; non-finite doubles are written as null.
//
// Thread-safety: immutable after construction; format() may be called from any number of threads.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

#include "telemetry/logger.h"

namespace tgpulse::telemetry {

inline constexpr std::string_view kEcsVersion = "8.11.0";

class LogLineFormatter {
 public:
  LogLineFormatter(LogFormat format, std::string service_name);

  // Appends one complete line (ending in '\n') to *out.
  void format(std::string* out, std::chrono::system_clock::time_point time, LogLevel level,
              std::string_view message, std::initializer_list<LogField> fields,
              const SpanContext* ctx) const;

 private:
  void format_json(std::string* out, std::chrono::system_clock::time_point time, LogLevel level,
                   std::string_view message, std::initializer_list<LogField> fields,
                   const SpanContext* ctx) const;
  void format_console(std::string* out, std::chrono::system_clock::time_point time, LogLevel level,
                      std::string_view message, std::initializer_list<LogField> fields,
                      const SpanContext* ctx) const;

  LogFormat format_;
  // The JSON between the timestamp and the message, for each level: `","log.level":"info","message":`.
  std::array<std::string, static_cast<std::size_t>(LogLevel::error) + 1> level_json_;
  // `,"ecs.version":"8.11.0","service.name":"<service name>"`, rendered once.
  std::string service_fields_json_;
};

// The most bytes of one string value (message or field) a log line carries. A longer value — a TDLib
// error echoing a hostile argument, a huge log line from the engine — keeps its first
// kMaxLogStringBytes bytes (cut at a UTF-8 character boundary) followed by "…[truncated N bytes]", so
// no input can make one line, or the log queue holding it, arbitrarily large.
inline constexpr std::size_t kMaxLogStringBytes = 16 * 1024;

// Appends `text` to *out as a JSON string literal (with the quotes), truncated as above.
void append_json_string(std::string* out, std::string_view text);

}  // namespace tgpulse::telemetry
