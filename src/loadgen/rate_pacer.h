// RatePacer: when the load generator sends its i-th request — an open-loop schedule at a fixed target
// rate (request i at start + i / rate), so a slow service does not lower the offered load; and when the
// run is over (a request count, a duration, or whichever comes first).
//
// Pure arithmetic on time points; nothing sleeps.
//
// Thread-safety: immutable; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

#include "core/clock.h"

namespace tgpulse::loadgen {

class RatePacer {
 public:
  // `rate` requests per second (> 0); `count` = 0: no count limit; `duration` = 0: no time limit.
  RatePacer(double rate, Clock::TimePoint start, std::uint64_t count, Clock::Duration duration) noexcept;

  // When request `i` (0-based) is due.
  Clock::TimePoint due(std::uint64_t i) const noexcept;
  // True when request `i` is part of the run.
  bool includes(std::uint64_t i) const noexcept;
  // Requests due by `now` (how many should have been sent), capped by the count.
  std::uint64_t due_by(Clock::TimePoint now) const noexcept;

  double rate() const noexcept { return rate_; }

 private:
  double rate_;
  Clock::TimePoint start_;
  std::uint64_t count_;
  Clock::Duration duration_;
};

}  // namespace tgpulse::loadgen
