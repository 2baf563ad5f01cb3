#include "cluster/request_forwarder.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <thread>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "cluster/forwarding_routes.h"
#include "http/server.h"
#include "http/sse_writer.h"
#include "telemetry/metrics.h"
#include "telemetry/tracer.h"

namespace tgpulse::cluster {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using bhttp::status;
using bhttp::verb;
using namespace std::chrono_literals;

// A blocking loopback client on raw bytes (what a load balancer would pass on).
class Client {
 public:
  explicit Client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ADD_FAILURE() << "connect failed: " << std::strerror(errno);
    }
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      ASSERT_GT(n, 0) << std::strerror(errno);
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // Reads until `needle` appears, the peer closes, or the timeout passes; returns all read so far.
  const std::string& read_until(std::string_view needle, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buffer_.find(needle) == std::string::npos && !closed_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
    return buffer_;
  }
  const std::string& read_to_close(std::chrono::milliseconds timeout = 10s) {
    return read_until(std::string_view("\0\0never\0", 8), timeout);
  }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  std::string buffer_;
  bool closed_ = false;
};

struct Answer {
  unsigned status = 0;
  bhttp::fields headers;
  std::string body;
  std::string header(std::string_view name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : std::string(it->value());
  }
};

// Parses one whole response (the connection was closed after it).
Answer parse(const std::string& raw) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.body_limit(64 * 1024 * 1024);
  boost::system::error_code ec;
  parser.put(asio::buffer(raw), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  Answer a;
  if (ec || !parser.is_done()) {
    ADD_FAILURE() << "no whole response (" << ec.message() << "): " << raw.substr(0, 300);
    return a;
  }
  a.status = parser.get().result_int();
  a.headers = static_cast<const bhttp::fields&>(parser.get());
  a.body = parser.get().body();
  return a;
}

std::string request(std::string_view method, std::string_view target, std::string_view extra_headers = {},
                    std::string_view body = {}) {
  std::string r = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n";
  r += extra_headers;
  if (!body.empty() || method == "POST") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += "\r\n";
  r += body;
  return r;
}

Answer exchange(std::uint16_t port, const std::string& raw) {
  Client c(port);
  c.send(raw);
  return parse(c.read_to_close());
}

// Deterministic bytes for bodies checked byte for byte.
std::string pattern_bytes(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::uint32_t x = 2463534242u + seed;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xff);
  }
  return s;
}

class FakeLocator final : public SessionLocator {
 public:
  explicit FakeLocator(std::string self) : self_(std::move(self)) {}
  const std::string& self_node() const override { return self_; }
  asio::awaitable<Location> locate(std::string session_id) override {
    std::lock_guard lock(mu_);
    asks_.push_back(std::move(session_id));
    co_return location_;
  }
  asio::awaitable<Result<std::vector<NodeAddress>>> peers() override { co_return std::vector<NodeAddress>{}; }
  std::optional<NodeAddress> placement() override {
    std::lock_guard lock(mu_);
    return placement_;
  }
  void set(Where where, NodeAddress owner = {}) {
    std::lock_guard lock(mu_);
    location_ = Location{where, std::move(owner)};
  }
  void set_placement(std::optional<NodeAddress> node) {
    std::lock_guard lock(mu_);
    placement_ = std::move(node);
  }
  std::vector<std::string> asks() {
    std::lock_guard lock(mu_);
    return asks_;
  }

 private:
  std::string self_;
  std::mutex mu_;
  Location location_;
  std::optional<NodeAddress> placement_;
  std::vector<std::string> asks_;
};

// What the owner's handlers saw, for the test to check.
struct Seen {
  std::mutex mu;
  std::vector<std::pair<std::string, bhttp::fields>> requests;  // target, headers
  std::function<void()> wake_stream;                            // the event stream's waker
  void record(const http::Request& req) {
    std::lock_guard lock(mu);
    requests.emplace_back(req.target, req.headers);
  }
  std::optional<std::pair<std::string, bhttp::fields>> last() {
    std::lock_guard lock(mu);
    if (requests.empty()) return std::nullopt;
    return requests.back();
  }
};

asio::awaitable<void> write_pattern(std::string bytes, http::BodyWriter& writer) {
  std::string_view rest = bytes;
  while (!rest.empty()) {
    const std::string_view piece = rest.substr(0, 100 * 1024);
    asio::awaitable<bool> writing = writer.write(piece);
    if (!co_await std::move(writing)) co_return;
    rest.remove_prefix(piece.size());
  }
}

