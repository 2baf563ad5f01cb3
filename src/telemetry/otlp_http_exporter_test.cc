#include "telemetry/otlp_http_exporter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace tgpulse::telemetry {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// A minimal OTLP/HTTP collector on 127.0.0.1 for tests: records every request and answers with the
// scripted responses in order, then 200.
class CaptureServer {
 public:
  struct Request {
    std::string method, path, body;
    std::map<std::string, std::string> headers;  // lowercase names
  };
  struct Reply {
    int status = 200;
    std::string extra_headers;  // "Name: value\r\n" lines
  };

  explicit CaptureServer(int port = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0) {
      ADD_FAILURE() << "capture server cannot listen on port " << port;
      return;
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~CaptureServer() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    for (auto& t : connections_) t.join();
    ::close(fd_);
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces"; }
  void script(std::initializer_list<Reply> replies) {
    std::lock_guard lock(mu_);
    replies_.insert(replies_.end(), replies.begin(), replies.end());
  }
  std::vector<Request> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn >= 0) connections_.emplace_back([this, conn] { serve(conn); });
    }
  }

  // Reads until `buf` holds `want` bytes or the peer closes / the server stops.
  bool read_until(int conn, std::string* buf, const std::function<bool()>& done) {
    char chunk[65536];
    while (!done()) {
      pollfd p{conn, POLLIN, 0};
      if (stop_) return false;
      if (::poll(&p, 1, 20) <= 0) continue;
      ssize_t n = ::read(conn, chunk, sizeof chunk);
      if (n <= 0) return false;
      buf->append(chunk, static_cast<std::size_t>(n));
    }
    return true;
  }

  void serve(int conn) {
    std::string buf;
    for (;;) {
      if (!read_until(conn, &buf, [&] { return buf.find("\r\n\r\n") != std::string::npos; })) break;
      std::size_t header_end = buf.find("\r\n\r\n");
      Request req;
      std::string head = buf.substr(0, header_end);
      std::size_t line_end = head.find("\r\n");
      std::string request_line = head.substr(0, line_end);
      req.method = request_line.substr(0, request_line.find(' '));
      req.path = request_line.substr(req.method.size() + 1, request_line.rfind(' ') - req.method.size() - 1);
      std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
      while (pos < head.size()) {
        std::size_t next = head.find("\r\n", pos);
        if (next == std::string::npos) next = head.size();
        std::string line = head.substr(pos, next - pos);
        std::size_t colon = line.find(':');
        if (colon != std::string::npos) {
          std::string name = line.substr(0, colon);
          for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          std::size_t v = line.find_first_not_of(' ', colon + 1);
          req.headers[name] = v == std::string::npos ? "" : line.substr(v);
        }
        pos = next + 2;
      }
      std::size_t length = req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
      std::size_t total = header_end + 4 + length;
      if (!read_until(conn, &buf, [&] { return buf.size() >= total; })) break;
      req.body = buf.substr(header_end + 4, length);
      buf.erase(0, total);
      Reply reply;
      {
        std::lock_guard lock(mu_);
        requests_.push_back(req);
        if (!replies_.empty()) {
          reply = replies_.front();
          replies_.pop_front();
        }
      }
      std::string body = reply.status == 200 ? "{}" : "";
      std::string response = "HTTP/1.1 " + std::to_string(reply.status) + " Scripted\r\nContent-Type: application/json\r\n" +
                             reply.extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      if (::write(conn, response.data(), response.size()) < 0) break;
    }
    ::close(conn);
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> connections_;  // touched by acceptor_ only until it is joined
  std::mutex mu_;
  std::deque<Reply> replies_;
  std::vector<Request> requests_;
};

int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::vector<std::unique_ptr<SpanData>> one_span() {
  std::vector<std::unique_ptr<SpanData>> spans;
  auto s = std::make_unique<SpanData>();
  s->context = *SpanContext::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  s->name = "telethon_connect";
  spans.push_back(std::move(s));
  return spans;
}

OtlpHttpExporter make_exporter(const std::string& url, milliseconds timeout = milliseconds(5000),
                               std::vector<std::pair<std::string, std::string>> headers = {}) {
  OtlpHttpExporterOptions options;
  options.endpoint = url;
  options.timeout = timeout;
  options.headers = std::move(headers);
  options.initial_backoff = milliseconds(10);
  options.max_backoff = milliseconds(40);
  return OtlpHttpExporter(options, OtlpJsonEncoder({{"service.name", std::string("t")}}, "tgpulse", "0.1.0"));
}

