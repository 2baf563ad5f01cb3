#include "session/session_service.h"

#include <atomic>
#include <future>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "session/scan_simulator.h"
#include "cluster/cluster_node.h"
#include "session/session_manager.h"
#include "store/postgres_session_store.h"
#include "session/storage_probe.h"
#include "session/td_engine_client_factory.h"
#include "session/store_backend.h"
#include "td/engine.h"
#include "td/td_library.h"
#include "throttle/flood_ledger.h"
#include "session/file_transfers.h"
#include "throttle/invoke_pipeline.h"
#include "throttle/throttle.h"
#include "updates/delivery_membership.h"
#include "updates/update_hub.h"
#include "updates/update_routes.h"
#include "updates/webhook_client.h"
#include "updates/webhook_delivery.h"
#include "updates/webhook_resolver.h"
#include "updates/webhook_routes.h"

namespace asio = boost::asio;

namespace tgpulse::session {
namespace {

// Which tenants' webhooks this node delivers in a cluster (docs/updates.md#in-a-cluster): rendezvous
// hashing of the tenant over the live nodes as of the cluster node's last renewal — none before its first
// renewal, while fenced or leaving. Attached to the node once it exists; thread-safe.
class ClusterDeliveryMembership final : public updates::DeliveryMembership {
 public:
  void attach(const cluster::ClusterNode* node) { node_.store(node); }
  bool owns(const std::string& tenant_id) const override {
    const cluster::ClusterNode* node = node_.load();
    if (node == nullptr) return false;
    const std::vector<std::string> live = node->live_node_ids();
    return !live.empty() && updates::rendezvous_owner(tenant_id, live) == node->self_node();
  }

