// Session: one live session — its engine client, its strand, what the API shows about it (status, the
// current QR link, the 2FA hint, the last error) and the inbox of engine events its lifetime coroutine
// consumes (authorization states, request failures, cancel and cleanup requests).
//
// Thread-safety: the inbox, the client handle and the lifetime coroutine are confined to strand();
// deliver()/request() post to it from any thread. The view (view(), subscribe(), publish()) is guarded
// by a mutex and may be read from any thread. Listeners are called without the mutex held, on the
// strand.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <utility>  // boost/asio/awaitable.hpp uses std::exchange without including it
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/error.h"
#include "session/engine_client.h"
#include "session/proxy_spec.h"
#include "telemetry/trace_context.h"

namespace tgpulse::session {

// What the API reports as a session's status.
enum class SessionStatus {
  qr_pending,         // waiting for the QR to be scanned (link may still be empty: engine connecting)
  phone_number_required,  // phone login: waiting for the phone number (engine connecting, or the page asks)
  code_required,      // phone login: Telegram sent a code; waiting for it
  password_required,  // scanned or code accepted; waiting for the 2FA password
  authorized,         // logged in
  expired,            // the login passed its deadline
  failed,             // the login failed (declined, refused, engine error, cancelled)
  cleaning_up,        // cleanup running
  closed,             // cleanup finished
  restoring,          // brought back at start-up; the engine has not confirmed the authorization yet
};
const char* session_status_name(SessionStatus s) noexcept;
// True while a login runs (qr_pending, phone_number_required, code_required, password_required).
bool is_login_status(SessionStatus s) noexcept;

// How a session was (or is being) logged in. Restored sessions keep the default (the store does not say).
enum class LoginMethod { qr, phone };
const char* login_method_name(LoginMethod m) noexcept;

// Store timestamps (unix ms) to and from wall-clock time points.
std::int64_t unix_ms(Clock::WallTime t);
Clock::WallTime from_unix_ms(std::int64_t ms);

// An event of a session's login, as the SSE stream and the page see it.
struct SessionEvent {
  std::string type;      // "link", "phone_number_required", "code_required", "code_rejected",
                         // "password_required", "authorized", "expired", "failed", "closed"
  nlohmann::json data;   // type-specific fields (link, expires_at, password_hint, error, ...)
};

// What the API may show about a session (a copy; never contains the login key).
struct SessionView {
  std::string id;
  std::string tenant_id;
  SessionStatus status = SessionStatus::qr_pending;
  LoginMethod method = LoginMethod::qr;
  std::string link;                 // current tg://login link ("" when none)
  // Phone login, code_required: how the code was sent — {type, length, next_type, timeout} in the API's
  // names (phone_login_flow.h); null otherwise. Never the phone number.
  nlohmann::json code_info;
  // The session's proxy: ProxySpec::view() plus "status" {state: unchecked|ok|unreachable, ping_ms,
  // error, checked_at}; null without a proxy. Never the proxy's password or secret.
  nlohmann::json proxy;
  std::string password_hint;
  std::string error;                // why it failed ("" otherwise)
  std::string authorization_state;  // the engine's last authorization state @type
  Clock::WallTime created_at{};
  Clock::WallTime expires_at{};     // deadline of the login
  std::optional<Clock::WallTime> authorized_at;
  Clock::WallTime last_used_at{};
  std::uint64_t link_version = 0;   // +1 each time the link changes
};

// One item of the inbox.
struct SessionSignal {
  enum class Kind { authorization_state, request_failed, cancel, cleanup, flood_wait };
  Kind kind = Kind::authorization_state;
  nlohmann::json state;      // authorization_state
  Error error;               // request_failed; flood_wait: Errc::flood_wait, retry_after_s = the wait
  double flood_delay = 0;    // flood_wait: seconds slept before the retry (0: the call fails fast)
  int flood_retries = 0;     // flood_wait: retries of the call before this wait
  bool logout = false;       // cleanup: logOut at Telegram (true) or only close (false)
  std::string trigger;       // cleanup/cancel: why
  std::function<void(Status)> done;  // cleanup: called once with the outcome (on the strand)
  std::optional<telemetry::SpanContext> parent;  // cleanup: the requesting span (e.g. the HTTP request)
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;
  using Listener = std::function<void(const SessionEvent&)>;

  Session(boost::asio::any_io_executor executor, const Clock& clock, std::string id, std::string tenant_id,
          std::string page_key_hash, Clock::WallTime created_at, Clock::WallTime expires_at);

  const std::string& id() const noexcept { return id_; }
  const std::string& tenant_id() const noexcept { return tenant_id_; }
  // True when `key` is the end-user login page's key (hash compared in constant time); always false
  // for a session without a page key (restored sessions).
  bool key_matches(std::string_view key) const;
  Strand& strand() noexcept { return strand_; }

  // --- strand-confined --------------------------------------------------------------------------
  void set_client(std::unique_ptr<EngineClient> client);  // attaches the authorization-state handler
  EngineClient* client() noexcept { return client_.get(); }
  // Detaches the handler and destroys the client (after cleanup).
  void drop_client();
  // Waits for the next inbox item until `deadline` (on the session's clock); nullopt when it passed.
  boost::asio::awaitable<std::optional<SessionSignal>> next_signal(Clock::TimePoint deadline,
                                                                    std::chrono::milliseconds wake_interval);

  // --- any thread ---------------------------------------------------------------------------------
  // Sends one function through the live client (hopping to the strand for the client handle);
  // unavailable when the session has no client (closing or closed).
  boost::asio::awaitable<Result<nlohmann::json>> send(nlohmann::json request, std::chrono::milliseconds timeout);
  // Queues an inbox item and wakes the lifetime coroutine.
  void deliver(SessionSignal signal);
  // Wakes the lifetime coroutine so it re-reads the clock (tests on a FakeClock).
  void wake();
  // Called by the lifetime coroutine when it ends (on the strand): later cleanup requests are answered
  // at once with not_found, since nobody will consume them.
  void close_inbox();

  SessionView view() const;
  // Applies `update` to the view under the mutex, then (if `event` has a type) tells every listener.
  void publish(const std::function<void(SessionView&)>& update, const SessionEvent& event = {});
  // Registers a listener; returns its id and the view at the moment of registration (so a subscriber
  // misses nothing between reading the state and the first event).
  std::pair<std::uint64_t, SessionView> subscribe(Listener listener);
  void unsubscribe(std::uint64_t id);
  // Marks the session as used now (invoke); the idle sweeper reads last_used_at.
  Clock::WallTime touch();

  // The proxy (with its credentials) the client is to use; set before the login starts or by
  // PUT .../proxy. `applied`: TDLib has it (addProxy answered), so it can be pinged.
  struct ProxyState {
    std::optional<ProxySpec> spec;
    bool applied = false;
    bool ping_in_flight = false;
    Clock::TimePoint next_ping{};
  };
  ProxyState proxy_state() const;
  void update_proxy_state(const std::function<void(ProxyState&)>& update);

 private:
  const Clock& clock_;
  const std::string id_;
  const std::string tenant_id_;
  const std::string page_key_hash_;
  Strand strand_;
  boost::asio::steady_timer wake_timer_;
  std::deque<SessionSignal> inbox_;
  bool inbox_closed_ = false;
  std::unique_ptr<EngineClient> client_;

  mutable std::mutex mu_;
  SessionView view_;
  ProxyState proxy_;
  std::uint64_t next_listener_ = 1;
  std::map<std::uint64_t, Listener> listeners_;
};

}  // namespace tgpulse::session
