#include "app/application.h"

#include "app/config_wiring.h"

#include <csignal>
#include <ctime>
#include <filesystem>

#include "cluster/forwarding_routes.h"
#include "cluster/request_forwarder.h"
#include "core/blocking_pool.h"
#include "http/connection_budget.h"
#include "http/server.h"
#include "session/session_service.h"
#include "http/openapi_route.h"
#include "http/standard_routes.h"
#include "telemetry/logger.h"
#include "telemetry/metrics.h"
#include "telemetry/rejections.h"
#include "telemetry/telethon_metrics.h"
#include "telemetry/tracer.h"

namespace tgpulse::app {

namespace {

sigset_t termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// tgpulse_blocking_pool_queue_depth / _rejected_total{pool}, mirrored from the pool at each scrape. The
// registry outlives the pool's users: both HTTP listeners (the only scrapers) stop before it goes.
void register_pool_metrics(telemetry::Registry& registry, const BlockingPool& pool) {
  const std::string name = pool.options().name;
  auto& depth = registry
                    .gauge("tgpulse_blocking_pool_queue_depth",
                           "Jobs admitted to a blocking pool (queued + running), by pool", {"pool"})
                    .labels({name});
  auto& rejected = registry
                       .counter("tgpulse_blocking_pool_rejected_total",
                                "Jobs a full blocking pool refused (answered 503 with Retry-After), by pool", {"pool"})
                       .labels({name});
  registry.add_collect_hook([&pool, &depth, &rejected, seen = std::make_shared<std::uint64_t>(0)] {
    depth.set(static_cast<double>(pool.admitted()));
    const std::uint64_t now = pool.rejected();
    if (now > *seen) rejected.inc(static_cast<double>(now - *seen));
    *seen = now;
  });
}

}  // namespace

void block_termination_signals() {
  const sigset_t set = termination_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Application::Application(Config config) : config_(std::move(config)) {}

Application::~Application() { stop(); }

std::string Application::url() const { return server_ ? server_->url() : std::string(); }

std::string Application::admin_url() const { return admin_server_ ? admin_server_->url() : std::string(); }

Status Application::start() {
  if (started_) return Error(Errc::conflict, "application already started");
  started_ = true;

  // 1. Logs first, so everything after can report.
  logger_ = std::make_unique<telemetry::Logger>(logger_options(config_));

  // 2. Metrics: the seed catalog under the configured namespace, and the process's own.
  registry_ = std::make_unique<telemetry::Registry>();
  // Methods the operator throttles are labels of their own, never "other" (bounded: see method_labels).
  std::size_t labels_left_out = 0;
  const telemetry::CatalogOptions catalog = catalog_options(config_, &labels_left_out);
  if (labels_left_out > 0) {
    logger_->warn(std::to_string(labels_left_out) + " throttled methods beyond the first " +
                  std::to_string(throttle::ThrottleOptions::kMaxConfiguredMethodLabels) +
                  " get no metric label of their own: they are reported as \"other\"");
  }
  metrics_ = std::make_unique<telemetry::TelethonMetrics>(*registry_, catalog);
  rejections_ = std::make_unique<telemetry::Rejections>(*registry_);

  // 3. Traces, configured by the standard OTEL_* environment.
  telemetry::TracerOptions trace_options;
  std::string trace_error;
  if (!telemetry::TracerOptions::from_env(&trace_options, &trace_error)) {
    return Error(Errc::invalid_argument, "config: " + trace_error);
  }
  tracer_ = std::make_unique<telemetry::Tracer>(trace_options);
  register_self_metrics();
  // store.master_key_file, store.url_password_file, quota.redis_password_file: read by the loader; a file others can read defeats it.
  for (const auto& [key, path] : {std::pair<const char*, const std::string&>{"store.master_key_file",
                                                                            config_.store.master_key_file},
                                  {"store.url_password_file", config_.store.postgres.password_file},
                                  {"quota.redis_password_file", config_.quota.redis_password_file}}) {
    if (path.empty()) continue;
    std::error_code key_ec;
    const auto perms = std::filesystem::status(path, key_ec).permissions();
    if (!key_ec && (perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) !=
                       std::filesystem::perms::none) {
      logger_->warn(std::string(key) + " can be read by other users than its owner: chmod 600 it",
                    {{"file.path", path}});
    }
  }

  // 4. [areas: store, engine, session manager — construct here; they may use logger_, metrics_,
  //    tracer_, and server_->io_context() once the server exists (or their own executors).]
  {
    store_pool_ = std::make_unique<BlockingPool>(store_pool_options(config_));
    register_pool_metrics(*registry_, *store_pool_);
    auto sessions = session::SessionService::start(session_service_options(config_),
                                                   {*registry_, *metrics_, *logger_, *tracer_, *rejections_},
                                                   *store_pool_);
    if (!sessions) return Error(sessions.error().code, "sessions: " + sessions.error().message);
    sessions_ = std::move(*sessions);
  }

  // 5. Routes and readiness.
  http::add_standard_routes(router_, readiness_, *registry_);
  // [areas: register routes here, e.g. session::add_routes(router_, *sessions_)]
  sessions_->add_routes(router_);
  // The contract of every route above (src/session/openapi_contract_test.cc assembles the same table).
  http::add_openapi_route(router_);
  sessions_->add_readiness(readiness_);
  const http::Router* served = &router_;
  if (cluster::SessionLocator* locator = sessions_->locator()) {
    // Any node answers: a session's requests go to the node holding its lease (docs/scaling.md).
    forwarder_ = std::make_unique<cluster::RequestForwarder>(
        config_.cluster.node_id, cluster::ForwarderOptions{},
        cluster::ForwarderTelemetry{registry_.get(), logger_.get(), tracer_.get()});
    cluster_router_ = cluster::forwarding_router(router_, *locator, *forwarder_);
    served = &cluster_router_;
  }

  // 6. HTTP server.
  const http::ServerOptions server_options = main_server_options(config_);
  server_ = std::make_unique<http::Server>(server_options, *served,
                                           http::ServerTelemetry{registry_.get(), logger_.get(), tracer_.get(), rejections_.get()});
  readiness_.add("shutdown", [server = server_.get()]() -> Status {
    if (server->stopping()) return Error(Errc::unavailable, "shutting down");
    return {};
  });
  if (auto s = server_->start(); !s) {
    logger_->error("http server cannot start", {{"error.message", s.error().message}});
    return s;
  }

  // 7. The admin listener: the same health, readiness and metrics routes on their own thread and accept
  //    queue, so a flood of requests (or of connections) on the main listener cannot delay a probe.
  if (std::optional<http::ServerOptions> admin_options = admin_server_options(config_)) {
    http::add_standard_routes(admin_router_, readiness_, *registry_);
    admin_server_ = std::make_unique<http::Server>(*admin_options, admin_router_,
                                                   http::ServerTelemetry{registry_.get(), logger_.get(), tracer_.get(), rejections_.get()});
    if (auto s = admin_server_->start(); !s) {
      logger_->error("admin http server cannot start",
                     {{"error.message", s.error().message}, {"server.admin_listen", config_.admin_listen()}});
      return Error(s.error().code, "server.admin_listen: " + s.error().message);
    }
  }
  std::error_code ec;
  logger_->info("tgpulse started",
                {{"url.full", server_->url()},
                 {"server.admin_listen", admin_server_ ? admin_server_->url() : std::string("off")},
                 {"service.version", std::string(TGPULSE_VERSION)},
                 {"td.library", config_.td.library},
                 {"td.library_present", std::filesystem::is_regular_file(config_.td.library, ec)},
                 {"store.data_dir", config_.session.data_dir},
                 {"metrics.namespace", config_.metrics.ns},
                 {"server.threads", config_.server.threads},
                 {"server.max_connections", static_cast<std::int64_t>(server_options.max_connections)}});
  return {};
}

void Application::register_self_metrics() {
  // Counters mirrored from the logger and tracer at each scrape (delta since the previous scrape).
  auto& log_dropped = registry_->counter("tgpulse_log_lines_dropped_total",
                                         "Log lines dropped because the log queue was full").get();
  auto& spans_dropped = registry_->counter("tgpulse_spans_dropped_total",
                                           "Spans dropped: queue full, or the collector refused or was away").get();
  auto& spans_exported = registry_->counter("tgpulse_spans_exported_total",
                                            "Spans exported to the OTLP collector").get();
  registry_->add_collect_hook([this, &log_dropped, &spans_dropped, &spans_exported,
                               seen = std::make_shared<std::array<std::uint64_t, 3>>()]() {
    auto mirror = [](telemetry::Counter& c, std::uint64_t now, std::uint64_t& last) {
      if (now > last) c.inc(static_cast<double>(now - last));
      last = now;
    };
    mirror(log_dropped, logger_->dropped(), (*seen)[0]);
    mirror(spans_dropped, tracer_->dropped_spans(), (*seen)[1]);
    mirror(spans_exported, tracer_->exported_spans(), (*seen)[2]);
  });
}

void Application::report_tasks(std::chrono::milliseconds took) {
  if (!logger_) return;
  std::vector<TaskGroup::Report> reports;
  if (server_) reports.push_back(server_->tasks());
  if (sessions_) reports.push_back(sessions_->tasks());
  if (admin_server_) {
    reports.push_back(admin_server_->tasks());
    reports.back().group = "admin_http";
  }
  std::uint64_t spawned = 0;
  std::uint64_t outlived = 0;
  std::string names;  // "group/task" of each task that outlived its group's wait
  for (const auto& r : reports) {
    spawned += r.spawned;
    outlived += r.outlived.size();
    for (const auto& n : r.outlived) {
      if (names.size() < 1024) names += (names.empty() ? "" : ", ") + r.group + "/" + n;
    }
  }
  const auto joined = static_cast<std::int64_t>(spawned - outlived);
  const auto ns = static_cast<std::int64_t>(took.count()) * 1'000'000;
  if (outlived == 0) {
    logger_->info("Shutdown complete", {{"tasks.spawned", static_cast<std::int64_t>(spawned)},
                                        {"tasks.joined", joined},
                                        {"tasks.outlived", std::int64_t{0}},
                                        {"event.duration", ns}});
  } else {
    logger_->warn("Shutdown complete", {{"tasks.spawned", static_cast<std::int64_t>(spawned)},
                                        {"tasks.joined", joined},
                                        {"tasks.outlived", static_cast<std::int64_t>(outlived)},
                                        {"tasks.names", names},
                                        {"event.duration", ns}});
  }
}

int Application::wait_for_stop() {
  const sigset_t set = termination_signals();
  const timespec tick{0, 100'000'000};  // 100 ms: how quickly request_stop() is noticed
  while (!stop_requested_.load()) {
    siginfo_t info;
    const int sig = sigtimedwait(&set, &info, &tick);
    if (sig > 0) {
      if (logger_) logger_->info("shutdown requested", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
      return sig;
    }
  }
  return 0;
}

void Application::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  const auto begun = std::chrono::steady_clock::now();
  // 1. Stop taking requests; let in-flight ones finish within the grace period; end event streams.
  if (sessions_) sessions_->close_update_readers();  // waiting long polls answer now, not at the drain's end
  if (server_) server_->drain();
  // Forwarded requests still open after the drain (event streams) end now, answered or closed.
  if (forwarder_) forwarder_->stop();
  // 2. [areas, reverse order: session manager, engine, store — stop here while io threads still run]
  if (sessions_) sessions_->stop();
  // The store pool after the areas (their last store calls ran) and before the io threads (a finished
  // job resumes its caller there).
  if (store_pool_) store_pool_->stop();
  // 3. The io threads.
  if (server_) server_->stop();
  // 4. The admin listener last: probes saw /readyz fail ("shutting down") through the whole drain.
  if (admin_server_) admin_server_->shutdown();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - begun);
  report_tasks(took);
  if (logger_) logger_->info("tgpulse stopped", {{"event.duration", static_cast<std::int64_t>(took.count()) * 1'000'000}});
  // 5. Flush spans, then logs (last: the tracer may still log).
  if (tracer_) tracer_->shutdown(std::chrono::seconds(5));
  if (logger_) logger_->shutdown();
}

}  // namespace tgpulse::app
