// LoadReport: the outcome of one load run, as text for people and as JSON for scripts and the
// benchmark. Client-side figures come from the answers the load generator saw; the service-side ones
// (FloodWait ratio, throttle delay quantiles) from the difference of two /metrics scrapes, before and
// after the run, so they include the waits TDLib absorbed and the delays spent in the throttle.
//
// JSON fields (all numbers; seconds unless the name says otherwise):
//   duration_s (first request to last answer), target_rate, sent, answered, ok, flood_wait, throttled, errors, transport_errors,
//   goodput_rps (ok / duration_s), latency_s {p50,p90,p99,max,mean},
//   service {requests_total, floodwait_total, floodwait_ratio, rate_limit_hits_total,
//            throttle_delay_s {p50,p90,p99}}   — "service" is null when /metrics could not be read.
//
// Thread-safety: a value type.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace tgpulse::loadgen {

struct Quantiles {
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
  double mean = 0;
};

struct ServiceFigures {
  double requests_total = 0;         // increase of <ns>_requests_total (sent to Telegram)
  double floodwait_total = 0;        // increase of <ns>_floodwait_total
  double rate_limit_hits_total = 0;  // increase of <ns>_rate_limit_hits_total
  Quantiles throttle_delay_s;        // from <ns>_throttling_delay_seconds (p50/p90/p99 only)
  // floodwait_total / requests_total; 0 when nothing was sent.
  double floodwait_ratio() const noexcept { return requests_total > 0 ? floodwait_total / requests_total : 0; }
};

struct LoadReport {
  double duration_s = 0;
  double target_rate = 0;
  std::uint64_t sent = 0;
  std::uint64_t answered = 0;          // any HTTP answer
  std::uint64_t ok = 0;                // 200
  std::uint64_t flood_wait = 0;        // 429 with error code flood_wait
  std::uint64_t throttled = 0;         // 429 with error code throttled
  std::uint64_t errors = 0;            // any other HTTP status
  std::uint64_t transport_errors = 0;  // no HTTP answer (connect/read failure, timeout)
  Quantiles latency_s;                 // of every answered request
  std::optional<ServiceFigures> service;

  double goodput_rps() const noexcept { return duration_s > 0 ? static_cast<double>(ok) / duration_s : 0; }
  nlohmann::json to_json() const;
  std::string to_text() const;
};

}  // namespace tgpulse::loadgen
