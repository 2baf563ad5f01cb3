// forwarding_router: the route table of a cluster node. Every route of the service is kept (same method,
// pattern and options); the handler of each session-scoped route first asks the SessionLocator where the
// session lives and serves the request here, forwards it to the owner node (RequestForwarder), or
// answers 503 session_moving with Retry-After: 1 while nobody owns it. Starting a login (POST
// /v1/qr-logins, POST /v1/phone-logins) goes to the node SessionLocator::placement() names.
//
// Session-scoped: the patterns under kSessionScopedPrefixes, whose {id} is the session id (sessions,
// QR and phone logins, the login page and its API). A request that carries X-Tgpulse-Forwarded-By was
// forwarded by another node already: it is served here whatever the locator says (no forwarding loops;
// at worst the local answer is 404).
//
// Thread-safety: the returned Router follows Router's rules (built at start-up, then read-only). The
// wrapped handlers run on the request's executor and may be called concurrently; `locator` and
// `forwarder` must outlive the Server that serves the returned Router.
#pragma once

#include <array>
#include <string_view>

#include "cluster/request_forwarder.h"
#include "cluster/session_locator.h"
#include "http/router.h"

namespace tgpulse::cluster {

// Route patterns that start with one of these (and continue with "/" or end) name a session by {id}.
inline constexpr std::array<std::string_view, 5> kSessionScopedPrefixes = {
    "/v1/sessions/{id}", "/v1/qr-logins/{id}", "/v1/phone-logins/{id}", "/v1/login/{id}", "/login/{id}"};

// Whether requests to `pattern` are served by the session's owner node.
bool is_session_scoped(std::string_view pattern) noexcept;
// Whether `method` `pattern` starts a new login (placed on the least loaded node).
bool is_login_start(boost::beast::http::verb method, std::string_view pattern) noexcept;

http::Router forwarding_router(const http::Router& routes, SessionLocator& locator, RequestForwarder& forwarder);

}  // namespace tgpulse::cluster
