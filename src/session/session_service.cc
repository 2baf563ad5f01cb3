#include "session/session_service.h"

#include <cstdlib>
#include <future>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "session/scan_simulator.h"
#include "session/session_manager.h"
#include "session/td_engine_client_factory.h"
#include "store/sqlite_session_store.h"
#include "td/engine.h"
#include "td/td_library.h"
#include "throttle/flood_ledger.h"
#include "throttle/invoke_pipeline.h"
#include "throttle/throttle.h"

namespace asio = boost::asio;

namespace tgpulse::session {

struct SessionService::Impl {
  SessionServiceOptions options;
  Telemetry telemetry;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  std::unique_ptr<store::SqliteSessionStore> store;
  std::unique_ptr<td::DlopenTdLibrary> library;
  std::unique_ptr<td::Engine> engine;
  std::unique_ptr<TdEngineClientFactory> engines;
  std::unique_ptr<TenantLimits> limits;  // before the manager: sessions' listeners reach it until they go
  std::unique_ptr<SessionManager> manager;
  std::unique_ptr<throttle::Throttle> throttle;
  std::unique_ptr<throttle::FloodLedger> ledger;
  std::unique_ptr<throttle::InvokePipeline> invoke;
  std::unique_ptr<ScanSimulator> simulator;
  std::unique_ptr<SessionRoutes> routes;
  bool stopped = false;

  Impl(SessionServiceOptions o, Telemetry t) : options(std::move(o)), telemetry(t) {}
};

SessionService::SessionService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SessionService::~SessionService() { stop(); }

Result<std::unique_ptr<SessionService>> SessionService::start(SessionServiceOptions options, Telemetry telemetry) {
  if (Status st = options.sessions.validate(); !st) return st.error();
  if (Status st = options.limits.validate(); !st) return st.error();
  auto impl = std::make_unique<Impl>(std::move(options), telemetry);
  Impl& m = *impl;
  const Clock& clock = SystemClock::instance();

  store::SqliteStoreOptions store_options;
  store_options.data_dir = m.options.sessions.data_dir;
  auto store = store::SqliteSessionStore::open(store_options, clock);
  if (!store) return Error(store.error().code, "session store: " + store.error().message);
  m.store = std::move(*store);

  auto library = td::DlopenTdLibrary::load(m.options.td_library);
  if (!library) return Error(library.error().code, "td.library: " + library.error().message);
  m.library = std::move(*library);
  td::EngineOptions engine_options;
  engine_options.tdlib_log_verbosity = m.options.td_verbosity;
  engine_options.default_request_timeout = m.options.td_request_timeout;
  m.engine = std::make_unique<td::Engine>(m.io, *m.library, telemetry.registry, telemetry.metrics, telemetry.logger,
                                          engine_options);
  if (Status st = m.engine->start(); !st) return Error(st.error().code, "engine: " + st.error().message);
  m.engines = std::make_unique<TdEngineClientFactory>(*m.engine);
  m.thread = std::thread([&io = m.io] { io.run(); });

  // The request path first, so the session manager can tell it about sessions that go away.
  throttle::ThrottleOptions throttle_options = m.options.throttle;
  throttle_options.flood = m.options.flood;
  m.throttle = std::make_unique<throttle::Throttle>(throttle_options, clock, telemetry.metrics, telemetry.registry,
                                                    telemetry::CatalogOptions{}.known_methods);
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

  m.manager = std::make_unique<SessionManager>(
      m.io.get_executor(), SessionServices{clock, *m.store, *m.engines, telemetry.metrics, telemetry.logger,
                                           telemetry.tracer, m.options.sessions});
  m.limits = std::make_unique<TenantLimits>(m.options.limits, clock, &telemetry.rejections);
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
  auto started = asio::co_spawn(m.io, m.manager->start(), asio::use_future);
  started.wait();
  // Sessions brought back up count against their tenant's caps (over the cap if need be: they exist).
  // Attach first, then look: one that is already gone was (or will be) released by the removal hook.
  if (Result<std::vector<store::SessionRecord>> all = m.store->list_all_sessions()) {
    for (const store::SessionRecord& r : *all) {
      if (r.state != store::SessionState::authorized) continue;
      m.limits->attach_restored(r.session_id, r.tenant_id);
      if (!m.manager->find(r.tenant_id, r.session_id)) m.limits->session_ended(r.session_id);
    }
  }
  std::string control = m.options.simulator_control_address;
  if (control.empty()) {
    if (const char* env = std::getenv("TDSIM_CONTROL_ADDR")) control = env;
  }
  if (!control.empty()) m.simulator = std::make_unique<TdsimControlClient>(control);
  m.routes = std::make_unique<SessionRoutes>(*m.manager, *m.store, m.invoke.get(), m.simulator.get(),
                                             m.options.routes);
  m.routes->set_tenant_limits(m.limits.get());
  return std::unique_ptr<SessionService>(new SessionService(std::move(impl)));
}

void SessionService::add_routes(http::Router& router) { impl_->routes->add_to(router); }

void SessionService::stop() {
  if (!impl_ || impl_->stopped) return;
  Impl& m = *impl_;
  m.stopped = true;
  if (m.manager && m.thread.joinable()) {
    auto stopped = asio::co_spawn(m.io, m.manager->stop(), asio::use_future);
    stopped.wait();
  }
  if (m.engine) m.engine->stop();
  m.work.reset();
  m.io.stop();
  if (m.thread.joinable()) m.thread.join();
}

}  // namespace tgpulse::session
