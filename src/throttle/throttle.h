// Throttle: the asynchronous side of ThrottleLayers, with the seed's rate-limiting metrics.
//
//   Status s = co_await throttle.acquire(session_id, method, deadline);
//
// acquire() reserves a token for the call in the session and process layers; when it has to wait it
// waits on an asio steady_timer (no thread blocks; thousands of calls can wait at once) — or, when the
// wait would pass `deadline`, it fails at once with Errc::throttled and retry_after (whole seconds,
// rounded up) and takes no token. Every acquire that passes observes its delay, 0 included, in
// <ns>_throttling_delay_seconds; every acquire that has to wait or is refused counts one
// <ns>_rate_limit_hits_total{endpoint=<method>}. admit_tenant() is the tenant's HTTP quota: no wait,
// refused with Errc::throttled + retry_after (also a rate-limit hit).
//
// After a FloodWait, on_flood_wait() slows that session's bucket for the method; on_success() lets it
// recover. The gauge tgpulse_throttle_rate{method} (known methods + "other"; no session label) shows the
// current rate of the session bucket of that method that adapted last, in calls per second.
//
// Thread-safety: thread-safe. acquire() may run on any executor; the Throttle must outlive every
// pending acquire.
#pragma once

#include <utility>  // before Boost.Asio 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>
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

  // Waits for the session and process layers, up to `deadline` (see above). Strings are taken by value:
  // the coroutine keeps its own copies while it waits.
  boost::asio::awaitable<Status> acquire(std::string session_id, std::string method, Clock::TimePoint deadline);
  // The tenant's HTTP quota for one request of `method`.
  Status admit_tenant(std::string_view tenant_id, std::string_view method);

  void on_flood_wait(std::string_view session_id, std::string_view method);
  void on_success(std::string_view session_id, std::string_view method);

  // One more refusal or wait that happened outside the buckets (the flood ledger): counts a
  // rate-limit hit for the method.
  void count_hit(std::string_view method) const noexcept;

  ThrottleLayers& layers() noexcept { return layers_; }
  const Clock& clock() const noexcept { return clock_; }

 private:
  telemetry::Gauge& rate_gauge(std::string_view method) const noexcept;

  ThrottleLayers layers_;
  const Clock& clock_;
  const telemetry::TelethonMetrics& metrics_;
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, telemetry::Gauge*, StringHash, std::equal_to<>> rate_gauges_;  // immutable
  telemetry::Gauge* other_rate_gauge_ = nullptr;
};

// Whole seconds, rounded up, at least 1: what a Retry-After header says for a wait of `d`.
int retry_after_seconds(Clock::Duration d) noexcept;

}  // namespace tgpulse::throttle
