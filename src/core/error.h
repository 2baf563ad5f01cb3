// Error: the project's error type. An error code from tgpulse::Errc (with its std::error_category, so it
// composes with std::error_code and Boost.System), a human message that never contains secrets, and the
// details a caller may act on (TDLib's numeric code, a FloodWait's retry_after).
//
// Thread-safety: a value type; copy freely.
#pragma once

#include <chrono>
#include <string>
#include <system_error>

namespace tgpulse {

enum class Errc {
  ok = 0,
  invalid_argument,   // bad input from a caller: HTTP body, config value, function object
  not_found,          // no such tenant / session / route (also: not yours)
  conflict,           // the object is in the wrong state for the request (e.g. session not authorized)
  unauthorized,       // missing or wrong credentials
  payload_too_large,  // body or header over the configured limit
  timeout,            // a deadline passed
  cancelled,          // the caller or shutdown cancelled the operation
  flood_wait,         // Telegram asked to wait `retry_after` seconds before this method again
  throttled,          // the local throttle could not grant a token before the deadline
  unavailable,        // a dependency is down or closing (engine client closed, store busy)
  engine_error,       // TDLib answered with an error (td_code/message carry it)
  store_error,        // the session store failed
  internal,           // a bug: an invariant did not hold
};

const std::error_category& tgpulse_category() noexcept;
std::error_code make_error_code(Errc e) noexcept;
// The stable snake_case name of a code ("flood_wait"), used in JSON error bodies and logs.
const char* errc_name(Errc e) noexcept;

struct Error {
  Errc code = Errc::internal;
  std::string message;       // for humans; names what is wrong, never contains secrets
  int td_code = 0;           // TDLib error code when code == engine_error or flood_wait (e.g. 400, 429)
  int retry_after_s = 0;     // seconds to wait, when code == flood_wait, throttled or unavailable (0 = unknown)

  Error() = default;
  Error(Errc c, std::string msg) : code(c), message(std::move(msg)) {}
  static Error flood(int retry_after_s, std::string msg) {
    Error e(Errc::flood_wait, std::move(msg));
    e.td_code = 429;
    e.retry_after_s = retry_after_s;
    return e;
  }
  std::error_code ec() const noexcept { return make_error_code(code); }
  std::string to_string() const;  // "<name>: <message>"
};

}  // namespace tgpulse

namespace std {
template <>
struct is_error_code_enum<tgpulse::Errc> : true_type {};
}  // namespace std
