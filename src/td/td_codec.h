// TdCodec: pure helpers for TDLib's JSON objects, shared by the engine and its tests: parsing a line from
// td_receive, reading @client_id / @extra / @type, turning TDLib `error` objects into the project's Error,
// and naming authorization states.
//
// Thread-safety: stateless functions; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/bounded_json_parser.h"
#include "core/error.h"
#include "core/result.h"

namespace tgpulse::td {

// TDLib's AuthorizationState constructors that tgpulse distinguishes, plus `unknown` (before the first
// update, or a state tgpulse does not act on such as authorizationStateWaitCode).
enum class AuthorizationState {
  unknown,
  wait_tdlib_parameters,           // authorizationStateWaitTdlibParameters
  wait_phone_number,               // authorizationStateWaitPhoneNumber
  wait_other_device_confirmation,  // authorizationStateWaitOtherDeviceConfirmation{link}
  wait_password,                   // authorizationStateWaitPassword{password_hint, ...}
  ready,                           // authorizationStateReady
  logging_out,                     // authorizationStateLoggingOut
  closing,                         // authorizationStateClosing
  closed,                          // authorizationStateClosed
  other,                           // any other authorizationState* (WaitCode, WaitRegistration, ...)
};
inline constexpr int kAuthorizationStateCount = 10;

class TdCodec {
 public:
  // Bounds of a line from td_receive/td_execute: 100 levels (far above any TDLib object; the deepest,
  // rich text inside instant-view page blocks, stays in the tens) and 1,000,000 values (a full page of
  // chat history is a few tens of thousands). Message contents come from other Telegram users, so an
  // answer is bounded before anything copies or serialises it, like a tenant's body.
  static constexpr JsonLimits kAnswerLimits{100, 1000000};
  // Parses one td_receive line; nullopt for invalid JSON, a non-object or a line over kAnswerLimits
  // (never throws).
  static std::optional<nlohmann::json> parse(std::string_view text) noexcept;
  // The same parse, telling why it failed; over the limits, `envelope` still holds the line's top-level
  // "@type", "@extra" and "@client_id" so the engine can answer the waiting request with an error.
  static ParsedJson parse_bounded(std::string_view text) noexcept;

  // "@type" of an object, "" when absent or not a string.
  static std::string_view type_of(const nlohmann::json& object) noexcept;
  // "@client_id", nullopt when absent, not an integer or outside int's range.
  static std::optional<int> client_id_of(const nlohmann::json& object) noexcept;
  // The engine's request id in "@extra" (an unsigned integer), nullopt otherwise.
  static std::optional<std::uint64_t> extra_of(const nlohmann::json& object) noexcept;

  // True for {"@type":"error", ...}.
  static bool is_error(const nlohmann::json& object) noexcept;
  // True for a function TDLib answers without asking Telegram: every function TDLib can run
  // synchronously (td_execute: the log functions, getTextEntities, getOption, ...) and the functions that
  // drive the local client (setTdlibParameters, getAuthorizationState, the database encryption key,
  // close, destroy). Such calls are not counted in <ns>_requests_total (docs/telemetry.md).
  static bool is_local_function(std::string_view type) noexcept;
  // TDLib error object → Error. 429 "Too Many Requests: retry after N" → Error::flood(N) (FLOOD_WAIT_0
  // counts as 1 s); any other code → Errc::engine_error with td_code and TDLib's message (td_code 0 when
  // the code is missing or not an int).
  static Error error_from(const nlohmann::json& error_object);
  // N from "Too Many Requests: retry after N" (also "...retry after N.5"), nullopt if not such a text.
  static std::optional<int> retry_after(std::string_view message) noexcept;

  // authorizationState object (or its @type string) → enum.
  static AuthorizationState authorization_state(const nlohmann::json& state_object) noexcept;
  static AuthorizationState authorization_state_from_type(std::string_view type) noexcept;
  // Short label value for metrics ("wait_phone_number", ...) and TDLib's constructor name.
  static const char* state_label(AuthorizationState s) noexcept;
  static const char* state_type_name(AuthorizationState s) noexcept;
};

}  // namespace tgpulse::td
