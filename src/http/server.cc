#include "http/server.h"

#include <array>
#include <map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/cancellable_sleep.h"
#include "http/connection.h"
#include "http/connection_budget.h"
#include "http/http_metrics.h"
#include "telemetry/logger.h"
#include "telemetry/rejections.h"

namespace tgpulse::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Server::Listener {
  explicit Listener(asio::io_context& ioc) : strand(asio::make_strand(ioc)), acceptor(strand) {}
  asio::any_io_executor strand;
  tcp::acceptor acceptor;
};

Server::Server(ServerOptions options, const Router& router, ServerTelemetry telemetry)
    : options_(std::move(options)),
      router_(router),
      telemetry_(telemetry),
      tasks_("http", [logger = telemetry.logger](const std::string& task, const std::string& what) {
        if (logger != nullptr) logger->error("http task failed", {{"task.name", task}, {"error.message", what}});
      }) {}

Server::~Server() { shutdown(); }

std::string Server::url() const {
  const bool v6 = options_.host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + options_.host + "]" : options_.host) + ":" + std::to_string(port());
}

Status Server::start() {
  if (started_) return Error(Errc::conflict, "server already started");
  if (options_.threads < 1) return Error(Errc::invalid_argument, "server needs at least one thread");
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options_.host, ec);
  if (ec) return Error(Errc::invalid_argument, "\"" + options_.host + "\" is not an IP address");
  const tcp::endpoint endpoint(address, options_.port);
  const std::string where = options_.host + ":" + std::to_string(options_.port);

  if (telemetry_.registry != nullptr) metrics_ = std::make_unique<HttpMetrics>(*telemetry_.registry, router_.routes());
  listener_ = std::make_shared<Listener>(ioc_);
  auto& acceptor = listener_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    listener_.reset();
    return Error(Errc::unavailable, "cannot listen on " + where + ": " + ec.message());
  }
  bound_port_.store(acceptor.local_endpoint().port());
  work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(ioc_.get_executor());
  // The server joins its tasks in drain() and destroys their frames (ioc_) before its other members.
  tasks_.spawn(listener_->strand, "http_accept_loop",
               [this](TaskGroup::Stop) { return accept_loop(); });  // lint: joined-owner
  threads_.reserve(static_cast<std::size_t>(options_.threads));
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this] {
      for (;;) {
        try {
          ioc_.run();
          return;
        } catch (const std::exception& e) {
          // A handler escaped with an exception: report it once and keep the thread serving.
          if (telemetry_.logger != nullptr) telemetry_.logger->error("io thread exception", {{"error.message", e.what()}});
        }
      }
    });
  }
  started_ = true;
  return {};
}

