// SessionManager: owns the live sessions (id → Session with its engine client and strand) and runs one
// lifetime coroutine per session on its strand: QR login (QrLoginFlow) or restore → watching the
// authorization → cleanup (SessionCleanup). Every end of a session goes through that coroutine, so
// cleanups of one session never overlap.
//
//   start():  the start-up sweep (finish interrupted cleanups, quarantine engine directories without a
//             record), clean logins a restart interrupted, bring authorized sessions back up (same
//             directory and key: the client goes straight to authorizationStateReady), start the
//             idle-TTL sweeper and the cleanup retry loop.
//   Cleanups that fail and leave their record or directory behind go to a CleanupRetryQueue; the
//   retry loop (on its own strand of the manager's executor) resumes them with exponential back-off
//   for as long as the manager runs.
//   Tenant isolation: every lookup takes the tenant; another tenant's session is "not found".
//
// Tasks: every coroutine the manager starts — each session's lifetime coroutine (on the session's
// strand), each QR request next to a login, the idle sweeper and the retry loop (each on its own strand
// of the manager's executor) — belongs to the manager's TaskGroup "sessions". stop() asks them to end,
// wakes their timers and FloodWait sleeps (cancel_sleeps on the executor's io_context) and joins them
// within a bound, logging the names of those that outlive it. The manager must outlive its tasks: its
// owner destroys it only after stop() (and after the executor's thread is joined).
// Executors: the manager's coroutines run on strands of the manager's executor; they post to no other
// executor except to answer an awaiting caller on the caller's own executor (cleanup `done`), and
// hand every store call and filesystem walk to the blocking pool (services.blocking: the start-up
// sweep and listing, the login's state writes, cleanup steps and retries, the retry queue's check),
// so the manager's executor never waits on the store.
//
// Thread-safety: thread-safe. The map is guarded by a mutex; a session's state lives on its strand.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <utility>  // boost/asio/awaitable.hpp uses std::exchange without including it
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/task_group.h"
#include "session/cleanup_retry_queue.h"
#include "session/flood_policy_send.h"
#include "session/phone_login_flow.h"
#include "session/session.h"
#include "session/session_cleanup.h"
#include "session/session_services.h"
#include "telemetry/trace_context.h"

namespace tgpulse::session {

class SessionManager {
 public:
  struct StartReport {
    SessionCleanup::SweepReport sweep;
    int restored = 0;             // authorized sessions brought back up
    int interrupted_logins = 0;   // QR logins a restart interrupted, cleaned up
  };
  struct Created {
    SessionView view;       // after the first link (or the wait bound); status may already be final
    std::string login_key;  // the end-user page's key (shown once, to the tenant)
  };

  SessionManager(boost::asio::any_io_executor executor, SessionServices services);
  ~SessionManager();
  SessionManager(const SessionManager&) = delete;
  SessionManager& operator=(const SessionManager&) = delete;

  const SessionServices& services() const noexcept { return services_; }

  // Called with a session's id once it has left the live map for good (every cleanup trigger; not on
  // stop(), where authorized sessions stay for the next start). Set before start(); runs on the
  // session's strand and must not block.
  void set_on_session_removed(std::function<void(const std::string& session_id)> hook) {
    on_session_removed_ = std::move(hook);
  }

  // Start-up (see above). Completes when the sweep ran and every restore was started.
  boost::asio::awaitable<StartReport> start();
  // --- cluster (services.ownership set; docs/scaling.md) ---
  // Takes over a session whose lease this node just won: an authorized one is restored from its
  // directory, a login is cleaned as interrupted, a cleanup is finished. false when the session is
  // already live here or the manager is stopping. Thread-safe, never blocks.
  bool adopt(store::SessionRecord record);
  // This node no longer holds the session's lease (it could not renew in time, or another node took
  // it): its client is closed — not cleaned, the new owner carries on from the directory — and it
  // leaves the live map. false when it is not live here. Thread-safe, never blocks.
  bool give_up(const std::string& session_id, std::string reason);
  // The ids in the live map (thread-safe).
  std::vector<std::string> live_ids() const;

  // Stops the idle sweeper and ends every session's coroutine without cleaning authorized sessions
  // (they come back on the next start); running QR logins are cancelled and cleaned. Joins every task of
  // the manager within close_timeout + 2 × engine_request_timeout; returns the names of those that
  // outlived the wait (also logged).
  boost::asio::awaitable<std::vector<std::string>> stop();
  // Tasks started so far (the shutdown report: joined = spawned - outlived).
  std::uint64_t tasks_spawned() const { return tasks_.spawned(); }

