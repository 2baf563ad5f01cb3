// The server in-process over real loopback sockets: handler failures, event streams (events,
// heartbeats, waker, client gone, shutdown) and the graceful drain of in-flight requests.
#include "http/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "core/cancellable_sleep.h"
#include "http/sse_writer.h"
#include "telemetry/logger.h"
#include "telemetry/metrics.h"
#include "telemetry/rejections.h"
#include "telemetry/tracer.h"

namespace tgpulse::http {
namespace {

namespace asio = boost::asio;
using boost::beast::http::status;
using boost::beast::http::verb;
using namespace std::chrono_literals;

// A blocking loopback client: one connection, raw bytes.
class Client {
 public:
  explicit Client(std::uint16_t port) : Client(port, Connect::now) {}
  // `later` makes the socket now and connects on connect(): a test that takes every descriptor away
  // first needs its client's socket to exist before, as any other thread may take a freed one.
  enum class Connect { now, later };
  Client(std::uint16_t port, Connect when) : port_(port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) ADD_FAILURE() << "socket failed: " << std::strerror(errno);
    if (when == Connect::now) connect();
  }
  void connect() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ADD_FAILURE() << "connect failed: " << std::strerror(errno);
    }
  }
  Client(Client&& other) noexcept
      : port_(other.port_), fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)), closed_(other.closed_) {}
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void send(const std::string& data) { ASSERT_EQ(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size())); }
  // Reads until `needle` appears in what was read, the peer closes, or the timeout passes.
  std::string read_until(const std::string& needle, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buffer_.find(needle) == std::string::npos && !closed_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
    return buffer_;
  }
  std::string read_to_close(std::chrono::milliseconds timeout = 5s) { return read_until(std::string(1, '\0'), timeout); }
  bool closed() const { return closed_; }

 private:
  std::uint16_t port_ = 0;
  int fd_ = -1;
  std::string buffer_;
  bool closed_ = false;
};

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions options = {}, telemetry::Rejections* rejections = nullptr) {
    options.port = 0;
    log_path_ = std::filesystem::temp_directory_path() /
                ("tgpulse-server-test-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".log");
    std::filesystem::remove(log_path_);
    telemetry::LoggerOptions lo;
    lo.path = log_path_.string();
    logger_ = std::make_unique<telemetry::Logger>(lo);
    tracer_ = std::make_unique<telemetry::Tracer>(telemetry::TracerOptions{});  // exports nothing
    server_ = std::make_unique<Server>(options, router_, ServerTelemetry{&registry_, logger_.get(), tracer_.get(), rejections});
    ASSERT_TRUE(server_->start().ok());
  }
  void TearDown() override {
    if (server_) server_->shutdown();
    if (tracer_) tracer_->shutdown();
    if (logger_) logger_->shutdown();
    std::filesystem::remove(log_path_);
  }
  std::vector<nlohmann::json> log_lines() {
    logger_->flush();
    std::vector<nlohmann::json> out;
    std::ifstream in(log_path_);
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  static std::string get(const std::string& path) { return "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n"; }
  // Starts the server with `grace` and sends GET `path` on a new connection.
  Client start_with_request(std::chrono::milliseconds grace, const std::string& path) {
    ServerOptions o;
    o.shutdown_grace = grace;
    start(o);
    Client c(server_->port());
    c.send(get(path));
    return c;
  }
  // Polls a condition the test cannot be told about (the server's own state) for up to 10 s.
  template <typename Pred>
  static bool eventually(Pred pred) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!pred() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    return pred();
  }

  Router router_;
  telemetry::Registry registry_;
  std::filesystem::path log_path_;
  std::unique_ptr<telemetry::Logger> logger_;
  std::unique_ptr<telemetry::Tracer> tracer_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, ThrowingHandlerAnswers500JsonAndIsLoggedOnce) {
  router_.add(verb::get, "/boom", [](Request&) -> asio::awaitable<Response> {
    throw std::runtime_error("disk on fire");
    co_return Response{};
  });
  start();
  Client c(server_->port());
  c.send(get("/boom"));
  const std::string reply = c.read_until("}}");
  EXPECT_EQ(reply.rfind("HTTP/1.1 500 Internal Server Error\r\n", 0), 0u) << reply;
  EXPECT_NE(reply.find(R"({"error":{"code":"internal","message":"internal error"}})"), std::string::npos) << reply;
  EXPECT_EQ(reply.find("disk on fire"), std::string::npos) << "exception text leaked to the client";
  int failures = 0;
  for (const auto& line : log_lines()) {
    if (line["message"] == "http handler failed") {
      ++failures;
      EXPECT_EQ(line["error.message"], "disk on fire");
      EXPECT_EQ(line["http.route"], "/boom");
    }
  }
  EXPECT_EQ(failures, 1);
}

