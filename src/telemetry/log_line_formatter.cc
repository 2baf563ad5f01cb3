#include "telemetry/log_line_formatter.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <ctime>

#include "telemetry/log_redaction.h"

namespace tgpulse::telemetry {
namespace {

constexpr std::array<std::string_view, 7> kCoreKeys = {"@timestamp", "log.level",  "message", "ecs.version",
                                                       "service.name", "trace.id", "span.id"};

bool is_core_key(std::string_view key) noexcept {
  for (std::string_view core : kCoreKeys) {
    if (key == core) return true;
  }
  return false;
}

void append_timestamp(std::string* out, std::chrono::system_clock::time_point time) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  int millis = static_cast<int>(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    --secs;
  }
  // "YYYY-MM-DDThh:mm:ss" changes once a second: keep the last one per thread.
  thread_local std::time_t cached_secs = -1;
  thread_local char cached[32];
  if (secs != cached_secs) {
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    auto end = fmt::format_to_n(cached, sizeof cached - 1, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    *end.out = '\0';
    cached_secs = secs;
  }
  out->append(cached);
  char frac[6] = {'.', static_cast<char>('0' + millis / 100), static_cast<char>('0' + millis / 10 % 10),
                  static_cast<char>('0' + millis % 10), 'Z', '\0'};
  out->append(frac);
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not valid.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  std::size_t len = 0;
  unsigned min_code = 0;
  unsigned code = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2, min_code = 0x80, code = c & 0x1fu;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3, min_code = 0x800, code = c & 0x0fu;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4, min_code = 0x10000, code = c & 0x07u;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3fu);
  }
  if (code < min_code || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  return len;
}

void append_field_value_json(std::string* out, std::string_view key, const LogField::Value& value,
                             std::string* scratch) {
  if (log_key_is_secret(key)) {
    append_json_string(out, kRedacted);
    return;
  }
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, std::string>) {
          append_json_string(out, mask_login_links(v, scratch));
        } else if constexpr (std::is_same_v<T, bool>) {
          out->append(v ? "true" : "false");
        } else if constexpr (std::is_same_v<T, double>) {
          if (std::isfinite(v)) {
            fmt::format_to(std::back_inserter(*out), "{}", v);
          } else {
            out->append("null");
          }
        } else {
          fmt::format_to(std::back_inserter(*out), "{}", v);
        }
      },
      value);
}

// Console values: bare when they contain no space/quote/'=', quoted (JSON-style) otherwise.
void append_console_value(std::string* out, std::string_view text) {
  bool plain = !text.empty();
  for (char c : text) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) {
      plain = false;
      break;
    }
  }
  if (plain) {
    out->append(text);
  } else {
    append_json_string(out, text);
  }
}

}  // namespace

void append_json_string(std::string* out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      std::size_t len = utf8_sequence_length(text, i);
      if (len == 0) {
        out->append("\\ufffd");
        ++i;
      } else {
        out->append(text.substr(i, len));
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0x0f]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

LogLineFormatter::LogLineFormatter(LogFormat format, std::string service_name) : format_(format) {
  append_json_string(&service_name_json_, service_name);
}

void LogLineFormatter::format(std::string* out, std::chrono::system_clock::time_point time, LogLevel level,
                              std::string_view message, std::initializer_list<LogField> fields,
                              const SpanContext* ctx) const {
  if (format_ == LogFormat::json) {
    format_json(out, time, level, message, fields, ctx);
  } else {
    format_console(out, time, level, message, fields, ctx);
  }
}

void LogLineFormatter::format_json(std::string* out, std::chrono::system_clock::time_point time,
                                   LogLevel level, std::string_view message,
                                   std::initializer_list<LogField> fields, const SpanContext* ctx) const {
  std::string scratch;
  out->append("{\"@timestamp\":\"");
  append_timestamp(out, time);
  out->append("\",\"log.level\":\"");
  out->append(log_level_name(level));
  out->append("\",\"message\":");
  append_json_string(out, mask_login_links(message, &scratch));
  out->append(",\"ecs.version\":\"");
  out->append(kEcsVersion);
  out->append("\",\"service.name\":");
  out->append(service_name_json_);
  if (ctx != nullptr && ctx->valid()) {
    out->append(",\"trace.id\":\"");
    out->append(ctx->trace_id_hex());
    out->append("\",\"span.id\":\"");
    out->append(ctx->span_id_hex());
    out->push_back('"');
  }
  for (const LogField& field : fields) {
    out->push_back(',');
    if (is_core_key(field.key)) {
      append_json_string(out, std::string("fields.").append(field.key));
    } else {
      append_json_string(out, field.key);
    }
    out->push_back(':');
    append_field_value_json(out, field.key, field.value, &scratch);
  }
  out->append("}\n");
}

void LogLineFormatter::format_console(std::string* out, std::chrono::system_clock::time_point time,
                                      LogLevel level, std::string_view message,
                                      std::initializer_list<LogField> fields, const SpanContext* ctx) const {
  std::string scratch;
  append_timestamp(out, time);
  fmt::format_to(std::back_inserter(*out), " {:<5} ", log_level_name(level));
  for (char c : mask_login_links(message, &scratch)) {  // one event, one line
    out->push_back(c == '\n' || c == '\r' ? ' ' : c);
  }
  for (const LogField& field : fields) {
    out->push_back(' ');
    out->append(field.key);
    out->push_back('=');
    if (log_key_is_secret(field.key)) {
      out->append(kRedacted);
      continue;
    }
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, std::string>) {
            append_console_value(out, mask_login_links(v, &scratch));
          } else {
            fmt::format_to(std::back_inserter(*out), "{}", v);
          }
        },
        field.value);
  }
  if (ctx != nullptr && ctx->valid()) {
    out->append(" trace.id=");
    out->append(ctx->trace_id_hex());
    out->append(" span.id=");
    out->append(ctx->span_id_hex());
  }
  out->push_back('\n');
}

}  // namespace tgpulse::telemetry