asio::awaitable<void> Server::accept_loop() {
  auto& acceptor = listener_->acceptor;
  while (true) {
    boost::system::error_code ec;
    asio::any_io_executor strand = asio::make_strand(ioc_);
    tcp::socket socket = co_await acceptor.async_accept(strand, asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_.load() || !acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of file descriptors and the like: the pending connection stays queued, so pause instead of
      // spinning, and say so at most every 10 s (with how many failed since).
      ++accept_errors_unlogged_;
      const auto now = std::chrono::steady_clock::now();
      if (telemetry_.logger != nullptr && now - last_accept_error_log_ >= std::chrono::seconds(10)) {
        telemetry_.logger->warn("http accept failed", {{"error.message", ec.message()},
                                                       {"http.accept_failures", static_cast<std::int64_t>(accept_errors_unlogged_)}});
        last_accept_error_log_ = now;
        accept_errors_unlogged_ = 0;
      }
      asio::steady_timer pause(listener_->strand, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    boost::system::error_code ignored;
    if (options_.max_connections != 0 && open_connections_.load() >= options_.max_connections) {
      if (telemetry_.rejections != nullptr) telemetry_.rejections->count(telemetry::RejectReason::connections_cap);
      if (refusing_.load() < kRefusalSlots) {
        refusing_.fetch_add(1);
        auto held = std::make_shared<tcp::socket>(std::move(socket));
        const bool spawned = tasks_.spawn(strand, "http_refusal", [this, held](TaskGroup::Stop) {  // lint: joined-owner
          return refuse_connection(std::move(*held));
        });
        if (!spawned) {
          refusing_.fetch_sub(1);
          held->close(ignored);
        }
      } else {
        socket.close(ignored);
      }
      continue;
    }
    open_connections_.fetch_add(1);
    socket.set_option(tcp::no_delay(true), ignored);
    auto connection = std::make_shared<Connection>(*this, std::move(socket));
    // Refused once the drain began: the connection is closed with no request read.
    tasks_.spawn(strand, "http_connection",
                 [connection](TaskGroup::Stop stop) { return connection->run(connection, std::move(stop)); });
  }
}

asio::awaitable<void> Server::refuse_connection(tcp::socket socket) {
  struct Slot {
    std::atomic<std::size_t>& refusing;
    ~Slot() { refusing.fetch_sub(1); }
  } slot{refusing_};
  static const std::string kAnswer = [] {
    const std::string body =
        R"({"error":{"code":"connections_cap","message":"the server holds its maximum of connections",)"
        R"("retry_after":1}})";
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
           "Connection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  boost::beast::tcp_stream stream(std::move(socket));
  boost::system::error_code ec;
  stream.expires_after(std::chrono::seconds(1));
  co_await asio::async_write(stream, asio::buffer(kAnswer), asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) {
    // The request is not read; take (and drop) what already arrived, a little, so closing does not reset
    // the connection before the client read the answer.
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::array<char, 4096> sink{};
    std::size_t total = 0;
    stream.expires_after(std::chrono::milliseconds(500));
    while (total < 64 * 1024) {
      const std::size_t n =
          co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      total += n;
    }
  }
  stream.socket().close(ec);
}

bool Server::spawn(const asio::any_io_executor& ex, std::string name, TaskGroup::Factory make_task) {
  return tasks_.spawn(ex, std::move(name), std::move(make_task));
}

TaskGroup::Report Server::tasks() const { return TaskGroup::Report{tasks_.name(), tasks_.spawned(), outlived_}; }

std::uint64_t Server::register_connection(const std::shared_ptr<Connection>& c) {
  std::lock_guard lock(conn_mu_);
  const std::uint64_t id = next_connection_id_++;
  connections_.emplace(id, c);
  return id;
}

void Server::unregister_connection(std::uint64_t id) {
  std::lock_guard lock(conn_mu_);
  connections_.erase(id);
}

std::size_t Server::live_connections() {
  std::lock_guard lock(conn_mu_);
  return connections_.size();
}

std::vector<std::string> Server::join_tasks(std::chrono::steady_clock::duration timeout, const char* stage) {
  std::vector<std::string> left = tasks_.wait_for(timeout);
  if (!left.empty() && telemetry_.logger != nullptr) {
    std::map<std::string, std::int64_t> by_name;
    for (const auto& name : left) ++by_name[name];
    std::string names;
    for (const auto& [name, n] : by_name) names += (names.empty() ? "" : ", ") + name + " x" + std::to_string(n);
    telemetry_.logger->warn("http tasks outlived the shutdown wait",
                            {{"shutdown.stage", stage}, {"tasks.outlived", static_cast<std::int64_t>(left.size())},
                             {"tasks.names", names}});
  }
  return left;
}

void Server::drain() {
  if (!started_ || drained_) return;
  drained_ = true;
  stopping_.store(true);
  // Holds the listener, not the server: the handler may run after the server is gone.
  asio::post(listener_->strand, [listener = listener_] {
    boost::system::error_code ignored;
    listener->acceptor.close(ignored);
  });
  // Connections: idle ones close, busy ones finish their request, event streams end (Connection::run's
  // stop callback). Requests waiting in a timer (throttle, FloodWait) are refused at once with 503 and
  // Retry-After: they never reached Telegram, and their waits may be longer than the grace period.
  tasks_.request_stop("shutdown");
  cancel_sleeps(ioc_);
  if (tasks_.wait_for(options_.shutdown_grace).empty()) return;
  const std::size_t left = live_connections();
  if (telemetry_.logger != nullptr) {
    telemetry_.logger->warn("http shutdown grace expired; closing connections",
                            {{"connections", static_cast<std::int64_t>(left)}});
  }
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lock(conn_mu_);
    for (auto& [id, weak] : connections_) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live) c->force_close();
  live.clear();
  outlived_ = join_tasks(std::chrono::seconds(1), "http drain");
}

void Server::stop() {
  if (!started_ || stopped_) return;
  drain();
  stopped_ = true;
  // Tasks that outlived the drain may have ended since (the areas stopped meanwhile): the report says
  // which are still running when the threads go.
  if (!outlived_.empty()) outlived_ = join_tasks(std::chrono::milliseconds(100), "http stop");
  work_.reset();
  ioc_.stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace tgpulse::http
