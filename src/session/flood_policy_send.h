// send_with_flood_policy: sends one TDLib function of the session layer — the QR login's
// requestQrCodeAuthentication, the 2FA checkAuthenticationPassword, cleanup's logOut/close — under the
// FloodWait policy, the way InvokePipeline does for tenants' calls:
//
//   send → FloodWait (Errc::flood_wait, FLOOD_WAIT_N; 0 counts as 1 s) → reported once through
//   telemetry::FloodWaitReporter (metrics, "FloodWait detected" with the call's operation, tenant,
//   session and trace) → throttle::FloodWaitPolicy: sleep N s and send again when the call may be
//   repeated (`may_retry`), N ≤ flood.sleep_threshold, retries < flood.request_retries and the sleep
//   ends before `deadline`; otherwise fail fast with Error::flood(retry_after = N).
//
// Each send's timeout is the time left until `deadline` (at least 1 ms), capped by `timeout`. Other
// answers (success, other errors, a timeout) are returned as they are. The session's client is looked
// up again after every sleep: when it went away meanwhile the call fails with Errc::unavailable.
//
// Telemetry of the call's span: the spans belong to the caller's coroutine, so the caller marks them in
// `on_flood_wait` (see FloodWaitReporter::mark_span), which runs on the coroutine's executor right
// after each report.
//
// Coroutine: runs on the executor that awaits it (the session's strand); it may sleep there on a timer,
// never blocking the thread. The services named by pointer in FloodPolicyCall are the Application's,
// which outlive every session.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <utility>  // boost/asio/awaitable.hpp uses std::exchange without including it
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/result.h"
#include "session/session.h"
#include "session/session_services.h"
#include "telemetry/trace_context.h"
#include "throttle/throttle_options.h"

namespace tgpulse::session {

struct FloodPolicyCall {
  const Clock* clock = nullptr;
  const telemetry::TelethonMetrics* metrics = nullptr;
  telemetry::Logger* logger = nullptr;
  throttle::FloodOptions flood;

  std::string operation;   // telemetry::floodwait_operation ("qr_login", "qr_password", "session_cleanup")
  std::string tenant_id;
  std::string session_id;
  bool may_retry = true;                 // false: report and fail fast (calls not safe to repeat)
  Clock::TimePoint deadline;             // no send and no sleep beyond it
  std::chrono::milliseconds timeout{0};  // cap of one send's timeout; 0 = only the deadline
  std::optional<telemetry::SpanContext> trace;  // trace.id of the log line, exemplar of the metrics
  // After each reported FloodWait: (seconds, delay slept before the retry or 0, retries done before).
  std::function<void(int seconds, double delay, int retries_done)> on_flood_wait;

  // The services, flood options and ids of `session`, for `operation`, until `deadline`.
  static FloodPolicyCall make(const SessionServices& services, const Session& session, std::string operation,
                              Clock::TimePoint deadline);
  // Sets on_flood_wait to hand each FloodWait to `session`'s inbox as a flood_wait signal (for the login
  // flow's spans), while the session lives; `what` is the signal's message.
  void signal_flood_waits_to(const Session& session, std::string what);
};

boost::asio::awaitable<Result<nlohmann::json>> send_with_flood_policy(std::shared_ptr<Session> session,
                                                                      nlohmann::json request, FloodPolicyCall call);

}  // namespace tgpulse::session