// Sends "one", waits until the test wakes it (at most 20 s), then sends "two" and ends the stream.
asio::awaitable<void> two_events(std::shared_ptr<Seen> seen, http::SseWriter& writer) {
  {
    std::lock_guard lock(seen->mu);
    seen->wake_stream = writer.waker();
  }
  asio::awaitable<bool> first = writer.send("state", "one");
  if (!co_await std::move(first)) co_return;
  asio::awaitable<bool> waiting = writer.wait(20s);
  if (!co_await std::move(waiting)) co_return;
  asio::awaitable<bool> second = writer.send("state", "two");
  co_await std::move(second);
}

// The owner node's handlers (what session_routes/file_transfers would answer).
asio::awaitable<http::Response> owner_get_session(std::shared_ptr<Seen> seen, http::Request& req) {
  seen->record(req);
  if (req.param("id") == "missing") co_return http::Response::error(status::not_found, "not_found", "no such session");
  co_return http::Response::json(status::ok, {{"id", std::string(req.param("id"))}, {"served_by", "owner"}})
      .with_header("X-Owner-Note", "kept")
      .with_header("Content-Disposition", "inline");
}

asio::awaitable<http::Response> owner_invoke(std::shared_ptr<Seen> seen, http::Request& req) {
  seen->record(req);
  co_return http::Response::error(status::too_many_requests, "flood_wait", "wait")
      .with_header("Retry-After", "7");
}

asio::awaitable<http::Response> owner_download(std::shared_ptr<Seen> seen, http::Request& req) {
  seen->record(req);
  const std::string bytes = pattern_bytes(5 * 1024 * 1024, 1);
  http::Response res = http::Response::streamed(
      status::partial_content, "application/octet-stream", bytes.size(),
      [bytes](http::BodyWriter& w) { return write_pattern(bytes, w); });
  res.with_header("Content-Range", "bytes 0-" + std::to_string(bytes.size() - 1) + "/" + std::to_string(bytes.size() + 10));
  res.with_header("Accept-Ranges", "bytes");
  co_return res;
}

asio::awaitable<http::Response> owner_upload(std::shared_ptr<Seen> seen, http::Request& req) {
  seen->record(req);
  if (req.body_reader == nullptr) co_return http::Response::error(status::bad_request, "no_reader", "no body reader");
  if (!req.header("X-Refuse").empty()) co_return http::Response::error(status::forbidden, "quota", "refused unread");
  std::string got;
  std::vector<char> piece(32 * 1024);
  std::size_t largest = 0;
  while (true) {
    asio::awaitable<Result<std::size_t>> reading = req.body_reader->read(std::span<char>(piece));
    Result<std::size_t> n = co_await std::move(reading);
    if (!n) co_return http::Response::from_error(n.error());
    if (*n == 0) break;
    largest = std::max(largest, *n);
    got.append(piece.data(), *n);
  }
  co_return http::Response::json(status::created, {{"size", got.size()}, {"same", got == pattern_bytes(got.size(), 2)}});
}

asio::awaitable<http::Response> owner_events(std::shared_ptr<Seen> seen, http::Request& req) {
  seen->record(req);
  co_return http::Response::event_stream([seen](http::SseWriter& w) { return two_events(seen, w); });
}

asio::awaitable<http::Response> owner_create_qr(std::shared_ptr<Seen> seen, http::Request& req) {
  seen->record(req);
  co_return http::Response::json(status::created, {{"served_by", "owner"}});
}

asio::awaitable<http::Response> answer_local(std::string who, http::Request&) {
  co_return http::Response::json(status::ok, {{"served_by", who}});
}

