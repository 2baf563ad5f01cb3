#include "cluster/request_forwarder.h"

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <cstdio>
#include <limits>
#include <optional>
#include <span>
#include <vector>

#include "http/sse_writer.h"
#include "telemetry/logger.h"
#include "telemetry/metrics.h"
#include "telemetry/tracer.h"

namespace tgpulse::cluster {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using SteadyClock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr std::size_t kPiece = 64 * 1024;  // bytes moved per read/write of a streamed body

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// Whether header `name` is listed in a Connection header's value ("close, X-Foo").
bool named_in(std::string_view connection, std::string_view name) {
  while (!connection.empty()) {
    const auto comma = connection.find(',');
    std::string_view token = connection.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (iequals(token, name)) return true;
    if (comma == std::string_view::npos) break;
    connection.remove_prefix(comma + 1);
  }
  return false;
}

// Hop-by-hop headers (RFC 9110 §7.6.1): never passed on, in either direction.
bool hop_by_hop(std::string_view name, std::string_view connection) {
  static constexpr std::array<std::string_view, 7> kNames = {"Connection", "Keep-Alive", "Transfer-Encoding", "TE",
                                                             "Trailer",    "Upgrade",    "Host"};
  for (std::string_view n : kNames) {
    if (iequals(name, n)) return true;
  }
  return istarts_with(name, "Proxy-") || named_in(connection, name);
}

// Request headers the forwarder sets itself.
bool set_by_forwarder(std::string_view name) {
  static constexpr std::array<std::string_view, 5> kNames = {"Content-Length", "Expect", "traceparent", "X-Request-Id",
                                                             kForwardedByHeader};
  for (std::string_view n : kNames) {
    if (iequals(name, n)) return true;
  }
  return false;
}

// Response headers the local connection writes itself (from the Response's fields or its own).
bool set_by_connection(std::string_view name, bool event_stream) {
  static constexpr std::array<std::string_view, 5> kNames = {"Content-Length", "Content-Type", "Server", "X-Request-Id",
                                                             "traceparent"};
  for (std::string_view n : kNames) {
    if (iequals(name, n)) return true;
  }
  return event_stream && (iequals(name, "Cache-Control") || iequals(name, "X-Accel-Buffering"));
}

struct HostPort {
  std::string host;  // without brackets
  std::string port;
  std::string header;  // the Host header: "host:port" as in the URL
};

// "http://host:port" (optionally a trailing "/"); nullopt for anything else.
std::optional<HostPort> parse_node_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!istarts_with(url, kScheme)) return std::nullopt;
  url.remove_prefix(kScheme.size());
  if (!url.empty() && url.back() == '/') url.remove_suffix(1);
  if (url.empty() || url.find_first_of("/?#@") != std::string_view::npos) return std::nullopt;
  HostPort out;
  out.header = std::string(url);
  std::string_view host = url;
  std::string_view port = "80";
  if (url.front() == '[') {
    const auto close = url.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = url.substr(1, close - 1);
    if (close + 1 < url.size()) {
      if (url[close + 1] != ':') return std::nullopt;
      port = url.substr(close + 2);
    }
  } else if (const auto colon = url.rfind(':'); colon != std::string_view::npos) {
    host = url.substr(0, colon);
    port = url.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5) return std::nullopt;
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  out.host = std::string(host);
  out.port = std::string(port);
  return out;
}

http::Response unavailable_answer() {
  return http::Response::error(bhttp::status::service_unavailable, "owner_unavailable",
                               "the node that owns this session cannot be reached right now; retry")
      .with_header("Retry-After", "1");
}

bool is_event_stream(std::string_view content_type) { return istarts_with(content_type, "text/event-stream"); }

}  // namespace