TEST_F(ServerTest, PathAndQueryParametersReachTheHandler) {
  router_.add(verb::get, "/v1/sessions/{id}/items", [](Request& req) -> asio::awaitable<Response> {
    co_return Response::json(status::ok, {{"id", req.param("id")},
                                          {"limit", std::string(req.query("limit").value_or("none"))},
                                          {"route", req.route}});
  });
  start();
  Client c(server_->port());
  c.send(get("/v1/sessions/a%20b/items?limit=5&x=1"));
  const std::string reply = c.read_until("}");
  EXPECT_NE(reply.find(R"({"id":"a b","limit":"5","route":"/v1/sessions/{id}/items"})"), std::string::npos) << reply;
}

TEST_F(ServerTest, EventStreamSendsEventsHeartbeatsAndEndsByClosing) {
  router_.add(verb::get, "/events", [](Request&) -> asio::awaitable<Response> {
    co_return Response::event_stream([](SseWriter& w) -> asio::awaitable<void> {
      co_await w.send("state", R"({"state":"waiting"})", "1");
      co_await w.wait(350ms);  // heartbeat every 100 ms meanwhile
      co_await w.send("", "line one\nline two");
    });
  });
  ServerOptions o;
  o.sse_heartbeat = 100ms;
  start(o);
  Client c(server_->port());
  c.send(get("/events"));
  const std::string all = c.read_to_close();
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(all.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << all;
  EXPECT_NE(all.find("Content-Type: text/event-stream\r\n"), std::string::npos) << all;
  EXPECT_NE(all.find("Cache-Control: no-store\r\n"), std::string::npos) << all;
  EXPECT_EQ(all.find("Content-Length"), std::string::npos) << all;
  const std::string body = all.substr(all.find("\r\n\r\n") + 4);
  const std::string first = "event: state\nid: 1\ndata: {\"state\":\"waiting\"}\n\n";
  const std::string last = "data: line one\ndata: line two\n\n";
  EXPECT_EQ(body.rfind(first, 0), 0u) << body;
  EXPECT_EQ(body.substr(body.size() - last.size()), last) << body;
  std::size_t heartbeats = 0;
  for (auto pos = body.find(": keep-alive\n\n"); pos != std::string::npos; pos = body.find(": keep-alive\n\n", pos + 1)) {
    ++heartbeats;
  }
  EXPECT_GE(heartbeats, 2u) << body;
}

TEST_F(ServerTest, EventStreamProducerNoticesTheClientLeaving) {
  std::promise<bool> gone;
  auto gone_future = gone.get_future();
  router_.add(verb::get, "/events", [&gone](Request&) -> asio::awaitable<Response> {
    co_return Response::event_stream([&gone](SseWriter& w) -> asio::awaitable<void> {
      co_await w.send("hello", "{}");
      while (co_await w.wait(10s)) {
      }
      gone.set_value(w.client_gone());
    });
  });
  start();
  {
    Client c(server_->port());
    c.send(get("/events"));
    c.read_until("data: {}\n\n");
  }  // the client closes its socket
  ASSERT_EQ(gone_future.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(gone_future.get());
}

TEST_F(ServerTest, WakerWakesAWaitingProducerFromAnotherThread) {
  std::promise<std::function<void()>> waker;
  auto waker_future = waker.get_future();
  router_.add(verb::get, "/events", [&waker](Request&) -> asio::awaitable<Response> {
    co_return Response::event_stream([&waker](SseWriter& w) -> asio::awaitable<void> {
      waker.set_value(w.waker());
      const auto t0 = std::chrono::steady_clock::now();
      const bool woken = co_await w.wait(30s);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
      co_await w.send("woke", woken && ms < 10s ? "early" : "late");
    });
  });
  start();
  Client c(server_->port());
  c.send(get("/events"));
  ASSERT_EQ(waker_future.wait_for(5s), std::future_status::ready);
  std::thread([wake = waker_future.get()] { wake(); }).join();
  EXPECT_NE(c.read_to_close().find("event: woke\ndata: early\n\n"), std::string::npos);
}

TEST_F(ServerTest, DrainFinishesInFlightRequestsAndEndsEventStreams) {
  std::atomic<bool> stream_saw_stop{false};
  std::promise<void> slow_entered;
  router_.add(verb::get, "/slow", [&slow_entered](Request& req) -> asio::awaitable<Response> {
    slow_entered.set_value();
    asio::steady_timer t(req.executor, 400ms);
    co_await t.async_wait(asio::use_awaitable);
    co_return Response::json(status::ok, {{"done", true}});
  });
  router_.add(verb::get, "/events", [&stream_saw_stop](Request&) -> asio::awaitable<Response> {
    co_return Response::event_stream([&stream_saw_stop](SseWriter& w) -> asio::awaitable<void> {
      co_await w.send("hello", "{}");
      while (co_await w.wait(60s)) {
      }
      stream_saw_stop = w.stopping();
    });
  });
  ServerOptions o;
  o.shutdown_grace = 5s;
  start(o);
  Client slow(server_->port());
  Client events(server_->port());
  Client idle(server_->port());
  events.send(get("/events"));
  events.read_until("data: {}\n\n");
  slow.send(get("/slow"));
  ASSERT_EQ(slow_entered.get_future().wait_for(5s), std::future_status::ready);  // the request is in its handler

  const auto t0 = std::chrono::steady_clock::now();
  server_->drain();
  const auto took = std::chrono::steady_clock::now() - t0;

  const std::string reply = slow.read_to_close();
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply;
  EXPECT_NE(reply.find("Connection: close\r\n"), std::string::npos) << reply;
  EXPECT_NE(reply.find(R"({"done":true})"), std::string::npos) << reply;
  events.read_to_close();
  EXPECT_TRUE(events.closed());
  EXPECT_TRUE(stream_saw_stop.load());
  idle.read_to_close(1s);
  EXPECT_TRUE(idle.closed());
  EXPECT_LT(took, 3s) << "drain waited for the grace period instead of the work";
  EXPECT_GE(took, 200ms) << "drain did not wait for the in-flight request";
}

TEST_F(ServerTest, DrainAnswersARequestWaitingInACancellableSleepWithARetryable503) {
  // The shape of an invoke waiting in the throttle: its wait may be far longer than the grace period.
  router_.add(verb::get, "/queued", [](Request&) -> asio::awaitable<Response> {
    const bool slept = co_await cancellable_sleep(1h);
    if (slept) co_return Response::json(status::ok, {{"done", true}});
    Error e(Errc::unavailable, "shutting down");
    e.retry_after_s = 1;
    co_return Response::from_error(e);
  });
  Client queued = start_with_request(30s, "/queued");
  // Handshake: the handler's wait is registered.
  ASSERT_TRUE(eventually([this] { return pending_sleeps(server_->io_context()) == 1; }));

  const auto t0 = std::chrono::steady_clock::now();
  server_->drain();
  const auto took = std::chrono::steady_clock::now() - t0;

  const std::string reply = queued.read_to_close();
  EXPECT_EQ(reply.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << reply;
  EXPECT_NE(reply.find("Retry-After: 1\r\n"), std::string::npos) << reply;
  EXPECT_LT(took, 5s) << "the drain waited for the sleep instead of ending it";
  const TaskGroup::Report report = server_->tasks();
  EXPECT_TRUE(report.outlived.empty());
  EXPECT_GE(report.spawned, 2u);  // the accept loop and the connection
}

TEST_F(ServerTest, AHandlerThatIgnoresTheStopIsCancelledAfterTheGraceAndNamedIfItLingers) {
  // A handler awaiting a plain timer nobody cancels: the grace runs out, the connection is
  // force-closed, and the task that outlives the last second is named in the log and the report.
  auto reached = std::make_shared<std::atomic<bool>>(false);
  router_.add(verb::get, "/stuck", [reached](Request& req) -> asio::awaitable<Response> {
    asio::steady_timer t(req.executor, 1h);
    reached->store(true);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return Response::json(status::ok, {{"done", true}});
  });
  Client stuck = start_with_request(200ms, "/stuck");
  ASSERT_TRUE(eventually([reached] { return reached->load(); }));

  server_->drain();
  const TaskGroup::Report report = server_->tasks();
  ASSERT_EQ(report.outlived.size(), 1u);
  EXPECT_EQ(report.outlived[0], "http_connection");
  bool logged = false;
  for (const auto& line : log_lines()) {
    if (line.value("message", "") == "http tasks outlived the shutdown wait") {
      logged = line.value("tasks.names", "").find("http_connection") != std::string::npos;
    }
  }
  EXPECT_TRUE(logged);
  // The client was not left hanging on an open socket: the forced close reached it.
  stuck.read_to_close(2s);
  EXPECT_TRUE(stuck.closed());
}

TEST_F(ServerTest, RequestsAreCountedByRoutePattern) {
  router_.add(verb::get, "/items/{id}", [](Request&) -> asio::awaitable<Response> {
    co_return Response::error(status::conflict, "conflict", "not now");
  });
  start();
  for (int i = 0; i < 3; ++i) {
    Client c(server_->port());
    c.send(get("/items/" + std::to_string(i)));
    c.read_until("}}");
  }
  // A request is counted once its response has been written, so the last one may land just after the
  // client has read it.
  const std::string counted = "tgpulse_http_requests_total{route=\"/items/{id}\",code=\"409\"} 3\n";
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text = registry_.expose(telemetry::ExpositionFormat::prometheus_text_004);
    if (text.find(counted) != std::string::npos) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_NE(text.find(counted), std::string::npos) << text;
  EXPECT_NE(text.find("tgpulse_http_request_duration_seconds_count{route=\"/items/{id}\"} 3\n"), std::string::npos);
}

TEST_F(ServerTest, DurationExemplarsComeFromSampledRequestsOnly) {
  router_.add(verb::get, "/x", [](Request&) -> asio::awaitable<Response> { co_return Response{}; });
  start();
  const std::string unsampled = "11111111111111111111111111111111";
  const std::string sampled = "22222222222222222222222222222222";
  for (const auto& [trace, flags] : {std::pair{sampled, "01"}, std::pair{unsampled, "00"}}) {
    Client c(server_->port());
    c.send("GET /x HTTP/1.1\r\nHost: t\r\ntraceparent: 00-" + trace + "-3333333333333333-" + flags + "\r\n\r\n");
    const std::string reply = c.read_until("\r\n\r\n");
    EXPECT_NE(reply.find("traceparent: 00-" + trace + "-"), std::string::npos) << reply;
  }
  // The unsampled request comes last: were it recorded, it would replace the sampled exemplar in its
  // bucket. Both are counted once their responses are written.
  std::string text;
  for (int i = 0; i < 200 && text.find("tgpulse_http_request_duration_seconds_count{route=\"/x\"} 2") == std::string::npos; ++i) {
    std::this_thread::sleep_for(10ms);
    text = registry_.expose(telemetry::ExpositionFormat::openmetrics_100);
  }
  EXPECT_NE(text.find("trace_id=\"" + sampled + "\""), std::string::npos) << text;
  EXPECT_EQ(text.find(unsampled), std::string::npos) << text;
}

// Request smuggling: one framing only. Every ambiguous Transfer-Encoding is refused with 400 and the
// connection closed, and what followed the head never reaches a handler as a request of its own.
TEST_F(ServerTest, AmbiguousTransferEncodingIsRefusedAndClosed) {
  std::atomic<int> calls{0};
  router_.add(verb::post, "/echo", [&calls](Request& req) -> asio::awaitable<Response> {
    ++calls;
    co_return Response::json(status::ok, {{"body", req.body}});
  });
  router_.add(verb::get, "/smuggled", [&calls](Request&) -> asio::awaitable<Response> {
    calls += 100;
    co_return Response::json(status::ok, {{"smuggled", true}});
  });
  start();
  const std::string chunked_body = "5\r\nhello\r\n0\r\n\r\n";
  const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
  const std::vector<std::string> heads = {
      "Transfer-Encoding: gzip, chunked\r\n",
      "Transfer-Encoding: chunked, identity\r\n",
      "Transfer-Encoding: identity\r\n",
      "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
      "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n",
      "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
      "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
      "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n",
      "Transfer-Encoding: xchunked\r\n",
  };
  for (const std::string& head : heads) {
    Client c(server_->port());
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\n" + head + "\r\n" + chunked_body + smuggled);
    const std::string reply = c.read_to_close();
    EXPECT_TRUE(c.closed()) << head;
    EXPECT_EQ(reply.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << head << reply;
    EXPECT_NE(reply.find("\"code\":\"bad_request\""), std::string::npos) << head << reply;
    EXPECT_EQ(reply.find("HTTP/1.1", 1), std::string::npos) << "a second answer: " << head << reply;
  }
  EXPECT_EQ(calls.load(), 0);

  // Exactly "chunked" (any case, surrounding blanks) still works, on a connection that stays open.
  Client ok(server_->port());
  ok.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:  Chunked \r\n\r\n" + chunked_body);
  const std::string reply = ok.read_until("}");
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply;
  EXPECT_NE(reply.find(R"({"body":"hello"})"), std::string::npos) << reply;
  EXPECT_FALSE(ok.closed());
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(ServerTest, ConnectionsOverTheCapAreAnswered503AndCountedAndSlotsComeBack) {
  router_.add(verb::get, "/ok", [](Request&) -> asio::awaitable<Response> {
    co_return Response::json(status::ok, {{"ok", true}});
  });
  telemetry::Rejections rejections(registry_);
  ServerOptions o;
  o.max_connections = 2;
  start(o, &rejections);
  Client a(server_->port());
  Client b(server_->port());
  a.send(get("/ok"));
  b.send(get("/ok"));
  ASSERT_NE(a.read_until("}").find("200 OK"), std::string::npos);  // both hold their slot (keep-alive)
  ASSERT_NE(b.read_until("}").find("200 OK"), std::string::npos);
  EXPECT_EQ(server_->open_connections(), 2u);

  // The third is answered without its request being read, and closed.
  Client c(server_->port());
  const std::string refused = c.read_to_close();
  EXPECT_NE(refused.find("HTTP/1.1 503"), std::string::npos) << refused;
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos) << refused;
  EXPECT_NE(refused.find("Connection: close"), std::string::npos) << refused;
  EXPECT_NE(refused.find(R"("code":"connections_cap")"), std::string::npos) << refused;
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(rejections.value(telemetry::RejectReason::connections_cap), 1);

  // A slot given back serves the next connection.
  a.close();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (server_->open_connections() > 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  Client d(server_->port());
  d.send(get("/ok"));
  EXPECT_NE(d.read_until("}").find("200 OK"), std::string::npos);
}

TEST_F(ServerTest, AFloodOverTheCapNeverStopsTheServer) {
  router_.add(verb::get, "/ok", [](Request&) -> asio::awaitable<Response> {
    co_return Response::json(status::ok, {{"ok", true}});
  });
  telemetry::Rejections rejections(registry_);
  ServerOptions o;
  o.max_connections = 1;
  start(o, &rejections);
  Client held(server_->port());
  std::vector<std::unique_ptr<Client>> flood;
  for (int i = 0; i < 200; ++i) flood.push_back(std::make_unique<Client>(server_->port()));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (rejections.value(telemetry::RejectReason::connections_cap) < 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(rejections.value(telemetry::RejectReason::connections_cap), 200);
  EXPECT_EQ(server_->open_connections(), 1u);
  flood.clear();
  held.send(get("/ok"));
  EXPECT_NE(held.read_until("}").find("200 OK"), std::string::npos);
}

TEST_F(ServerTest, AcceptKeepsGoingThroughEmfileAndServesOnceDescriptorsAreBack) {
#if defined(__SANITIZE_ADDRESS__)
  // UBSan's vptr check proves memory readable by writing it to a pipe; with no descriptor left it cannot
  // make one and reports every dynamic type as invalid. The plain build runs this test.
  GTEST_SKIP() << "the sanitizer runtime needs the descriptors this test takes away";
#endif
  router_.add(verb::get, "/ok", [](Request&) -> asio::awaitable<Response> {
    co_return Response::json(status::ok, {{"ok", true}});
  });
  start();
  std::ifstream log(log_path_);
  ASSERT_TRUE(log.is_open());
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  // Leave the process no spare descriptor: clients connect (the kernel queues them) but the server's
  // accept fails with EMFILE.
  const int lowest_free = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(lowest_free + 64);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  // The client's socket is made while descriptors remain; connecting needs none. Freeing one for it
  // after the table is full would race every other thread of the process (the logger, the server's
  // own threads) for that one slot.
  std::vector<std::unique_ptr<Client>> queued;
  queued.push_back(std::make_unique<Client>(server_->port(), Client::Connect::later));
  std::vector<int> fds;
  for (int fd = ::open("/dev/null", O_RDONLY); fd >= 0; fd = ::open("/dev/null", O_RDONLY)) fds.push_back(fd);
  ASSERT_GE(fds.size(), 4u);
  // The server has no descriptor left to accept the connection with.
  queued.back()->connect();
  // The accept loop meets EMFILE (and says so) before descriptors come back: the log is read through the
  // stream opened before the descriptors ran out.
  bool logged = false;
  for (const auto deadline = std::chrono::steady_clock::now() + 10s; !logged && std::chrono::steady_clock::now() < deadline;) {
    logger_->flush();
    for (std::string line; std::getline(log, line);) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      logged = logged || (j.is_object() && j.value("message", "") == "http accept failed");
    }
    log.clear();  // at the end of what is written so far; more may come
    if (!logged) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(logged);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  for (int fd : fds) ::close(fd);
  fds.clear();
  // The queued connection is accepted now and served, and so is a new one.
  queued.push_back(std::make_unique<Client>(server_->port()));
  for (auto& c : queued) c->send(get("/ok"));
  for (auto& c : queued) EXPECT_NE(c->read_until("}").find("200 OK"), std::string::npos);
}

// --- streamed responses and streamed request bodies ---------------------------------------------

// A handler that produces `pieces` pieces of `piece` bytes each ('a' + piece index) but declares
// `declared` bytes.
Handler producing(std::size_t pieces, std::size_t piece, std::uint64_t declared) {
  return [=](Request&) -> asio::awaitable<Response> {
    co_return Response::streamed(status::ok, "application/octet-stream", declared,
                                 [=](BodyWriter& out) -> asio::awaitable<void> {
                                   for (std::size_t i = 0; i < pieces; ++i) {
                                     const std::string bytes(piece, static_cast<char>('a' + i % 26));
                                     asio::awaitable<bool> writing = out.write(bytes);
                                     if (!co_await std::move(writing)) co_return;
                                   }
                                 });
  };
}

TEST_F(ServerTest, AStreamedResponseSendsItsDeclaredLengthInPiecesAndKeepsTheConnection) {
  router_.add(verb::get, "/file", producing(3, 100000, 300000));
  start();
  Client c(server_->port());
  c.send(get("/file"));
  std::string reply = c.read_until(std::string(100000, 'c'));
  ASSERT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply.substr(0, 200);
  EXPECT_NE(reply.find("Content-Length: 300000\r\n"), std::string::npos);
  const std::size_t body_at = reply.find("\r\n\r\n") + 4;
  const std::string body = reply.substr(body_at);
  ASSERT_EQ(body.size(), 300000u);
  EXPECT_EQ(body, std::string(100000, 'a') + std::string(100000, 'b') + std::string(100000, 'c'));
  // The same connection serves the next request; HEAD sends the head only.
  c.send("HEAD /file HTTP/1.1\r\nHost: t\r\n\r\n" + get("/nothing-here"));
  reply = c.read_until("no such path");
  EXPECT_FALSE(c.closed());
  const std::string rest = reply.substr(body_at + 300000);
  EXPECT_EQ(rest.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << rest;
  EXPECT_NE(rest.find("Content-Length: 300000\r\n"), std::string::npos) << rest;
  EXPECT_EQ(rest.find("\r\n\r\nHTTP/1.1 404"), rest.find("\r\n\r\n")) << "HEAD sends no body: " << rest;
}

TEST_F(ServerTest, AStreamedResponseThatStopsShortOfItsLengthClosesTheConnection) {
  router_.add(verb::get, "/short", producing(1, 10, 1000));
  start();
  Client c(server_->port());
  c.send(get("/short") + get("/short"));
  const std::string reply = c.read_to_close();
  EXPECT_TRUE(c.closed());
  EXPECT_NE(reply.find("Content-Length: 1000\r\n"), std::string::npos);
  EXPECT_EQ(reply.substr(reply.find("\r\n\r\n") + 4), std::string(10, 'a'));
  EXPECT_EQ(reply.find("HTTP/1.1", 1), std::string::npos) << "the second request must not be answered";
}

// Reads the whole streamed body in 64 KiB pieces; answers its size and a byte sum, or the error.
Handler reading_all() {
  return [](Request& req) -> asio::awaitable<Response> {
    if (req.body_reader == nullptr || !req.body.empty()) co_return Response::json(status::internal_server_error, {});
    std::vector<char> piece(64 * 1024);
    std::uint64_t size = 0, sum = 0;
    while (true) {
      asio::awaitable<Result<std::size_t>> reading = req.body_reader->read(piece);
      Result<std::size_t> n = co_await std::move(reading);
      if (!n) co_return Response::from_error(n.error());
      if (*n == 0) break;
      size += *n;
      for (std::size_t i = 0; i < *n; ++i) sum += static_cast<unsigned char>(piece[i]);
    }
    co_return Response::json(status::ok, {{"size", size}, {"sum", sum}});
  };
}

TEST_F(ServerTest, AStreamedBodyRouteReadsAnUploadPastTheServersBodyLimitInPieces) {
  router_.add(verb::post, "/upload", reading_all(), RouteOptions{true, 4 * 1024 * 1024});
  router_.add(verb::post, "/echo", [](Request& req) -> asio::awaitable<Response> {
    co_return Response::json(status::ok, {{"size", req.body.size()}});
  });
  ServerOptions o;
  o.body_limit = 1024;
  start(o);
  const std::string body(3 * 1024 * 1024, 'x');
  Client c(server_->port());
  c.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  std::string reply = c.read_until("}");
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply;
  EXPECT_NE(reply.find(R"({"size":3145728,"sum":)" + std::to_string(3145728ull * 'x') + "}"), std::string::npos) << reply;
  EXPECT_FALSE(c.closed());
  // A chunked upload on the same connection; then the server's own limit still holds for other routes.
  c.send("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n");
  reply = c.read_until(R"("size":8)");
  EXPECT_NE(reply.find(R"({"size":8,"sum":)" + std::to_string(int('h') + 'e' + 'l' + 'l' + 'o' + 'a' + 'b' + 'c') + "}"),
            std::string::npos)
      << reply;
  Client other(server_->port());
  other.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n" + std::string(2000, 'y'));
  const std::string refused = other.read_to_close();
  EXPECT_EQ(refused.rfind("HTTP/1.1 413 Payload Too Large\r\n", 0), 0u) << refused;
  EXPECT_NE(refused.find("larger than the limit of 1024 bytes"), std::string::npos) << refused;
}

TEST_F(ServerTest, AStreamedBodyOverTheRoutesLimitIsRefusedBeforeOrWhileItIsRead) {
  std::atomic<int> calls{0};
  Handler inner = reading_all();
  router_.add(verb::post, "/upload", [&calls, inner](Request& req) { ++calls; return inner(req); },
              RouteOptions{true, 1000});
  start();
  Client declared(server_->port());
  declared.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
  std::string reply = declared.read_to_close();
  EXPECT_EQ(reply.rfind("HTTP/1.1 413 Payload Too Large\r\n", 0), 0u) << reply;
  EXPECT_NE(reply.find("larger than the limit of 1000 bytes"), std::string::npos) << reply;
  EXPECT_EQ(calls.load(), 0) << "a declared length over the limit never reaches the handler";

  Client chunked(server_->port());
  chunked.send("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" "3e8\r\n" +
               std::string(1000, 'z') + "\r\n" "1\r\nz\r\n0\r\n\r\n");
  reply = chunked.read_to_close();
  EXPECT_EQ(reply.rfind("HTTP/1.1 413 Payload Too Large\r\n", 0), 0u) << reply;
  EXPECT_TRUE(chunked.closed());
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(ServerTest, ExpectContinueIsAnsweredOnlyWhenTheHandlerReadsTheBody) {
  router_.add(verb::post, "/upload", reading_all(), RouteOptions{true, 1 << 20});
  router_.add(verb::post, "/refuse", [](Request&) -> asio::awaitable<Response> {
    co_return Response::error(status::unauthorized, "unauthorized", "no token");
  }, RouteOptions{true, 1 << 20});
  start();
  Client refused(server_->port());
  refused.send("POST /refuse HTTP/1.1\r\nHost: t\r\nContent-Length: 500000\r\nExpect: 100-continue\r\n\r\n");
  std::string reply = refused.read_to_close();
  EXPECT_EQ(reply.rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u) << "no 100 Continue before a refusal: " << reply;
  EXPECT_TRUE(refused.closed()) << "an unread body is not taken for the next request";

  Client accepted(server_->port());
  accepted.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  reply = accepted.read_until("\r\n\r\n");
  EXPECT_EQ(reply, "HTTP/1.1 100 Continue\r\n\r\n");
  accepted.send("abcd");
  reply = accepted.read_until("}");
  EXPECT_NE(reply.find(R"({"size":4,)"), std::string::npos) << reply;
}

}  // namespace
}  // namespace tgpulse::http
