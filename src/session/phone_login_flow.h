// PhoneLoginFlow: one phone-number login on the engine, from a new client to its outcome — the same
// session, deadline, cleanup and event stream as a QR login, with TDLib's phone steps:
//
//   new client → setTdlibParameters → authorizationStateWaitPhoneNumber   status phone_number_required
//   → submit_phone_number (setAuthenticationPhoneNumber)
//   → authorizationStateWaitCode {code_info}                              status code_required
//     ├ submit_code (checkAuthenticationCode): wrong → 422, the login stays; expired → 422, resend
//     └ resend_code (resendAuthenticationCode): the next way (SMS, call, ...) → a new WaitCode
//   → authorizationStateWaitPassword (2FA, submit_password as for QR)    status password_required
//   → authorizationStateReady                                             status authorized
//   | refused: Telegram asks for a step tgpulse does not do (WaitRegistration: the number has no
//     account; WaitEmailAddress/WaitEmailCode; WaitPremiumPurchase; WaitOtherDeviceConfirmation)
//   | expired at the deadline (phone.timeout) | failed (engine or store error, TDLib closed)
//   | cancelled (DELETE, tenant deletion, a refused number at creation) | code_attempts (the last
//     allowed code was wrong) | interrupted (graceful shutdown).
//
// Telemetry: tgpulse_phone_login_total{status} and tgpulse_phone_codes_total{result}
// (telemetry/phone_login_metrics.h); spans tgpulse_phone_login ⊃ telethon_connect (client +
// setTdlibParameters, the seed's connect step), tgpulse_phone_number (until a code was sent),
// tgpulse_phone_code (until the code was accepted; tgpulse.phone_login.code_type), tgpulse_phone_password
// (2FA, when asked), each with telethon.operation="phone_login", telethon.tenant_id, telethon.session_id
// (the attributes every span of the service carries, so one query finds a tenant's logins of both kinds);
// the root ends with tgpulse.phone_login.outcome. Logs: WARN "Phone login timeout", INFO "Phone login
// code sent" (code type), INFO "Phone login failed" / "Phone login ended" (reason). The phone number and
// the code are credentials of the same class as a QR link: they are in no log, metric, span, event or
// error, and the API never shows the number back.
//
// Thread-safety: run() and the submit functions execute on the session's strand.
#pragma once

#include <optional>
#include <string>

#include <utility>  // boost/asio/awaitable.hpp uses std::exchange without including it
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "session/flood_policy_send.h"
#include "session/session.h"
#include "session/session_services.h"
#include "store/store_records.h"
#include "telemetry/trace_context.h"

namespace tgpulse::session {

class PhoneLoginFlow {
 public:
  // How a login ended; each value is its own tgpulse_phone_login_total{status}.
  enum class Ending { authorized, expired, failed, cancelled, interrupted, refused, code_attempts };

  struct Outcome {
    Ending ending = Ending::failed;
    SessionStatus status = SessionStatus::failed;  // authorized, expired, or failed for every other ending
    std::string reason;
    // A cleanup request that arrived during the login; the caller runs it so its waiter gets the outcome.
    std::optional<SessionSignal> cleanup_request;
  };

  // What became of a submitted code.
  enum class CodeAnswer { accepted, wrong, expired };

  explicit PhoneLoginFlow(const SessionServices& services) : services_(services) {}

  // Runs the login of `session` (a fresh client is created and attached). Updates the record's state
  // (password_required, authorized + authorized_at). Never throws.
  boost::asio::awaitable<Outcome> run(Session& session, store::SessionRecord& record, Clock::TimePoint deadline,
                                      std::optional<telemetry::SpanContext> parent);

  // setAuthenticationPhoneNumber. conflict unless the session waits for a number (and its engine is
  // ready for one); invalid_argument naming Telegram's reason (PHONE_NUMBER_INVALID, ...), never the
  // number; flood_wait with retry_after `flood_retry_after_s` for PHONE_NUMBER_FLOOD, or Telegram's
  // FLOOD_WAIT (never retried: the caller answers 429).
  static boost::asio::awaitable<Status> submit_phone_number(Session& session, std::string phone_number,
                                                            FloodPolicyCall call, int flood_retry_after_s,
                                                            const telemetry::PhoneLoginMetrics* metrics);
  // checkAuthenticationCode. accepted (the next state follows as the flow's event), wrong or expired
  // (the session stays in code_required; a code_rejected event is published); conflict unless the
  // session waits for a code; flood_wait as above.
  static boost::asio::awaitable<Result<CodeAnswer>> submit_code(Session& session, std::string code,
                                                                FloodPolicyCall call,
                                                                const telemetry::PhoneLoginMetrics* metrics);
  // resendAuthenticationCode: the code is sent the next way (code_info.next_type). conflict when the
  // session waits for no code or Telegram has no next way; flood_wait as above.
  static boost::asio::awaitable<Status> resend_code(Session& session, FloodPolicyCall call, int flood_retry_after_s,
                                                    const telemetry::PhoneLoginMetrics* metrics);

  // The API's view of TDLib's authenticationCodeInfo: {type, length, next_type, timeout}, types in
  // snake case without TDLib's prefix ("telegram_message", "sms", "call", "flash_call", ...). Drops the
  // phone number. Bounded: unknown or malformed fields become null.
  static nlohmann::json code_info_view(const nlohmann::json& authentication_code_info);

 private:
  const SessionServices& services_;
};

}  // namespace tgpulse::session
