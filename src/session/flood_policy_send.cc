#include "session/flood_policy_send.h"

#include <algorithm>

#include "telemetry/flood_wait_reporter.h"
#include "throttle/async_sleep.h"
#include "throttle/flood_wait_policy.h"

namespace asio = boost::asio;
using nlohmann::json;

namespace tgpulse::session {

FloodPolicyCall FloodPolicyCall::make(const SessionServices& services, const Session& session, std::string operation,
                                      Clock::TimePoint deadline) {
  FloodPolicyCall call;
  call.clock = &services.clock;
  call.metrics = &services.metrics;
  call.logger = &services.logger;
  call.flood = services.flood;
  call.operation = std::move(operation);
  call.tenant_id = session.tenant_id();
  call.session_id = session.id();
  call.deadline = deadline;
  return call;
}

void FloodPolicyCall::signal_flood_waits_to(const Session& session, std::string what) {
  std::weak_ptr<const Session> weak = session.weak_from_this();
  on_flood_wait = [weak, what = std::move(what)](int seconds, double delay, int retries_done) {
    auto s = std::const_pointer_cast<Session>(weak.lock());
    if (!s) return;
    SessionSignal signal;
    signal.kind = SessionSignal::Kind::flood_wait;
    signal.error = Error::flood(seconds, what);
    signal.flood_delay = delay;
    signal.flood_retries = retries_done;
    s->deliver(std::move(signal));
  };
}

asio::awaitable<Result<json>> send_with_flood_policy(std::shared_ptr<Session> session, json request,
                                                     FloodPolicyCall call) {
  const throttle::FloodWaitPolicy policy(call.flood);
  const telemetry::FloodWaitReporter reporter(*call.metrics, *call.logger);
  const std::string method = request.value("@type", "");
  const throttle::FloodMode mode = call.may_retry ? throttle::FloodMode::wait : throttle::FloodMode::fail_fast;
  for (int retries = 0;; ++retries) {
    EngineClient* client = session->client();
    if (client == nullptr) co_return Error(Errc::unavailable, "the session's engine client is gone");
    auto time_left = std::chrono::duration_cast<std::chrono::milliseconds>(call.deadline - call.clock->now());
    if (time_left <= std::chrono::milliseconds::zero()) co_return Error(Errc::timeout, method + " passed its deadline");
    if (call.timeout > std::chrono::milliseconds::zero()) time_left = std::min(time_left, call.timeout);
    json attempt = request;
    Result<json> answer = co_await client->send(std::move(attempt), time_left);
    if (answer.ok() || answer.error().code != Errc::flood_wait) co_return answer;

    const throttle::FloodDecision d =
        policy.on_flood_wait(answer.error().retry_after_s, retries, mode, call.deadline - call.clock->now());
    const telemetry::FloodWaitReport report = throttle::flood_wait_report(
        d, call.operation, method, call.tenant_id, call.session_id, retries, call.trace ? &*call.trace : nullptr);
    reporter.report(report);
    if (call.on_flood_wait) call.on_flood_wait(d.seconds, report.delay, retries);
    if (!d.retry) {
      co_return Error::flood(d.seconds, "FloodWait on " + method + ": retry after " + std::to_string(d.seconds) + " s");
    }
    if (!co_await throttle::async_sleep(d.wait)) co_return throttle::wait_cancelled("flood wait");
  }
}

}  // namespace tgpulse::session
