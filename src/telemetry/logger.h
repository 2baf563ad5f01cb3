// Logger: structured logs, one ECS-shaped JSON object per line (or a human console format for
// development). log() formats the line on the caller's thread and hands it to a bounded queue; a
// background thread writes it. When the queue is full the line is dropped and counted
// (dropped()); flush() waits until every accepted line is written; shutdown() flushes and stops.
//
// Fields named like secrets (token, link, password, api_hash, authorization, ...) are redacted to
// "[REDACTED]", and tg://login?token=... anywhere in a message or string value is masked.
//
// Thread-safety: thread-safe.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "telemetry/trace_context.h"

namespace tgpulse::telemetry {

enum class LogLevel { trace, debug, info, warn, error };
enum class LogFormat { json, console };

// Parses "trace|debug|info|warn|warning|error"; false if unknown.
bool parse_log_level(std::string_view s, LogLevel* out) noexcept;
const char* log_level_name(LogLevel l) noexcept;  // ECS log.level values: "debug", "info", "warn", ...

struct LogField {
  using Value = std::variant<std::string_view, std::string, std::int64_t, double, bool>;
  std::string_view key;  // dotted keys ("tenant_id", "http.request.method") are written as given
  Value value;
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, std::int64_t v) : key(k), value(v) {}
  LogField(std::string_view k, int v) : key(k), value(static_cast<std::int64_t>(v)) {}
  LogField(std::string_view k, unsigned v) : key(k), value(static_cast<std::int64_t>(v)) {}
  LogField(std::string_view k, long long v) : key(k), value(static_cast<std::int64_t>(v)) {}
  LogField(std::string_view k, unsigned long v) : key(k), value(static_cast<std::int64_t>(v)) {}
  LogField(std::string_view k, unsigned long long v) : key(k), value(static_cast<std::int64_t>(v)) {}
  LogField(std::string_view k, double v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v) {}
};

struct LoggerOptions {
  LogLevel level = LogLevel::info;       // lines below this level are skipped before formatting
  LogFormat format = LogFormat::json;    // json for machines (ECS), console for people
  std::string path;                      // "" or "-" = stdout; otherwise appended to this file
  std::string service_name = "tgpulse";  // ECS service.name
  std::size_t queue_capacity = 65536;    // lines; beyond this, lines are dropped and counted
};

class Logger {
 public:
  explicit Logger(LoggerOptions options);
  ~Logger();  // shutdown()
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  bool enabled(LogLevel level) const noexcept;
  // trace.id / span.id are written when `ctx` is given and valid.
  void log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {},
           const SpanContext* ctx = nullptr);
  void debug(std::string_view m, std::initializer_list<LogField> f = {}, const SpanContext* c = nullptr) { log(LogLevel::debug, m, f, c); }
  void info(std::string_view m, std::initializer_list<LogField> f = {}, const SpanContext* c = nullptr) { log(LogLevel::info, m, f, c); }
  void warn(std::string_view m, std::initializer_list<LogField> f = {}, const SpanContext* c = nullptr) { log(LogLevel::warn, m, f, c); }
  void error(std::string_view m, std::initializer_list<LogField> f = {}, const SpanContext* c = nullptr) { log(LogLevel::error, m, f, c); }

  void set_level(LogLevel level) noexcept;
  std::uint64_t dropped() const noexcept;
  std::uint64_t written() const noexcept;
  void flush();
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tgpulse::telemetry
