// Logger: structured logs, one ECS-shaped JSON object per line (or a human console format for
// development). log() formats the line on the caller's thread (into a buffer the thread keeps) and
// appends its bytes to the pending batch, a bounded queue of at most queue_capacity lines and
// queue_capacity_bytes bytes; a
// background thread takes the whole batch and writes it with one sink write. The writer lingers 1 ms
// after a batch's first line so that one wake-up and one write serve many lines; flush(), shutdown()
// and a batch past 256 KiB cut that short. When the queue is full the line is dropped and counted
// (dropped()), at once or after at most full_queue_wait; flush() waits until every accepted line is
// written; shutdown() writes every accepted line, then stops: a line accepted is never lost.
//
// Fields named like secrets (token, link, password, api_hash, authorization, ...) are redacted to
// "[REDACTED]", and tg://login?token=... anywhere in a message or string value is masked.
//
// Built on its own small writer rather than spdlog: the line is ECS JSON that we format ourselves
// (spdlog's pattern formatter would only wrap it), redaction must see the structured fields, and the
// queue must drop-and-count instead of blocking or overwriting silently. What is left is a bounded
// queue, one thread and a LogSink, which is less code than adapting spdlog's async logger.
//
// A line goes to the queue only when its level passes the filter (checked before any formatting).
// After shutdown(), further lines are dropped and counted.
//
// Thread-safety: thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "core/clock.h"
#include "telemetry/log_sink.h"
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
  // Temporaries are kept (moved in); lvalue strings are viewed. (An rvalue reference rather than a
  // by-value parameter: by value, every std::string argument would be ambiguous with the overload below.)
  LogField(std::string_view k, std::string&& v) : key(k), value(std::move(v)) {}
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
  // Bytes waiting in the queue; beyond this, lines are dropped and counted the same way. Lines are
  // bounded (each string value at kMaxLogStringBytes), but 65,536 lines of long values would still be
  // gigabytes: this caps the memory a burst of large lines can take while the disk is slow. A line
  // arriving at an empty queue is always taken.
  std::size_t queue_capacity_bytes = 64 * 1024 * 1024;
  // How long log() may wait for room when the queue is full before it drops the line. 0 (the default):
  // drop at once, so a caller never waits for the disk. Above 0, a caller waits at most this long per
  // line, so a burst the writer can absorb loses nothing; an event-loop thread still never waits
  // longer than this.
  std::chrono::microseconds full_queue_wait{0};

  bool operator==(const LoggerOptions&) const = default;
};

class Logger {
 public:
  // Writes to options.path (stdout when empty or "-"). If the file cannot be opened, the logger writes
  // to stderr instead and its first line is an error naming the path.
  explicit Logger(LoggerOptions options);
  // Writes to `sink` (options.path is ignored); `clock` stamps the lines and must outlive the logger.
  Logger(LoggerOptions options, std::unique_ptr<LogSink> sink, const Clock& clock = SystemClock::instance());
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
  // Blocks until every line accepted before the call is written (or failed to write, which counts as
  // dropped).
  void flush();
  // Writes every accepted line, stops the writer thread and flushes the sink. Idempotent.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tgpulse::telemetry
