#include "http/connection.h"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <exception>
#include <limits>
#include <string>

#include "http/http_metrics.h"
#include "http/request.h"
#include "http/request_id.h"
#include "http/router.h"
#include "http/server.h"
#include "http/sse_writer.h"
#include "telemetry/logger.h"
#include "telemetry/rejections.h"
#include "telemetry/tracer.h"

namespace tgpulse::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct ParseFailure {
  bhttp::status status;
  const char* code;
  std::string message;
};

// Errors of the request parser that deserve an answer; nullopt-like `code == nullptr` for those that
// mean the client went away (end of stream, partial message, timeout, reset).
ParseFailure classify(const boost::system::error_code& ec, const ServerOptions& opt) {
  using E = bhttp::error;
  if (ec == E::body_limit) {
    return {bhttp::status::payload_too_large, "payload_too_large",
            "request body is larger than the limit of " + std::to_string(opt.body_limit) + " bytes"};
  }
  if (ec == E::header_limit || ec == E::buffer_overflow) {
    return {bhttp::status::request_header_fields_too_large, "request_header_fields_too_large",
            "request line and headers are larger than the limit of " + std::to_string(opt.header_limit) +
                " bytes"};
  }
  if (ec == E::bad_method || ec == E::bad_target || ec == E::bad_version) {
    return {bhttp::status::bad_request, "bad_request", "malformed request line"};
  }
  if (ec == E::bad_field || ec == E::bad_value || ec == E::bad_line_ending || ec == E::bad_obs_fold) {
    return {bhttp::status::bad_request, "bad_request", "malformed header"};
  }
  if (ec == E::bad_content_length) {
    return {bhttp::status::bad_request, "bad_request", "invalid Content-Length"};
  }
  if (ec == E::bad_transfer_encoding || ec == E::bad_chunk || ec == E::bad_chunk_extension) {
    return {bhttp::status::bad_request, "bad_request", "malformed chunked body"};
  }
  if (ec.category() == bhttp::make_error_code(E::bad_method).category() && ec != E::end_of_stream &&
      ec != E::partial_message && ec != E::need_more && ec != E::need_buffer) {
    return {bhttp::status::bad_request, "bad_request", "malformed request"};
  }
  return {bhttp::status::ok, nullptr, {}};
}

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Request smuggling: a front proxy and this server must agree where a request ends. The only framing
// accepted besides Content-Length is one Transfer-Encoding header whose whole value is "chunked" — no
// codings list ("gzip, chunked", "chunked, identity"), no second header, never with Content-Length.
// Beast alone would treat "gzip, chunked" as chunked and "chunked, identity" as a body-less request
// followed by the "body" as the next request. Returns "" when the framing is acceptable.
std::string framing_problem(const bhttp::fields& fields) {
  int te = 0;
  std::string_view value;
  for (const auto& f : fields) {
    if (f.name() == bhttp::field::transfer_encoding) {
      ++te;
      value = f.value();
    }
  }
  if (te == 0) return {};
  if (te > 1) return "more than one Transfer-Encoding header";
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (!iequals_ascii(value, "chunked")) return "Transfer-Encoding other than exactly \"chunked\"";
  if (fields.find(bhttp::field::content_length) != fields.end()) return "both Transfer-Encoding and Content-Length";
  return {};
}

std::string span_name(bhttp::verb method, std::string_view route) {
  std::string name = "HTTP ";
  name += bhttp::to_string(method);
  name += ' ';
  name += route;
  return name;
}

}  // namespace

Connection::Connection(Server& server, asio::ip::tcp::socket socket)
    : server_(server), stream_(std::move(socket)) {
  boost::system::error_code ec;
  const asio::ip::tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
  if (!ec) client_address_ = peer.address().to_string();
}

Connection::~Connection() { server_.connection_closed(); }

void Connection::on_stop() {
  stop_requested_ = true;
  if (phase_ == Phase::idle) stream_.cancel();
  if (sse_) sse_->stop();
}

