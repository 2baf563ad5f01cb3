#include "throttle/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace tgpulse::throttle {
namespace {

TokenBucket::Duration seconds_to_duration(double seconds) {
  if (seconds <= 0) return TokenBucket::Duration::zero();
  // Round up so a caller that waits the returned time always finds its token.
  return TokenBucket::Duration(static_cast<TokenBucket::Duration::rep>(std::ceil(seconds * 1e9)));
}

double to_seconds(TokenBucket::Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

TokenBucket::TokenBucket(BucketLimit limit, AdaptiveOptions adaptive, TimePoint now)
    : configured_rate_(limit.rate),
      current_rate_(limit.rate),
      floor_rate_(limit.rate * adaptive.floor_fraction),
      burst_(std::max(1.0, limit.burst)),
      adaptive_(adaptive),
      tokens_(std::max(1.0, limit.burst)),
      last_(now) {}

void TokenBucket::refill(TimePoint now) noexcept {
  if (now <= last_) return;
  tokens_ = std::min(burst_, tokens_ + to_seconds(now - last_) * current_rate_);
  last_ = now;
}

double TokenBucket::tokens(TimePoint now) const noexcept {
  if (now <= last_) return tokens_;
  return std::min(burst_, tokens_ + to_seconds(now - last_) * current_rate_);
}

TokenBucket::Duration TokenBucket::time_until_available(TimePoint now, double n) const noexcept {
  if (unlimited()) return Duration::zero();
  const double missing = n - tokens(now);
  return missing <= 0 ? Duration::zero() : seconds_to_duration(missing / current_rate_);
}

bool TokenBucket::try_take(TimePoint now, double n) noexcept {
  if (unlimited()) return true;
  refill(now);
  if (tokens_ < n) return false;
  tokens_ -= n;
  return true;
}

TokenBucket::Duration TokenBucket::reserve(TimePoint now, double n) noexcept {
  if (unlimited()) return Duration::zero();
  refill(now);
  tokens_ -= n;
  return tokens_ >= 0 ? Duration::zero() : seconds_to_duration(-tokens_ / current_rate_);
}

void TokenBucket::refund(TimePoint now, double n) noexcept {
  if (unlimited()) return;
  refill(now);
  tokens_ = std::min(burst_, tokens_ + n);
}

void TokenBucket::on_flood_wait(TimePoint now) noexcept {
  if (unlimited() || !adaptive_.enabled) return;
  refill(now);
  current_rate_ = std::max(floor_rate_, current_rate_ * adaptive_.decrease_factor);
}

void TokenBucket::on_success(TimePoint now) noexcept {
  if (unlimited() || !adaptive_.enabled) return;
  refill(now);
  current_rate_ = std::min(configured_rate_, current_rate_ + adaptive_.recovery_step * configured_rate_);
}

bool TokenBucket::idle(TimePoint now) const noexcept {
  return current_rate_ >= configured_rate_ && tokens(now) >= burst_;
}

}  // namespace tgpulse::throttle
