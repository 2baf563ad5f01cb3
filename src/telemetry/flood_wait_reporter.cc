#include "telemetry/flood_wait_reporter.h"

namespace tgpulse::telemetry {

void FloodWaitReporter::report(const FloodWaitReport& r, Span* span) const {
  const int seconds = r.seconds < 1 ? 1 : r.seconds;
  const MethodMetrics& m = r.method.empty() ? metrics_.engine() : metrics_.method(r.method);
  const SpanContext* ctx = r.trace != nullptr && r.trace->valid() ? r.trace : nullptr;
  metrics_.floodwait(m, seconds, seconds, ctx);
  if (r.td_total_wait >= 0) {
    logger_.warn("FloodWait detected",
                 {{"seconds", seconds}, {"delay", r.delay}, {"tenant_id", r.tenant_id}, {"operation", r.operation},
                  {"session_id", r.session_id}, {"td.client_id", r.td_client_id}, {"td.total_wait", r.td_total_wait}},
                 ctx);
  } else {
    logger_.warn("FloodWait detected",
                 {{"seconds", seconds}, {"delay", r.delay}, {"tenant_id", r.tenant_id}, {"operation", r.operation},
                  {"session_id", r.session_id}, {"td.method", r.method}},
                 ctx);
  }
  if (span != nullptr) mark_span(*span, seconds, r.delay, r.retries_done);
}

void FloodWaitReporter::mark_span(Span& span, int seconds, double delay, int retries_done) {
  span.set_attribute("telethon.floodwait_seconds", static_cast<std::int64_t>(seconds));
  span.add_event("floodwait", {{"telethon.floodwait_seconds", static_cast<std::int64_t>(seconds)},
                               {"retry", static_cast<std::int64_t>(retries_done)},
                               {"action", std::string(delay > 0 ? "sleep_and_retry" : "fail_fast")}});
}

}  // namespace tgpulse::telemetry