struct RequestForwarder::Metrics {
  explicit Metrics(telemetry::Registry& registry) {
    auto& results = registry.counter("tgpulse_forwarded_requests_total",
                                     "Requests forwarded to the node that owns their session, by outcome", {"result"});
    ok = &results.labels({"ok"});
    unavailable = &results.labels({"unavailable"});
    failed = &results.labels({"failed"});
    seconds = &registry
                   .histogram("tgpulse_forward_seconds",
                              "Time from forwarding a request to the owner node's response head",
                              {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60})
                   .get();
  }
  telemetry::Counter* ok;
  telemetry::Counter* unavailable;
  telemetry::Counter* failed;
  telemetry::Histogram* seconds;
};

// One connection to an owner, on the request's executor.
struct RequestForwarder::Upstream {
  explicit Upstream(const asio::any_io_executor& executor) : stream(executor) {}
  // On the stream's executor: ends every pending and later operation on the connection.
  void close() {
    error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream.close();
  }

  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser;
};

namespace {

using Upstream = RequestForwarder::Upstream;
using Outcome = RequestForwarder::Outcome;
using Exchange = RequestForwarder::Exchange;

}  // namespace

// One forwarded request from its connection to its end: keeps the upstream tracked (stop() reaches it),
// the client span open, and counts the outcome exactly once (ok if nothing else was reported).
struct RequestForwarder::Exchange {
  Exchange(RequestForwarder& f, std::shared_ptr<Upstream> u, std::uint64_t i, std::string node)
      : forwarder(f), upstream(std::move(u)), id(i), node_id(std::move(node)) {}
  ~Exchange() {
    finish(Outcome::ok, {});
    forwarder.release(id);
  }
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // The first call decides the outcome; a failure is logged (throttled) and marks the span.
  void finish(Outcome outcome, std::string_view error) {
    if (finished) return;
    finished = true;
    forwarder.count(outcome);
    if (outcome != Outcome::ok) {
      forwarder.log_failure(node_id, error);
      span.set_status(telemetry::SpanStatus::error, error);
    }
    span.end();
  }

  RequestForwarder& forwarder;
  std::shared_ptr<Upstream> upstream;
  std::uint64_t id;
  std::string node_id;
  telemetry::Span span;
  std::uint64_t length = 0;  // a streamed body's Content-Length
  std::chrono::milliseconds idle_timeout{0};
  bool finished = false;
};

