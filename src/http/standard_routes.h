// The service's standard routes:
//   GET /healthz   liveness: 200 {"status":"ok"} while the process serves HTTP at all
//   GET /readyz    readiness: 200 {"status":"ready","checks":{...}} when every ReadinessChecks check
//                  passes, else 503 {"error":{"code":"not_ready","message":...,"failing_checks":[...]}}
//   GET /metrics   the Registry's exposition; OpenMetrics 1.0 when Accept asks for
//                  application/openmetrics-text, else Prometheus text 0.0.4
//
// Thread-safety: call at start-up (before Server::start). `readiness` and `registry` must outlive the
// server.
#pragma once

#include "http/readiness_checks.h"
#include "http/router.h"

namespace tgpulse::telemetry {
class Registry;
}

namespace tgpulse::http {

void add_standard_routes(Router& router, const ReadinessChecks& readiness, const telemetry::Registry& registry);

}  // namespace tgpulse::http
