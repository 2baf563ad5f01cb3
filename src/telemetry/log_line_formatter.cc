#include "telemetry/log_line_formatter.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
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

// What the JSON writer needs to know about an event field's key: whether its value is a secret, and the
// key rendered as `,"<key>":` (escaped; "fields."-prefixed when it is a core key).
struct FieldKey {
  bool secret = false;
  std::string rendered;
};

void render_field_key(std::string_view key, FieldKey* out) {
  out->secret = log_key_is_secret(key);
  out->rendered.assign(",");
  append_json_string(&out->rendered, is_core_key(key) ? std::string("fields.").append(key) : std::string(key));
  out->rendered.push_back(':');
}

// Field keys are almost always string literals, and the same few appear on line after line, so each
// thread remembers the last key seen in each of 64 slots (chosen by address and length). A hit needs
// the same address, length and bytes, so a key whose memory was reused with other text is never
// mistaken for the old one. Keys longer than kMaxCachedKey are rendered every time.
class FieldKeyCache {
 public:
  const FieldKey& lookup(std::string_view key) {
    if (key.size() > kMaxCachedKey) {
      render_field_key(key, &uncached_);
      return uncached_;
    }
    const auto address = reinterpret_cast<std::uintptr_t>(key.data());
    Slot& slot = slots_[((address ^ key.size()) * 0x9e3779b97f4a7c15ull) >> (64 - kSlotBits)];
    if (slot.data != key.data() || slot.text != key) {
      slot.data = key.data();
      slot.text.assign(key);
      render_field_key(key, &slot.key);
    }
    return slot.key;
  }

 private:
  static constexpr std::size_t kMaxCachedKey = 64;
  static constexpr int kSlotBits = 6;
  struct Slot {
    const char* data = nullptr;
    std::string text;
    FieldKey key;
  };
  std::array<Slot, std::size_t{1} << kSlotBits> slots_;
  FieldKey uncached_;
};

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

// Printable ASCII other than '"' and '\\': copied into a JSON string as it is.
constexpr std::array<bool, 256> kPlainJsonChar = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x7f; ++c) plain[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
  return plain;
}();
constexpr bool is_plain_json_char(unsigned char c) noexcept { return kPlainJsonChar[c]; }

// Appends `bytes` as lowercase hex digits.
template <std::size_t N>
void append_hex(std::string* out, const std::array<std::uint8_t, N>& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  char text[2 * N];
  for (std::size_t i = 0; i < N; ++i) {
    text[2 * i] = kHex[bytes[i] >> 4];
    text[2 * i + 1] = kHex[bytes[i] & 0x0f];
  }
  out->append(text, sizeof text);
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

void append_field_value_json(std::string* out, bool secret, const LogField::Value& value, std::string* scratch) {
  if (secret) {
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
          char digits[24];
          auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
          out->append(digits, static_cast<std::size_t>(end - digits));
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
  std::size_t cut = 0;  // bytes left out at the end
  if (text.size() > kMaxLogStringBytes) {
    std::size_t keep = kMaxLogStringBytes;
    // Back off to the start of a UTF-8 character (never more than 3 continuation bytes).
    for (int k = 0; k < 3 && keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80; ++k) --keep;
    cut = text.size() - keep;
    text = text.substr(0, keep);
  }
  out->push_back('"');
  std::size_t i = 0;
  while (i < text.size()) {
    // Most text needs no escaping: copy the longest plain run in one append.
    std::size_t run = i;
    while (run < text.size() && is_plain_json_char(static_cast<unsigned char>(text[run]))) ++run;
    if (run > i) {
      out->append(text.data() + i, run - i);
      i = run;
      if (i == text.size()) break;
    }
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
      default: {  // other control characters and DEL
        const char escaped[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0x0f]};
        out->append(escaped, sizeof escaped);
      }
    }
    ++i;
  }
  if (cut > 0) out->append("\u2026[truncated ").append(std::to_string(cut)).append(" bytes]");
  out->push_back('"');
}

LogLineFormatter::LogLineFormatter(LogFormat format, std::string service_name) : format_(format) {
  for (std::size_t i = 0; i < level_json_.size(); ++i) {
    level_json_[i].append(R"(","log.level":")").append(log_level_name(static_cast<LogLevel>(i))).append(R"(","message":)");
  }
  service_fields_json_.append(R"(,"ecs.version":")").append(kEcsVersion).append(R"(","service.name":)");
  append_json_string(&service_fields_json_, service_name);
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
  using namespace std::string_view_literals;
  thread_local FieldKeyCache keys;
  std::string scratch;
  out->append(R"({"@timestamp":")"sv);
  append_timestamp(out, time);
  out->append(level_json_[static_cast<std::size_t>(level)]);
  append_json_string(out, mask_login_links(message, &scratch));
  out->append(service_fields_json_);
  if (ctx != nullptr && ctx->valid()) {
    out->append(R"(,"trace.id":")"sv);
    append_hex(out, ctx->trace_id);  // the same digits as trace_id_hex(), without a temporary string
    out->append(R"(","span.id":")"sv);
    append_hex(out, ctx->span_id);
    out->push_back('"');
  }
  for (const LogField& field : fields) {
    const FieldKey& key = keys.lookup(field.key);
    out->append(key.rendered);
    append_field_value_json(out, key.secret, field.value, &scratch);
  }
  out->append("}\n"sv);
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