namespace {

// Reads the next bytes of the response body into `into` (the stream's expiry set by the caller); 0 at
// its end. An error is the transport's (timeout, reset, a malformed chunk).
asio::awaitable<std::pair<std::size_t, error_code>> read_body_piece(std::shared_ptr<Upstream> up, std::span<char> into) {
  auto& parser = *up->parser;
  std::size_t n = 0;
  error_code ec;
  while (n == 0 && !parser.is_done()) {
    parser.get().body().data = into.data();
    parser.get().body().size = into.size();
    co_await bhttp::async_read_some(up->stream, up->buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::need_buffer) ec = {};
    n = into.size() - parser.get().body().size;
    if (ec) break;
  }
  co_return std::make_pair(n, ec);
}

// The producer of a streamed (long) response: copies the owner's body to the client in pieces.
asio::awaitable<void> relay_body(std::shared_ptr<Exchange> x, http::BodyWriter& writer) {
  std::vector<char> piece(kPiece);
  std::uint64_t sent = 0;
  while (true) {
    x->upstream->stream.expires_after(x->idle_timeout);
    asio::awaitable<std::pair<std::size_t, error_code>> reading = read_body_piece(x->upstream, std::span<char>(piece));
    const auto [n, ec] = co_await std::move(reading);
    if (n > 0) {
      asio::awaitable<bool> writing = writer.write(std::string_view(piece.data(), n));
      if (!co_await std::move(writing)) break;  // the client went away: nothing more to relay
      sent += n;
    }
    if (ec) {
      x->finish(Outcome::failed, "the owner's response body broke off after " + std::to_string(sent) + " bytes: " +
                                     ec.message());
      break;
    }
    if (n == 0) break;
  }
  x->upstream->close();
}

// The producer of a relayed event stream: passes the owner's bytes through as they come, until the owner
// ends the stream or this one closes (client gone, server draining: on_close closes the owner's
// connection, which ends the pending read).
asio::awaitable<void> relay_events(std::shared_ptr<Exchange> x, http::SseWriter& writer) {
  std::weak_ptr<Upstream> weak = x->upstream;
  writer.on_close([weak] {
    if (auto up = weak.lock()) up->close();
  });
  std::vector<char> piece(16 * 1024);
  while (writer.open()) {
    x->upstream->stream.expires_after(x->idle_timeout);
    asio::awaitable<std::pair<std::size_t, error_code>> reading = read_body_piece(x->upstream, std::span<char>(piece));
    const auto [n, ec] = co_await std::move(reading);
    if (n > 0) {
      asio::awaitable<bool> writing = writer.relay(std::string_view(piece.data(), n));
      if (!co_await std::move(writing)) break;
    }
    if (ec) {
      if (writer.open()) x->finish(Outcome::failed, "the owner's event stream broke off: " + ec.message());
      break;
    }
    if (n == 0) break;  // the owner ended the stream
  }
  writer.on_close(nullptr);
  x->upstream->close();
}

asio::awaitable<void> no_body(http::BodyWriter&) { co_return; }

// How piping a streamed request body ended.
struct Piped {
  Status client = Status{};  // the client's body failed (its BodyReader's error)
  error_code upstream;       // sending to the owner failed
};

// Sends a streamed request body to the owner, as it comes from the client.
asio::awaitable<Piped> pipe_body(std::shared_ptr<Upstream> up, http::BodyReader* reader, bool chunked,
                                 std::chrono::milliseconds idle_timeout) {
  std::vector<char> piece(kPiece);
  Piped out;
  while (true) {
    asio::awaitable<tgpulse::Result<std::size_t>> reading = reader->read(std::span<char>(piece));
    tgpulse::Result<std::size_t> n = co_await std::move(reading);
    if (!n) {
      out.client = n.error();
      break;
    }
    up->stream.expires_after(idle_timeout);
    if (*n == 0) {
      if (chunked) {
        static constexpr std::string_view kLast = "0\r\n\r\n";
        co_await asio::async_write(up->stream, asio::buffer(kLast.data(), kLast.size()),
                                   asio::redirect_error(asio::use_awaitable, out.upstream));
      }
      break;
    }
    if (chunked) {
      char size_line[24];
      const int len = std::snprintf(size_line, sizeof size_line, "%zx\r\n", *n);
      const std::array<asio::const_buffer, 3> buffers = {asio::buffer(size_line, static_cast<std::size_t>(len)),
                                                         asio::buffer(piece.data(), *n), asio::buffer("\r\n", 2)};
      co_await asio::async_write(up->stream, buffers, asio::redirect_error(asio::use_awaitable, out.upstream));
    } else {
      co_await asio::async_write(up->stream, asio::buffer(piece.data(), *n),
                                 asio::redirect_error(asio::use_awaitable, out.upstream));
    }
    if (out.upstream) break;
  }
  co_return out;
}

// Reads a response head into a fresh parser (the stream's expiry set by the caller).
asio::awaitable<error_code> read_head(std::shared_ptr<Upstream> up, bool head_request) {
  up->parser.emplace();
  up->parser->header_limit(kMaxResponseHead);
  up->parser->body_limit(std::numeric_limits<std::uint64_t>::max());  // the forwarder bounds what it keeps
  if (head_request) up->parser->skip(true);
  error_code ec;
  co_await bhttp::async_read_header(up->stream, up->buffer, *up->parser, asio::redirect_error(asio::use_awaitable, ec));
  co_return ec;
}

}  // namespace

