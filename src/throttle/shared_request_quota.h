// SharedRequestQuota: the per-tenant request quota held across every node of a cluster, as a token
// bucket in Redis (docs/operations.md, "Shared quotas (Redis)").
//
// One request = one EVALSHA of a Lua script that refills and takes from the bucket atomically in Redis:
// key tgpulse:quota:<tenant_id> (a hash: tokens, last refill in µs), `rate` tokens per second, at most
// `burst` banked, Redis TIME as the clock (nodes' clocks never matter), PEXPIRE so that the key of an
// idle tenant vanishes once its bucket would be full again. The answer is allowed, refused with how
// long to wait, or unavailable.
//
// Degrade, never refuse all: unavailable means Redis did not answer in time (or failed); the caller then
// decides on the node's own bucket (TenantLimits). The first failure opens a circuit breaker: for
// retry_interval (1 s) every request is answered unavailable at once without asking Redis, then one
// request probes Redis; its success closes the breaker. So while Redis is away a request pays the Redis
// timeout at most once a second per node, not each time.
//
// Metrics (registered at construction): tgpulse_quota_shared_state (1 = shared via Redis, 0 = per-node
// fallback), tgpulse_quota_shared_fallbacks_total (requests decided locally because Redis failed),
// tgpulse_quota_redis_seconds (one EVALSHA, NOSCRIPT reload included). No tenant label. Logs: one WARN
// "Shared quota unavailable, using per-node quotas" when it degrades, one INFO "Shared quota restored"
// when it comes back; neither carries a tenant id or a secret.
//
// Thread-safety: thread-safe (admit() from any executor; the breaker behind one mutex). admit() runs on
// the caller's executor and awaits the Redis client, which does its I/O on its own strand.
#pragma once

#include <utility>  // before Boost.Asio 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "telemetry/logger.h"
#include "telemetry/metrics.h"
#include "throttle/redis_client.h"

namespace tgpulse::throttle {

struct SharedQuotaOptions {
  // quota.redis_url: redis://host:port/db of the Redis shared by the nodes. "" (default) = off: each node
  // keeps its own limits.tenant_request_* bucket per tenant, as a single node does.
  std::string redis_url;
  // quota.redis_password (TGPULSE_QUOTA_REDIS_PASSWORD) or read by the loader from
  // quota.redis_password_file: sent with AUTH. "" = no AUTH. Secret: never logged or shown.
  std::string redis_password;
  std::string redis_password_file;
  // quota.redis_timeout: the deadline of one quota call to Redis, after which the request is decided on
  // the node's bucket. 50 ms (see RedisOptions::timeout).
  std::chrono::milliseconds redis_timeout{50};
  // While degraded, how often one request tries Redis again. 1 s: a few wasted timeouts a minute at most.
  std::chrono::milliseconds retry_interval{1000};

  bool enabled() const noexcept { return !redis_url.empty(); }
  bool operator==(const SharedQuotaOptions&) const = default;
};

class SharedRequestQuota {
 public:
  enum class Outcome { allowed, refused, unavailable };
  struct Verdict {
    Outcome outcome = Outcome::unavailable;
    std::chrono::milliseconds retry_after{0};  // refused: when a token will be there
  };

  // `redis` and `registry`/`logger` must outlive the quota.
  SharedRequestQuota(RedisScripts& redis, const Clock& clock, telemetry::Registry& registry,
                     telemetry::Logger& logger, std::chrono::milliseconds retry_interval = std::chrono::seconds(1));
  SharedRequestQuota(const SharedRequestQuota&) = delete;
  SharedRequestQuota& operator=(const SharedRequestQuota&) = delete;

  // One request of `tenant_id` against a bucket of `rate`/s and `burst` (rate > 0, burst >= 1).
  // unavailable is counted in tgpulse_quota_shared_fallbacks_total: the caller decides locally.
  boost::asio::awaitable<Verdict> admit(std::string tenant_id, double rate, double burst);

  // True while the breaker is closed (decisions come from Redis).
  bool shared() const;

  // The Redis key of a tenant's bucket.
  static std::string key_of(std::string_view tenant_id) { return "tgpulse:quota:" + std::string(tenant_id); }
  // The bucket script (exposed for tests).
  static const std::shared_ptr<const RedisScript>& script();

 private:
  void failed(std::uint64_t epoch, const std::string& why);
  void succeeded(std::uint64_t epoch);

  RedisScripts& redis_;
  const Clock& clock_;
  telemetry::Logger& logger_;
  const std::chrono::milliseconds retry_interval_;
  telemetry::Gauge& state_;
  telemetry::Counter& fallbacks_;
  telemetry::Histogram& redis_seconds_;

  mutable std::mutex mu_;
  bool degraded_ = false;          // guarded by mu_
  bool probing_ = false;           // guarded by mu_: one request is trying Redis while degraded
  Clock::TimePoint next_probe_{};  // guarded by mu_
  std::uint64_t epoch_ = 0;        // guarded by mu_: +1 at each degrade; older calls' successes restore nothing
};

}  // namespace tgpulse::throttle
