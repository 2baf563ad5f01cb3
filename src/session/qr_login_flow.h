// QrLoginFlow: one QR login on the engine, from a new client to its outcome.
//
//   new client → setTdlibParameters (own database directory, the session's database key, api_id/api_hash)
//   → requestQrCodeAuthentication → link (refreshed by the engine through updateAuthorizationState)
//   → authorized | password_required (2FA, with hint) → authorized
//   | expired at the overall deadline (options.qr_timeout) | failed (engine or store error, TDLib closed)
//   | cancelled (a cleanup request: the tenant's DELETE, tenant deletion) | declined (the end user refused
//   the scan: the state went back to WaitPhoneNumber after a link) | interrupted (graceful shutdown).
//
// Telemetry: <ns>_qr_session_total{status=created|<the ending>} (one ending per login; only `failed` is a
// failure of the service or of Telegram), <ns>_qr_timeout_total (+1 at the deadline), the WARN log "QR session timeout" (tenant_id, session_id, duration), and the spans
// telethon_qr_login ⊃ telethon_connect (client creation + setTdlibParameters), telethon_qr_generate
// (requestQrCodeAuthentication until the first link), telethon_qr_wait (until the outcome), each with
// telethon.operation="qr_login", telethon.tenant_id, telethon.session_id, the root parented to the
// HTTP request's span. requestQrCodeAuthentication runs under the FloodWait policy (send_with_flood_policy,
// operation "qr_login"): a wait within flood.sleep_threshold is slept and the request sent again, a longer
// one fails the login fast; each one is reported (FloodWaitReporter) and marks telethon.floodwait_seconds
// on the current child span and on the root. The link is a credential: it is only in the session's view, never in a log, a
// metric, a span or an error.
//
// The password itself is checked by submit_password() (the HTTP route); the flow sees its effect as the
// next authorization state.
//
// Thread-safety: run() and submit_password() execute on the session's strand.
#pragma once

#include <optional>
#include <string>

#include <utility>  // boost/asio/awaitable.hpp uses std::exchange without including it
#include <boost/asio/awaitable.hpp>

#include "core/task_group.h"
#include "session/flood_policy_send.h"
#include "session/session.h"
#include "store/store_records.h"
#include "session/session_services.h"
#include "telemetry/trace_context.h"

namespace tgpulse::session {

class QrLoginFlow {
 public:
  // How a login ended; each value is its own <ns>_qr_session_total{status}.
  enum class Ending { authorized, expired, failed, cancelled, declined, interrupted };

  struct Outcome {
    Ending ending = Ending::failed;
    SessionStatus status = SessionStatus::failed;  // authorized, expired, or failed for every other ending
    std::string reason;                            // "declined", "cancelled", "interrupted", "engine: ..."
    // A cleanup request (DELETE) that arrived during the login; the caller runs it instead of the
    // default cleanup of a failed login, so its waiter gets the outcome.
    std::optional<SessionSignal> cleanup_request;
  };

  // `tasks` owns the coroutine that requests the QR code next to the flow (the manager's group).
  QrLoginFlow(const SessionServices& services, TaskGroup& tasks) : services_(services), tasks_(tasks) {}

  // Runs the login of `session` (a fresh client is created and attached). Updates the record's state
  // (password_required, authorized + authorized_at). Never throws.
  boost::asio::awaitable<Outcome> run(Session& session, store::SessionRecord& record, Clock::TimePoint deadline,
                                      std::optional<telemetry::SpanContext> parent);

  // Sends checkAuthenticationPassword under `call` (operation "qr_password"; never retried: a FloodWait
  // is reported and returned as Errc::flood_wait with its retry_after). conflict when the session is not
  // waiting for a password; invalid_argument when the password is wrong (the session stays in
  // password_required).
  static boost::asio::awaitable<Status> submit_password(Session& session, std::string password,
                                                       FloodPolicyCall call);

 private:
  const SessionServices& services_;
  TaskGroup& tasks_;
};

}  // namespace tgpulse::session
