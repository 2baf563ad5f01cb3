#include "telemetry/proxy_metrics.h"

namespace tgpulse::telemetry {

namespace {
GaugeFamily& sessions(Registry& r) {
  return r.gauge("tgpulse_proxy_sessions", "Sessions with a proxy, by the outcome of its last ping", {"state"});
}
}  // namespace

ProxyMetrics::ProxyMetrics(Registry& registry)
    : ping_seconds(&registry
                        .histogram("tgpulse_proxy_ping_seconds", "Round trip of successful pings of the sessions' proxies",
                                   {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})
                        .get()),
      ping_failures(&registry.counter("tgpulse_proxy_ping_failures_total", "Pings of the sessions' proxies that failed").get()),
      sessions_ok(&sessions(registry).labels({"ok"})),
      sessions_unreachable(&sessions(registry).labels({"unreachable"})),
      sessions_unchecked(&sessions(registry).labels({"unchecked"})) {}

}  // namespace tgpulse::telemetry
