#include "cluster/forwarding_routes.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

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

// 503 with Retry-After: 1 — the cluster is between two states (a session moving, a node away).
http::Response retry_soon(std::string_view code, std::string_view message) {
  return http::Response::error(bhttp::status::service_unavailable, code, message).with_header("Retry-After", "1");
}

asio::awaitable<http::Response> serve_local(http::Handler local, http::Request& req) {
  asio::awaitable<http::Response> answering = local(req);
  http::Response res = co_await std::move(answering);
  co_return res;
}

// Sends the request to `to` when set, else serves it here.
asio::awaitable<http::Response> forward_or_local(Forwarding f, http::Request& req, std::optional<NodeAddress> to) {
  if (to) {
    asio::awaitable<http::Response> forwarding = f.forwarder->forward(req, *to);
    http::Response res = co_await std::move(forwarding);
    co_return res;
  }
  asio::awaitable<http::Response> answering = serve_local(std::move(f.local), req);
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
    co_return retry_soon("session_moving", "the session is moving to another node; retry");
  }
  std::optional<NodeAddress> to;
  if (where.where == SessionLocator::Where::elsewhere) to = where.owner;  // (not forwarded: checked above)
  asio::awaitable<http::Response> answering = forward_or_local(std::move(f), req, std::move(to));
  http::Response res = co_await std::move(answering);
  co_return res;
}

asio::awaitable<http::Response> serve_login_start(Forwarding f, http::Request& req) {
  std::optional<NodeAddress> to;
  if (!forwarded_already(req)) to = f.locator->placement();
  asio::awaitable<http::Response> answering = forward_or_local(std::move(f), req, std::move(to));
  http::Response res = co_await std::move(answering);
  co_return res;
}

// GET /v1/sessions: every node lists the sessions it holds; the answer is all of them. A live node
// that does not answer makes the list 503 (retryable) rather than silently short.
asio::awaitable<http::Response> serve_session_list(Forwarding f, http::Request& req) {
  asio::awaitable<http::Response> answering = serve_local(f.local, req);
  http::Response local = co_await std::move(answering);
  if (forwarded_already(req) || local.status != bhttp::status::ok) co_return local;
  nlohmann::json merged = nlohmann::json::parse(local.body, nullptr, false);
  if (!merged.is_object() || !merged["sessions"].is_array()) co_return local;
  std::set<std::string> seen;
  for (const auto& s : merged["sessions"]) seen.insert(s.value("session_id", ""));
  asio::awaitable<Result<std::vector<NodeAddress>>> listing = f.locator->peers();
  Result<std::vector<NodeAddress>> peers = co_await std::move(listing);
  if (!peers) {
    co_return retry_soon("node_unavailable", peers.error().message);
  }
  for (const NodeAddress& peer : *peers) {
    asio::awaitable<http::Response> asking = f.forwarder->forward(req, peer);
    http::Response theirs = co_await std::move(asking);
    nlohmann::json doc = theirs.status == bhttp::status::ok && !theirs.is_streamed()
                             ? nlohmann::json::parse(theirs.body, nullptr, false)
                             : nlohmann::json();
    if (!doc.is_object() || !doc["sessions"].is_array()) {
      co_return retry_soon("node_unavailable", "node " + peer.node_id + " did not list its sessions; retry");
    }
    for (auto& s : doc["sessions"]) {
      if (seen.insert(s.value("session_id", "")).second) merged["sessions"].push_back(std::move(s));
    }
  }
  auto& list = merged["sessions"];
  std::sort(list.begin(), list.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return std::make_pair(a.value("created_at", ""), a.value("session_id", "")) <
           std::make_pair(b.value("created_at", ""), b.value("session_id", ""));
  });
  http::Response out = http::Response::json(bhttp::status::ok, merged);
  out.headers = local.headers;
  co_return out;
}

// DELETE /v1/tenants/{tenant_id}: every other live node first logs out and closes the tenant's
// sessions it holds (the same request with scope=sessions, which deletes nothing from the store), then
// this node does the whole deletion. A node that cannot be reached leaves its sessions to be closed
// when it finds their leases gone (not logged out): counted in cleanup_failed.
asio::awaitable<http::Response> serve_tenant_delete(Forwarding f, http::Request& req) {
  int peers_failed = 0;
  if (!forwarded_already(req)) {
    http::Request scoped = req;
    scoped.target = req.path + "?scope=sessions";
    asio::awaitable<Result<std::vector<NodeAddress>>> listing = f.locator->peers();
    Result<std::vector<NodeAddress>> peers = co_await std::move(listing);
    if (!peers) {
      co_return retry_soon("node_unavailable", peers.error().message);
    }
    for (const NodeAddress& peer : *peers) {
      asio::awaitable<http::Response> asking = f.forwarder->forward(scoped, peer);
      http::Response theirs = co_await std::move(asking);
      nlohmann::json doc = theirs.status == bhttp::status::ok ? nlohmann::json::parse(theirs.body, nullptr, false)
                                                               : nlohmann::json();
      if (theirs.status == bhttp::status::not_found) continue;  // the tenant is gone already
      if (!doc.is_object()) {
        ++peers_failed;
        continue;
      }
      peers_failed += doc.value("cleanup_failed", 0);
    }
  }
  asio::awaitable<http::Response> answering = serve_local(std::move(f.local), req);
  http::Response local = co_await std::move(answering);
  if (peers_failed == 0 || local.status != bhttp::status::ok) co_return local;
  nlohmann::json doc = nlohmann::json::parse(local.body, nullptr, false);
  if (!doc.is_object()) co_return local;
  doc["cleanup_failed"] = doc.value("cleanup_failed", 0) + peers_failed;
  http::Response out = http::Response::json(bhttp::status::ok, doc);
  out.headers = local.headers;
  co_return out;
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
    } else if (route.method == bhttp::verb::get && route.pattern == "/v1/sessions") {
      out.add(route.method, route.pattern, [f](http::Request& req) { return serve_session_list(f, req); },
              route.options);
    } else if (route.method == bhttp::verb::delete_ && route.pattern == "/v1/tenants/{tenant_id}") {
      out.add(route.method, route.pattern, [f](http::Request& req) { return serve_tenant_delete(f, req); },
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