void Connection::force_close() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    self->stop_requested_ = true;
    if (self->sse_) self->sse_->stop();
    // Cancel first: the read, write or timer wait pending on the socket completes with
    // operation_aborted, so the coroutine awaiting it resumes and ends instead of waiting for a socket
    // that no longer exists; then close.
    self->stream_.cancel();
    boost::system::error_code ignored;
    self->stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    self->stream_.close();
  });
}

asio::awaitable<void> Connection::run(std::shared_ptr<Connection> self, TaskGroup::Stop stop) {
  const std::uint64_t id = server_.register_connection(self);
  struct Unregister {
    Server& server;
    std::uint64_t id;
    ~Unregister() { server.unregister_connection(id); }
  } unregister{server_, id};
  // Runs on this strand while the coroutine is suspended (never in the middle of a step).
  TaskGroup::StopGuard stop_guard = stop.on_stop(stream_.get_executor(), [this] { on_stop(); });
  if (stop.requested()) stop_requested_ = true;

  const ServerOptions& opt = server_.options();
  try {
    boost::system::error_code ec;
    while (true) {
      if (buffer_.size() == 0) {
        phase_ = Phase::idle;
        if (stop_requested_ || server_.stopping()) break;
        stream_.expires_after(opt.idle_timeout);
        const std::size_t n = co_await stream_.async_read_some(buffer_.prepare(4096),
                                                               asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;  // idle timeout, client closed, or shutdown
        buffer_.commit(n);
      }
      phase_ = Phase::reading;
      const auto started = SteadyClock::now();
      bhttp::request_parser<bhttp::string_body> parser;
      // No limit while the header is read: the route decides (the server's body_limit, or a streamed
      // route's own), checked right below before any body byte is read.
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      parser.header_limit(static_cast<std::uint32_t>(opt.header_limit));
      stream_.expires_after(opt.read_timeout);
      co_await bhttp::async_read_header(stream_, buffer_, parser, asio::redirect_error(asio::use_awaitable, ec));
      const Route* streamed = nullptr;
      if (!ec) {
        if (std::string problem = framing_problem(parser.get()); !problem.empty()) {
          if (auto* rejections = server_.telemetry().rejections) {
            rejections->count(telemetry::RejectReason::request_framing);
          }
          Response refusal = Response::error(bhttp::status::bad_request, "bad_request",
                                             "ambiguous request framing: " + problem);
          const unsigned version = parser.get().version();
          std::string method(parser.get().method_string());
          co_await answer_and_close(std::move(refusal), version, std::move(method), started);
          break;
        }
        streamed = streamed_route(parser.get());
        if (streamed == nullptr) {
          const boost::optional<std::uint64_t> length = parser.content_length();
          if (length && *length > opt.body_limit) ec = bhttp::error::body_limit;
          parser.body_limit(opt.body_limit);  // a chunked body: counted as its chunks arrive
        }
        if (!ec && streamed == nullptr && !parser.is_done()) {
          co_await bhttp::async_read(stream_, buffer_, parser, asio::redirect_error(asio::use_awaitable, ec));
        }
      }
      if (ec) {
        const bool header_done = parser.is_header_done();
        const unsigned version = header_done ? parser.get().version() : 11;
        const std::string method = header_done ? std::string(parser.get().method_string()) : std::string();
        co_await answer_parse_error(ec, version, method, started);
        break;
      }
      phase_ = Phase::handling;
      if (streamed != nullptr) {
        const bool keep = co_await serve_streamed(parser, *streamed, started);
        if (!keep) break;
        continue;
      }
      const bool keep = co_await serve(parser.release(), started);
      if (!keep) break;
    }
  } catch (const std::exception& e) {
    if (auto* log = server_.telemetry().logger) log->error("http connection failed", {{"error.message", e.what()}});
  }
  phase_ = Phase::closing;
  sse_.reset();
  boost::system::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  stream_.close();
}

asio::awaitable<void> Connection::answer_parse_error(boost::system::error_code ec, unsigned version,
                                                     std::string_view method, SteadyClock::time_point started) {
  ParseFailure failure = classify(ec, server_.options());
  if (failure.code == nullptr) co_return;  // the client went away or timed out: nobody to answer
  // Beast's own framing refusals (Transfer-Encoding with Content-Length, two "chunked", a bad length)
  // are smuggling attempts as much as the ones framing_problem() finds.
  if (ec == bhttp::error::bad_transfer_encoding || ec == bhttp::error::bad_content_length) {
    if (auto* rejections = server_.telemetry().rejections) {
      rejections->count(telemetry::RejectReason::request_framing);
    }
  }
  Response res = Response::error(failure.status, failure.code, failure.message);
  co_await answer_and_close(std::move(res), version, std::string(method), started);
}

asio::awaitable<void> Connection::answer_and_close(Response res, unsigned version, std::string method,
                                                   SteadyClock::time_point started) {
  const std::string request_id = generate_request_id();
  const unsigned status = static_cast<unsigned>(res.status);
  co_await write_response(request_id, std::string(), res, version, false, false);
  finish(server_.metrics() ? server_.metrics()->unmatched() : 0, status, method, {}, request_id, started, nullptr);
  co_await linger();
}

asio::awaitable<void> Connection::linger() {
  boost::system::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  stream_.expires_after(std::chrono::seconds(1));
  std::size_t drained = 0;
  char sink[4096];
  while (drained < 4 * 1024 * 1024) {
    const std::size_t n =
        co_await stream_.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ignored));
    if (ignored) break;
    drained += n;
  }
}

