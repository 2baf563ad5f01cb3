// ProxyMetrics: the health of the sessions' proxies, measured by pinging each through its session's TDLib
// client (pingProxy) on a schedule. No label names a proxy, a host, a tenant or a session: which session's
// proxy failed is in its API view (proxy.status) and in the log.
//
//   tgpulse_proxy_ping_seconds           histogram   round trip of successful pings, as TDLib measures it
//   tgpulse_proxy_ping_failures_total    counter     pings that failed (proxy unreachable, refused, timeout)
//   tgpulse_proxy_sessions{state}        gauge       sessions with a proxy by its last ping: ok, unreachable,
//                                                     unchecked (set at each scrape by the session service)
//
// Thread-safety: construction registers (not thread-safe with other registrations); the handles are
// thread-safe and lock-free.
#pragma once

#include "telemetry/metrics.h"

namespace tgpulse::telemetry {

struct ProxyMetrics {
  explicit ProxyMetrics(Registry& registry);

  Histogram* ping_seconds;
  Counter* ping_failures;
  Gauge* sessions_ok;
  Gauge* sessions_unreachable;
  Gauge* sessions_unchecked;
};

}  // namespace tgpulse::telemetry