 private:
  std::atomic<const cluster::ClusterNode*> node_{nullptr};
};

// tgpulse_store_keys_encrypted and the start-up line saying how the session keys are kept at rest.
void report_stored_keys(const store::StoredKeyStatus& status, const SessionService::Telemetry& telemetry) {
  telemetry.registry
      .gauge("tgpulse_store_keys_encrypted",
             "1 when the TDLib database keys in the store are encrypted with a master key, 0 when they are "
             "stored in the clear")
      .labels({})
      .set(status.encrypted ? 1.0 : 0.0);
  if (status.encrypted) {
    telemetry.logger.info("session keys encrypted at rest",
                          {{"store.master_key_id", status.key_id},
                           {"store.keys_encrypted_at_start", static_cast<std::int64_t>(status.sealed_at_open)}});
    return;
  }
  telemetry.logger.warn(
      "session keys are stored UNENCRYPTED in the store: whoever reads it can open every Telegram "
      "session. Set a master key: `tgpulse keys generate --out /path/to/master.key` (written 0600), then "
      "store.master_key_file / TGPULSE_MASTER_KEY_FILE (or TGPULSE_MASTER_KEY); existing keys are encrypted at the "
      "next start",
      {{"store.keys_plain", static_cast<std::int64_t>(status.plain)}});
}

// Runs `task` on `io` and waits for it on the calling (main) thread. An exception that escapes the
// coroutine is not lost with the future: it comes back as an internal error naming `what`, logged once
// here.
template <typename T>
Result<T> run_and_wait(asio::io_context& io, asio::awaitable<T> task, const char* what, telemetry::Logger& logger) {
  std::future<T> done = asio::co_spawn(io, std::move(task), asio::use_future);
  try {
    if constexpr (std::is_void_v<T>) {
      done.get();
      return {};
    } else {
      return done.get();
    }
  } catch (const std::exception& e) {
    logger.error("Session layer task failed", {{"event.action", what}, {"error.message", e.what()}});
    return Error(Errc::internal, std::string(what) + " failed: " + e.what());
  } catch (...) {
    logger.error("Session layer task failed", {{"event.action", what}, {"error.message", "unknown exception"}});
    return Error(Errc::internal, std::string(what) + " failed: unknown exception");
  }
}

}  // namespace

// The session layer's io_context. discard_pending() destroys the handlers still queued — the frames of
// coroutines that outlived the shutdown wait — at a moment chosen by the owner (after the thread is
// joined, while the objects those frames name still exist) instead of in the destructor, after the
// members declared later are gone.
class SessionIoContext : public asio::io_context {
 public:
  void discard_pending() { shutdown(); }
};

struct SessionService::Impl {
  SessionServiceOptions options;
  Telemetry telemetry;
  SessionIoContext io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  // The cluster node (null without a cluster): before the store, so it outlives it — the store asks it
  // for each write's fence, up to the last flush of the last_used times. Its threads are joined in
  // stop() (finish_leaving), before anything they call into goes.
  std::unique_ptr<cluster::ClusterNode> cluster;
  std::unique_ptr<store::SessionStore> store;  // SQLite or PostgreSQL (StoreBackend)
  std::function<Status()> probe_store;         // the store's /readyz check (blocking)
  std::unique_ptr<store::AsyncSessionStore> async_store;  // the store on the Application's pool
  std::unique_ptr<store::TenantTokenCache> tokens;
  std::unique_ptr<store::LastUsedBatcher> last_used;
  // The tenants' update logs: before the engine (its clients hand every update to the hub).
  std::unique_ptr<store::UpdateLog> update_log;
  std::unique_ptr<updates::UpdateMetrics> update_metrics;
  std::unique_ptr<telemetry::PhoneLoginMetrics> phone_metrics;
  std::unique_ptr<telemetry::ProxyMetrics> proxy_metrics;
  std::unique_ptr<ClusterDeliveryMembership> delivery_membership;  // in a cluster; outlives the webhooks
  std::unique_ptr<updates::UpdateHub> hub;
  std::unique_ptr<updates::UpdateRoutes> update_routes;
  // The tenants' webhooks: after the hub (they read through it), stopped before it.
  std::unique_ptr<updates::SystemWebhookResolver> webhook_resolver;
  std::unique_ptr<updates::WebhookClient> webhook_client;
  std::unique_ptr<updates::WebhookDelivery> webhooks;
  std::unique_ptr<updates::WebhookRoutes> webhook_routes;
  std::unique_ptr<td::DlopenTdLibrary> library;
  std::unique_ptr<td::Engine> engine;
  std::unique_ptr<TdEngineClientFactory> engines;
  // quota.redis_url: the cluster-wide request quota, before the limits that consult it.
  std::shared_ptr<throttle::RedisClient> quota_redis;
  std::unique_ptr<throttle::SharedRequestQuota> shared_quota;
  std::unique_ptr<TenantLimits> limits;  // before the manager: sessions' listeners reach it until they go
  std::unique_ptr<AuthFailureLimiter> auth_failures;  // before the routes, which use it
  std::unique_ptr<SessionManager> manager;
  std::unique_ptr<throttle::Throttle> throttle;
  std::unique_ptr<throttle::FloodLedger> ledger;
  std::unique_ptr<throttle::InvokePipeline> invoke;
  std::unique_ptr<ScanSimulator> simulator;
  std::unique_ptr<SessionRoutes> routes;
  std::unique_ptr<telemetry::FileMetrics> file_metrics;  // before the file routes, which count into it
  std::unique_ptr<FileTransfers> files;
  std::unique_ptr<StorageProbe> probe;
  bool stopped = false;
  TaskGroup::Report tasks;

