#include "throttle/flood_wait_policy.h"

namespace tgpulse::throttle {

FloodDecision FloodWaitPolicy::on_flood_wait(int retry_after_s, int retries_done, FloodMode mode,
                                             Clock::Duration time_left) const noexcept {
  FloodDecision d;
  d.seconds = effective_seconds(retry_after_s);
  d.wait = std::chrono::seconds(d.seconds);
  d.retry = mode == FloodMode::wait && d.wait <= options_.sleep_threshold &&
            retries_done < options_.request_retries && d.wait <= time_left;
  return d;
}

bool FloodWaitPolicy::may_wait_for_ledger(Clock::Duration remaining, FloodMode mode,
                                          Clock::Duration time_left) const noexcept {
  return mode == FloodMode::wait && remaining <= options_.sleep_threshold && remaining <= time_left;
}

telemetry::FloodWaitReport flood_wait_report(const FloodDecision& decision, std::string_view operation,
                                             std::string_view method, std::string_view tenant_id,
                                             std::string_view session_id, int retries_done,
                                             const telemetry::SpanContext* trace) noexcept {
  telemetry::FloodWaitReport r;
  r.operation = operation;
  r.method = method;
  r.tenant_id = tenant_id;
  r.session_id = session_id;
  r.seconds = decision.seconds;
  r.delay = decision.retry ? static_cast<double>(decision.seconds) : 0.0;
  r.retries_done = retries_done;
  r.trace = trace;
  return r;
}

}  // namespace tgpulse::throttle
