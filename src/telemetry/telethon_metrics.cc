#include "telemetry/telethon_metrics.h"

#include <cmath>
#include <stdexcept>

namespace tgpulse::telemetry {
namespace {

constexpr std::string_view kOther = "other";
constexpr std::string_view kEngine = "engine";

const std::string& checked_ns(const CatalogOptions& options) {
  const std::string& ns = options.ns;
  bool ok = !ns.empty();
  for (std::size_t i = 0; ok && i < ns.size(); ++i) {
    const char c = ns[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    ok = alpha || (i > 0 && c >= '0' && c <= '9');
  }
  if (!ok) {
    throw std::invalid_argument("metrics namespace '" + ns + "' is invalid: must match [a-zA-Z_][a-zA-Z0-9_]*");
  }
  return ns;
}

CounterFamily& cleanup_total(Registry& r, const CatalogOptions& o) {
  return r.counter(checked_ns(o) + "_session_cleanup_total", "Total session cleanup operations", {"status"});
}
CounterFamily& qr_total(Registry& r, const CatalogOptions& o) {
  return r.counter(checked_ns(o) + "_qr_session_total", "Total QR sessions", {"status"});
}

std::size_t floodwait_bucket_index(double seconds) noexcept {
  std::size_t i = 0;
  while (i < kFloodWaitBounds.size() && !(seconds <= kFloodWaitBounds[i])) ++i;
  return i;
}

}  // namespace

std::string_view floodwait_bucket_label(double seconds) noexcept {
  static constexpr std::array<std::string_view, kFloodWaitBounds.size() + 1> kLabels = {
      "1", "5", "15", "30", "60", "300", "900", "3600", "+Inf"};
  return kLabels[floodwait_bucket_index(seconds)];
}

const std::vector<double>& TelethonMetrics::cleanup_buckets() {
  static const std::vector<double> kBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60};
  return kBuckets;
}

const std::vector<double>& TelethonMetrics::floodwait_buckets() {
  static const std::vector<double> kBuckets(kFloodWaitBounds.begin(), kFloodWaitBounds.end());
  return kBuckets;
}

const std::vector<double>& TelethonMetrics::throttling_buckets() {
  static const std::vector<double> kBuckets = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                               0.5,   1,     2.5,  5,     10,   30};
  return kBuckets;
}

TelethonMetrics::TelethonMetrics(Registry& registry, CatalogOptions options)
    : session_cleanup_success(cleanup_total(registry, options).labels({"success"})),
      session_cleanup_failed(cleanup_total(registry, options).labels({"failed"})),
      session_cleanup_duration(registry
                                   .histogram(checked_ns(options) + "_session_cleanup_duration_seconds",
                                              "Session cleanup duration", cleanup_buckets())
                                   .get()),
      qr_created(qr_total(registry, options).labels({"created"})),
      qr_expired(qr_total(registry, options).labels({"expired"})),
      qr_authorized(qr_total(registry, options).labels({"authorized"})),
      qr_failed(qr_total(registry, options).labels({"failed"})),
      qr_cancelled(qr_total(registry, options).labels({"cancelled"})),
      qr_declined(qr_total(registry, options).labels({"declined"})),
      qr_interrupted(qr_total(registry, options).labels({"interrupted"})),
      qr_timeout(registry.counter(checked_ns(options) + "_qr_timeout_total", "QR session timeouts").get()),
      throttling_delay(registry
                           .histogram(checked_ns(options) + "_throttling_delay_seconds",
                                      "Request throttling delay", throttling_buckets())
                           .get()),
      ns_(options.ns),
      known_methods_(options.known_methods) {
  for (const std::string& method : options.known_methods) {
    if (method.empty() || method == kOther || method == kEngine) {
      throw std::invalid_argument("CatalogOptions::known_methods: '" + method +
                                  "' is not allowed (empty, or reserved: other, engine)");
    }
    if (methods_.contains(method)) {
      throw std::invalid_argument("CatalogOptions::known_methods: '" + method + "' is listed twice");
    }
    methods_.emplace(method, make(registry, method));
  }
  other_ = make(registry, std::string(kOther));
  engine_ = make(registry, std::string(kEngine));
}

MethodMetrics TelethonMetrics::make(Registry& r, const std::string& name) {
  auto& requests = r.counter(ns_ + "_requests_total", "Total requests sent to Telegram", {"method", "status"});
  auto& rate_limit = r.counter(ns_ + "_rate_limit_hits_total", "Rate limit hits", {"endpoint"});
  auto& floodwait = r.counter(ns_ + "_floodwait_total", "Total FloodWait events", {"reason", "seconds"});
  auto& floodwait_duration =
      r.histogram(ns_ + "_floodwait_duration_seconds", "FloodWait wait duration", floodwait_buckets(), {"reason"});

  MethodMetrics m;
  m.name = name;
  m.requests_success = &requests.labels({name, "success"});
  m.requests_failed = &requests.labels({name, "failed"});
  m.requests_flood_wait = &requests.labels({name, "flood_wait"});
  m.rate_limit_hits = &rate_limit.labels({name});
  for (std::size_t i = 0; i < m.floodwait_by_bucket.size(); ++i) {
    m.floodwait_by_bucket[i] = &floodwait.labels({name, i < kFloodWaitBounds.size()
                                                             ? floodwait_bucket_label(kFloodWaitBounds[i])
                                                             : std::string_view("+Inf")});
  }
  m.floodwait_duration = &floodwait_duration.labels({name});
  return m;
}

const MethodMetrics& TelethonMetrics::method(std::string_view tdlib_method) const noexcept {
  if (auto it = methods_.find(tdlib_method); it != methods_.end()) return it->second;
  return other_;
}

void TelethonMetrics::floodwait(const MethodMetrics& m, double seconds, double served_seconds,
                                const SpanContext* ctx) const noexcept {
  Counter& events = *m.floodwait_by_bucket[floodwait_bucket_index(seconds)];
  Histogram& duration = *m.floodwait_duration;
  // Only a sampled span's trace was recorded: an exemplar from another would link to nothing.
  const bool with_exemplar = ctx != nullptr && ctx->valid() && ctx->sampled();
  if (with_exemplar) {
    events.inc(1.0, *ctx);
  } else {
    events.inc();
  }
  if (served_seconds >= 0) {
    if (with_exemplar) {
      duration.observe(served_seconds, *ctx);
    } else {
      duration.observe(served_seconds);
    }
  }
}

}  // namespace tgpulse::telemetry
