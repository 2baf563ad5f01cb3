#include "http/connection.h"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <exception>
#include <string>

#include "http/http_metrics.h"
#include "http/request.h"
#include "http/request_id.h"
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
      parser.body_limit(opt.body_limit);
      parser.header_limit(static_cast<std::uint32_t>(opt.header_limit));
      stream_.expires_after(opt.read_timeout);
      co_await bhttp::async_read_header(stream_, buffer_, parser, asio::redirect_error(asio::use_awaitable, ec));
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
        if (!parser.is_done()) {
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
  // Lingering close: stop sending, then discard what the client still sends (briefly) so the answer is
  // not lost to a connection reset.
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

asio::awaitable<bool> Connection::serve(RawRequest raw, SteadyClock::time_point started) {
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
    const bool written = co_await write_response(req.request_id, traceparent, res, version, keep_alive,
                                                 req.method == bhttp::verb::head);
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