SteadyClock::time_point in(milliseconds d) { return SteadyClock::now() + d; }

TEST(OtlpHttpExporterTest, PostsJsonWithTheConfiguredHeaders) {
  CaptureServer server;
  OtlpHttpExporterOptions options;
  options.endpoint = server.url();
  options.headers = {{"Authorization", "Bearer s3cret"}, {"X-Tenant", "ops"}};
  OtlpHttpExporter exporter(options, OtlpJsonEncoder({}, "tgpulse", "0.1.0"));
  EXPECT_EQ(exporter.export_batch(one_span(), in(milliseconds(5000))), ExportResult::success);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/v1/traces");
  EXPECT_EQ(requests[0].headers["content-type"], "application/json");
  EXPECT_EQ(requests[0].headers["authorization"], "Bearer s3cret");
  EXPECT_EQ(requests[0].headers["x-tenant"], "ops");
  json body = json::parse(requests[0].body);
  EXPECT_EQ(body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"], "telethon_connect");
}

TEST(OtlpHttpExporterTest, RetriesOnlyRetryableStatusesHonouringRetryAfter) {
  CaptureServer server;
  server.script({{503, "Retry-After: 0\r\n"},
                 {429, ""},  // no Retry-After: backoff
                 {502, "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n"},  // a date in the past: now
                 {504, ""},
                 {200, ""}});
  auto exporter = make_exporter(server.url());
  EXPECT_EQ(exporter.export_batch(one_span(), in(milliseconds(5000))), ExportResult::success);
  EXPECT_EQ(exporter.attempts(), 5u);
  EXPECT_EQ(server.requests().size(), 5u);
  EXPECT_EQ(server.requests()[4].body, server.requests()[0].body);  // the same batch is resent
}

TEST(OtlpHttpExporterTest, OtherStatusesFailAtOnceWithoutLeakingHeaders) {
  for (int status : {400, 401, 404, 413, 500}) {
    CaptureServer server;
    server.script({{status, ""}});
    auto exporter = make_exporter(server.url(), milliseconds(5000), {{"Authorization", "Bearer s3cret"}});
    EXPECT_EQ(exporter.export_batch(one_span(), in(milliseconds(5000))), ExportResult::failure) << status;
    EXPECT_EQ(exporter.attempts(), 1u) << status;
    EXPECT_NE(exporter.last_error().find("HTTP " + std::to_string(status)), std::string::npos)
        << exporter.last_error();
    EXPECT_EQ(exporter.last_error().find("s3cret"), std::string::npos);
  }
}

TEST(OtlpHttpExporterTest, GivesUpWhenRetryAfterWouldPassTheDeadline) {
  CaptureServer server;
  server.script({{503, "Retry-After: 60\r\n"}});
  auto exporter = make_exporter(server.url(), milliseconds(2000));
  auto start = SteadyClock::now();
  EXPECT_EQ(exporter.export_batch(one_span(), in(milliseconds(30000))), ExportResult::failure);
  EXPECT_LT(SteadyClock::now() - start, milliseconds(1500));  // did not sleep towards the 60 s
  EXPECT_EQ(exporter.attempts(), 1u);
  EXPECT_NE(exporter.last_error().find("HTTP 503"), std::string::npos);
}

TEST(OtlpHttpExporterTest, KeepsRetryingUntilTheTimeoutThenFails) {
  CaptureServer server;
  server.script({{503, ""}, {503, ""}, {503, ""}, {503, ""}, {503, ""}, {503, ""}, {503, ""}, {503, ""},
                 {503, ""}, {503, ""}, {503, ""}, {503, ""}, {503, ""}, {503, ""}, {503, ""}, {503, ""}});
  auto exporter = make_exporter(server.url(), milliseconds(300));
  EXPECT_EQ(exporter.export_batch(one_span(), in(milliseconds(30000))), ExportResult::failure);
  EXPECT_GE(exporter.attempts(), 3u);
}

TEST(OtlpHttpExporterTest, ConnectionRefusedFailsTheBatch) {
  auto exporter = make_exporter("http://user:pw@127.0.0.1:" + std::to_string(closed_port()) + "/v1/traces");
  EXPECT_EQ(exporter.export_batch(one_span(), in(milliseconds(5000))), ExportResult::failure);
  EXPECT_EQ(exporter.attempts(), 1u);
  EXPECT_FALSE(exporter.last_error().empty());
  EXPECT_EQ(exporter.last_error().find("pw@"), std::string::npos) << exporter.last_error();
}

TEST(OtlpHttpExporterTest, CancelInterruptsARetryWait) {
  CaptureServer server;
  server.script({{503, "Retry-After: 20\r\n"}});
  auto exporter = make_exporter(server.url(), milliseconds(60000));
  // Cancels once the collector has the first attempt: the exporter is reading its 503 or already waiting
  // the 20 s it asks for (a cancel is sticky, so either way the wait must end at once).
  std::thread canceller([&] {
    const auto deadline = SteadyClock::now() + milliseconds(10000);
    while (server.requests().empty() && SteadyClock::now() < deadline) std::this_thread::sleep_for(milliseconds(5));
    exporter.cancel();
  });
  auto start = SteadyClock::now();
  EXPECT_EQ(exporter.export_batch(one_span(), in(milliseconds(60000))), ExportResult::failure);
  EXPECT_LT(SteadyClock::now() - start, milliseconds(10000));
  canceller.join();
}

// The collector is away, then comes back on the same port: spans are dropped and counted meanwhile,
// the request path (start_span/end) never waits, and export resumes by itself.
TEST(OtlpHttpExporterTest, CollectorDownDropsAndCountsThenExportResumes) {
  const int port = closed_port();
  TracerOptions options;
  options.endpoint = "http://127.0.0.1:" + std::to_string(port) + "/v1/traces";
  options.schedule_delay = milliseconds(20);
  options.retry_initial_backoff = milliseconds(10);
  Tracer tracer(options);
  for (int i = 0; i < 3; ++i) tracer.start_span("while_down").end();
  tracer.force_flush(milliseconds(5000));
  EXPECT_EQ(tracer.dropped_spans(), 3u);
  EXPECT_EQ(tracer.exported_spans(), 0u);
  EXPECT_FALSE(tracer.last_export_error().empty());

  CaptureServer server(port);
  for (int i = 0; i < 2; ++i) tracer.start_span("after_recovery").end();
  tracer.force_flush(milliseconds(5000));
  EXPECT_EQ(tracer.exported_spans(), 2u);
  EXPECT_EQ(tracer.dropped_spans(), 3u);
  std::size_t received = 0;
  for (const auto& req : server.requests()) {
    json body = json::parse(req.body);
    for (const auto& span : body["resourceSpans"][0]["scopeSpans"][0]["spans"]) {
      EXPECT_EQ(span["name"], "after_recovery");
      ++received;
    }
  }
  EXPECT_EQ(received, 2u);
  tracer.shutdown();
}

// A collector that accepts connections but never answers: export hangs until its timeout. Span::end()
// on the request path must still return at once, and shutdown() must not wait for the export timeout.
TEST(OtlpHttpExporterTest, RequestPathNeverWaitsOnAHangingCollector) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 16), 0);  // the kernel completes connections; nobody reads or answers
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);

  TracerOptions options;
  options.endpoint = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v1/traces";
  options.schedule_delay = milliseconds(10);
  options.export_timeout = milliseconds(60000);
  Tracer tracer(options);
  tracer.start_span("first").end();
  tracer.force_flush(milliseconds(200));  // gives up: the export of "first" hangs
  for (int i = 0; i < 100; ++i) tracer.start_span("during_hang").end();
  EXPECT_EQ(tracer.exported_spans(), 0u);  // every end() above returned while the export was stuck
  EXPECT_EQ(tracer.dropped_spans(), 0u);
  auto start = SteadyClock::now();
  tracer.shutdown(milliseconds(200));
  EXPECT_LT(SteadyClock::now() - start, milliseconds(30000));  // not the 60 s export timeout
  EXPECT_EQ(tracer.dropped_spans(), 101u);
  ::close(listener);
}

}  // namespace
}  // namespace tgpulse::telemetry
