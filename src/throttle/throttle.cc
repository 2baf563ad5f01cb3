#include "throttle/throttle.h"

#include <chrono>
#include <cmath>

#include "throttle/async_sleep.h"

namespace tgpulse::throttle {

namespace asio = boost::asio;

int retry_after_seconds(Clock::Duration d) noexcept {
  const double s = std::ceil(std::chrono::duration<double>(d).count());
  return s < 1 ? 1 : static_cast<int>(s);
}

Throttle::Throttle(ThrottleOptions options, const Clock& clock, const telemetry::TelethonMetrics& metrics,
                   telemetry::Registry& registry, const std::vector<std::string>& known_methods)
    : layers_(std::move(options), clock), clock_(clock), metrics_(metrics) {
  auto& family = registry.gauge("tgpulse_throttle_rate",
                                "Current rate of the adaptive per-session throttle bucket, calls per second",
                                {"method"});
  const ThrottleOptions& o = layers_.options();
  for (const std::string& m : known_methods) {
    telemetry::Gauge& g = family.labels({m});
    g.set(std::max(0.0, o.session.limit_for(m).rate));
    rate_gauges_.emplace(m, &g);
  }
  other_rate_gauge_ = &family.labels({"other"});
  other_rate_gauge_->set(std::max(0.0, o.session.default_limit.rate));
}

telemetry::Gauge& Throttle::rate_gauge(std::string_view method) const noexcept {
  auto it = rate_gauges_.find(method);
  return it == rate_gauges_.end() ? *other_rate_gauge_ : *it->second;
}

void Throttle::count_hit(std::string_view method) const noexcept { metrics_.method(method).rate_limit_hits->inc(); }

asio::awaitable<Status> Throttle::acquire(std::string session_id, std::string method, Clock::TimePoint deadline) {
  const auto max_delay = std::max(Clock::Duration::zero(), deadline - clock_.now());
  const Grant grant = layers_.reserve_call(session_id, method, max_delay);
  if (!grant.granted) {
    count_hit(method);
    Error e(Errc::throttled, "throttled: " + method + " needs a wait that passes the deadline");
    e.retry_after_s = retry_after_seconds(grant.delay);
    co_return e;
  }
  if (grant.delay > Clock::Duration::zero()) {
    count_hit(method);
    if (!co_await async_sleep(grant.delay)) co_return Status(Errc::cancelled, "throttle wait cancelled");
  }
  metrics_.throttling_delay.observe(std::chrono::duration<double>(grant.delay).count());
  co_return Status{};
}

Status Throttle::admit_tenant(std::string_view tenant_id, std::string_view method) {
  const Grant grant = layers_.reserve_tenant(tenant_id, method);
  if (grant.granted) return {};
  count_hit(method);
  Error e(Errc::throttled, "tenant request quota exceeded for " + std::string(method));
  e.retry_after_s = retry_after_seconds(grant.delay);
  return e;
}

void Throttle::on_flood_wait(std::string_view session_id, std::string_view method) {
  rate_gauge(method).set(layers_.on_flood_wait(session_id, method));
}

void Throttle::on_success(std::string_view session_id, std::string_view method) {
  const double before = layers_.current_rate(session_id, method);
  const double after = layers_.on_success(session_id, method);
  if (after != before) rate_gauge(method).set(after);
}

}  // namespace tgpulse::throttle
