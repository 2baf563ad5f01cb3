// Log redaction rules: which field keys name secrets, and how a Telegram login link inside free text is
// masked. Used by LogLineFormatter on every line, so both are cheap when there is nothing to redact.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace tgpulse::telemetry {

inline constexpr std::string_view kRedacted = "[REDACTED]";

// True when `key`, compared case-insensitively, contains token, password, secret, api_hash,
// authorization, link or phone: the value must never be written.
bool log_key_is_secret(std::string_view key) noexcept;

// Returns `text` with every "tg://login?token=<token>" turned into "tg://login?token=[REDACTED]".
// When there is nothing to mask, returns `text` itself (no copy); otherwise the result lives in
// *scratch.
std::string_view mask_login_links(std::string_view text, std::string* scratch);

}  // namespace tgpulse::telemetry
