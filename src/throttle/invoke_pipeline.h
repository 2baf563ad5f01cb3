// InvokePipeline: the request path of `POST /v1/sessions/{id}/invoke`, without HTTP. For one TDLib
// function on one session it runs
//
//   tenant quota → flood ledger → throttle → send → (on FloodWait) ledger + policy + adaptive rate
//
// - tenant quota: Throttle::admit_tenant; refused → Errc::throttled with retry_after.
// - flood ledger: while the method is blocked on this session the call is not sent; it waits for the
//   block to end (FloodMode::wait, block ≤ flood.sleep_threshold and inside the deadline) or fails fast
//   with Error::flood(retry_after = seconds until the method clears). Either counts a rate-limit hit.
// - throttle: Throttle::acquire up to the deadline; refused → Errc::throttled with retry_after.
// - send: the Sender with the time left until the deadline as its timeout.
// - a FloodWait answer (Errc::flood_wait, retry_after N; FLOOD_WAIT_0 counts as 1 s): recorded in the
//   ledger, the session bucket slows down, then FloodWaitPolicy decides: sleep N s and send again (at
//   most flood.request_retries times), or fail fast with Error::flood(retry_after = seconds until the
//   method clears). Each one is reported once, through telemetry::FloodWaitReporter with
//   operation="invoke" and the method as reason (metrics, the seed's "FloodWait detected" line with the
//   trace ids, and telethon.floodwait_seconds + a "floodwait" event on the span).
// - success: the session bucket recovers one step; TDLib's answer is returned.
// Every other error of the Sender is returned as it is.
//
// Thread-safety: thread-safe; invoke() may run concurrently on any executor. The pipeline and
// everything given to its constructor must outlive every pending invoke().
#pragma once

#include <utility>  // before Boost.Asio 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "core/clock.h"
#include "core/result.h"
#include "telemetry/flood_wait_reporter.h"
#include "telemetry/logger.h"
#include "telemetry/telethon_metrics.h"
#include "telemetry/tracer.h"
#include "throttle/flood_ledger.h"
#include "throttle/flood_wait_policy.h"
#include "throttle/throttle.h"

namespace tgpulse::throttle {

// Sends one TDLib function on the session and awaits its answer (the engine's TdClient::send).
// Telegram's 429 must come back as Errc::flood_wait with retry_after_s = N.
using Sender = std::function<boost::asio::awaitable<Result<nlohmann::json>>(nlohmann::json request,
                                                                            std::chrono::milliseconds timeout)>;

struct InvokeCall {
  std::string tenant_id;
  std::string session_id;
  nlohmann::json function;               // a TDLib function object; its "@type" is the method
  Clock::TimePoint deadline;             // for the whole call: throttle + flood waits + TDLib
  FloodMode flood = FloodMode::wait;     // wait out flood waits (within the threshold) or fail fast
};

class InvokePipeline {
 public:
  InvokePipeline(Throttle& throttle, FloodLedger& ledger, FloodOptions flood,
                 const telemetry::TelethonMetrics& metrics, telemetry::Logger& logger);

  // Runs the call (see above). `span` is the caller's invoke span; it must outlive the call.
  boost::asio::awaitable<Result<nlohmann::json>> invoke(InvokeCall call, Sender sender, telemetry::Span& span);

  // A session (or tenant) went away: drop its throttle buckets and flood-ledger entries. Session ids
  // are never reused, so this only frees memory and clears the gauges; calls still in flight for it
  // simply start fresh buckets.
  void forget_session(std::string_view session_id);
  void forget_tenant(std::string_view tenant_id);

 private:
  Throttle& throttle_;
  FloodLedger& ledger_;
  FloodWaitPolicy policy_;
  telemetry::FloodWaitReporter reporter_;
};

}  // namespace tgpulse::throttle
