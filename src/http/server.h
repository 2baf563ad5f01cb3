// Server: the HTTP/1.1 server (Boost.Beast, C++20 coroutines). One io_context run by `threads`
// threads; each connection is a coroutine on its own strand. For every request it assigns a request id
// (X-Request-Id), opens a server span "HTTP <method> <route>" as a child of an incoming W3C
// `traceparent` (echoed back as `traceparent`), routes through the Router (404, 405 with Allow), runs the
// handler, answers JSON errors for every failure it produces itself (malformed request line/header/
// Content-Length → 400, body over the limit → 413, headers over the limit → 431, a handler that
// throws → 500, logged once), counts it in HttpMetrics and writes the access log line "http request".
//
// Timeouts: an idle keep-alive connection is closed after idle_timeout; once the first byte of a
// request arrived, the whole request must arrive within read_timeout; each response write must finish
// within write_timeout.
//
// Connections: at most max_connections are served at once; one more is accepted and answered
// `503 connections_cap` with Retry-After and Connection: close without reading its request (at most
// kRefusalSlots such answers at once, beyond that it is closed at once), and counted in
// tgpulse_rejected_total{reason="connections_cap"}. An accept that fails (EMFILE, ENFILE, ...) is
// retried after a pause, logged at most every 10 s: the loop never spins and never ends on it.
//
// Shutdown: stop accepting, close idle connections, refuse requests waiting in a timer (throttle,
// FloodWait: 503 with Retry-After, via cancel_sleeps), let in-flight requests finish (their responses
// carry Connection: close), end event streams, and after `shutdown_grace` cancel and close whatever is
// left, then wait one more second.
//
// Tasks: every coroutine the server starts — the accept loop, each connection (with the handlers it
// runs), each 503 refusal, each event stream's disconnect watcher — belongs to the server's TaskGroup
// "http"; drain() asks them to stop and joins them, and names (in the log and in tasks()) those that
// outlived the wait. They run on strands of io_context(); handlers may await other executors (the
// session layer's), which must outlive the server's threads (Application stops them in that order).
//
// Thread-safety: start() and shutdown() are called from one controlling thread (not from a handler);
// port(), url(), stopping(), io_context() and spawn() are thread-safe. The Router must not change after
// start().
#pragma once

#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp uses std::exchange without it

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "core/task_group.h"
#include "http/router.h"
#include "http/server_options.h"
#include "http/sse_writer.h"

namespace tgpulse::telemetry {
class Registry;
class Logger;
class Tracer;
class Rejections;
}  // namespace tgpulse::telemetry

namespace tgpulse::http {

class HttpMetrics;
class Connection;

// What the server reports to; any pointer may be null (then that signal is not produced).
struct ServerTelemetry {
  telemetry::Registry* registry = nullptr;  // tgpulse_http_* metrics
  telemetry::Logger* logger = nullptr;      // access log, handler failures
  telemetry::Tracer* tracer = nullptr;      // server spans
  telemetry::Rejections* rejections = nullptr;  // tgpulse_rejected_total (connection cap, ...)
};

class Server {
 public:
  Server(ServerOptions options, const Router& router, ServerTelemetry telemetry);
  ~Server();  // shutdown() if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the threads. Fails (Errc::unavailable) when the address cannot be bound.
  Status start();
  // The bound port (useful with port 0) and "http://host:port".
  std::uint16_t port() const noexcept { return bound_port_.load(); }
  std::string url() const;
  bool stopping() const noexcept { return stopping_.load(); }
  // The server's io_context, for areas that want to run their coroutines and timers on its threads.
  boost::asio::io_context& io_context() noexcept { return ioc_; }
  // Graceful stop (see above), bounded by options.shutdown_grace plus one second to close the rest.
  // The threads keep running (other areas may still need them to wind down). Idempotent.
  void drain();
  // Stops the io_context and joins the threads. Idempotent; drains first if needed.
  void stop();
  void shutdown() { drain(); stop(); }

  // Starts a coroutine owned by the server's task group (used by Connection); false once draining.
  bool spawn(const boost::asio::any_io_executor& ex, std::string name, TaskGroup::Factory make_task);
  // What the drain left: the tasks started and the names of those that outlived it (after stop()).
  TaskGroup::Report tasks() const;

  // Connection bookkeeping (used by Connection).
  std::uint64_t register_connection(const std::shared_ptr<Connection>& c);
  void unregister_connection(std::uint64_t id);
  // A Connection was destroyed: its slot under max_connections is free.
  void connection_closed() noexcept { open_connections_.fetch_sub(1); }
  // Connections currently holding a slot (tests, gauges).
  std::size_t open_connections() const noexcept { return open_connections_.load(); }
  const ServerOptions& options() const noexcept { return options_; }
  const Router& router() const noexcept { return router_; }
  HttpMetrics* metrics() const noexcept { return metrics_.get(); }
  const ServerTelemetry& telemetry() const noexcept { return telemetry_; }

 private:
  struct Listener;
  boost::asio::awaitable<void> accept_loop();
  // Answers one connection over the cap with 503 and closes it (bounded in time).
  boost::asio::awaitable<void> refuse_connection(boost::asio::ip::tcp::socket socket);
  std::size_t live_connections();
  // Joins the task group within `timeout`; logs the names of the tasks that outlive it.
  std::vector<std::string> join_tasks(std::chrono::steady_clock::duration timeout, const char* stage);

  ServerOptions options_;
  const Router& router_;
  ServerTelemetry telemetry_;
  std::unique_ptr<HttpMetrics> metrics_;
  std::atomic<std::uint16_t> bound_port_{0};
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  bool drained_ = false;
  bool stopped_ = false;

  std::mutex conn_mu_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections_;
  std::uint64_t next_connection_id_ = 1;

  std::atomic<std::size_t> open_connections_{0};  // accepted and not yet destroyed
  std::atomic<std::size_t> refusing_{0};          // connections being answered 503
  std::chrono::steady_clock::time_point last_accept_error_log_{};  // accept loop only
  std::uint64_t accept_errors_unlogged_ = 0;                       // accept loop only

  std::vector<std::string> outlived_;  // after drain(): tasks that did not end in time

  TaskGroup tasks_;  // accept loop, connections, refusals, disconnect watchers
  std::vector<std::thread> threads_;
  // Declared last: destroyed first, so pending coroutine frames die while the members they use live.
  boost::asio::io_context ioc_;
  std::shared_ptr<Listener> listener_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
};

}  // namespace tgpulse::http
