// TokenBucket: one rate limit (rate tokens per second, at most `burst` tokens banked) on a Clock, with
// reservations (a caller may take a token it will only have later and is told how long to wait) and an
// adaptive rate: multiplicative decrease on a FloodWait, additive recovery while calls succeed, between a
// floor and the configured rate (the ceiling).
//
// Pure logic: every call is given `now`; nothing sleeps. A bucket starts full.
//
// Thread-safety: not thread-safe; the owner (ThrottleLayers) serialises access.
#pragma once

#include "core/clock.h"
#include "throttle/throttle_options.h"

namespace tgpulse::throttle {

class TokenBucket {
 public:
  using Duration = Clock::Duration;
  using TimePoint = Clock::TimePoint;

  TokenBucket(BucketLimit limit, AdaptiveOptions adaptive, TimePoint now);

  // rate <= 0: every call is granted at once and adaptation does nothing.
  bool unlimited() const noexcept { return configured_rate_ <= 0; }

  // How long until `n` tokens are there (zero when they are there now). Changes nothing.
  Duration time_until_available(TimePoint now, double n = 1) const noexcept;
  // Takes `n` tokens if they are there now; otherwise takes nothing and returns false.
  bool try_take(TimePoint now, double n = 1) noexcept;
  // Takes `n` tokens now, going into debt if needed; returns how long the caller must wait before it
  // acts (zero when the tokens were there). Later callers queue behind the debt.
  Duration reserve(TimePoint now, double n = 1) noexcept;
  // Gives back tokens of a reservation that was not used (never above the burst).
  void refund(TimePoint now, double n = 1) noexcept;

  // Both first bank the tokens earned at the old rate up to `now`.
  // A FloodWait on this bucket's method: rate ×= decrease_factor, not below the floor.
  void on_flood_wait(TimePoint now) noexcept;
  // A successful call: rate += recovery_step × configured rate, not above the configured rate.
  void on_success(TimePoint now) noexcept;

  double current_rate() const noexcept { return current_rate_; }
  double configured_rate() const noexcept { return configured_rate_; }
  double floor_rate() const noexcept { return floor_rate_; }
  double burst() const noexcept { return burst_; }
  // Tokens banked at `now` (negative while reservations are in debt).
  double tokens(TimePoint now) const noexcept;
  // Full, not in debt and back at its configured rate: forgetting it changes nothing.
  bool idle(TimePoint now) const noexcept;

 private:
  void refill(TimePoint now) noexcept;

  double configured_rate_;
  double current_rate_;
  double floor_rate_;
  double burst_;
  AdaptiveOptions adaptive_;
  double tokens_;
  TimePoint last_;
};

}  // namespace tgpulse::throttle
