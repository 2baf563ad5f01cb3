#include "telemetry/log_redaction.h"

#include <array>

namespace tgpulse::telemetry {
namespace {

constexpr std::string_view kLoginLink = "tg://login?token=";

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Characters a login token may contain: base64url, plain base64 and percent-encoding.
bool is_token_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '=' || c == '+' || c == '/' || c == '%' || c == '.' || c == '~';
}

constexpr std::array<std::string_view, 7> kSecretWords = {"token",         "password", "secret", "api_hash",
                                                         "authorization", "link",     "phone"};
// Key material: a field named after the key itself ("db_key", "store.master_key"), not one that
// describes it ("store.master_key_id", "store.master_key_file").
constexpr std::array<std::string_view, 4> kKeyNames = {"db_key", "master_key", "page_key", "encryption_key"};

// `key` is already lower case.
bool key_is_secret_folded(std::string_view key) noexcept {
  for (std::string_view word : kSecretWords) {
    if (key.find(word) != std::string_view::npos) return true;
  }
  for (std::string_view name : kKeyNames) {
    if (key.ends_with(name)) return true;
  }
  return false;
}

}  // namespace

bool log_key_is_secret(std::string_view key) noexcept {
  // Lower-case the key once, then search each word with string_view::find (which skips ahead to the
  // word's first letter). Keys are short; a longer one is folded on the heap.
  constexpr std::size_t kShortKey = 128;
  char stack[kShortKey];
  std::string heap;
  char* folded = stack;
  if (key.size() > kShortKey) {
    heap.resize(key.size());
    folded = heap.data();
  }
  for (std::size_t i = 0; i < key.size(); ++i) folded[i] = lower(key[i]);
  return key_is_secret_folded(std::string_view(folded, key.size()));
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