RequestForwarder::RequestForwarder(std::string self_node, ForwarderOptions options, ForwarderTelemetry telemetry)
    : self_node_(std::move(self_node)), options_(options), telemetry_(telemetry) {
  if (telemetry_.registry != nullptr) metrics_ = std::make_unique<Metrics>(*telemetry_.registry);
}

RequestForwarder::~RequestForwarder() = default;

void RequestForwarder::count(Outcome result) noexcept {
  if (!metrics_) return;
  switch (result) {
    case Outcome::ok: metrics_->ok->inc(); break;
    case Outcome::unavailable: metrics_->unavailable->inc(); break;
    case Outcome::failed: metrics_->failed->inc(); break;
  }
}

void RequestForwarder::log_failure(const std::string& node_id, std::string_view error) {
  if (telemetry_.logger == nullptr) return;
  const auto now = SteadyClock::now();
  {
    std::lock_guard lock(mu_);
    auto [it, inserted] = last_log_.try_emplace(node_id, now);
    if (!inserted) {
      if (now - it->second < std::chrono::seconds(1)) return;
      it->second = now;
    }
  }
  telemetry_.logger->warn("Forward to owner failed", {{"tgpulse.cluster.node", node_id}, {"error.message", error}});
}

std::uint64_t RequestForwarder::track(const std::shared_ptr<Upstream>& upstream) {
  std::lock_guard lock(mu_);
  if (stopped_) return 0;
  const std::uint64_t id = next_id_++;
  live_.emplace(id, upstream);
  return id;
}

void RequestForwarder::release(std::uint64_t id) {
  std::lock_guard lock(mu_);
  live_.erase(id);
}

void RequestForwarder::stop() {
  std::vector<std::weak_ptr<Upstream>> live;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    for (auto& [id, weak] : live_) live.push_back(weak);
  }
  for (auto& weak : live) {
    if (auto up = weak.lock()) {
      asio::post(up->stream.get_executor(), [weak] {
        if (auto u = weak.lock()) u->close();
      });
    }
  }
}