class ForwardingTest : public ::testing::Test {
 protected:
  // Both nodes have the same route table; the front node's local handlers answer {"served_by":"front"}.
  void SetUp() override {
    seen_ = std::make_shared<Seen>();
    auto s = seen_;
    owner_routes_.add(verb::get, "/v1/sessions/{id}", [s](http::Request& r) { return owner_get_session(s, r); });
    owner_routes_.add(verb::post, "/v1/sessions/{id}/invoke", [s](http::Request& r) { return owner_invoke(s, r); });
    owner_routes_.add(verb::get, "/v1/sessions/{id}/files/{file_id}", [s](http::Request& r) { return owner_download(s, r); });
    owner_routes_.add(verb::post, "/v1/sessions/{id}/files", [s](http::Request& r) { return owner_upload(s, r); },
                      http::RouteOptions{true, 10 * 1024 * 1024});
    owner_routes_.add(verb::get, "/v1/qr-logins/{id}/events", [s](http::Request& r) { return owner_events(s, r); });
    owner_routes_.add(verb::post, "/v1/qr-logins", [s](http::Request& r) { return owner_create_qr(s, r); });
    owner_routes_.add(verb::get, "/v1/sessions", [](http::Request& r) { return answer_local("owner", r); });
    for (const http::Route& route : owner_routes_.routes()) {
      front_routes_.add(route.method, route.pattern, [](http::Request& r) { return answer_local("front", r); },
                        route.options);
    }

    // The owner also wraps its routes: its locator says the sessions are its own (a test that wants a
    // stale view sets it to a dead node).
    owner_locator_.set(SessionLocator::Where::here);
    owner_forwarder_ = std::make_unique<RequestForwarder>("node-b", ForwarderOptions{}, ForwarderTelemetry{});
    owner_router_ = forwarding_router(owner_routes_, owner_locator_, *owner_forwarder_);
    owner_tracer_ = std::make_unique<telemetry::Tracer>(telemetry::TracerOptions{});
    owner_ = std::make_unique<http::Server>(server_options(), owner_router_, http::ServerTelemetry{nullptr, nullptr, owner_tracer_.get()});
    ASSERT_TRUE(owner_->start().ok());

    front_tracer_ = std::make_unique<telemetry::Tracer>(telemetry::TracerOptions{});
    ForwarderOptions front_options;
    front_options.exchange_timeout = 3s;  // the timeout test waits it out; every other answer is quick
    forwarder_ = std::make_unique<RequestForwarder>("node-a", front_options,
                                                    ForwarderTelemetry{&registry_, nullptr, front_tracer_.get()});
    front_router_ = forwarding_router(front_routes_, locator_, *forwarder_);
    front_ = std::make_unique<http::Server>(server_options(), front_router_, http::ServerTelemetry{nullptr, nullptr, front_tracer_.get()});
    ASSERT_TRUE(front_->start().ok());
    locator_.set(SessionLocator::Where::elsewhere, owner_address());
  }
  void TearDown() override {
    {
      // The stream's waker holds a strand of the owner's io_context: it goes before that context does.
      std::lock_guard lock(seen_->mu);
      seen_->wake_stream = nullptr;
    }
    if (forwarder_) forwarder_->stop();
    if (owner_forwarder_) owner_forwarder_->stop();
    if (front_) front_->shutdown();
    if (owner_) owner_->shutdown();
    if (front_tracer_) front_tracer_->shutdown();
    if (owner_tracer_) owner_tracer_->shutdown();
  }
  static http::ServerOptions server_options() {
    http::ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    o.shutdown_grace = 2s;
    return o;
  }
  NodeAddress owner_address() const { return NodeAddress{"node-b", owner_->url()}; }
  // A port nothing listens on.
  static std::string dead_url() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  }
  std::string metrics() const { return registry_.expose(telemetry::ExpositionFormat::prometheus_text_004); }
  static nlohmann::json json(const Answer& a) { return nlohmann::json::parse(a.body, nullptr, false); }

  std::shared_ptr<Seen> seen_;
  telemetry::Registry registry_;
  FakeLocator locator_{"node-a"};
  FakeLocator owner_locator_{"node-b"};
  http::Router owner_routes_, front_routes_, owner_router_, front_router_;
  std::unique_ptr<telemetry::Tracer> owner_tracer_, front_tracer_;
  std::unique_ptr<RequestForwarder> owner_forwarder_, forwarder_;
  std::unique_ptr<http::Server> owner_, front_;
};

