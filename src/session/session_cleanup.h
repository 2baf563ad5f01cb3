// SessionCleanup: the ONE procedure that ends a session, whatever the trigger (DELETE with or without
// logout, QR expiry/failure/cancel, idle TTL, unrequested loss of authorization, tenant deletion, the
// start-up sweep). It is resumable because every step is first written to the record:
//
//   (any state) → cleanup_pending → cleanup_closing: logOut or close sent, authorizationStateClosed
//   awaited (bounded by options.close_timeout) → cleanup_removing: database directory removed →
//   record deleted.
//
// After a crash the start-up sweep (sweep_startup) finishes every record left in a cleanup state (the
// engine client died with the process, so the engine step is skipped: a logOut that never reached
// Telegram is not retried; the local data is removed). Entries under <data_dir>/sessions that no record
// accounts for are never deleted: they are moved to <data_dir>/quarantine/<UTC time>/<name> (a rename,
// same file system), logged at WARN with their path and counted. Before any of that,
// check_store_accounts_for_data() refuses a store that holds no session record at all while session
// directories exist (a new, emptied or replaced database), unless safety.accept_empty_store.
//
// A cleanup that failed and left its record or directory behind is finished later by resume() (the
// session manager's retry loop; see CleanupRetryQueue).
//
// logOut and close run under the FloodWait policy (send_with_flood_policy, operation "session_cleanup"):
// a wait within flood.sleep_threshold that ends inside close_timeout is slept and the call repeated;
// a logOut that still fails (refused or flood-limited) falls back to close. Each FloodWait is reported
// (FloodWaitReporter) and marks telethon.floodwait_seconds on the cleanup span.
//
// Each run counts <ns>_session_cleanup_total{status}, observes <ns>_session_cleanup_duration_seconds,
// logs "Session cleanup completed" (duration, status, tenant_id, session_id, trigger) and records a
// `telethon_session_cleanup` span.
//
// Thread-safety: run() executes on the session's strand when given a live session; sweep_startup() runs
// before the service accepts requests, on a thread that may block. Every store call and directory
// operation of run() and resume() runs on the blocking pool, never on the session's loop thread. The
// object itself holds no mutable state.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <utility>  // boost/asio/awaitable.hpp uses std::exchange without including it
#include <boost/asio/awaitable.hpp>

#include "session/session.h"
#include "store/store_records.h"
#include "session/blocking_call.h"
#include "session/session_services.h"
#include "telemetry/trace_context.h"

namespace tgpulse::session {

// Cleanup triggers (the `trigger` log field and the record's cleanup_trigger).
namespace trigger {
inline constexpr const char* kDelete = "delete";
inline constexpr const char* kQrExpired = "qr_expired";
inline constexpr const char* kQrFailed = "qr_failed";
inline constexpr const char* kQrCancelled = "qr_cancelled";
inline constexpr const char* kPhoneExpired = "phone_expired";
inline constexpr const char* kPhoneFailed = "phone_failed";
inline constexpr const char* kPhoneCancelled = "phone_cancelled";
inline constexpr const char* kPhoneRefused = "phone_refused";            // the number given at creation was refused
inline constexpr const char* kPhoneCodeAttempts = "phone_code_attempts";  // the last allowed code was wrong
// True for the end of a running login asked from outside its flow (a QR or phone cancel, a refused
// number, spent code attempts): it must never end a session that became authorized meanwhile.
inline bool is_login_cancel(std::string_view t) {
  return t == kQrCancelled || t == kPhoneCancelled || t == kPhoneRefused || t == kPhoneCodeAttempts ||
         t == kPhoneFailed;
}
inline constexpr const char* kIdleTtl = "idle";
inline constexpr const char* kAuthorizationLost = "authorization_lost";
inline constexpr const char* kTenantDeleted = "tenant_deleted";
inline constexpr const char* kRestart = "restart";
// Not a cleanup: the node lost the session's lease (cluster), so it closes the client and lets go.
inline constexpr const char* kLeaseLost = "lease_lost";
}  // namespace trigger

class SessionCleanup {
 public:
  explicit SessionCleanup(const SessionServices& services) : services_(services) {}

