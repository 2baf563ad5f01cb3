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
    : layers_(std::move(options), clock, known_methods), clock_(clock), metrics_(metrics) {
  auto& rates = registry.gauge("tgpulse_throttle_rate",
                               "Lowest current rate among the sessions' adaptive throttle buckets of the method "
                               "(the configured rate when none is slowed), calls per second",
                               {"method"});
  auto& slowed = registry.gauge("tgpulse_throttle_slowed_sessions",
                                "Sessions whose throttle bucket for the method is slowed below its configured rate "
                                "after a FloodWait",
                                {"method"});
  auto& buckets = registry.gauge("tgpulse_throttle_buckets", "Throttle token buckets held, by layer", {"layer"});
  // Values are set by collect(), which the registry runs before every exposition.
  auto gauges_for = [&](const std::string& label) { return MethodGauges{&rates.labels({label}), &slowed.labels({label})}; };
  for (const std::string& m : known_methods) method_gauges_.emplace(m, gauges_for(m));
  other_gauges_ = gauges_for("other");
  session_buckets_ = &buckets.labels({"session"});
  process_buckets_ = &buckets.labels({"process"});
  tenant_buckets_ = &buckets.labels({"tenant"});

  scrape_guard_ = std::make_shared<ScrapeGuard>();
  scrape_guard_->self = this;
  registry.add_collect_hook([guard = scrape_guard_] {
    std::lock_guard lock(guard->mu);
    if (guard->self != nullptr) guard->self->collect();
  });
}

Throttle::~Throttle() {
  std::lock_guard lock(scrape_guard_->mu);
  scrape_guard_->self = nullptr;
}

void Throttle::collect() const {
  const ThrottleLayers::Summary summary = layers_.summarize();
  session_buckets_->set(static_cast<double>(summary.session_buckets));
  process_buckets_->set(static_cast<double>(summary.process_buckets));
  tenant_buckets_->set(static_cast<double>(summary.tenant_buckets));

  // Known methods each have their own series; every other method folds into "other".
  const ThrottleOptions& o = layers_.options();
  ThrottleLayers::MethodSummary other{0, 0, std::max(0.0, o.session.default_limit.rate)};
  bool other_seen = false;
  for (const auto& [method, m] : summary.session_methods) {
    if (method_gauges_.count(method) != 0) continue;
    other.slowed += m.slowed;
    other.lowest_rate = other_seen ? std::min(other.lowest_rate, m.lowest_rate) : m.lowest_rate;
    other_seen = true;
  }
  auto publish = [](const MethodGauges& g, double lowest, std::size_t slowed_count) {
    g.rate->set(lowest);
    g.slowed->set(static_cast<double>(slowed_count));
  };
  for (const auto& [method, g] : method_gauges_) {
    const auto it = summary.session_methods.find(method);
    if (it == summary.session_methods.end()) {
      publish(g, std::max(0.0, o.session.limit_for(method).rate), 0);
    } else {
      publish(g, it->second.lowest_rate, it->second.slowed);
    }
  }
  publish(other_gauges_, other.lowest_rate, other.slowed);
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
    if (!co_await async_sleep(grant.delay)) co_return Status(wait_cancelled("throttle wait"));
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
  layers_.on_flood_wait(session_id, method);
}

void Throttle::on_success(std::string_view session_id, std::string_view method) {
  layers_.on_success(session_id, method);
}

}  // namespace tgpulse::throttle