TEST_F(ForwardingTest, PlainJsonIsRelayedWithStatusHeadersAndBody) {
  const Answer a = exchange(front_->port(), request("GET", "/v1/sessions/s1?x=1",
                                                    "Authorization: Bearer tenant-key\r\nX-Request-Id: req-123\r\n"
                                                    "Keep-Alive: timeout=5\r\nProxy-Authorization: secret\r\n"));
  EXPECT_EQ(a.status, 200u);
  EXPECT_EQ(json(a)["served_by"], "owner");
  EXPECT_EQ(json(a)["id"], "s1");
  EXPECT_EQ(a.header("X-Owner-Note"), "kept");
  EXPECT_EQ(a.header("Content-Disposition"), "inline");
  EXPECT_EQ(a.header("Content-Type"), "application/json");
  EXPECT_EQ(a.header("X-Request-Id"), "req-123");

  const auto seen = seen_->last();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->first, "/v1/sessions/s1?x=1");
  const bhttp::fields& h = seen->second;
  EXPECT_EQ(h["Authorization"], "Bearer tenant-key");
  EXPECT_EQ(h["X-Request-Id"], "req-123");
  EXPECT_EQ(h[kForwardedByHeader], "node-a");
  EXPECT_EQ(h["Host"], owner_->url().substr(std::string("http://").size()));
  EXPECT_EQ(h.count("Keep-Alive"), 0u);
  EXPECT_EQ(h.count("Proxy-Authorization"), 0u);
  EXPECT_EQ(locator_.asks(), std::vector<std::string>{"s1"});
}

TEST_F(ForwardingTest, ErrorAnswersOfTheOwnerAreRelayed) {
  const Answer missing = exchange(front_->port(), request("GET", "/v1/sessions/missing"));
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(json(missing)["error"]["code"], "not_found");

  const Answer flood = exchange(front_->port(), request("POST", "/v1/sessions/s1/invoke", {}, R"({"@type":"getMe"})"));
  EXPECT_EQ(flood.status, 429u);
  EXPECT_EQ(flood.header("Retry-After"), "7");
  EXPECT_EQ(json(flood)["error"]["code"], "flood_wait");
}

TEST_F(ForwardingTest, RoutesThatNameNoSessionAreServedLocally) {
  const Answer a = exchange(front_->port(), request("GET", "/v1/sessions"));
  EXPECT_EQ(a.status, 200u);
  EXPECT_EQ(json(a)["served_by"], "front");
  EXPECT_TRUE(locator_.asks().empty());
}

TEST_F(ForwardingTest, HereIsServedLocally) {
  locator_.set(SessionLocator::Where::here);
  const Answer a = exchange(front_->port(), request("GET", "/v1/sessions/s1"));
  EXPECT_EQ(json(a)["served_by"], "front");
  EXPECT_FALSE(seen_->last());
}

TEST_F(ForwardingTest, TraceparentKeepsTheTraceAndNamesTheForwardingServerSpanAsParent) {
  const std::string incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const Answer a = exchange(front_->port(), request("GET", "/v1/sessions/s1", "traceparent: " + incoming + "\r\n"));
  ASSERT_EQ(a.status, 200u);
  const auto front_span = telemetry::SpanContext::parse_traceparent(a.header("traceparent"));
  ASSERT_TRUE(front_span);
  const auto seen = seen_->last();
  ASSERT_TRUE(seen);
  const auto sent = telemetry::SpanContext::parse_traceparent(std::string(seen->second["traceparent"]));
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->trace_id_hex(), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(sent->span_id_hex(), front_span->span_id_hex());
  EXPECT_NE(sent->span_id_hex(), "b7ad6b7169203331");
}

TEST_F(ForwardingTest, AForwardedRequestIsNeverForwardedAgain) {
  // The owner's locator says node-c (dead) owns everything: the front's view was stale. The loop guard
  // keeps the owner from sending it on (which would answer owner_unavailable from node-c): the client
  // is told to retry, and the request reached no third node.
  owner_locator_.set(SessionLocator::Where::elsewhere, NodeAddress{"node-c", dead_url()});
  const Answer a = exchange(front_->port(), request("GET", "/v1/sessions/s1"));
  EXPECT_EQ(a.status, 503u);
  EXPECT_EQ(json(a)["error"]["code"], "session_moving");
  EXPECT_EQ(a.header("Retry-After"), "1");
  // Without the header the owner would forward (and find node-c down).
  const Answer direct = exchange(owner_->port(), request("GET", "/v1/sessions/s1"));
  EXPECT_EQ(direct.status, 503u);
  EXPECT_EQ(json(direct)["error"]["code"], "owner_unavailable");
}