  // Starts a QR login for `tenant_id` and waits until its first link, its outcome, or `first_link_wait`.
  // `proxy`: the client connects through it from the start (addProxy right after setTdlibParameters).
  boost::asio::awaitable<Result<Created>> create_qr_login(std::string tenant_id,
                                                          std::optional<telemetry::SpanContext> parent,
                                                          std::chrono::milliseconds first_link_wait,
                                                          std::optional<ProxySpec> proxy = std::nullopt);
  // Starts a phone-number login for `tenant_id` and waits (at most `first_wait`) until its engine asks
  // for the number. With `phone_number`, submits it and waits (again at most `first_wait`) for the code
  // request; when Telegram refuses the number (invalid_argument) or to send a code (flood_wait), the
  // login is ended and cleaned up and that error returned. Without, the login waits in
  // phone_number_required for submit_phone_number (the end-user page asks for it).
  boost::asio::awaitable<Result<Created>> create_phone_login(std::string tenant_id,
                                                             std::optional<std::string> phone_number,
                                                             std::optional<telemetry::SpanContext> parent,
                                                             std::chrono::milliseconds first_wait,
                                                             std::optional<ProxySpec> proxy = std::nullopt);
  // Replaces the session's proxy (PUT /v1/sessions/{id}/proxy): every proxy TDLib has is removed, then
  // `proxy` is added and enabled (none: the client connects directly). conflict without a live client;
  // the TDLib error when it refuses the proxy (the old one is gone then: the client connects directly).
  boost::asio::awaitable<Status> set_proxy(std::shared_ptr<Session> session, std::optional<ProxySpec> proxy);
  // Pings the proxies that are due (the proxy loop calls it every second); returns how many started.
  int ping_due_proxies();
  // Sessions with a proxy by the state of its last ping (for tgpulse_proxy_sessions).
  struct ProxyCounts {
    std::size_t ok = 0, unreachable = 0, unchecked = 0;
  };
  ProxyCounts proxy_counts() const;

  // The tenant's live session, or null (missing, or another tenant's).
  std::shared_ptr<Session> find(std::string_view tenant_id, std::string_view session_id) const;
  // The session whose end-user page key matches (constant-time compare), or null.
  std::shared_ptr<Session> find_by_login_key(std::string_view session_id, std::string_view key) const;
  std::vector<SessionView> list(std::string_view tenant_id) const;
  std::size_t live_count() const;
  // The session's directory: its TDLib database, TDLib's files (files/) and its uploads (uploads/).
  std::string engine_dir_of(std::string_view session_id) const;

  // 2FA password of a login waiting for it (see QrLoginFlow::submit_password).
  // `parent` (the HTTP request's span) gives a FloodWait's log line its trace.
  boost::asio::awaitable<Status> submit_password(std::shared_ptr<Session> session, std::string password,
                                                 std::optional<telemetry::SpanContext> parent = {});
  // Phone login steps (see PhoneLoginFlow), under the FloodWait policy (operation "phone_login").
  boost::asio::awaitable<Status> submit_phone_number(std::shared_ptr<Session> session, std::string phone_number,
                                                     std::optional<telemetry::SpanContext> parent = {});
  boost::asio::awaitable<Result<PhoneLoginFlow::CodeAnswer>> submit_code(
      std::shared_ptr<Session> session, std::string code, std::optional<telemetry::SpanContext> parent = {});
  boost::asio::awaitable<Status> resend_code(std::shared_ptr<Session> session,
                                             std::optional<telemetry::SpanContext> parent = {});
  // Cancels a running login, QR or phone (DELETE /v1/qr-logins/{id}, /v1/phone-logins/{id}), or ends it
  // for `trigger_name` (trigger::kPhoneRefused, kPhoneCodeAttempts). Conflict, naming the status, for a
  // session that is not in its login (authorized, restoring, ending) — also when the login ends while
  // the request waits: a login cancel never drops an authorized session's data without logOut.
  boost::asio::awaitable<Status> cancel_login(std::shared_ptr<Session> session,
                                              std::optional<telemetry::SpanContext> parent,
                                              std::string trigger_name = {}, std::string cause = {});
  // The conflict message of a QR cancel of a session in `status`.
  static std::string not_a_login_message(SessionStatus status);
  // Cleans the session up (logOut when `logout`, else close) and waits for the outcome.
  boost::asio::awaitable<Status> remove(std::shared_ptr<Session> session, std::string trigger_name, bool logout,
                                        std::optional<telemetry::SpanContext> parent);
  // Cleans every session of the tenant (tenant deletion). Returns how many failed.
  boost::asio::awaitable<int> remove_tenant(std::string tenant_id);

