// FloodWaitPolicy: what to do when Telegram answers FLOOD_WAIT_N, or when the flood ledger says a method
// is still blocked — Telethon's and gotd's semantics: a wait no longer than `flood.sleep_threshold` is
// slept and the call retried (at most `flood.request_retries` times per call); a longer wait, a caller
// that asked to fail fast, or a wait that would pass the caller's deadline fails fast with the time the
// method clears. FLOOD_WAIT_0 counts as 1 s (Telegram sends 0 for "less than a second").
//
// Pure decisions; nothing sleeps.
//
// Thread-safety: immutable after construction; thread-safe.
#pragma once

#include <chrono>

#include "core/clock.h"
#include "telemetry/flood_wait_reporter.h"
#include "throttle/throttle_options.h"

namespace tgpulse::throttle {

// How the caller wants flood waits handled (HTTP: `?flood=wait|fail`).
enum class FloodMode { wait, fail_fast };

struct FloodDecision {
  bool retry = false;               // true: sleep `wait`, then send again; false: fail fast
  int seconds = 1;                  // the wait in whole seconds (FLOOD_WAIT_0 → 1)
  std::chrono::seconds wait{1};     // the same as a duration
};

class FloodWaitPolicy {
 public:
  explicit FloodWaitPolicy(FloodOptions options) : options_(options) {}

  // FLOOD_WAIT_N as a wait in seconds: N, but at least 1.
  static int effective_seconds(int retry_after_s) noexcept { return retry_after_s < 1 ? 1 : retry_after_s; }

  // A FloodWait of `retry_after_s` after `retries_done` retries of this call, with `time_left` until the
  // caller's deadline.
  FloodDecision on_flood_wait(int retry_after_s, int retries_done, FloodMode mode,
                              Clock::Duration time_left) const noexcept;
  // A call finds its method blocked in the ledger for `remaining`: may it wait (true) or must it fail
  // fast (false)?
  bool may_wait_for_ledger(Clock::Duration remaining, FloodMode mode, Clock::Duration time_left) const noexcept;

  const FloodOptions& options() const noexcept { return options_; }

 private:
  FloodOptions options_;
};

// What to report about a FloodWait the policy decided on: `delay` is the wait when the call is retried,
// 0 when it fails fast. The views must outlive the report.
telemetry::FloodWaitReport flood_wait_report(const FloodDecision& decision, std::string_view operation,
                                             std::string_view method, std::string_view tenant_id,
                                             std::string_view session_id, int retries_done,
                                             const telemetry::SpanContext* trace) noexcept;

}  // namespace tgpulse::throttle