// The body of a request to a streamed-body route, read from the connection's socket in the handler's
// pieces.
class Connection::StreamedBody final : public BodyReader {
 public:
  StreamedBody(Connection& connection, bhttp::request_parser<bhttp::buffer_body>& parser, std::uint64_t limit)
      : connection_(connection), parser_(parser), limit_(limit) {
    const auto expect = parser_.get().find(bhttp::field::expect);
    expects_continue_ = expect != parser_.get().end() && iequals_ascii(expect->value(), "100-continue") &&
                        parser_.get().version() >= 11;
  }

  asio::awaitable<Result<std::size_t>> read(std::span<char> into) override {
    if (failed_) co_return Error(Errc::unavailable, "the request body could not be read");
    if (parser_.is_done() || into.empty()) co_return std::size_t{0};
    boost::system::error_code ec;
    if (expects_continue_) {
      expects_continue_ = false;
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      connection_.stream_.expires_after(connection_.server_.options().write_timeout);
      co_await asio::async_write(connection_.stream_, asio::buffer(kContinue.data(), kContinue.size()),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return fail(Error(Errc::unavailable, "the client went away before sending the body"));
    }
    std::size_t n = 0;
    while (n == 0 && !parser_.is_done()) {
      auto& body = parser_.get().body();
      body.data = into.data();
      body.size = into.size();
      connection_.stream_.expires_after(connection_.server_.options().read_timeout);
      co_await bhttp::async_read(connection_.stream_, connection_.buffer_, parser_,
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec == bhttp::error::need_buffer) ec = {};
      n = into.size() - parser_.get().body().size;
      if (ec) {
        if (ec == bhttp::error::body_limit) {
          co_return fail(Error(Errc::payload_too_large,
                               "request body is larger than the limit of " + std::to_string(limit_) + " bytes"));
        }
        ParseFailure failure = classify(ec, connection_.server_.options());
        if (failure.code != nullptr) co_return fail(Error(Errc::invalid_argument, failure.message));
        co_return fail(Error(Errc::unavailable, "the client stopped sending the request body"));
      }
    }
    co_return n;
  }

  std::optional<std::uint64_t> content_length() const override {
    const boost::optional<std::uint64_t> length = parser_.content_length();
    return length ? std::optional<std::uint64_t>(*length) : std::nullopt;
  }

  bool done() const { return !failed_ && parser_.is_done(); }

 private:
  Error fail(Error e) {
    failed_ = true;
    return e;
  }

  Connection& connection_;
  bhttp::request_parser<bhttp::buffer_body>& parser_;
  std::uint64_t limit_;
  bool expects_continue_ = false;
  bool failed_ = false;
};

const Route* Connection::streamed_route(const RawRequest& head) const {
  const std::string_view target = head.target();
  const RouteMatch match = server_.router().match(head.method(), target.substr(0, target.find('?')));
  if (match.kind != RouteMatch::Kind::found || !match.route->options.stream_body) return nullptr;
  return match.route;
}

asio::awaitable<bool> Connection::serve_streamed(bhttp::request_parser<bhttp::string_body>& parser, const Route& route,
                                                 SteadyClock::time_point started) {
  bhttp::request_parser<bhttp::buffer_body> body_parser{std::move(parser)};
  body_parser.body_limit(route.options.body_limit);
  const boost::optional<std::uint64_t> length = body_parser.content_length();
  RawRequest head(body_parser.get().base());
  if (length && *length > route.options.body_limit) {
    // Refused before a byte of it is read; the client is not waiting for a 100 Continue.
    Response res = Response::error(
        bhttp::status::payload_too_large, "payload_too_large",
        "request body is larger than the limit of " + std::to_string(route.options.body_limit) + " bytes");
    co_await answer_and_close(std::move(res), head.version(), std::string(head.method_string()), started);
    co_return false;
  }
  StreamedBody body(*this, body_parser, route.options.body_limit);
  const bool keep = co_await serve(std::move(head), started, &body);
  if (body.done()) co_return keep;
  // The handler answered without reading the whole body (a refusal): the rest is not a next request.
  co_await linger();
  co_return false;
}

asio::awaitable<bool> Connection::serve(RawRequest raw, SteadyClock::time_point started, BodyReader* body_reader) {
  const ServerOptions& opt = server_.options();
  const unsigned version = raw.version();
  const bool client_keep_alive = raw.keep_alive();

  Request req;
  req.method = raw.method();
  req.target = std::string(raw.target());
  const auto qpos = req.target.find('?');
  req.path = req.target.substr(0, qpos);
  const std::string_view query =
      qpos == std::string::npos ? std::string_view() : std::string_view(req.target).substr(qpos + 1);
  req.body = std::move(raw.body());
  req.body_reader = body_reader;
  req.headers = std::move(static_cast<bhttp::fields&>(raw));
  req.request_id = request_id_for(req.header("X-Request-Id"));
  req.executor = stream_.get_executor();
  req.client_address = client_address_;
  const std::string method_name(bhttp::to_string(req.method) == "<unknown>"
                                    ? std::string_view(raw.method_string())
                                    : bhttp::to_string(req.method));

  RouteMatch match = server_.router().match(req.method, req.path);
  req.route = match.kind == RouteMatch::Kind::not_found ? std::string(HttpMetrics::kUnmatchedRoute) : match.pattern;

  const auto incoming = telemetry::SpanContext::parse_traceparent(req.header("traceparent"));
  telemetry::Span span;
  if (auto* tracer = server_.telemetry().tracer) {
    span = tracer->start_span(span_name(req.method, req.route), incoming ? &*incoming : nullptr,
                              telemetry::SpanKind::server,
                              {{"http.request.method", method_name},
                               {"url.path", req.path},
                               {"http.route", req.route},
                               {"http.request.id", req.request_id}});
  }
  req.span_context = span.context();

  std::size_t slot = server_.metrics() ? server_.metrics()->unmatched() : 0;
  Response res;
  if (match.kind == RouteMatch::Kind::not_found) {
    res = Response::error(bhttp::status::not_found, "not_found", "no such path");
  } else if (match.kind == RouteMatch::Kind::method_not_allowed) {
    res = Response::error(bhttp::status::method_not_allowed, "method_not_allowed",
                          "method " + method_name + " is not allowed here; allowed: " + match.allow);
    res.with_header("Allow", match.allow);
  } else {
    slot = match.route->index;
    req.path_params = std::move(match.params);
    auto parsed = parse_query(query);
    if (!parsed) {
      res = Response::error(bhttp::status::bad_request, "bad_request", "malformed query string");
    } else {
      req.query_params = std::move(*parsed);
      bool failed = false;
      std::string what;
      try {
        res = co_await match.route->handler(req);
      } catch (const std::exception& e) {
        failed = true;
        what = e.what();
      } catch (...) {
        failed = true;
        what = "unknown exception";
      }
      if (failed) {
        if (auto* log = server_.telemetry().logger) {
          log->error("http handler failed",
                     {{"http.route", req.route}, {"http.request.id", req.request_id}, {"error.message", what}},
                     &req.span_context);
        }
        span.set_attribute("error.type", std::string("exception"));
        res = Response::error(bhttp::status::internal_server_error, "internal", "internal error");
      }
    }
  }

  unsigned status = static_cast<unsigned>(res.status);
  bool keep_alive = false;
  if (res.is_event_stream() && req.method == bhttp::verb::get) {
    status = co_await stream_events(req, res);
  } else {
    if (res.is_event_stream()) res = Response::error(bhttp::status::method_not_allowed, "method_not_allowed",
                                                     "event streams are served for GET only");
    status = static_cast<unsigned>(res.status);
    keep_alive = client_keep_alive && !stop_requested_ && !server_.stopping();
    const std::string traceparent = req.span_context.valid() ? req.span_context.traceparent() : std::string();
    const bool head_only = req.method == bhttp::verb::head;
    bool written = false;
    if (res.is_streamed()) {
      written = co_await write_streamed(req.request_id, traceparent, res, version, keep_alive, head_only);
    } else {
      written = co_await write_response(req.request_id, traceparent, res, version, keep_alive, head_only);
    }
    keep_alive = keep_alive && written;
  }
  span.set_attribute("http.response.status_code", static_cast<std::int64_t>(status));
  if (status >= 500) span.set_status(telemetry::SpanStatus::error, std::to_string(status));
  finish(slot, status, method_name, req.path, req.request_id, started, &req.span_context);
  span.end();
  (void)opt;
  co_return keep_alive;
}

asio::awaitable<bool> Connection::write_response(std::string_view request_id, const std::string& traceparent,
                                                 Response& res, unsigned version, bool keep_alive,
                                                 bool head_only) {
  bhttp::response<bhttp::string_body> out{res.status, version};
  out.set(bhttp::field::server, "tgpulse");
  out.set(bhttp::field::content_type, res.content_type);
  out.set("X-Request-Id", request_id);
  if (!traceparent.empty()) out.set("traceparent", traceparent);
  for (const auto& [name, value] : res.headers) out.insert(name, value);
  out.keep_alive(keep_alive);
  out.body() = std::move(res.body);
  out.prepare_payload();
  boost::system::error_code ec;
  stream_.expires_after(server_.options().write_timeout);
  if (head_only) {
    out.body().clear();
    bhttp::response_serializer<bhttp::string_body> sr{out};
    co_await bhttp::async_write_header(stream_, sr, asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await bhttp::async_write(stream_, out, asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return !ec;
}

class Connection::StreamedWriter final : public BodyWriter {
 public:
  explicit StreamedWriter(Connection& connection) : connection_(connection) {}
  asio::awaitable<bool> write(std::string_view bytes) override {
    if (failed_) co_return false;
    if (bytes.empty()) co_return true;
    boost::system::error_code ec;
    connection_.stream_.expires_after(connection_.server_.options().write_timeout);
    co_await asio::async_write(connection_.stream_, asio::buffer(bytes.data(), bytes.size()),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      failed_ = true;
      co_return false;
    }
    written_ += bytes.size();
    co_return true;
  }
  std::uint64_t written() const { return written_; }

 private:
  Connection& connection_;
  std::uint64_t written_ = 0;
  bool failed_ = false;
};

asio::awaitable<bool> Connection::write_streamed(std::string_view request_id, const std::string& traceparent,
                                                 Response& res, unsigned version, bool keep_alive, bool head_only) {
  bhttp::response<bhttp::empty_body> head{res.status, version};
  head.set(bhttp::field::server, "tgpulse");
  head.set(bhttp::field::content_type, res.content_type);
  head.set("X-Request-Id", request_id);
  if (!traceparent.empty()) head.set("traceparent", traceparent);
  for (const auto& [name, value] : res.headers) head.insert(name, value);
  head.keep_alive(keep_alive);
  head.content_length(res.content_length);
  bhttp::response_serializer<bhttp::empty_body> sr{head};
  boost::system::error_code ec;
  stream_.expires_after(server_.options().write_timeout);
  co_await bhttp::async_write_header(stream_, sr, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return false;
  if (head_only) co_return true;
  phase_ = Phase::streaming;
  StreamedWriter writer(*this);
  try {
    co_await res.producer(writer);
  } catch (const std::exception& e) {
    if (auto* log = server_.telemetry().logger) {
      log->error("http response body failed", {{"http.request.id", request_id}, {"error.message", e.what()}});
    }
  }
  phase_ = Phase::handling;
  // A body shorter than its Content-Length cannot be finished on this connection: closing it is how
  // the client learns the response was cut.
  co_return writer.written() == res.content_length;
}

asio::awaitable<unsigned> Connection::stream_events(const Request& req, Response& res) {
  bhttp::response<bhttp::empty_body> head{bhttp::status::ok, 11};
  head.set(bhttp::field::server, "tgpulse");
  head.set(bhttp::field::content_type, "text/event-stream");
  head.set(bhttp::field::cache_control, "no-store");  // streams carry links and states: never cached
  head.set("X-Accel-Buffering", "no");
  head.set("X-Request-Id", req.request_id);
  if (req.span_context.valid()) head.set("traceparent", req.span_context.traceparent());
  for (const auto& [name, value] : res.headers) head.insert(name, value);
  head.keep_alive(false);  // the stream ends by closing the connection
  bhttp::response_serializer<bhttp::empty_body> sr{head};
  boost::system::error_code ec;
  stream_.expires_after(server_.options().write_timeout);
  co_await bhttp::async_write_header(stream_, sr, asio::redirect_error(asio::use_awaitable, ec));
  stream_.expires_never();
  if (ec) co_return 200u;

  phase_ = Phase::streaming;
  sse_ = std::make_shared<SseWriter>(stream_, SseOptions{server_.options().sse_heartbeat,
                                                         server_.options().write_timeout});
  if (stop_requested_ || server_.stopping()) sse_->stop();
  // A second task of the server's group: a stream whose watcher cannot start (the drain began) is
  // stopped already.
  server_.spawn(stream_.get_executor(), "http_sse_disconnect_watch",
                [self = shared_from_this(), writer = sse_](TaskGroup::Stop) { return watch_for_disconnect(self, writer); });
  try {
    co_await res.sse(*sse_);
  } catch (const std::exception& e) {
    if (auto* log = server_.telemetry().logger) {
      log->error("http event stream failed",
                 {{"http.route", req.route}, {"http.request.id", req.request_id}, {"error.message", e.what()}},
                 &req.span_context);
    }
  }
  sse_->stop();
  // Ends the stream: the disconnect watcher's pending read completes when the socket closes.
  boost::system::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  co_return 200u;
}

asio::awaitable<void> Connection::watch_for_disconnect(std::shared_ptr<Connection> self,
                                                       std::shared_ptr<SseWriter> writer) {
  char sink[512];
  while (true) {
    boost::system::error_code ec;
    co_await self->stream_.socket().async_read_some(asio::buffer(sink),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!writer->stopping()) writer->mark_client_gone();
      co_return;
    }
  }
}

void Connection::finish(std::size_t metric_slot, unsigned status, std::string_view method, std::string_view path,
                        std::string_view request_id, SteadyClock::time_point started,
                        const telemetry::SpanContext* ctx) {
  const auto elapsed = SteadyClock::now() - started;
  const double seconds = std::chrono::duration<double>(elapsed).count();
  if (auto* metrics = server_.metrics()) metrics->observe(metric_slot, status, seconds, ctx);
  if (auto* log = server_.telemetry().logger) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count();
    log->info("http request",
              {{"http.request.method", method},
               {"url.path", path},
               {"http.response.status_code", status},
               {"event.duration", static_cast<std::int64_t>(ns)},
               {"http.request.id", request_id}},
              ctx != nullptr && ctx->valid() ? ctx : nullptr);
  }
}

}  // namespace tgpulse::http