TEST_F(ForwardingTest, LargeDownloadIsStreamedByteExactWithRangeHeaders) {
  const Answer a = exchange(front_->port(), request("GET", "/v1/sessions/s1/files/f1", "Range: bytes=0-\r\n"));
  EXPECT_EQ(a.status, 206u);
  const std::string expected = pattern_bytes(5 * 1024 * 1024, 1);
  EXPECT_EQ(a.body.size(), expected.size());
  EXPECT_TRUE(a.body == expected);
  EXPECT_EQ(a.header("Content-Length"), std::to_string(expected.size()));
  EXPECT_EQ(a.header("Content-Range"), "bytes 0-5242879/5242890");
  EXPECT_EQ(a.header("Accept-Ranges"), "bytes");
  const auto seen = seen_->last();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->second["Range"], "bytes=0-");
}

TEST_F(ForwardingTest, EventStreamIsRelayedEventByEvent) {
  Client c(front_->port());
  c.send(request("GET", "/v1/qr-logins/q1/events"));
  // The owner holds its stream open after "one" until woken: "one" must arrive before that.
  const std::string& first = c.read_until("data: one\n\n", 10s);
  ASSERT_NE(first.find("data: one\n\n"), std::string::npos) << first;
  EXPECT_NE(first.find("text/event-stream"), std::string::npos);
  EXPECT_EQ(first.find("data: two"), std::string::npos);
  std::function<void()> wake;
  {
    std::lock_guard lock(seen_->mu);
    wake = seen_->wake_stream;
  }
  ASSERT_TRUE(wake);
  wake();
  const std::string& all = c.read_to_close(10s);
  EXPECT_NE(all.find("event: state\ndata: two\n\n"), std::string::npos) << all;
  EXPECT_TRUE(c.closed());
}

TEST_F(ForwardingTest, ChunkedUploadIsPipedByteExact) {
  const std::string body = pattern_bytes(3 * 1024 * 1024, 2);
  Client c(front_->port());
  c.send("POST /v1/sessions/s1/files HTTP/1.1\r\nHost: lb\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n"
         "Content-Type: application/octet-stream\r\n\r\n");
  std::string_view rest = body;
  while (!rest.empty()) {
    const std::string_view piece = rest.substr(0, 50000);
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", piece.size());
    c.send(size_line);
    c.send(piece);
    c.send("\r\n");
    rest.remove_prefix(piece.size());
  }
  c.send("0\r\n\r\n");
  const Answer a = parse(c.read_to_close());
  EXPECT_EQ(a.status, 201u) << a.body;
  EXPECT_EQ(json(a)["size"], body.size());
  EXPECT_EQ(json(a)["same"], true);
}

TEST_F(ForwardingTest, UploadWithContentLengthIsPipedByteExact) {
  const std::string body = pattern_bytes(1500 * 1024, 2);
  const Answer a = exchange(front_->port(), request("POST", "/v1/sessions/s1/files", {}, body));
  EXPECT_EQ(a.status, 201u) << a.body;
  EXPECT_EQ(json(a)["size"], body.size());
  EXPECT_EQ(json(a)["same"], true);
  const auto seen = seen_->last();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->second["Content-Length"], std::to_string(body.size()));
}

TEST_F(ForwardingTest, UploadTheOwnerRefusesIsAnsweredBeforeTheBodyIsSent) {
  Client c(front_->port());
  c.send("POST /v1/sessions/s1/files HTTP/1.1\r\nHost: lb\r\nConnection: close\r\nContent-Length: 3145728\r\n"
         "Expect: 100-continue\r\nX-Refuse: yes\r\n\r\n");
  // No byte of the body is sent: the owner's refusal must come anyway (and no 100 Continue before it).
  const Answer a = parse(c.read_to_close(10s));
  EXPECT_EQ(a.status, 403u);
  EXPECT_EQ(json(a)["error"]["code"], "quota");
}

TEST_F(ForwardingTest, OwnerDownIsAnsweredRetryableUnavailable) {
  locator_.set(SessionLocator::Where::elsewhere, NodeAddress{"node-z", dead_url()});
  const Answer a = exchange(front_->port(), request("GET", "/v1/sessions/s1"));
  EXPECT_EQ(a.status, 503u);
  EXPECT_EQ(a.header("Retry-After"), "1");
  EXPECT_EQ(json(a)["error"]["code"], "owner_unavailable");
}

