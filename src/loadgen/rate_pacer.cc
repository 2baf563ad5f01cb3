#include "loadgen/rate_pacer.h"

#include <cmath>

namespace tgpulse::loadgen {

RatePacer::RatePacer(double rate, Clock::TimePoint start, std::uint64_t count, Clock::Duration duration) noexcept
    : rate_(rate), start_(start), count_(count), duration_(duration) {}

Clock::TimePoint RatePacer::due(std::uint64_t i) const noexcept {
  const double seconds = static_cast<double>(i) / rate_;
  return start_ + Clock::Duration(static_cast<Clock::Duration::rep>(std::llround(seconds * 1e9)));
}

bool RatePacer::includes(std::uint64_t i) const noexcept {
  if (count_ != 0 && i >= count_) return false;
  if (duration_ > Clock::Duration::zero() && due(i) >= start_ + duration_) return false;
  return count_ != 0 || duration_ > Clock::Duration::zero();
}

std::uint64_t RatePacer::due_by(Clock::TimePoint now) const noexcept {
  if (now < start_) return 0;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  auto n = static_cast<std::uint64_t>(std::floor(elapsed * rate_)) + 1;
  if (count_ != 0 && n > count_) n = count_;
  return n;
}

}  // namespace tgpulse::loadgen
