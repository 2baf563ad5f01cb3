#include "throttle/invoke_pipeline.h"

#include <chrono>

#include "throttle/async_sleep.h"

namespace tgpulse::throttle {

namespace asio = boost::asio;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

namespace {

double to_seconds(Clock::Duration d) { return std::chrono::duration<double>(d).count(); }

Error flood_error(const std::string& method, int retry_after_s) {
  return Error::flood(retry_after_s, "FloodWait on " + method + ": retry after " + std::to_string(retry_after_s) + " s");
}

}  // namespace

InvokePipeline::InvokePipeline(Throttle& throttle, FloodLedger& ledger, FloodOptions flood,
                               const telemetry::TelethonMetrics& metrics, telemetry::Logger& logger)
    : throttle_(throttle), ledger_(ledger), policy_(flood), reporter_(metrics, logger) {}

asio::awaitable<Result<nlohmann::json>> InvokePipeline::invoke(InvokeCall call, Sender sender, telemetry::Span& span) {
  const auto type = call.function.find("@type");
  if (!call.function.is_object() || type == call.function.end() || !type->is_string() ||
      type->get_ref<const std::string&>().empty()) {
    co_return Error(Errc::invalid_argument, "the function object has no \"@type\"");
  }
  const std::string method = type->get<std::string>();
  const Clock& clock = throttle_.clock();

  if (Status admitted = throttle_.admit_tenant(call.tenant_id, method); !admitted) co_return admitted.error();

  int retries = 0;
  for (;;) {
    // A running flood block on this (session, method): never send; wait it out or fail fast.
    if (auto until = ledger_.blocked_until(call.session_id, method)) {
      const auto now = clock.now();
      const auto remaining = *until - now;
      throttle_.count_hit(method);
      const bool wait = policy_.may_wait_for_ledger(remaining, call.flood, call.deadline - now);
      span.add_event("flood_ledger", {{"telethon.floodwait_remaining_seconds", to_seconds(remaining)},
                                      {"action", std::string(wait ? "wait" : "fail_fast")}});
      if (!wait) co_return flood_error(method, retry_after_seconds(remaining));
      if (!co_await async_sleep(remaining)) co_return wait_cancelled("flood wait");
      continue;
    }

    if (Status s = co_await throttle_.acquire(call.session_id, method, call.deadline); !s) co_return s.error();

    const auto time_left = call.deadline - clock.now();
    if (time_left <= Clock::Duration::zero()) co_return Error(Errc::timeout, "deadline passed before " + method + " was sent");
    Result<nlohmann::json> answer =
        co_await sender(call.function, std::max(milliseconds(1), duration_cast<milliseconds>(time_left)));
    if (answer.ok()) {
      throttle_.on_success(call.session_id, method);
      co_return answer;
    }
    if (answer.error().code != Errc::flood_wait) co_return answer;

    // FloodWait from Telegram.
    const auto now = clock.now();
    const FloodDecision d =
        policy_.on_flood_wait(answer.error().retry_after_s, retries, call.flood, call.deadline - now);
    ledger_.record(call.session_id, method, now + d.wait);
    throttle_.on_flood_wait(call.session_id, method);

    const telemetry::SpanContext ctx = span.context();
    const telemetry::FloodWaitReport report = flood_wait_report(
        d, telemetry::floodwait_operation::kInvoke, method, call.tenant_id, call.session_id, retries, &ctx);
    reporter_.report(report, &span);
    if (!d.retry) co_return flood_error(method, d.seconds);

    if (!co_await async_sleep(d.wait)) co_return wait_cancelled("flood wait");
    ++retries;
  }
}

void InvokePipeline::forget_session(std::string_view session_id) {
  throttle_.layers().forget_session(session_id);
  ledger_.forget_session(session_id);
}

void InvokePipeline::forget_tenant(std::string_view tenant_id) { throttle_.layers().forget_tenant(tenant_id); }

}  // namespace tgpulse::throttle
