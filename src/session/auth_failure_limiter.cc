#include "session/auth_failure_limiter.h"

#include <cmath>
#include <mutex>
#include <unordered_map>

#include <boost/asio/ip/address.hpp>

#include "throttle/token_bucket.h"

namespace tgpulse::session {

namespace {

// A full table is swept for idle buckets at most this often: a sweep is O(table), an attacker with
// many addresses must not make every request pay it.
constexpr std::chrono::seconds kSweepInterval{1};

}  // namespace

struct AuthFailureLimiter::State {
  State(const TenantLimitsOptions& o, const Clock& c, telemetry::Rejections* r)
      : limit{o.auth_failure_rate, o.auth_failure_burst},
        max_clients(static_cast<std::size_t>(std::max(o.auth_failure_clients, 1))),
        clock(c),
        rejections(r),
        overflow(limit, fixed(), c.now()) {}

  static throttle::AdaptiveOptions fixed() {
    throttle::AdaptiveOptions a;
    a.enabled = false;
    return a;
  }

  // The client's bucket: its own, a new one, or the shared overflow bucket when the table is full.
  // Call with mu held.
  throttle::TokenBucket& bucket_locked(const std::string& key, Clock::TimePoint now) {
    if (auto it = buckets.find(key); it != buckets.end()) return it->second;
    if (buckets.size() >= max_clients && now >= next_sweep) {
      next_sweep = now + kSweepInterval;
      for (auto it = buckets.begin(); it != buckets.end();) {
        it = it->second.idle(now) ? buckets.erase(it) : std::next(it);
      }
    }
    if (buckets.size() >= max_clients) return overflow;
    return buckets.try_emplace(key, limit, fixed(), now).first->second;
  }

  const throttle::BucketLimit limit;
  const std::size_t max_clients;
  const Clock& clock;
  telemetry::Rejections* const rejections;
  mutable std::mutex mu;
  std::unordered_map<std::string, throttle::TokenBucket> buckets;  // by client key; guarded by mu
  throttle::TokenBucket overflow;                                   // guarded by mu
  Clock::TimePoint next_sweep{};                                    // guarded by mu
};

AuthFailureLimiter::AuthFailureLimiter(const TenantLimitsOptions& options, const Clock& clock,
                                       telemetry::Rejections* rejections)
    : state_(std::make_unique<State>(options, clock, rejections)) {}

AuthFailureLimiter::~AuthFailureLimiter() = default;

std::string AuthFailureLimiter::client_key(std::string_view address) {
  boost::system::error_code ec;
  const boost::asio::ip::address a = boost::asio::ip::make_address(std::string(address), ec);
  if (ec) return std::string(address);
  if (a.is_v6() && !a.to_v6().is_v4_mapped()) {
    boost::asio::ip::address_v6::bytes_type bytes = a.to_v6().to_bytes();
    for (std::size_t i = 8; i < bytes.size(); ++i) bytes[i] = 0;
    return boost::asio::ip::address_v6(bytes).to_string() + "/64";
  }
  if (a.is_v6()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

std::optional<TenantLimits::Refusal> AuthFailureLimiter::admit(std::string_view client_address) {
  if (state_->limit.rate <= 0) return std::nullopt;
  const std::string key = client_key(client_address);
  Clock::Duration wait{};
  {
    std::lock_guard lock(state_->mu);
    const Clock::TimePoint now = state_->clock.now();
    throttle::TokenBucket& b = state_->bucket_locked(key, now);
    if (b.try_take(now)) return std::nullopt;
    wait = b.time_until_available(now);
  }
  if (state_->rejections != nullptr) state_->rejections->count(telemetry::RejectReason::auth_failures);
  const double seconds = std::ceil(std::chrono::duration<double>(wait).count());
  TenantLimits::Refusal r;
  r.reason = telemetry::RejectReason::auth_failures;
  r.retry_after_s = seconds < 1 ? 1 : static_cast<int>(seconds);
  r.message = "too many failed authentications from this address; retry later";
  return r;
}

void AuthFailureLimiter::succeeded(std::string_view client_address) {
  if (state_->limit.rate <= 0) return;
  const std::string key = client_key(client_address);
  std::lock_guard lock(state_->mu);
  const Clock::TimePoint now = state_->clock.now();
  state_->bucket_locked(key, now).refund(now);
}

std::size_t AuthFailureLimiter::clients() const {
  std::lock_guard lock(state_->mu);
  return state_->buckets.size();
}

}  // namespace tgpulse::session
