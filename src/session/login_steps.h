// login_steps: what QR and phone-number logins share — the TDLib parameters of a session's client,
// connecting a fresh client, writing a login's states to the store (on the blocking pool), and publishing
// a login's common events to the session's view and listeners.
//
// Thread-safety: the coroutines run on the session's strand (as the login flows do); the store work runs
// on services.blocking.
#pragma once

#include <string>

#include <utility>  // boost/asio/awaitable.hpp uses std::exchange without including it
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "core/result.h"
#include "session/session.h"
#include "session/session_services.h"
#include "store/store_records.h"
#include "telemetry/tracer.h"

namespace tgpulse::session::login_steps {

// The setTdlibParameters request of a session's client (also used to bring an authorized session back).
nlohmann::json tdlib_parameters(const SessionOptions& options, const store::SessionRecord& record);

// Creates the session's engine client, attaches it to `session`, sends setTdlibParameters and, when the
// session has a proxy, addProxy (enabled) before anything else reaches Telegram. The error ("engine: ...",
// "proxy: ...") names the engine's message; never a secret (the parameters hold api_hash and the key).
boost::asio::awaitable<Status> connect(const SessionServices& services, Session& session,
                                       const store::SessionRecord& record);

// connect() under a telethon_connect span (child of `root`, with the login's common attributes for
// `operation`); the span ends with the outcome.
boost::asio::awaitable<Status> traced_connect(const SessionServices& services, Session& session,
                                              const store::SessionRecord& record, const telemetry::Span& root,
                                              std::string operation);
// The login attributes every span of a login carries: telethon.operation, telethon.tenant_id,
// telethon.session_id.
void set_login_attributes(telemetry::Span& span, const Session& session, const std::string& operation);
// The session status a login's ending leaves: authorized, expired, or failed for every other ending.
inline SessionStatus ending_status(bool authorized, bool expired) {
  return authorized ? SessionStatus::authorized : expired ? SessionStatus::expired : SessionStatus::failed;
}

// Stores password_required; on success `record` is the stored row.
boost::asio::awaitable<Status> store_password_required(const SessionServices& services, store::SessionRecord& record);
// Stores authorized with authorized_at = now, then last_used_at (best effort: the idle TTL starts now).
boost::asio::awaitable<Status> store_authorized(const SessionServices& services, store::SessionRecord& record);

// The view changes and events every login publishes.
void publish_password_required(Session& session, const std::string& hint);
void publish_authorized(Session& session, Clock::WallTime now);
void publish_expired(Session& session);
void publish_failed(Session& session, const std::string& reason);

}  // namespace tgpulse::session::login_steps
