// FloodLedger: what Telegram told us about flood limits, per (session, method): "this method on this
// session is blocked until T". While an entry is running, new calls of that method on that session are
// not sent to Telegram: they wait for T or fail fast (InvokePipeline decides which). Entries past their
// time are removed when looked up, by sweep(), and by record() whenever the ledger has doubled since
// its last sweep (amortised O(1); memory bounded by the blocks running).
//
// Thread-safety: thread-safe (one mutex).
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.h"

namespace tgpulse::throttle {

class FloodLedger {
 public:
  explicit FloodLedger(const Clock& clock) : clock_(clock) {}

  // Records that `method` on `session_id` is blocked until `until`; an earlier time never shortens a
  // running block.
  void record(std::string_view session_id, std::string_view method, Clock::TimePoint until);
  // The time the method clears, when it is blocked now; nullopt when calls may go.
  std::optional<Clock::TimePoint> blocked_until(std::string_view session_id, std::string_view method);

  void forget_session(std::string_view session_id);
  // Removes entries whose time has passed; returns how many.
  std::size_t sweep();
  std::size_t size() const;
  // Entries whose wait is still running (size() may include expired ones not yet swept). O(entries).
  std::size_t active() const;

 private:
  static std::string key(std::string_view session_id, std::string_view method);

  const Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Clock::TimePoint> blocked_;  // "session\x1fmethod" -> until; guarded by mu_
  std::size_t sweep_at_size_ = 1024;                           // guarded by mu_
};

}  // namespace tgpulse::throttle