  // Runs one idle-TTL pass now (the sweeper calls it periodically); returns how many were started.
  int sweep_idle();

  // Retries the failed cleanups that are due now (the retry loop calls it periodically); returns how
  // many finished. Runs on the caller's executor; each resume's store and file-system work runs on
  // the blocking pool (SessionCleanup::resume).
  boost::asio::awaitable<int> retry_due_cleanups();
  // Failed cleanups waiting for a retry, and how many of them are stuck (thread-safe, cheap).
  CleanupRetryQueue::Summary cleanup_retries() const { return retries_.summary(); }
  // Entries under <data_dir>/sessions that the start-up sweep moved to the quarantine.
  std::uint64_t quarantined_directories() const noexcept { return quarantined_.load(); }

 private:
  // The FloodWait policy call of a 2FA password check (operation "qr_password", engine_request_timeout).
  FloodPolicyCall password_call(const Session& session, std::optional<telemetry::SpanContext> parent) const;
  // The FloodWait policy call of a phone login step (operation "phone_login"); each FloodWait also
  // reaches the login's flow, for its spans.
  FloodPolicyCall phone_call(const Session& session, std::optional<telemetry::SpanContext> parent) const;
  enum class Mode { login, phone_login, restore };
  // Stores a new login's record, puts its session in the live map and starts its lifetime coroutine;
  // then waits (at most `wait`) until `ready(view)`, woken by the session's events.
  boost::asio::awaitable<Result<Created>> start_login(std::string tenant_id, LoginMethod method,
                                                      std::optional<telemetry::SpanContext> parent,
                                                      std::chrono::milliseconds wait, std::optional<ProxySpec> proxy);
  boost::asio::awaitable<void> proxy_loop();
  // One ping of `session`'s proxy; records its outcome in the view and the metrics.
  boost::asio::awaitable<void> ping_proxy(std::shared_ptr<Session> session);
  // Waits until `ready(view)` or `wait` passed; returns the last view.
  static boost::asio::awaitable<SessionView> wait_view(std::shared_ptr<Session> session,
                                                       std::function<bool(const SessionView&)> ready,
                                                       std::chrono::milliseconds wait);
  boost::asio::awaitable<void> run_session(std::shared_ptr<Session> session, store::SessionRecord record, Mode mode,
                                           Clock::TimePoint deadline, std::optional<telemetry::SpanContext> parent);
  // True once the engine says Ready. False: the authorization is gone (WaitPhoneNumber, ...), or — with
  // *engine_failed — the engine could not open the session (no client, no answer, closed at once).
  boost::asio::awaitable<bool> restore(Session& session, const store::SessionRecord& record, bool* engine_failed);
  boost::asio::awaitable<void> idle_loop();
  // The idle sweeper, the cleanup retry loop and the proxy pings.
  void start_loops();
  // The cleanup of an adopted record left in a login or cleanup state.
  boost::asio::awaitable<void> finish_adopted(store::SessionRecord record, std::string trigger_name);
  // Sends close and waits (close_timeout) for authorizationStateClosed; cleanup requests that arrive
  // meanwhile are answered unavailable. Logged when the client does not close.
  boost::asio::awaitable<void> close_engine(Session& session);
  boost::asio::awaitable<void> retry_loop();
  // A cleanup of `id` failed: queue a retry if anything of the session is left (asked of the store on
  // the blocking pool).
  boost::asio::awaitable<void> queue_retry(std::string id, std::string trigger_name, bool logout);
  boost::asio::awaitable<Status> request_cleanup(std::shared_ptr<Session> session, SessionSignal signal);
  // Hands one of the service's own events about `session` to services_.updates (if any).
  void emit_event(const Session& session, const nlohmann::json& event);
  void erase(const std::string& id);

  boost::asio::any_io_executor executor_;
  SessionServices services_;
  SessionCleanup cleanup_;
  boost::asio::steady_timer idle_timer_;
  CleanupRetryQueue retries_;
  boost::asio::steady_timer retry_timer_;  // on its own strand
  boost::asio::steady_timer proxy_timer_;  // on its own strand
  std::atomic<std::uint64_t> quarantined_{0};
  bool stopping_ = false;  // guarded by mu_
  std::function<void(const std::string&)> on_session_removed_;  // set before start()

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Session>, std::less<>> sessions_;
  // Last: its destructor asks the tasks to stop while the members they use still exist.
  TaskGroup tasks_;
};

}  // namespace tgpulse::session