asio::awaitable<http::Response> RequestForwarder::forward(http::Request& req, NodeAddress to) {
  const auto started = SteadyClock::now();
  const std::string method(bhttp::to_string(req.method));
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  auto upstream = std::make_shared<Upstream>(executor);
  const std::uint64_t id = track(upstream);
  auto x = std::make_shared<Exchange>(*this, upstream, id, to.node_id);
  x->idle_timeout = options_.stream_idle_timeout;
  if (telemetry_.tracer != nullptr) {
    x->span = telemetry_.tracer->start_span("tgpulse_forward", req.span_context.valid() ? &req.span_context : nullptr,
                                            telemetry::SpanKind::client,
                                            {{"tgpulse.cluster.node", to.node_id}, {"http.request.method", method}});
  }
  if (id == 0) {
    x->finish(Outcome::unavailable, "this node is shutting down");
    co_return unavailable_answer();
  }
  const std::optional<HostPort> where = parse_node_url(to.url);
  if (!where) {
    x->finish(Outcome::unavailable, "the owner's advertised URL is not http://host:port: " + to.url);
    co_return unavailable_answer();
  }

  // Connect: resolving and connecting within connect_timeout.
  error_code ec;
  auto resolver = std::make_shared<asio::ip::tcp::resolver>(executor);
  asio::steady_timer resolve_deadline(executor, options_.connect_timeout);
  resolve_deadline.async_wait([resolver](error_code timer_ec) {
    if (!timer_ec) resolver->cancel();
  });
  const auto endpoints =
      co_await resolver->async_resolve(where->host, where->port, asio::redirect_error(asio::use_awaitable, ec));
  resolve_deadline.cancel();
  if (ec) {
    x->finish(Outcome::unavailable, "resolving the owner's host failed: " + ec.message());
    co_return unavailable_answer();
  }
  upstream->stream.expires_after(options_.connect_timeout);
  co_await upstream->stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    x->finish(Outcome::unavailable, "connecting to the owner failed: " + ec.message());
    co_return unavailable_answer();
  }

  // The request head.
  bhttp::request<bhttp::empty_body> head{req.method, req.target, 11};
  const std::string connection_header(req.header("Connection"));
  for (const auto& field : req.headers) {
    const std::string_view name = field.name_string();
    if (hop_by_hop(name, connection_header) || set_by_forwarder(name)) continue;
    head.insert(name, field.value());
  }
  head.set(bhttp::field::host, where->header);
  head.set(bhttp::field::connection, "close");
  head.set(kForwardedByHeader, self_node_);
  head.set("X-Request-Id", req.request_id);
  if (req.span_context.valid()) head.set("traceparent", req.span_context.traceparent());
  const bool streamed_body = req.body_reader != nullptr;
  const bool chunked = streamed_body && !req.body_reader->content_length();
  if (streamed_body) {
    if (chunked) {
      head.set(bhttp::field::transfer_encoding, "chunked");
    } else {
      head.content_length(*req.body_reader->content_length());
    }
    head.set(bhttp::field::expect, "100-continue");
  } else if (!req.body.empty() || req.method == bhttp::verb::post || req.method == bhttp::verb::put ||
             req.method == bhttp::verb::patch) {
    head.content_length(req.body.size());
  }

  const auto deadline = SteadyClock::now() + options_.exchange_timeout;
  upstream->stream.expires_at(deadline);
  bhttp::request_serializer<bhttp::empty_body> serializer{head};
  co_await bhttp::async_write_header(upstream->stream, serializer, asio::redirect_error(asio::use_awaitable, ec));
  if (!ec && !streamed_body && !req.body.empty()) {
    co_await asio::async_write(upstream->stream, asio::buffer(req.body), asio::redirect_error(asio::use_awaitable, ec));
  }
  if (ec) {
    x->finish(Outcome::unavailable, "sending the request to the owner failed: " + ec.message());
    co_return unavailable_answer();
  }

  const bool head_request = req.method == bhttp::verb::head;
  asio::awaitable<error_code> reading_head = read_head(upstream, head_request);
  ec = co_await std::move(reading_head);
  if (streamed_body && !ec && upstream->parser->get().result() == bhttp::status::continue_) {
    asio::awaitable<Piped> piping = pipe_body(upstream, req.body_reader, chunked, options_.stream_idle_timeout);
    const Piped piped = co_await std::move(piping);
    if (!piped.client.ok()) {
      // The owner got part of a body: its request cannot be finished. The client hears why.
      upstream->close();
      x->finish(Outcome::failed, "the client's request body failed: " + piped.client.error().message);
      co_return http::Response::from_error(piped.client.error());
    }
    // Even when sending failed, the owner may have answered (a refusal mid-body): read what it said.
    upstream->stream.expires_after(options_.exchange_timeout);
    asio::awaitable<error_code> reading_final = read_head(upstream, head_request);
    ec = co_await std::move(reading_final);
    if (ec && piped.upstream) {
      x->finish(Outcome::failed, "sending the request body to the owner failed: " + piped.upstream.message());
      co_return http::Response::error(bhttp::status::bad_gateway, "owner_bad_response",
                                      "the node that owns this session stopped taking the request body");
    }
  }
  if (ec) {
    const auto& parser = *upstream->parser;
    if (ec == beast::error::timeout) {
      x->finish(Outcome::failed, "no response from the owner in time");
      co_return http::Response::error(bhttp::status::gateway_timeout, "owner_timeout",
                                      "the node that owns this session did not answer in time");
    }
    if (!parser.got_some() && upstream->buffer.size() == 0) {
      x->finish(Outcome::unavailable, "the owner closed the connection without answering: " + ec.message());
      co_return unavailable_answer();
    }
    x->finish(Outcome::failed, "no valid response head from the owner: " + ec.message());
    co_return http::Response::error(bhttp::status::bad_gateway, "owner_bad_response",
                                    "the node that owns this session answered something unreadable");
  }

  // The owner's head.
  auto& parser = *upstream->parser;
  const auto& answer = parser.get();
  const unsigned status_code = answer.result_int();
  if (metrics_) metrics_->seconds->observe(std::chrono::duration<double>(SteadyClock::now() - started).count());
  x->span.set_attribute("http.response.status_code", static_cast<std::int64_t>(status_code));
  if (status_code >= 500) x->span.set_status(telemetry::SpanStatus::error, std::to_string(status_code));

  http::Response res;
  res.status = answer.result();
  const auto type = answer.find(bhttp::field::content_type);
  res.content_type = type != answer.end() ? std::string(type->value()) : std::string("application/octet-stream");
  const bool events = req.method == bhttp::verb::get && status_code == 200 && is_event_stream(res.content_type);
  const auto connection = answer.find(bhttp::field::connection);
  const std::string_view answer_connection = connection != answer.end() ? connection->value() : std::string_view();
  for (const auto& field : answer) {
    const std::string_view name = field.name_string();
    if (hop_by_hop(name, answer_connection) || set_by_connection(name, events)) continue;
    res.headers.emplace_back(std::string(name), std::string(field.value()));
  }

  if (events) {
    const http::SseProducer relay = [x](http::SseWriter& writer) { return relay_events(x, writer); };
    res.sse = relay;
    co_return res;
  }
  const boost::optional<std::uint64_t> length = parser.content_length();
  if (head_request || parser.is_done()) {
    if (head_request && length) {
      // The head of what a GET would answer, Content-Length included; no body follows.
      http::Response bodiless = http::Response::streamed(res.status, res.content_type, *length, no_body);
      bodiless.headers = std::move(res.headers);
      co_return bodiless;
    }
    co_return res;
  }
  if (length && *length > kMaxBufferedBody) {
    x->length = *length;
    http::Response streamed = http::Response::streamed(
        res.status, res.content_type, *length, [x](http::BodyWriter& writer) { return relay_body(x, writer); });
    streamed.headers = std::move(res.headers);
    co_return streamed;
  }

  // A short body (or one of unknown length, kept up to kMaxBufferedBody bytes): read it whole.
  upstream->stream.expires_at(deadline);
  const std::uint64_t want = length ? *length : kMaxBufferedBody + 1;
  std::string body(static_cast<std::size_t>(std::min<std::uint64_t>(want, kPiece)), '\0');
  std::size_t got = 0;
  while (true) {
    if (got == body.size()) {
      if (body.size() >= want) break;
      body.resize(static_cast<std::size_t>(std::min<std::uint64_t>(want, body.size() * 2)));
    }
    asio::awaitable<std::pair<std::size_t, error_code>> reading =
        read_body_piece(upstream, std::span<char>(body.data() + got, body.size() - got));
    const auto [n, read_ec] = co_await std::move(reading);
    got += n;
    if (read_ec) {
      const bool timed_out = read_ec == beast::error::timeout;
      x->finish(Outcome::failed, "the owner's response body broke off: " + read_ec.message());
      if (timed_out) {
        co_return http::Response::error(bhttp::status::gateway_timeout, "owner_timeout",
                                        "the node that owns this session did not answer in time");
      }
      co_return http::Response::error(bhttp::status::bad_gateway, "owner_bad_response",
                                      "the node that owns this session sent an incomplete answer");
    }
    if (n == 0) break;
  }
  if (!parser.is_done()) {
    x->finish(Outcome::failed, "the owner's response body of unknown length is over the buffered limit");
    co_return http::Response::error(bhttp::status::bad_gateway, "owner_bad_response",
                                    "the node that owns this session sent a longer answer than can be relayed");
  }
  body.resize(got);
  res.body = std::move(body);
  co_return res;
}

}  // namespace tgpulse::cluster
