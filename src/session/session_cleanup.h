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
// Telegram is not retried; the local data is removed) and removes engine directories that have no
// record.
//
// Each run counts <ns>_session_cleanup_total{status}, observes <ns>_session_cleanup_duration_seconds,
// logs "Session cleanup completed" (duration, status, tenant_id, session_id, trigger) and records a
// `telethon_session_cleanup` span.
//
// Thread-safety: run() executes on the session's strand when given a live session; sweep_startup() runs
// before the service accepts requests. The object itself holds no mutable state.
#pragma once

#include <string>

#include <utility>  // boost/asio/awaitable.hpp uses std::exchange without including it
#include <boost/asio/awaitable.hpp>

#include "session/session.h"
#include "store/store_records.h"
#include "session/session_services.h"
#include "telemetry/trace_context.h"

namespace tgpulse::session {

// Cleanup triggers (the `trigger` log field and the record's cleanup_trigger).
namespace trigger {
inline constexpr const char* kDelete = "delete";
inline constexpr const char* kQrExpired = "qr_expired";
inline constexpr const char* kQrFailed = "qr_failed";
inline constexpr const char* kQrCancelled = "qr_cancelled";
inline constexpr const char* kIdleTtl = "idle";
inline constexpr const char* kAuthorizationLost = "authorization_lost";
inline constexpr const char* kTenantDeleted = "tenant_deleted";
inline constexpr const char* kRestart = "restart";
}  // namespace trigger

class SessionCleanup {
 public:
  explicit SessionCleanup(const SessionServices& services) : services_(services) {}

  // Cleans `record` up. `session` (may be null) is the live session whose client is closed; run() must
  // then execute on its strand, and consumes its inbox while waiting for Closed (cleanup requests that
  // arrive meanwhile get this run's outcome). Returns the outcome; the record is deleted on success.
  boost::asio::awaitable<Status> run(Session* session, store::SessionRecord record, std::string trigger_name,
                                     bool logout, const telemetry::SpanContext* parent);

  struct SweepReport {
    int finished = 0;              // records in a cleanup state that were finished
    int failed = 0;                // of those, the ones that failed again (left for the next sweep)
    int orphan_directories = 0;    // engine directories without a record, removed
  };
  // Finishes records left in a cleanup state and removes orphan engine directories. Call before any
  // session is live.
  SweepReport sweep_startup();

  // <data_dir>/sessions
  std::string sessions_root() const;

 private:
  // Writes a state change; returns "" or what failed (and leaves `record` as stored).
  std::string advance(store::SessionRecord& record, const store::SessionStateChange& change);
  // The steps after the engine is closed (or gone): cleanup_removing, directory, record.
  Status remove_local(store::SessionRecord& record);
  void report(const store::SessionRecord& record, const std::string& trigger_name, bool ok, const std::string& error,
              Clock::TimePoint started, telemetry::Span& span);

  const SessionServices& services_;
};

}  // namespace tgpulse::session