  Impl(SessionServiceOptions o, Telemetry t) : options(std::move(o)), telemetry(t) {}
};

SessionService::SessionService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SessionService::~SessionService() { stop(); }

Result<std::unique_ptr<SessionService>> SessionService::start(SessionServiceOptions options, Telemetry telemetry,
                                                             BlockingPool& store_pool) {
  if (Status st = options.sessions.validate(); !st) return st.error();
  Result<FunctionPolicy> policy = FunctionPolicy::make(options.invoke_policy);
  if (!policy) return policy.error();
  options.routes.invoke_policy = std::move(*policy);
  if (Status st = options.limits.validate(); !st) return st.error();
  auto impl = std::make_unique<Impl>(std::move(options), telemetry);
  Impl& m = *impl;
  const Clock& clock = SystemClock::instance();

  auto backend = StoreBackend::open(m.options.sessions.data_dir, m.options.store_master_key, m.options.store_postgres,
                                    clock);
  if (!backend) return backend.error();
  m.store = std::move(backend->sessions);
  m.update_log = std::move(backend->updates);
  m.probe_store = std::move(backend->probe);
  if (backend->postgres) telemetry.logger.info("session store on PostgreSQL", {{"store.location", backend->location}});
  // Before the engine and the sweep: a store that cannot account for the session directories (a new,
  // emptied or replaced database) is refused with nothing touched.
  if (Status st = SessionCleanup::check_store_accounts_for_data(*m.store, m.options.sessions); !st) {
    telemetry.logger.error("Session store refused", {{"error.message", st.error().message},
                                                     {"store.location", backend->location}});
    return Error(st.error().code, "session store: " + st.error().message);
  }
  report_stored_keys(backend->keys, telemetry);
  m.async_store = std::make_unique<store::AsyncSessionStore>(*m.store, store_pool);
  m.tokens = std::make_unique<store::TenantTokenCache>(m.options.store_access, clock);
  m.last_used = std::make_unique<store::LastUsedBatcher>(
      *m.store, m.options.store_access, [&logger = telemetry.logger](const Error& first, std::size_t failed) {
        logger.error("last_used_at could not be written; retried at the next flush",
                     {{"error.message", first.message}, {"sessions.failed", static_cast<std::int64_t>(failed)}});
      });
  m.last_used->start();

  m.update_metrics = std::make_unique<updates::UpdateMetrics>(telemetry.registry);
  if (m.options.cluster.enabled()) {
    // Other nodes write to the same update log: waiting readers and webhook deliveries look at it again
    // every second, and each tenant's webhook is delivered by one live node.
    if (m.options.updates.shared_log_recheck.count() == 0) m.options.updates.shared_log_recheck = std::chrono::seconds(1);
    m.delivery_membership = std::make_unique<ClusterDeliveryMembership>();
  }
  m.hub = std::make_unique<updates::UpdateHub>(
      m.io.get_executor(), store_pool, *m.update_log, clock, m.options.updates, *m.update_metrics,
      [&logger = telemetry.logger](const std::string& tenant_id, const Error& e, std::int64_t lost) {
        logger.error("Updates could not be written to the log", {{"tenant_id", tenant_id},
                                                                 {"error.message", e.message},
                                                                 {"updates.lost", lost}});
      });

  auto library = td::DlopenTdLibrary::load(m.options.td_library);
  if (!library) return Error(library.error().code, "td.library: " + library.error().message);
  m.library = std::move(*library);
  td::EngineOptions engine_options = m.options.engine;
  engine_options.known_methods = telemetry.metrics.known_methods();
  m.engine = std::make_unique<td::Engine>(m.io, *m.library, telemetry.registry, telemetry.metrics, telemetry.logger,
                                          engine_options);
  if (Status st = m.engine->start(); !st) return Error(st.error().code, "engine: " + st.error().message);
  m.engines = std::make_unique<TdEngineClientFactory>(*m.engine, m.hub.get());
  m.thread = std::thread([&io = m.io] { io.run(); });
  m.hub->start();
  m.webhook_resolver = std::make_unique<updates::SystemWebhookResolver>(m.options.updates.webhook.resolve_timeout);
  m.webhook_client = std::make_unique<updates::WebhookClient>(m.options.updates.webhook, *m.webhook_resolver);
  m.webhooks = std::make_unique<updates::WebhookDelivery>(
      updates::WebhookDelivery::Context{m.io.get_executor(), store_pool, *m.update_log, *m.hub, clock,
                                        *m.update_metrics, telemetry.registry, telemetry.logger, telemetry.tracer,
                                        m.delivery_membership.get()},
      m.options.updates,
      [client = m.webhook_client.get()](updates::WebhookUrl url, std::string body, std::string secret,
                                        std::int64_t timestamp, updates::WebhookConnections& connections) {
        return client->post(std::move(url), std::move(body), std::move(secret), timestamp, &connections);
      });
  m.hub->set_on_forget([webhooks = m.webhooks.get()](const std::string& tenant_id) { webhooks->forget_tenant(tenant_id); });
  if (Status st = m.webhooks->load(); !st) {
    telemetry.logger.error("Stored webhooks could not be read; their tenants' updates wait in the log",
                           {{"error.message", st.error().message}});
  }

  // The request path first, so the session manager can tell it about sessions that go away.
  throttle::ThrottleOptions throttle_options = m.options.throttle;
  throttle_options.flood = m.options.flood;
  m.throttle = std::make_unique<throttle::Throttle>(throttle_options, clock, telemetry.metrics, telemetry.registry,
                                                    telemetry.metrics.known_methods());
  m.ledger = std::make_unique<throttle::FloodLedger>(clock);
  m.invoke = std::make_unique<throttle::InvokePipeline>(*m.throttle, *m.ledger, m.options.flood, telemetry.metrics,
                                                        telemetry.logger);
  // Runs at each scrape. The registry outlives this service: the Application stops both HTTP listeners
  // (the only scrapers) before it destroys the service.
  auto& ledger_entries = telemetry.registry.gauge("tgpulse_flood_ledger_entries",
                                                  "(session, method) pairs whose FloodWait is still running").labels({});
  telemetry.registry.add_collect_hook([ledger = m.ledger.get(), &ledger_entries] {
    ledger_entries.set(static_cast<double>(ledger->active()));
  });

  if (m.options.cluster.enabled()) {
    // The node joins before the manager starts: the manager opens nothing it holds no lease for.
    auto* postgres = dynamic_cast<store::PostgresSessionStore*>(m.store.get());
    if (postgres == nullptr) return Error(Errc::invalid_argument, "cluster.node_id: a cluster needs the PostgreSQL store (store.url)");
    auto node = cluster::ClusterNode::open(m.options.cluster, m.options.store_postgres, telemetry.registry,
                                           telemetry.logger, store_pool);
    if (!node) return Error(node.error().code, "cluster: " + node.error().message);
    m.cluster = std::move(*node);
    m.delivery_membership->attach(m.cluster.get());
    if (Status st = m.cluster->join(); !st) return st.error();
    // Every session write now carries this node's lease epoch (a stale owner's write is refused).
    postgres->set_fence(std::shared_ptr<const store::SessionFence>(m.cluster.get(), [](const store::SessionFence*) {}));
  }
  m.phone_metrics = std::make_unique<telemetry::PhoneLoginMetrics>(telemetry.registry);
  m.proxy_metrics = std::make_unique<telemetry::ProxyMetrics>(telemetry.registry);
  m.manager = std::make_unique<SessionManager>(
      m.io.get_executor(), SessionServices{clock, *m.store, *m.engines, telemetry.metrics, telemetry.logger,
                                           telemetry.tracer, m.options.sessions, m.options.flood, &store_pool,
                                           m.hub.get(), m.phone_metrics.get(), m.proxy_metrics.get(),
                                           m.cluster.get()});
  // Set at each scrape (same lifetime argument as the ledger's).
  telemetry.registry.add_collect_hook([manager = m.manager.get(), pm = m.proxy_metrics.get()] {
    const SessionManager::ProxyCounts c = manager->proxy_counts();
    pm->sessions_ok->set(static_cast<double>(c.ok));
    pm->sessions_unreachable->set(static_cast<double>(c.unreachable));
    pm->sessions_unchecked->set(static_cast<double>(c.unchecked));
  });
  m.limits = std::make_unique<TenantLimits>(m.options.limits, clock, &telemetry.rejections);
  if (const throttle::SharedQuotaOptions& q = m.options.quota; q.enabled()) {
    // The cluster-wide request quota: the Redis client on the session io_context, connecting now.
    Result<throttle::RedisEndpoint> endpoint = throttle::RedisEndpoint::parse(q.redis_url);
    if (!endpoint) return Error(Errc::invalid_argument, "quota.redis_url: " + endpoint.error().message);
    m.quota_redis = throttle::RedisClient::make(
        m.io.get_executor(), throttle::RedisOptions{.host = endpoint->host, .port = endpoint->port, .db = endpoint->db,
                                                    .password = q.redis_password, .timeout = q.redis_timeout});
    m.quota_redis->connect();
    m.shared_quota = std::make_unique<throttle::SharedRequestQuota>(*m.quota_redis, clock, telemetry.registry,
                                                                    telemetry.logger, q.retry_interval);
    m.limits->set_shared_quota(m.shared_quota.get());
    telemetry.logger.info("tenant request quotas shared through Redis", {{"quota.redis_url", q.redis_url}});
  }
  // Process-wide slots held under the caps, set at each scrape (same lifetime argument as the ledger's).
  auto& held = telemetry.registry.gauge("tgpulse_tenant_limits_held",
                                        "Slots held under the per-tenant and process caps, process-wide, by kind",
                                        {"kind"});
  telemetry.registry.add_collect_hook([limits = m.limits.get(), sessions = &held.labels({"session"}),
                                       logins = &held.labels({"login"}), streams = &held.labels({"stream"})] {
    sessions->set(static_cast<double>(limits->held(TenantLimits::Kind::session)));
    logins->set(static_cast<double>(limits->held(TenantLimits::Kind::login)));
    streams->set(static_cast<double>(limits->held(TenantLimits::Kind::stream)));
  });
  m.manager->set_on_session_removed([invoke = m.invoke.get(), limits = m.limits.get()](const std::string& id) {
    invoke->forget_session(id);
    limits->session_ended(id);
  });
  Result<SessionManager::StartReport> started =
      run_and_wait(m.io, m.manager->start(), "session manager start", telemetry.logger);
  if (!started) {
    m.engine->stop();
    m.work.reset();
    m.io.stop();
    m.thread.join();
    return Error(started.error().code, "session manager: " + started.error().message);
  }
  // Sessions brought back up count against their tenant's caps (over the cap if need be: they exist).
  // Attach first, then look: one that is already gone was (or will be) released by the removal hook.
  if (Result<std::vector<store::SessionRecord>> all = m.store->list_all_sessions()) {
    for (const store::SessionRecord& r : *all) {
      if (r.state != store::SessionState::authorized) continue;
      m.limits->attach_restored(r.session_id, r.tenant_id);
      if (!m.manager->find(r.tenant_id, r.session_id)) m.limits->session_ended(r.session_id);
    }
  }

  if (m.cluster) {
    cluster::ClusterNode::Hooks hooks;
    hooks.adopt = [manager = m.manager.get(), limits = m.limits.get()](store::SessionRecord r) {
      const std::string id = r.session_id;
      const std::string tenant = r.tenant_id;
      const bool authorized = r.state == store::SessionState::authorized;
      if (!manager->adopt(std::move(r))) return false;
      if (authorized) limits->attach_restored(id, tenant);
      return true;
    };
    hooks.give_up = [manager = m.manager.get(), limits = m.limits.get()](const std::string& id, std::string why) {
      limits->session_ended(id);
      return manager->give_up(id, std::move(why));
    };
    hooks.find_record = [store = m.store.get()](const std::string& id) { return store->find_session(id); };
    m.cluster->start(std::move(hooks));
  }

  // Operator-mistake defences, mirrored at each scrape (the registry outlives this service, see above).
  auto& quarantined = telemetry.registry
                          .counter("tgpulse_sessions_quarantined_total",
                                   "Session directories without a store record moved to <data_dir>/quarantine")
                          .get();
  auto& pending = telemetry.registry
                      .gauge("tgpulse_session_cleanups_pending", "Failed session cleanups waiting for a retry")
                      .get();
  auto& stuck = telemetry.registry
                    .gauge("tgpulse_session_cleanups_stuck",
                           "Failed session cleanups that failed sessions.cleanup_stuck_after times or more")
                    .get();
  telemetry.registry.add_collect_hook([manager = m.manager.get(), &quarantined, &pending, &stuck,
                                       seen = std::make_shared<std::uint64_t>(0)] {
    const std::uint64_t now = manager->quarantined_directories();
    if (now > *seen) quarantined.inc(static_cast<double>(now - *seen));
    *seen = now;
    const CleanupRetryQueue::Summary retries = manager->cleanup_retries();
    pending.set(static_cast<double>(retries.pending));
    stuck.set(static_cast<double>(retries.stuck));
  });

  StorageProbeOptions probe_options;
  probe_options.data_dir = m.options.sessions.data_dir;
  probe_options.min_free_bytes = m.options.sessions.safety.min_free_bytes;
  probe_options.interval = m.options.sessions.safety.probe_interval;
  m.probe = std::make_unique<StorageProbe>(probe_options, clock, m.probe_store);
  m.probe->start();
  if (!m.options.simulator_control_address.empty()) {
    m.simulator = std::make_unique<TdsimControlClient>(m.options.simulator_control_address);
  }
  m.routes = std::make_unique<SessionRoutes>(*m.manager, RouteStore{*m.async_store, *m.tokens, *m.last_used},
                                             m.invoke.get(), m.simulator.get(),
                                             m.options.routes, &telemetry.rejections);
  m.routes->set_tenant_limits(m.limits.get());
  m.auth_failures = std::make_unique<AuthFailureLimiter>(m.options.limits, clock, &telemetry.rejections);
  m.routes->set_auth_failure_limiter(m.auth_failures.get());
  FileTransfersOptions file_options;
  file_options.max_upload_bytes = m.options.sessions.files_max_upload_bytes;
  file_options.max_bytes_per_tenant = m.options.sessions.files_max_bytes_per_tenant;
  file_options.download_timeout = m.options.sessions.files_download_timeout;
  m.file_metrics = std::make_unique<telemetry::FileMetrics>(telemetry.registry);
  m.files = std::make_unique<FileTransfers>(file_options, *m.manager, *m.routes, m.invoke.get(), m.file_metrics.get());
  m.routes->set_upload_check([files = m.files.get()](std::string_view session_id, std::string_view path) {
    return files->is_own_upload(session_id, path);
  });
  m.update_routes = std::make_unique<updates::UpdateRoutes>(
      *m.hub, m.routes->tenant_gate());
  m.webhook_routes = std::make_unique<updates::WebhookRoutes>(*m.hub, *m.webhooks, *m.webhook_resolver,
                                                              m.options.updates.webhook.allow_private,
                                                              m.routes->tenant_gate());
  return std::unique_ptr<SessionService>(new SessionService(std::move(impl)));
}

cluster::SessionLocator* SessionService::locator() { return impl_ ? impl_->cluster.get() : nullptr; }

void SessionService::add_routes(http::Router& router) {
  impl_->routes->add_to(router);
  impl_->files->add_to(router);
  impl_->update_routes->add_to(router);
  impl_->webhook_routes->add_to(router);
}

void SessionService::close_update_readers() {
  if (impl_ && impl_->hub) impl_->hub->close_readers();
}

void SessionService::add_readiness(http::ReadinessChecks& readiness) {
  Impl& m = *impl_;
  readiness.add("store", [probe = m.probe.get()] { return probe->store_status(); });
  readiness.add("data_dir", [probe = m.probe.get()] { return probe->data_dir_status(); });
  readiness.add("engine", [engine = m.engine.get()]() -> Status {
    if (!engine->running()) return Error(Errc::unavailable, "the TDLib engine is not running");
    constexpr auto kStale = std::chrono::seconds(5);
    const auto age = std::chrono::steady_clock::now() - engine->last_heartbeat();
    if (age > kStale) {
      return Error(Errc::unavailable,
                   "the TDLib receive loop has not turned for " +
                       std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()) + " s");
    }
    return {};
  });
  readiness.add("cleanup", [manager = m.manager.get(),
                            stuck_after = m.options.sessions.safety.cleanup_stuck_after]() -> Status {
    const CleanupRetryQueue::Summary s = manager->cleanup_retries();
    if (s.stuck == 0) return {};
    return Error(Errc::unavailable, std::to_string(s.stuck) + " session cleanup(s) failed " +
                                        std::to_string(stuck_after) + " times or more and are being retried (" +
                                        std::to_string(s.pending) + " pending; see the log)");
  });
}

