#include "cluster/forwarding_routes.h"

#include <optional>
#include <string>
#include <utility>

namespace tgpulse::cluster {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

// What a wrapped handler needs; both outlive the server (see the header).
struct Forwarding {
  http::Handler local;
  SessionLocator* locator;
  RequestForwarder* forwarder;
};

bool forwarded_already(const http::Request& req) { return !req.header(kForwardedByHeader).empty(); }

asio::awaitable<http::Response> serve_local(http::Handler local, http::Request& req) {
  asio::awaitable<http::Response> answering = local(req);
  http::Response res = co_await std::move(answering);
  co_return res;
}

asio::awaitable<http::Response> serve_session_route(Forwarding f, http::Request& req) {
  asio::awaitable<SessionLocator::Location> locating = f.locator->locate(std::string(req.param("id")));
  const SessionLocator::Location where = co_await std::move(locating);
  // A forwarded request whose session moved on meanwhile (the sender's view was a moment old) is not
  // sent on: the client retries and reaches the new owner. Never a 404 for a session that exists.
  if (where.where == SessionLocator::Where::moving ||
      (where.where == SessionLocator::Where::elsewhere && forwarded_already(req))) {
    co_return http::Response::error(bhttp::status::service_unavailable, "session_moving",
                                    "the session is moving to another node; retry")
        .with_header("Retry-After", "1");
  }
  if (!forwarded_already(req)) {
    if (where.where == SessionLocator::Where::elsewhere) {
      asio::awaitable<http::Response> forwarding = f.forwarder->forward(req, where.owner);
      http::Response res = co_await std::move(forwarding);
      co_return res;
    }
  }
  asio::awaitable<http::Response> answering = serve_local(std::move(f.local), req);
  http::Response res = co_await std::move(answering);
  co_return res;
}

asio::awaitable<http::Response> serve_login_start(Forwarding f, http::Request& req) {
  if (!forwarded_already(req)) {
    const std::optional<NodeAddress> node = f.locator->placement();
    if (node) {
      asio::awaitable<http::Response> forwarding = f.forwarder->forward(req, *node);
      http::Response res = co_await std::move(forwarding);
      co_return res;
    }
  }
  asio::awaitable<http::Response> answering = serve_local(std::move(f.local), req);
  http::Response res = co_await std::move(answering);
  co_return res;
}

}  // namespace

bool is_session_scoped(std::string_view pattern) noexcept {
  for (std::string_view prefix : kSessionScopedPrefixes) {
    if (pattern.substr(0, prefix.size()) != prefix) continue;
    if (pattern.size() == prefix.size() || pattern[prefix.size()] == '/') return true;
  }
  return false;
}

bool is_login_start(bhttp::verb method, std::string_view pattern) noexcept {
  return method == bhttp::verb::post && (pattern == "/v1/qr-logins" || pattern == "/v1/phone-logins");
}

http::Router forwarding_router(const http::Router& routes, SessionLocator& locator, RequestForwarder& forwarder) {
  http::Router out;
  for (const http::Route& route : routes.routes()) {
    Forwarding f{route.handler, &locator, &forwarder};
    if (is_session_scoped(route.pattern)) {
      out.add(route.method, route.pattern, [f](http::Request& req) { return serve_session_route(f, req); },
              route.options);
    } else if (is_login_start(route.method, route.pattern)) {
      out.add(route.method, route.pattern, [f](http::Request& req) { return serve_login_start(f, req); },
              route.options);
    } else {
      out.add(route.method, route.pattern, route.handler, route.options);
    }
  }
  return out;
}

}  // namespace tgpulse::cluster
