// Request ids: every request gets one, echoed as X-Request-Id and logged as http.request.id. A caller's
// X-Request-Id is kept when it is sane (1..128 characters of [A-Za-z0-9._:-], the characters tracing
// and proxy ids use); anything else — empty, too long, spaces, quotes, control characters — is replaced
// by a generated id (32 lowercase hex digits, 128 random bits), so a header value can never inject
// into logs or responses.
//
// Thread-safety: both functions are thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace tgpulse::http {

inline constexpr std::size_t kMaxRequestIdLength = 128;

bool is_acceptable_request_id(std::string_view id) noexcept;
std::string generate_request_id();
// The incoming id when acceptable, else a generated one.
std::string request_id_for(std::string_view incoming);

}  // namespace tgpulse::http
