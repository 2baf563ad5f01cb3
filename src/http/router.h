// Router: the route table. Patterns are absolute paths whose segments are literals or parameters
// ("/v1/sessions/{id}/invoke"); a parameter matches one non-empty segment. When several routes match a
// path, the one with a literal earliest wins ("/v1/sessions/stats" beats "/v1/sessions/{id}").
// A GET route also answers HEAD. match() tells found / method-not-allowed (with the Allow list) /
// not-found.
//
// Thread-safety: add() is for start-up only (before Server::start); match() and routes() are then
// safe from any thread because the table no longer changes.
#pragma once

#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/request.h"
#include "http/response.h"

namespace tgpulse::http {

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

// How a route takes its request body.
struct RouteOptions {
  // false (the default): the server reads the whole body (at most ServerOptions::body_limit bytes)
  // before the handler runs. true: the handler gets the body unread through Request::body_reader and
  // reads it in pieces (an upload to disk); body_limit bounds it instead of the server's.
  bool stream_body = false;
  std::uint64_t body_limit = 0;
};

struct Route {
  boost::beast::http::verb method;
  std::string pattern;        // as given to add(); also the `route` metric label and span name part
  std::size_t index = 0;      // position in routes(), for per-route state (metric handles)
  Handler handler;
  RouteOptions options;

  struct Segment {
    std::string text;         // literal text, or the parameter name
    bool is_param = false;
  };
  std::vector<Segment> segments;
};

struct RouteMatch {
  enum class Kind { found, method_not_allowed, not_found };
  Kind kind = Kind::not_found;
  const Route* route = nullptr;  // when found
  Params params;                 // when found: path parameters, percent-decoded
  std::string allow;             // when method_not_allowed: "GET, POST"
  // When found or method_not_allowed: the pattern of the best-matching path (for metrics/spans).
  std::string pattern;
};

class Router {
 public:
  // Throws std::invalid_argument for a malformed pattern (not starting with '/', empty segment,
  // unbalanced braces, duplicate parameter name) or a duplicate (method, pattern).
  void add(boost::beast::http::verb method, std::string_view pattern, Handler handler, RouteOptions options = {});
  RouteMatch match(boost::beast::http::verb method, std::string_view path) const;
  const std::vector<Route>& routes() const noexcept { return routes_; }

 private:
  std::vector<Route> routes_;
};

// Decodes %XX escapes (and '+' as a space when `plus_is_space`); nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space = false);
// Parses "a=1&b=x%20y&c" into {{"a","1"},{"b","x y"},{"c",""}}; nullopt on a malformed escape.
std::optional<Params> parse_query(std::string_view query);

}  // namespace tgpulse::http
