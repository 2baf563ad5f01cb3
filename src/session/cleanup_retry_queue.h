// CleanupRetryQueue: the cleanups that failed and left something behind (a record in the store, an
// engine directory), each with its attempt count and the time of its next attempt. A failed entry
// waits `initial` after its first failure, then twice as long after each further failure, never more
// than `max` (exponential back-off, bounded). The session manager's retry loop takes the due entries,
// resumes their cleanup and reports the outcome; /readyz and the gauges read summary().
//
// Pure bookkeeping on a Clock: no I/O, no timers (the caller sleeps), so back-off is testable with
// FakeClock.
//
// Thread-safety: thread-safe (one mutex); summary() is cheap enough for a readiness check.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"

namespace tgpulse::session {

class CleanupRetryQueue {
 public:
  struct Entry {
    std::string session_id;
    std::string trigger;  // the cleanup trigger of the failed run (kept for the log and the record)
    bool logout = false;
    int attempts = 0;     // failed attempts so far (the first run included)
    Clock::TimePoint next_at{};
  };
  struct Summary {
    int pending = 0;  // cleanups waiting for a retry
    int stuck = 0;    // of those, the ones that failed stuck_after times or more
  };

  CleanupRetryQueue(const Clock& clock, std::chrono::milliseconds initial, std::chrono::milliseconds max,
                    int stuck_after);

  // A cleanup failed (its first run, or a retry not taken from due()): schedules it, or counts one more
  // failure if it is already queued.
  void failed(const std::string& session_id, const std::string& trigger, bool logout);
  // The entries whose next attempt is due now, oldest first. They stay queued until succeeded() or
  // failed() is called for them.
  std::vector<Entry> due() const;
  // The cleanup finished (or nothing is left of the session): forgets it.
  void succeeded(const std::string& session_id);
  // The earliest next attempt, or TimePoint::max() when nothing is queued.
  Clock::TimePoint next_due() const;
  Summary summary() const;
  // The delay after the n-th failure (n >= 1): min(initial * 2^(n-1), max).
  std::chrono::milliseconds delay_after(int failures) const;

 private:
  const Clock& clock_;
  const std::chrono::milliseconds initial_;
  const std::chrono::milliseconds max_;
  const int stuck_after_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // by session id; guarded by mu_
};

}  // namespace tgpulse::session
