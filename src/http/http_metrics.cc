#include "http/http_metrics.h"

#include <map>

namespace tgpulse::http {

const std::vector<double>& HttpMetrics::duration_buckets() {
  static const std::vector<double> buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,   0.5,   1,      2.5,   5,    10,   30,    60};
  return buckets;
}

HttpMetrics::HttpMetrics(telemetry::Registry& registry, const std::vector<Route>& routes)
    : requests_(&registry.counter("tgpulse_http_requests_total",
                                  "HTTP requests answered, by route pattern and status code",
                                  {"route", "code"})) {
  auto& durations = registry.histogram("tgpulse_http_request_duration_seconds",
                                       "HTTP request duration from request head received to response sent",
                                       duration_buckets(), {"route"});
  std::map<std::string, std::shared_ptr<RouteHandles>> by_pattern;
  auto handles_for = [&](const std::string& label) {
    auto& h = by_pattern[label];
    if (!h) {
      h = std::make_shared<RouteHandles>();
      h->label = label;
      h->duration = &durations.labels({label});
    }
    return h;
  };
  slots_.reserve(routes.size() + 1);
  for (const auto& r : routes) slots_.push_back(handles_for(r.pattern));
  unmatched_slot_ = slots_.size();
  slots_.push_back(handles_for(kUnmatchedRoute));
}

void HttpMetrics::observe(std::size_t slot_index, unsigned status_code, double seconds,
                          const telemetry::SpanContext* exemplar) noexcept {
  if (slot_index >= slots_.size()) slot_index = unmatched_slot_;
  RouteHandles& h = slot(slot_index);
  // Only sampled spans make exemplars: an unsampled trace id would link to a trace nobody recorded.
  if (exemplar != nullptr && exemplar->valid() && exemplar->sampled()) {
    h.duration->observe(seconds, *exemplar);
  } else {
    h.duration->observe(seconds);
  }
  if (status_code < kMinCode || status_code > kMaxCode) return;
  auto& cached = h.by_code[status_code - kMinCode];
  telemetry::Counter* c = cached.load(std::memory_order_acquire);
  if (c == nullptr) {
    try {
      c = &requests_->labels({h.label, std::to_string(status_code)});
    } catch (...) {
      return;  // cannot happen with two label values; never throw from the request path
    }
    cached.store(c, std::memory_order_release);
  }
  c->inc();
}

}  // namespace tgpulse::http