void SessionService::stop() {
  if (!impl_ || impl_->stopped) return;
  Impl& m = *impl_;
  m.stopped = true;
  if (m.probe) m.probe->stop();
  if (m.files) m.files->stop();  // the HTTP server drained: no transfer starts another disk job
  // A leaving node takes no new sessions and claims nothing, but renews its leases while it closes.
  if (m.cluster) m.cluster->begin_leaving();
  if (m.manager && m.thread.joinable()) {
    // A failure is logged by run_and_wait; the engine and the io thread are stopped all the same.
    Result<std::vector<std::string>> outlived =
        run_and_wait(m.io, m.manager->stop(), "session manager stop", m.telemetry.logger);
    if (outlived) m.tasks.outlived = std::move(*outlived);
  }
  if (m.manager) {
    m.tasks.group = "sessions";
    m.tasks.spawned = m.manager->tasks_spawned();
  }
  if (m.last_used) m.last_used->stop();  // nothing marks any more: the HTTP server drained first
  // Every client is closed and its last use written (under the lease): hand the leases over so the
  // others take the sessions at once.
  if (m.cluster) m.cluster->finish_leaving();
  // After the sessions' last events (closed, revoked): what was accepted is written before the pool stops.
  // The webhooks first: a POST in flight ends within updates.webhook_timeout, its result reaches the log.
  if (m.webhooks) {
    const auto drain = m.options.updates.webhook.total_timeout + std::chrono::seconds(1);
    for (const std::string& task : m.webhooks->stop(std::chrono::duration_cast<std::chrono::milliseconds>(drain))) {
      m.tasks.outlived.push_back(task);
    }
  }
  if (m.hub) {
    for (const std::string& task : m.hub->stop(std::chrono::seconds(5))) m.tasks.outlived.push_back(task);
  }
  if (m.quota_redis) m.quota_redis->stop();  // the HTTP server drained: no request asks the quota
  if (m.engine) m.engine->stop();
  m.work.reset();
  m.io.stop();
  if (m.thread.joinable()) m.thread.join();
  // Nothing runs the io_context any more: what is still queued belongs to tasks that outlived the wait.
  // Destroy it now, while the manager, engine and store it names exist.
  m.io.discard_pending();
}

TaskGroup::Report SessionService::tasks() const { return impl_ ? impl_->tasks : TaskGroup::Report{}; }

}  // namespace tgpulse::session
