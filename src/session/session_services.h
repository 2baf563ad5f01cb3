// SessionServices: everything the session layer is wired with — clock, the session store, the engine
// client factory, the seed telemetry, the options, the FloodWait policy's options and the blocking pool.
// References only: the Application owns each service and keeps it alive longer than the session layer.
//
// Thread-safety: every referenced service is thread-safe; the struct is read-only after wiring.
#pragma once

#include "core/blocking_pool.h"
#include "core/clock.h"
#include "session/engine_client.h"
#include "session/session_options.h"
#include "session/session_ownership.h"
#include "store/session_store.h"
#include "telemetry/logger.h"
#include "telemetry/phone_login_metrics.h"
#include "telemetry/proxy_metrics.h"
#include "telemetry/telethon_metrics.h"
#include "telemetry/tracer.h"
#include "throttle/throttle_options.h"

namespace tgpulse::session {

struct SessionServices {
  const Clock& clock;
  store::SessionStore& store;
  EngineClientFactory& engines;
  const telemetry::TelethonMetrics& metrics;
  telemetry::Logger& logger;
  telemetry::Tracer& tracer;
  SessionOptions options;
  // The FloodWait policy of the session layer's own calls (QR login start, password check, cleanup);
  // the same options as the invoke path's.
  throttle::FloodOptions flood{};
  // Where store and filesystem work of the session layer runs (blocking_call.h); null = inline, for
  // unit tests on the in-memory store. The Application's store pool.
  BlockingPool* blocking = nullptr;
  // Where the service's own events about sessions go (tgpulseSessionAuthorized, tgpulseSessionRevoked,
  // tgpulseSessionClosed, tgpulseQrLoginExpired, tgpulsePhoneLoginExpired), beside the engine's updates. Null = nowhere.
  UpdateSink* updates = nullptr;
  // tgpulse_phone_login_total / tgpulse_phone_codes_total. Null = phone logins are not counted (tests).
  const telemetry::PhoneLoginMetrics* phone_metrics = nullptr;
  // tgpulse_proxy_ping_seconds / tgpulse_proxy_ping_failures_total. Null = pings are not counted (tests).
  const telemetry::ProxyMetrics* proxy_metrics = nullptr;
  // The cluster's leases (session_ownership.h). Null = a single node: every session is this node's.
  SessionOwnership* ownership = nullptr;
};

}  // namespace tgpulse::session
