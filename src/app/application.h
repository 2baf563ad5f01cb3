// Application: the wiring of `tgpulse serve`. It owns every long-lived part and makes their order
// explicit:
//
//   start():  Logger → Registry + TelethonMetrics (+ self-metrics) → Tracer → the store pool
//             (BlockingPool "store": store.pool_threads, store.pool_max_queued) → [areas: store, engine,
//             session manager — constructed here, after telemetry] → Router (standard routes, then the
//             areas' routes) → ReadinessChecks → http::Server (listen, threads) → the admin
//             http::Server when server.admin_listen is set (/healthz, /readyz, /metrics; one thread)
//   stop():   Server::drain (stop accepting, finish in-flight requests within server.shutdown_grace,
//             end event streams) → [areas, in reverse order] → the store pool (finishes admitted
//             calls) → Server::stop (io threads) → admin
//             Server (last, so /readyz answers 503 "shutting down" through the drain) →
//             "Shutdown complete" (tasks started, joined, outlived) → Tracer::shutdown (flush spans) →
//             Logger::shutdown (flush logs)
//
// Executors: the HTTP server's io_context (server.threads threads), the admin listener's (one thread)
// and the session layer's (one thread, owned by SessionService). HTTP handlers await into the session
// layer, never the reverse (the session layer only posts answers back to an awaiting handler's own
// executor), so the session layer is stopped after the HTTP drain and destroyed after the HTTP server
// (members below, in that order); every coroutine belongs to the TaskGroup of the part that runs it
// ("http", "sessions", "admin_http"), which joins it on stop.
//
// To wire a new area: add its owner (unique_ptr) below in construction order, build it in start() at
// the marked place, register its routes and readiness checks there, and stop it in stop() at the
// marked place.
//
// Signals: block_termination_signals() must run before any thread is started (first thing in main);
// wait_for_stop() then receives SIGINT/SIGTERM synchronously (sigtimedwait), so no signal handler runs
// in an arbitrary thread.
//
// Thread-safety: start(), wait_for_stop() and stop() are called from the main thread;
// request_stop() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "app/config.h"
#include "core/result.h"
#include "http/readiness_checks.h"
#include "http/router.h"

namespace tgpulse::telemetry {
class Logger;
class Registry;
class TelethonMetrics;
class Tracer;
class Rejections;
}  // namespace tgpulse::telemetry

namespace tgpulse {
class BlockingPool;
}

namespace tgpulse::http {
class Server;
}

namespace tgpulse::cluster {
class RequestForwarder;
}

namespace tgpulse::session {
class SessionService;
}

namespace tgpulse::app {

// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread it starts later).
void block_termination_signals();

class Application {
 public:
  explicit Application(Config config);
  ~Application();  // stop()
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  // Builds and starts everything; on failure (a bad tracer environment, the address cannot be bound)
  // what was started is stopped again and the error says what failed.
  Status start();
  // Returns when SIGINT/SIGTERM arrives or request_stop() is called; returns the signal number (0 for
  // request_stop()).
  int wait_for_stop();
  void request_stop() noexcept { stop_requested_.store(true); }
  // Graceful shutdown in the order above. Idempotent.
  void stop();

  const Config& config() const noexcept { return config_; }
  std::string url() const;        // "http://127.0.0.1:8080" once started
  std::string admin_url() const;  // the admin listener's URL once started; "" when it is off
  telemetry::Logger& logger() noexcept { return *logger_; }
  telemetry::Registry& registry() noexcept { return *registry_; }
  telemetry::TelethonMetrics& metrics() noexcept { return *metrics_; }
  telemetry::Tracer& tracer() noexcept { return *tracer_; }
  http::Router& router() noexcept { return router_; }
  http::ReadinessChecks& readiness() noexcept { return readiness_; }

 private:
  void register_self_metrics();
  // The last line of a shutdown, "Shutdown complete": tasks started, joined and outlived, by group.
  void report_tasks(std::chrono::milliseconds took);

  Config config_;
  std::atomic<bool> stop_requested_{false};
  bool started_ = false;
  bool stopped_ = false;

  // Construction order (start()); destruction is explicit in stop().
  std::unique_ptr<telemetry::Logger> logger_;
  std::unique_ptr<telemetry::Registry> registry_;
  std::unique_ptr<telemetry::TelethonMetrics> metrics_;
  std::unique_ptr<telemetry::Rejections> rejections_;
  std::unique_ptr<telemetry::Tracer> tracer_;
  // [areas: store, engine, session manager — owners go here]
  std::unique_ptr<BlockingPool> store_pool_;           // store and filesystem calls, off the event loops
  std::unique_ptr<session::SessionService> sessions_;  // store + engine + session manager + their routes
  http::Router router_;
  // In a cluster (cluster.node_id): router_'s routes with the session-scoped ones forwarded to the
  // session's owner node; the server serves this one then.
  std::unique_ptr<cluster::RequestForwarder> forwarder_;
  http::Router cluster_router_;
  http::ReadinessChecks readiness_;
  std::unique_ptr<http::Server> server_;
  http::Router admin_router_;                   // /healthz, /readyz, /metrics only
  std::unique_ptr<http::Server> admin_server_;  // null unless server.admin_listen is set
};

}  // namespace tgpulse::app
