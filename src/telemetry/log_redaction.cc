#include "telemetry/log_redaction.h"

#include <array>

namespace tgpulse::telemetry {
namespace {

constexpr std::string_view kLoginLink = "tg://login?token=";

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool contains_lowercase(std::string_view haystack, std::string_view needle) noexcept {
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    std::size_t j = 0;
    while (j < needle.size() && lower(haystack[i + j]) == needle[j]) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

// Characters a login token may contain: base64url, plain base64 and percent-encoding.
bool is_token_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '=' || c == '+' || c == '/' || c == '%' || c == '.' || c == '~';
}

}  // namespace

bool log_key_is_secret(std::string_view key) noexcept {
  static constexpr std::array<std::string_view, 7> kSecretWords = {
      "token", "password", "secret", "api_hash", "authorization", "link", "phone"};
  for (std::string_view word : kSecretWords) {
    if (contains_lowercase(key, word)) return true;
  }
  // Key material: a field named after the key itself ("db_key", "store.master_key"), not one that
  // describes it ("store.master_key_id", "store.master_key_file").
  static constexpr std::array<std::string_view, 4> kKeyNames = {"db_key", "master_key", "page_key", "encryption_key"};
  for (std::string_view name : kKeyNames) {
    if (key.size() >= name.size() && contains_lowercase(key.substr(key.size() - name.size()), name)) return true;
  }
  return false;
}

std::string_view mask_login_links(std::string_view text, std::string* scratch) {
  std::size_t pos = text.find(kLoginLink);
  if (pos == std::string_view::npos) return text;
  scratch->clear();
  std::size_t copied = 0;
  while (pos != std::string_view::npos) {
    std::size_t token_begin = pos + kLoginLink.size();
    std::size_t token_end = token_begin;
    while (token_end < text.size() && is_token_char(text[token_end])) ++token_end;
    scratch->append(text.substr(copied, token_begin - copied));
    scratch->append(kRedacted);
    copied = token_end;
    pos = text.find(kLoginLink, token_end);
  }
  scratch->append(text.substr(copied));
  return *scratch;
}

}  // namespace tgpulse::telemetry
