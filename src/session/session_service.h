// SessionService: the session layer as one component of `tgpulse serve` — it owns the session store
// (SQLite under data_dir), the Telegram engine (libtdjson or tdsim, loaded from td_library), the
// session manager with its own io_context thread, the invoke pipeline (throttle + flood ledger +
// FloodWait policy) and the routes. The Application builds it after telemetry, registers its routes
// and stops it before the HTTP server's threads.
//
//   start():  store (session keys checked, plain ones sealed with the master key; refused on a wrong or
//             missing key) → the store accounts for the session directories (else refused, nothing touched)
//             → engine → manager.start() (sweep, quarantine, restore, retry loop) → invoke pipeline
//             → storage probe thread → routes
//   stop():   storage probe → manager.stop() (authorized sessions stay for the next start; every session
//             task joined within a bound) → the pending last_used_at times written → engine → io thread
//             → the frames of tasks that outlived the wait are destroyed (the io_context's pending
//             handlers) while the store, engine and manager still exist. The io_context itself lives
//             until this service is destroyed, which the Application does after the HTTP server's
//             threads are joined: HTTP handlers await into it (cleanups, password checks, engine calls).
//
// Store calls made on a loop thread (the routes', the session manager's and cleanup's) run on the
// Application's store pool (BlockingPool); tenant tokens resolve through a TenantTokenCache and invokes'
// last_used_at go to a LastUsedBatcher (docs/store.md, "Calling the store").
//
// Readiness checks it registers (add_readiness): "store" (the last background store probe), "engine"
// (the TDLib receive loop turned within the last 5 s), "data_dir" (writable, free space above
// store.min_free_bytes), "cleanup" (no cleanup failed sessions.cleanup_stuck_after times or more).
// Metrics: tgpulse_sessions_quarantined_total, tgpulse_session_cleanups_pending,
// tgpulse_session_cleanups_stuck (mirrored at each scrape).
//
// Thread-safety: start()/stop() from the main thread; the routes are thread-safe.
#pragma once

#include <memory>
#include <string>

#include "core/blocking_pool.h"
#include "core/result.h"
#include "core/task_group.h"
#include "http/readiness_checks.h"
#include "http/router.h"
#include "session/session_options.h"
#include "session/session_routes.h"
#include "session/tenant_limits.h"
#include "td/engine_options.h"
#include "telemetry/logger.h"
#include "telemetry/metrics.h"
#include "telemetry/rejections.h"
#include "telemetry/telethon_metrics.h"
#include "telemetry/tracer.h"
#include "store/postgres_options.h"
#include "store/store_access_options.h"
#include "throttle/shared_request_quota.h"
#include "throttle/throttle_options.h"
#include "cluster/cluster_options.h"
#include "updates/updates_options.h"

namespace tgpulse::cluster {
class SessionLocator;
}  // namespace tgpulse::cluster

namespace tgpulse::session {

struct SessionServiceOptions {
  // td.library: path of libtdjson.so or libtdsim.so. Required.
  std::string td_library;
  // td.verbosity, td.request_timeout (defaults: EngineOptions). known_methods is replaced by the
  // metric catalog's, so both metric sets agree.
  td::EngineOptions engine;
  // store.data_dir, qr.timeout, sessions.idle_ttl, td.api_id/api_hash, ... (sessions.data_dir is the
  // store's data_dir: the database and the engine directories live side by side).
  SessionOptions sessions;
  // store.pool_*, store.token_cache_*, store.last_used_flush (the pool itself is the Application's).
  store::StoreAccessOptions store_access;
  // store.master_key: base64 of the master key sealing the stored TDLib database keys (KeyCipher).
  // Default "" = keys stored in the clear; the service then logs a WARN at start-up.
  std::string store_master_key;
  // store.url and its password, store.pg_pool_size: a non-empty url selects the PostgreSQL store
  // (PostgresSessionStore, PostgresUpdateLog) instead of SQLite in sessions.data_dir.
  store::PostgresOptions store_postgres;
  SessionRoutesOptions routes;
  throttle::ThrottleOptions throttle;  // its .flood is replaced by `flood`
  throttle::FloodOptions flood;
  // invoke.allow / invoke.allow_extra: the operator's part of the invoke function policy.
  InvokePolicyOptions invoke_policy;
  // limits.*: the per-tenant request quota and the tenant/process caps (TenantLimits).
  TenantLimitsOptions limits;
  // quota.*: the request quota shared by the nodes in Redis (off when redis_url is "").
  throttle::SharedQuotaOptions quota;
  // tdsim.control_address: tdsim's control interface, for the page's simulate buttons. Default "" = no
  // simulator (the simulate route answers 404).
  std::string simulator_control_address;
  // updates.max_pending, updates.max_age (the tenants' update logs; docs/updates.md).
  updates::UpdatesOptions updates;
  // cluster.*: this node's part in a cluster on PostgreSQL (off unless node_id is set; advertise_url
  // already resolved by the wiring).
  cluster::ClusterOptions cluster;
};

class SessionService {
 public:
  struct Telemetry {
    telemetry::Registry& registry;
    telemetry::TelethonMetrics& metrics;
    telemetry::Logger& logger;
    telemetry::Tracer& tracer;
    telemetry::Rejections& rejections;  // tgpulse_rejected_total
  };

  // Builds and starts everything; the error names what failed (library, store, ...). `store_pool` runs
  // the store calls of the routes and sessions; it must outlive this service.
  static Result<std::unique_ptr<SessionService>> start(SessionServiceOptions options, Telemetry telemetry,
                                                       BlockingPool& store_pool);
  ~SessionService();  // stop()
  SessionService(const SessionService&) = delete;
  SessionService& operator=(const SessionService&) = delete;

  void add_routes(http::Router& router);
  // The cluster node's view of where sessions live (for the request forwarder); null without a cluster.
  cluster::SessionLocator* locator();
  // The first step of the shutdown, before the HTTP server drains: long polls waiting for updates
  // answer 503 at once instead of holding the drain.
  void close_update_readers();
  // Registers "store", "engine", "data_dir" and "cleanup" (see above). Each check only reads state
  // kept by the probes: quick and non-blocking. The checks must not outlive this service.
  void add_readiness(http::ReadinessChecks& readiness);
  // Ends the sessions' coroutines (joined within a bound), stops the engine and the io thread, then
  // destroys what outlived the wait while everything it names still exists. Idempotent.
  void stop();
  // After stop(): the session manager's tasks, started and outlived.
  TaskGroup::Report tasks() const;

 private:
  struct Impl;
  explicit SessionService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tgpulse::session
