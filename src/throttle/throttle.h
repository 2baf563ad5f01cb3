// Throttle: the asynchronous side of ThrottleLayers, with the seed's rate-limiting metrics.
//
//   Status s = co_await throttle.acquire(session_id, method, deadline);
//
// acquire() reserves a token for the call in the session and process layers; when it has to wait it
// waits on an asio steady_timer (no thread blocks; thousands of calls can wait at once) — or, when the
// wait would pass `deadline`, it fails at once with Errc::throttled and retry_after (whole seconds,
// rounded up) and takes no token. Every acquire that passes observes its delay, 0 included, in
// <ns>_throttling_delay_seconds; every acquire that has to wait or is refused counts one
// <ns>_rate_limit_hits_total{endpoint=<method>}. admit_tenant() is the tenant's invoke quota: no wait,
// refused with Errc::throttled + retry_after (also a rate-limit hit).
//
// After a FloodWait, on_flood_wait() slows that session's bucket for the method; on_success() lets it
// recover. Computed at each scrape (a registry collect hook; O(buckets)), with no session label —
// known methods and "other":
//   tgpulse_throttle_rate{method}             lowest current rate among the sessions' buckets, calls/s
//                                             (the configured rate when no session is slowed)
//   tgpulse_throttle_slowed_sessions{method}  sessions whose bucket is below its configured rate
//   tgpulse_throttle_buckets{layer}           buckets held: session, process, tenant
//
// Thread-safety: thread-safe. acquire() may run on any executor; the Throttle must outlive every
// pending acquire.
#pragma once

#include <utility>  // before Boost.Asio 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "telemetry/metrics.h"
#include "telemetry/telethon_metrics.h"
#include "throttle/throttle_layers.h"

namespace tgpulse::throttle {

class Throttle {
 public:
  // `known_methods`: the label values of tgpulse_throttle_rate (use CatalogOptions::known_methods, so
  // the label set matches the seed metrics); every other method is "other".
  Throttle(ThrottleOptions options, const Clock& clock, const telemetry::TelethonMetrics& metrics,
           telemetry::Registry& registry, const std::vector<std::string>& known_methods);
  ~Throttle();  // later scrapes leave the gauges as they were
  Throttle(const Throttle&) = delete;
  Throttle& operator=(const Throttle&) = delete;

  // Waits for the session and process layers, up to `deadline` (see above). Strings are taken by value:
  // the coroutine keeps its own copies while it waits.
  boost::asio::awaitable<Status> acquire(std::string session_id, std::string method, Clock::TimePoint deadline);
  // The tenant's invoke quota for one call of `method` (one bucket per tenant for every method not
  // listed under throttle.tenant.methods; see ThrottleLayers).
  Status admit_tenant(std::string_view tenant_id, std::string_view method);

  void on_flood_wait(std::string_view session_id, std::string_view method);
  void on_success(std::string_view session_id, std::string_view method);

  // One more refusal or wait that happened outside the buckets (the flood ledger): counts a
  // rate-limit hit for the method.
  void count_hit(std::string_view method) const noexcept;

  ThrottleLayers& layers() noexcept { return layers_; }
  const Clock& clock() const noexcept { return clock_; }

 private:
  struct MethodGauges {
    telemetry::Gauge* rate = nullptr;
    telemetry::Gauge* slowed = nullptr;
  };
  // Sets the gauges from layers_.summarize() (run by the registry at each scrape).
  void collect() const;

  ThrottleLayers layers_;
  const Clock& clock_;
  const telemetry::TelethonMetrics& metrics_;
  std::unordered_map<std::string, MethodGauges> method_gauges_;  // immutable after construction
  MethodGauges other_gauges_;
  telemetry::Gauge* session_buckets_ = nullptr;
  telemetry::Gauge* process_buckets_ = nullptr;
  telemetry::Gauge* tenant_buckets_ = nullptr;
  // The registry may outlive this Throttle and keeps its hook: the hook reaches the Throttle only
  // through this guard, which the destructor clears.
  struct ScrapeGuard {
    std::mutex mu;
    const Throttle* self = nullptr;
  };
  std::shared_ptr<ScrapeGuard> scrape_guard_;
};

// Whole seconds, rounded up, at least 1: what a Retry-After header says for a wait of `d`.
int retry_after_seconds(Clock::Duration d) noexcept;

}  // namespace tgpulse::throttle
