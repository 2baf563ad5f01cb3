// SessionRoutes: the HTTP API of the session layer (docs/api.md documents every route):
//
//   admin token:  POST /v1/tenants, GET /v1/tenants, DELETE /v1/tenants/{tenant_id}
//   tenant token: POST /v1/qr-logins, GET /v1/qr-logins/{id}, GET /v1/qr-logins/{id}/events (SSE),
//                 GET /v1/qr-logins/{id}/qr.svg, POST /v1/qr-logins/{id}/password,
//                 DELETE /v1/qr-logins/{id}, GET /v1/sessions, GET /v1/sessions/{id},
//                 DELETE /v1/sessions/{id}?logout=true|false, POST /v1/sessions/{id}/invoke
//   page key:     GET /login/{id}?key=K, GET /v1/login/{id}/qr.svg|events, POST /v1/login/{id}/password,
//                 POST /v1/login/{id}/simulate
//
// Another tenant's session (or a wrong page key) answers 404 exactly like an unknown id. Bad input
// answers the JSON error with its 4xx and changes nothing. Every JSON body is parsed with the bounded
// parser (64 levels, 100,000 values: 400 invalid_argument). Invoke checks, in this order: the caller's
// session (401/404), the body's bounds, "@type" ([a-zA-Z][a-zA-Z0-9]*, at most 64 characters: 400), the
// function policy (403 forbidden_function, also before the session is authorized), then the session's
// status (503 + Retry-After while `restoring`, 409 when not authorized) and the throttle. DELETE
// /v1/qr-logins/{id} cancels only a running login: any other status answers 409 naming it.
// docs/openapi.json is the contract of every route (a unit test keeps it equal to the route table). Answers that carry a link, a token or a key are sent with Cache-Control: no-store. The QR link appears only in the bodies of
// the tenant's own qr-login routes and the page's event stream — never in logs or spans.
//
// A full store pool answers 503 unavailable with Retry-After: 1 (counted in
// tgpulse_blocking_pool_rejected_total{pool="store"}).
//
// Thread-safety: add_to() at start-up; handlers are thread-safe (they use thread-safe services).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "http/caller.h"
#include "http/router.h"
#include "session/auth_failure_limiter.h"
#include "session/function_policy.h"
#include "session/scan_simulator.h"
#include "session/session_manager.h"
#include "session/tenant_limits.h"
#include "store/async_session_store.h"
#include "store/last_used_batcher.h"
#include "store/tenant_token_cache.h"
#include "telemetry/rejections.h"
#include "throttle/invoke_pipeline.h"
#include "updates/update_routes.h"

namespace tgpulse::session {

struct SessionRoutesOptions {
  // The admin bearer token (TGPULSE_ADMIN_TOKEN); "" turns the tenant admin routes off (401).
  std::string admin_token;
  // How long POST /v1/qr-logins waits for the first link before answering without one. Default 5 s
  // (tdsim answers in milliseconds; offline real TDLib never shows a link).
  std::chrono::milliseconds first_link_wait{std::chrono::seconds(5)};
  // Deadline of an invoke without ?deadline_ms. Default 30 s; ?deadline_ms may ask for 1 ms..300 s.
  std::chrono::milliseconds default_invoke_deadline{std::chrono::seconds(30)};
  // Heartbeat and re-check interval of the event streams. Default 15 s.
  std::chrono::milliseconds events_wait{std::chrono::seconds(15)};
  // Which TDLib functions invoke runs (invoke.allow, invoke.allow_extra; fixed deny-list). Default: the
  // default allow-list.
  FunctionPolicy invoke_policy;
};

// How the routes reach the store without blocking their io thread (docs/store.md, "Calling the store"):
// every call awaited on the blocking pool, tenant tokens resolved through the cache (forgotten at once
// when a tenant is deleted), invokes' last_used_at batched.
struct RouteStore {
  store::AsyncSessionStore& calls;
  store::TenantTokenCache& tokens;
  store::LastUsedBatcher& last_used;
};

class SessionRoutes {
 public:
  // `simulator` may be null (real TDLib: the simulate route answers 404); so may `rejections` (tests).
  // Everything referenced must outlive the routes.
  SessionRoutes(SessionManager& manager, RouteStore store, throttle::InvokePipeline* invoke,
                ScanSimulator* simulator, SessionRoutesOptions options, telemetry::Rejections* rejections = nullptr);
  // Per-tenant quota and caps (docs/security-isolation.md): every tenant route passes the tenant's
  // request quota right after its token resolves; logins, password attempts and event streams take
  // their slots here. Null (the default) = no limits. Set before add_to(); must outlive the sessions.
  void set_tenant_limits(TenantLimits* limits);
  // Unknown tokens per client address (docs/security-isolation.md, "A flood of unknown tokens"): a
  // token the cache does not know is admitted by the limiter before the store is asked (429
  // auth_failures otherwise). Null (the default) = no limit. Set before add_to(); must outlive the routes.
  void set_auth_failure_limiter(AuthFailureLimiter* limiter);
  // Which inputFileLocal paths invoke lets through for a session (its own uploads, FileTransfers). Unset
  // (the default) = none. Set before add_to(); must outlive the routes.
  using UploadCheck = std::function<bool(std::string_view session_id, std::string_view path)>;
  void set_upload_check(UploadCheck check);
  void add_to(http::Router& router);

  // For the tenant routes of other areas (the update routes): the same authentication, request quota
  // and refusals, body bounds and session ownership as every route here.
  boost::asio::awaitable<http::Caller> tenant_of(const http::Request& r);
  Result<nlohmann::json> json_body(const http::Request& r);
  // Ok when the tenant has a session record with this id; not_found otherwise (also another tenant's).
  boost::asio::awaitable<Status> owns_session(std::string tenant_id, std::string session_id);
  // The four above as the update routes' gate. The routes must outlive what the gate is given to.
  updates::TenantGate tenant_gate();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tgpulse::session
