// ThrottleLayers: the token buckets of the request path, in three layers, each configured per method
// with a default for the rest (ThrottleOptions):
//   session  — one bucket per (session, method); adaptive (slows down after a FloodWait)
//   process  — one bucket per method, shared by every session of this process
//   tenant   — one bucket per tenant for every method not listed under throttle.tenant.methods (plus
//              one per listed method): the tenant's quota on invoke
//
// Methods come from tenant input (an invoke's "@type"), so no map is keyed by a method name a tenant
// chose: a method that is neither configured for the layer nor one of `known_methods` (the metric
// catalog's) is folded into one shared key, kOtherMethods. Rotating "@type" values therefore shares
// one bucket per session (gotd's middleware limits a client the same way: 10/s across methods) and
// neither bypasses a limit nor grows a map: buckets per owner ≤ listed + known + 1.
//
// Reservation semantics: a call reserves in every layer it passes or in none. reserve_call() looks at
// the session and process layers together; the delay is the larger of the two, and when it would pass
// `max_delay` nothing is taken and the call is refused with the delay it would have needed.
// reserve_tenant() is the quota: a token now or a refusal with the time until the next one.
//
// Pure logic on a Clock: nothing sleeps; the caller waits the returned delay (see Throttle).
// Buckets of unlimited limits are never stored. Idle buckets (full, back at their configured rate) are
// dropped by sweep_idle() — called by the caller, and on its own whenever the number of buckets has
// doubled since the last sweep (amortised O(1) per call, memory bounded by the buckets in use);
// forget_session() drops a session's buckets when the session goes away.
//
// Thread-safety: thread-safe (one mutex; every operation is O(1) apart from sweep_idle and
// forget_session).
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <set>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "throttle/throttle_options.h"
#include "throttle/token_bucket.h"

namespace tgpulse::throttle {

// The answer of a reservation.
struct Grant {
  bool granted = false;
  // Granted: how long to wait before acting (zero: go now). Refused: how long it would have taken.
  Clock::Duration delay{0};
};

// The key of every method that is neither configured for a layer nor known (not a TDLib identifier).
inline constexpr std::string_view kOtherMethods = "(other)";

class ThrottleLayers {
 public:
  ThrottleLayers(ThrottleOptions options, const Clock& clock, std::vector<std::string> known_methods = {});

  // Session + process layers for one call of `method` on `session_id`: all or none, delay = max.
  Grant reserve_call(std::string_view session_id, std::string_view method, Clock::Duration max_delay);
  // The tenant's invoke quota for `method` (its listed method's bucket, else the tenant's shared one):
  // granted now (delay zero) or refused with the time until the next token.
  Grant reserve_tenant(std::string_view tenant_id, std::string_view method);

  // Adaptive rate of the (session, method) bucket; both return the bucket's rate afterwards
  // (0 when the method is unlimited for sessions).
  double on_flood_wait(std::string_view session_id, std::string_view method);
  double on_success(std::string_view session_id, std::string_view method);
  // Current rate of the (session, method) bucket: the configured one when it has no bucket yet.
  double current_rate(std::string_view session_id, std::string_view method) const;

  void forget_session(std::string_view session_id);
  void forget_tenant(std::string_view tenant_id);
  // Drops buckets that are full and back at their configured rate; returns how many.
  std::size_t sweep_idle();
  // Buckets held (all layers), for tests and a gauge.
  std::size_t bucket_count() const;

  // The session layer per method, for the scrape-time gauges: how many sessions hold a bucket for the
  // method (folded: see kOtherMethods), how many of those are slowed below the configured rate (after a FloodWait), and the lowest
  // current rate among them (the configured rate when none is slowed). O(buckets) under the lock.
  struct MethodSummary {
    std::size_t buckets = 0;
    std::size_t slowed = 0;
    double lowest_rate = 0;
  };
  struct Summary {
    std::unordered_map<std::string, MethodSummary> session_methods;
    std::size_t session_buckets = 0;
    std::size_t process_buckets = 0;
    std::size_t tenant_buckets = 0;
  };
  Summary summarize() const;

  const ThrottleOptions& options() const noexcept { return options_; }

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using BucketsByMethod = std::unordered_map<std::string, TokenBucket, StringHash, std::equal_to<>>;
  using BucketsByOwner = std::unordered_map<std::string, BucketsByMethod, StringHash, std::equal_to<>>;

  // The bucket for (owner, method) in `layer`, created full; null when the limit is unlimited.
  TokenBucket* bucket(BucketsByOwner& layer, const LayerOptions& opts, std::string_view owner,
                      std::string_view method, Clock::TimePoint now, bool adaptive);
  // The key `method` is stored under in a layer configured by `opts` (see kOtherMethods).
  std::string_view fold(const LayerOptions& opts, std::string_view method, bool with_known) const;
  TokenBucket* process_bucket(std::string_view method, Clock::TimePoint now);
  const TokenBucket* find_session_bucket(std::string_view session_id, std::string_view method) const;
  std::size_t count_locked() const;
  std::size_t sweep_locked(Clock::TimePoint now);
  void maybe_sweep_locked(Clock::TimePoint now);

  const ThrottleOptions options_;
  const Clock& clock_;
  const std::set<std::string, std::less<>> known_;
  mutable std::mutex mu_;
  BucketsByOwner sessions_;  // guarded by mu_
  BucketsByOwner tenants_;   // guarded by mu_
  BucketsByMethod process_;  // guarded by mu_
  std::size_t created_since_sweep_ = 0;  // guarded by mu_
  std::size_t sweep_after_ = 1024;       // guarded by mu_: sweep when this many were created since the last
};

}  // namespace tgpulse::throttle
