// HttpMetrics: the server's own metrics, labelled by route pattern (never the raw path, so the series
// stay bounded) and resolved once per route when the server starts:
//   tgpulse_http_requests_total{route,code}          HTTP requests answered, by route pattern and status
//   tgpulse_http_request_duration_seconds{route}     HTTP request duration (head received → response sent)
// Requests that match no route — and requests too malformed to route — use route="unmatched".
// The duration histogram records an exemplar with the request's server-span context when that span is
// sampled, so a slow bucket links to its trace.
//
// Thread-safety: thread-safe. observe() is lock-free once a (route, code) pair has been seen; the
// first time a status code appears on a route its counter child is created (one lock, then cached).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "http/router.h"
#include "telemetry/metrics.h"

namespace tgpulse::http {

class HttpMetrics {
 public:
  static constexpr const char* kUnmatchedRoute = "unmatched";

  HttpMetrics(telemetry::Registry& registry, const std::vector<Route>& routes);
  HttpMetrics(const HttpMetrics&) = delete;
  HttpMetrics& operator=(const HttpMetrics&) = delete;

  // The slot for a route (Route::index) — or for no route with unmatched().
  std::size_t unmatched() const noexcept { return unmatched_slot_; }
  void observe(std::size_t slot, unsigned status_code, double seconds,
               const telemetry::SpanContext* exemplar) noexcept;

  static const std::vector<double>& duration_buckets();

 private:
  static constexpr unsigned kMinCode = 100;
  static constexpr unsigned kMaxCode = 599;
  struct RouteHandles {
    std::string label;
    telemetry::Histogram* duration = nullptr;
    std::array<std::atomic<telemetry::Counter*>, kMaxCode - kMinCode + 1> by_code{};
  };
  RouteHandles& slot(std::size_t i) noexcept { return *slots_[i]; }

  telemetry::CounterFamily* requests_;
  std::vector<std::shared_ptr<RouteHandles>> slots_;  // shared between routes with the same pattern
  std::size_t unmatched_slot_ = 0;
};

}  // namespace tgpulse::http
