// Request: what a route handler sees of one HTTP request — method, target, path, the route pattern it
// matched, path and query parameters, headers, body, the request id (echoed as X-Request-Id) and the
// SpanContext of the request's server span (pass it as the parent of the handler's own spans).
//
// Thread-safety: owned by the connection coroutine that serves the request; a handler may read it
// until its awaitable completes. Not for concurrent use.
#pragma once

#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "telemetry/trace_context.h"

namespace tgpulse::http {

using Params = std::vector<std::pair<std::string, std::string>>;

// The unread body of a request to a route added with RouteOptions::stream_body. The first read()
// answers a client that sent "Expect: 100-continue", so a handler that refuses before reading (a bad
// token, a quota) costs the client no upload. A body the handler leaves unread closes the connection
// after the response.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // Reads the next bytes of the body into `into`; 0 once the whole body is read. Errors:
  // payload_too_large (past the route's body_limit), invalid_argument (a malformed chunked body),
  // unavailable (the client went away or stopped sending for the read timeout).
  virtual boost::asio::awaitable<Result<std::size_t>> read(std::span<char> into) = 0;
  // The declared Content-Length; nullopt for a chunked body.
  virtual std::optional<std::uint64_t> content_length() const = 0;
};

struct Request {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target;        // as received: "/v1/sessions/abc/invoke?x=1"
  std::string path;          // target without the query: "/v1/sessions/abc/invoke"
  std::string route;         // the matched pattern: "/v1/sessions/{id}/invoke" ("unmatched" if none)
  Params path_params;        // {"id", "abc"}, percent-decoded
  Params query_params;       // in order of appearance, percent-decoded ('+' is a space)
  boost::beast::http::fields headers;
  std::string body;
  BodyReader* body_reader = nullptr;  // set (and `body` empty) for a route that streams its body
  std::string request_id;    // accepted from X-Request-Id when sane, else generated
  telemetry::SpanContext span_context;  // the server span of this request
  boost::asio::any_io_executor executor;  // the connection's strand; handlers may run timers on it
  // The peer's IP address as the socket sees it ("" if unknown). Behind a reverse proxy this is the
  // proxy's: forwarding headers are not trusted (any client can write them).
  std::string client_address;

  // The value of path parameter `name`, or "" when the route has no such parameter.
  std::string_view param(std::string_view name) const noexcept;
  // The first value of query parameter `name`, or nullopt when absent.
  std::optional<std::string_view> query(std::string_view name) const noexcept;
  // The value of header `name` (case-insensitive), or "" when absent.
  std::string_view header(std::string_view name) const noexcept;
};

}  // namespace tgpulse::http