  // Cleans `record` up. `session` (may be null) is the live session whose client is closed; run() must
  // then execute on its strand, and consumes its inbox while waiting for Closed (cleanup requests that
  // arrive meanwhile get this run's outcome). Returns the outcome (see failure_for_client); the record
  // is deleted on success.
  boost::asio::awaitable<Status> run(Session* session, store::SessionRecord record, std::string trigger_name,
                                     bool logout, const telemetry::SpanContext* parent);

  struct FailedCleanup {
    std::string session_id;
    std::string trigger;
    bool logout = false;
  };
  struct SweepReport {
    int finished = 0;              // records in a cleanup state that were finished
    int failed = 0;                // of those, the ones that failed again (see failed_cleanups)
    int orphan_directories = 0;    // entries under sessions_root() without a record, moved to quarantine
    int quarantine_failed = 0;     // of those, the ones that could not be moved (left in place, logged)
    std::string quarantine_dir;    // where they went ("" if none)
    std::vector<FailedCleanup> failed_cleanups;  // for the retry queue
  };
  // Errc::conflict when the store holds no session record but sessions_root() holds entries, unless
  // options.safety.accept_empty_store; the message names the counts, the paths and the override.
  // Errc::store_error when the store cannot be listed. Reads only: call before sweep_startup() (the
  // service calls it before it starts the engine).
  static Status check_store_accounts_for_data(store::SessionStore& store, const SessionOptions& options);
  // Finishes records left in a cleanup state and moves entries without a record to the quarantine.
  // Call before any session is live. Never deletes an entry no record accounts for. Blocking (store
  // calls, directory walks and renames): call it on a thread that may block — the session manager runs
  // it as a job on the blocking pool.
  SweepReport sweep_startup();
  // Finishes a cleanup that failed earlier, for a session that is not live: the record (if any is
  // left) goes to cleanup_removing, its directory and then the record are removed. Ok when nothing of
  // the session is left. Logged and counted like any cleanup; `attempt` (2 for the first retry) goes
  // to the log and the span. The store calls and the directory removal run on the blocking pool
  // (services.blocking) as one job; the caller's executor only awaits it. A full pool answers
  // unavailable (the retry queue tries again later).
  boost::asio::awaitable<Status> resume(std::string session_id, std::string trigger_name, bool logout, int attempt);

  // The Status a failed run() or resume() returns: `cause` (the first step that failed) with the
  // cleanup's context, its code kept so a client can act on it — a TDLib request that timed out or a
  // client that never closed stays `timeout` (504), an engine or store that is down or closing
  // `unavailable` (503), a flood-limited logOut `flood_wait` (429), an engine error `engine_error`
  // (502), the store `store_error` (500). `data_left`: the record or the directory is still there, so
  // the session manager queues the cleanup for a retry; the error then says so and carries
  // retry_after (Retry-After) = the first retry delay (sessions.cleanup_retry_initial, at least 1 s).
  // Otherwise the local data is gone (only the engine step failed) and nothing is retried.
  static Error failure_for_client(Error cause, bool data_left, const SessionOptions& options);

  // <data_dir>/sessions
  std::string sessions_root() const { return sessions_root(services_.options); }
  static std::string sessions_root(const SessionOptions& options);
  // <data_dir>/quarantine
  std::string quarantine_root() const { return quarantine_root(services_.options); }
  static std::string quarantine_root(const SessionOptions& options);

 private:
  // Writes a state change; on failure (store_error, or unavailable while the store is busy or closing)
  // `record` is left as stored.
  Status advance(store::SessionRecord& record, const store::SessionStateChange& change);
  // The store write of advance() on the blocking pool (services_.blocking), for run(); adopt() then
  // applies its answer to the record.
  boost::asio::awaitable<Result<store::SessionRecord>> write_state(std::string session_id,
                                                                   store::SessionStateChange change);
  static Status adopt(store::SessionRecord& record, Result<store::SessionRecord> stored);
  // The steps after the engine is closed (or gone): cleanup_removing, directory, record.
  Status remove_local(store::SessionRecord& record);
  // resume() on a thread that may block.
  Status resume_blocking(const std::string& session_id, const std::string& trigger_name, bool logout, int attempt);
  void report(const store::SessionRecord& record, const std::string& trigger_name, const Status& outcome,
              Clock::TimePoint started, telemetry::Span& span);

  const SessionServices& services_;
};

}  // namespace tgpulse::session
