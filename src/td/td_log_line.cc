#include "td/td_log_line.h"

#include <cctype>
#include <charconv>

namespace tgpulse::td {
namespace {

// Reads the non-negative integer that follows `key` in `text` (e.g. key "[timeout:"), nullopt if absent,
// signed or out of range: waits are never negative.
std::optional<int> int_after(std::string_view text, std::string_view key) {
  auto pos = text.find(key);
  if (pos == std::string_view::npos) return std::nullopt;
  auto rest = text.substr(pos + key.size());
  if (rest.empty() || rest.front() < '0' || rest.front() > '9') return std::nullopt;
  int value = 0;
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (ec != std::errc() || ptr == rest.data()) return std::nullopt;
  return value;
}

bool is_secret_key(std::string_view key) {
  for (std::string_view secret : {"api_hash", "password", "database_encryption_key", "token", "link",
                                  "phone_number", "new_password", "encryption_key"}) {
    if (key.size() >= secret.size() && key.substr(key.size() - secret.size()) == secret) return true;
  }
  return false;
}

}  // namespace

std::string TdLogLine::mask_secrets(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    // tg://login?token=... anywhere: keep the scheme, mask the token.
    if (text.compare(i, 17, "tg://login?token=") == 0) {
      out.append("tg://login?token=[REDACTED]");
      i += 17;
      while (i < text.size() && text[i] != '"' && text[i] != ' ' && text[i] != '\n' && text[i] != ',') ++i;
      continue;
    }
    // TL pretty printing: `name = "value"` or `name = bytes [n] { ... }`; JSON: "name":"value".
    if (text[i] == '=' || text[i] == ':') {
      // find the key before the separator
      std::size_t end = out.size();
      while (end > 0 && (out[end - 1] == ' ' || out[end - 1] == '"')) --end;
      std::size_t start = end;
      while (start > 0 && (std::isalnum(static_cast<unsigned char>(out[start - 1])) || out[start - 1] == '_')) --start;
      if (end > start && is_secret_key(std::string_view(out).substr(start, end - start))) {
        out.push_back(text[i]);
        ++i;
        while (i < text.size() && text[i] == ' ') out.push_back(text[i++]);
        if (i < text.size() && text[i] == '"') {
          ++i;
          while (i < text.size() && text[i] != '"') {
            if (text[i] == '\\' && i + 1 < text.size()) ++i;
            ++i;
          }
          if (i < text.size()) ++i;
          out.append("\"[REDACTED]\"");
          continue;
        }
        if (text.compare(i, 5, "bytes") == 0) {
          auto close = text.find('}', i);
          i = close == std::string_view::npos ? text.size() : close + 1;
          out.append("[REDACTED]");
          continue;
        }
        continue;
      }
    }
    out.push_back(text[i]);
    ++i;
  }
  return out;
}

TdLogLine TdLogLine::parse(int verbosity, std::string_view message) {
  TdLogLine line;
  line.verbosity = verbosity;
  std::string_view body = message;
  // Header: bracketed fields up to the first tab.
  auto tab = message.find('\t');
  if (!message.empty() && message.front() == '[' && tab != std::string_view::npos) {
    std::string_view header = message.substr(0, tab);
    body = message.substr(tab + 1);
    std::size_t pos = 0;
    int index = 0;
    while (pos < header.size() && header[pos] == '[') {
      auto close = header.find(']', pos);
      if (close == std::string_view::npos) break;
      std::string_view field = header.substr(pos + 1, close - pos - 1);
      if (index == 3) line.source = std::string(field);
      if (!field.empty() && field.front() == '#') {
        int id = 0;
        auto [p, ec] = std::from_chars(field.data() + 1, field.data() + field.size(), id);
        if (ec == std::errc() && p != field.data() + 1) line.client_id = id;
      }
      pos = close + 1;
      ++index;
    }
  }
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);

  const bool delay = body.substr(0, 7) == "Delay: ";
  const bool failed = body.substr(0, 8) == "Failed: ";
  if ((delay || failed) && body.find("FLOOD_WAIT_") != std::string_view::npos) {
    auto timeout = int_after(body, "[timeout:");
    auto total = int_after(body, "[total_timeout:");
    if (!timeout) timeout = int_after(body, "FLOOD_WAIT_");
    if (timeout) {
      if (delay) {
        line.absorbed_flood_wait = AbsorbedFloodWait{*timeout, total.value_or(*timeout)};
      } else {
        line.flood_wait_failed = true;
      }
    }
  }
  line.text = mask_secrets(body);
  return line;
}

}  // namespace tgpulse::td
