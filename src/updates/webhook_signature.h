// Webhook signatures: every delivery carries
//   X-Tgpulse-Timestamp: <unix seconds>
//   X-Tgpulse-Signature: sha256=<lower-case hex of HMAC-SHA256(secret, timestamp + "." + body)>
// so a receiver can tell a delivery from a forgery (only tgpulse and the receiver know the secret) and
// from a replay (the timestamp is signed; the receiver refuses one outside its window). The receiver's
// side is verify_webhook_signature() here and the Python example in docs/examples/webhook_receiver.py.
//
// Thread-safety: pure functions (OpenSSL's HMAC is reentrant).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace tgpulse::updates {

inline constexpr std::string_view kTimestampHeader = "X-Tgpulse-Timestamp";
inline constexpr std::string_view kSignatureHeader = "X-Tgpulse-Signature";

// "sha256=" + hex(HMAC-SHA256(secret, std::to_string(timestamp) + "." + body)).
std::string webhook_signature(std::string_view secret, std::int64_t timestamp, std::string_view body);

// A webhook secret a tenant may set: 16 to 256 characters of A-Z a-z 0-9 _ - (enough entropy to be a
// key; no character that a header, a shell or a log could mangle). The error never repeats the secret.
Status validate_webhook_secret(std::string_view secret);

// The receiver's check: the timestamp header is an integer within `window` of `now` (either side), the
// signature header matches (compared in constant time). Errors say which check failed.
Status verify_webhook_signature(std::string_view secret, std::string_view timestamp_header,
                                std::string_view signature_header, std::string_view body, std::int64_t now,
                                std::chrono::seconds window = std::chrono::seconds(300));

}  // namespace tgpulse::updates