// An "owner" that is not tgpulse: it reads a request and then answers `reply` (empty: nothing, the
// connection held open) on one connection.
class RawOwner {
 public:
  explicit RawOwner(std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 4);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      std::string got;
      while (got.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
      }
      if (!reply_.empty()) {
        (void)::write(c, reply_.data(), reply_.size());
      } else {
        while (::read(c, buf, sizeof buf) > 0) {
        }
      }
      ::close(c);
    });
  }
  ~RawOwner() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  NodeAddress address() const { return NodeAddress{"node-raw", "http://127.0.0.1:" + std::to_string(port_)}; }

 private:
  std::string reply_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(ForwardingTest, AnOwnerThatAnswersNoHttpIsABadResponse) {
  RawOwner owner("this is not HTTP\r\n\r\n");
  locator_.set(SessionLocator::Where::elsewhere, owner.address());
  const Answer a = exchange(front_->port(), request("GET", "/v1/sessions/s1"));
  EXPECT_EQ(a.status, 502u);
  EXPECT_EQ(json(a)["error"]["code"], "owner_bad_response");
}

TEST_F(ForwardingTest, AnOwnerThatNeverAnswersTimesOut) {
  RawOwner owner("");
  locator_.set(SessionLocator::Where::elsewhere, owner.address());
  const auto started = std::chrono::steady_clock::now();
  const Answer a = exchange(front_->port(), request("GET", "/v1/sessions/s1"));
  EXPECT_EQ(a.status, 504u);
  EXPECT_EQ(json(a)["error"]["code"], "owner_timeout");
  EXPECT_GE(std::chrono::steady_clock::now() - started, 3s);
  forwarder_->stop();  // lets the held connection go, so the raw owner's thread ends
}

TEST_F(ForwardingTest, MovingSessionIsAnsweredRetryableSessionMoving) {
  locator_.set(SessionLocator::Where::moving);
  const Answer a = exchange(front_->port(), request("GET", "/v1/sessions/s1"));
  EXPECT_EQ(a.status, 503u);
  EXPECT_EQ(a.header("Retry-After"), "1");
  EXPECT_EQ(json(a)["error"]["code"], "session_moving");
  EXPECT_FALSE(seen_->last());
}

TEST_F(ForwardingTest, PlacementSendsALoginStartToTheNamedNode) {
  const Answer local = exchange(front_->port(), request("POST", "/v1/qr-logins", {}, "{}"));
  EXPECT_EQ(json(local)["served_by"], "front");
  locator_.set_placement(owner_address());
  const Answer placed = exchange(front_->port(), request("POST", "/v1/qr-logins", {}, "{}"));
  EXPECT_EQ(placed.status, 201u);
  EXPECT_EQ(json(placed)["served_by"], "owner");
}

TEST_F(ForwardingTest, OutcomesAreCounted) {
  (void)exchange(front_->port(), request("GET", "/v1/sessions/s1"));
  (void)exchange(front_->port(), request("GET", "/v1/sessions/missing"));
  locator_.set(SessionLocator::Where::elsewhere, NodeAddress{"node-z", dead_url()});
  (void)exchange(front_->port(), request("GET", "/v1/sessions/s1"));
  const std::string m = metrics();
  EXPECT_NE(m.find("tgpulse_forwarded_requests_total{result=\"ok\"} 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("tgpulse_forwarded_requests_total{result=\"unavailable\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("tgpulse_forwarded_requests_total{result=\"failed\"} 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("tgpulse_forward_seconds_count 2\n"), std::string::npos) << m;
}

TEST(ForwardingRoutes, SessionScopedPatterns) {
  EXPECT_TRUE(is_session_scoped("/v1/sessions/{id}"));
  EXPECT_TRUE(is_session_scoped("/v1/sessions/{id}/files/{file_id}"));
  EXPECT_TRUE(is_session_scoped("/v1/qr-logins/{id}/events"));
  EXPECT_TRUE(is_session_scoped("/v1/phone-logins/{id}/code"));
  EXPECT_TRUE(is_session_scoped("/v1/login/{id}/events"));
  EXPECT_TRUE(is_session_scoped("/login/{id}"));
  EXPECT_FALSE(is_session_scoped("/v1/sessions"));
  EXPECT_FALSE(is_session_scoped("/v1/qr-logins"));
  EXPECT_FALSE(is_session_scoped("/v1/sessions/{id}x"));
  EXPECT_FALSE(is_session_scoped("/v1/tenants/{tenant_id}"));
  EXPECT_TRUE(is_login_start(verb::post, "/v1/phone-logins"));
  EXPECT_FALSE(is_login_start(verb::get, "/v1/qr-logins"));
}

}  // namespace
}  // namespace tgpulse::cluster
