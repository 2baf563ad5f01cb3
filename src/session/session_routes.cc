#include "session/session_routes.h"

#include <charconv>
#include <deque>
#include <mutex>
#include <optional>

#include <boost/beast/http/field.hpp>
#include <openssl/evp.h>

#include "core/bounded_json_parser.h"
#include "core/time_format.h"
#include "http/sse_writer.h"
#include "qr/qr_svg.h"
#include "session/assets/login_page.h"
#include "session/session_cleanup.h"
#include "store/tenant_tokens.h"

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using nlohmann::json;

namespace tgpulse::session {

using http::Request;
using http::Response;

namespace {

bool is_terminal(SessionStatus s) { return !is_login_status(s); }

// What the API shows of a session. The link only for the owner's qr-login routes.
json view_json(const SessionView& v, bool with_link) {
  json j = {{"session_id", v.id},
            {"status", session_status_name(v.status)},
            {"method", login_method_name(v.method)},
            {"created_at", iso8601(v.created_at)},
            {"last_used_at", iso8601(v.last_used_at)},
            {"authorization_state", v.authorization_state.empty() ? json(nullptr) : json(v.authorization_state)}};
  if (is_login_status(v.status) || with_link) {
    j["expires_at"] = iso8601(v.expires_at);
  }
  if (with_link) j["link"] = v.link.empty() ? json(nullptr) : json(v.link);
  if (v.status == SessionStatus::password_required) j["password_hint"] = v.password_hint;
  if (v.status == SessionStatus::code_required) j["code_info"] = v.code_info;
  if (!v.error.empty()) j["error"] = v.error;
  j["authorized_at"] = v.authorized_at ? json(iso8601(*v.authorized_at)) : json(nullptr);
  j["proxy"] = v.proxy.is_object() ? v.proxy : json(nullptr);
  return j;
}

// The first event of every stream: the whole state.
json state_event(const SessionView& v, bool simulator) {
  json j = {{"status", session_status_name(v.status)},
            {"expires_at", iso8601(v.expires_at)},
            {"has_link", !v.link.empty()},
            {"hint", v.password_hint},
            {"simulator", simulator},
            {"reason", v.error},
            {"method", login_method_name(v.method)}};
  if (!v.link.empty()) j["link"] = v.link;
  if (v.status == SessionStatus::code_required) j["code_info"] = v.code_info;
  return j;
}

// A session event in the stream's vocabulary; false when it is not forwarded.
bool stream_event(const SessionEvent& e, const SessionView& v, std::string* name, json* data) {
  *name = e.type;
  if (e.type == "link") {
    *data = {{"link", e.data.value("link", "")}, {"expires_at", iso8601(v.expires_at)}};
  } else if (e.type == "password_required") {
    std::string hint = e.data.value("password_hint", "");
    *data = {{"hint", hint}, {"password_hint", hint}};
  } else if (e.type == "code_required") {
    *data = {{"code_info", e.data.value("code_info", json())}};
  } else if (e.type == "code_rejected") {
    *data = {{"error", e.data.value("error", "")}, {"reason", e.data.value("reason", "")}};
  } else if (e.type == "authorized" || e.type == "expired" || e.type == "phone_number_required") {
    *data = json::object();
  } else if (e.type == "failed") {
    std::string reason = e.data.value("error", "");
    *data = {{"reason", reason}, {"error", reason}};
  } else if (e.type == "closed") {
    *name = "failed";
    *data = {{"reason", "closed"}, {"error", "closed"}};
  } else {
    return false;
  }
  return true;
}

// Events of one session until a terminal one (or the client leaves).
asio::awaitable<void> stream_events(std::shared_ptr<Session> session, bool simulator, std::chrono::milliseconds wait,
                                    http::SseWriter& w) {
  struct Feed {
    std::mutex mu;
    std::deque<SessionEvent> events;
  };
  auto feed = std::make_shared<Feed>();
  auto wake = w.waker();
  auto [listener, view] = session->subscribe([feed, wake](const SessionEvent& e) {
    {
      std::lock_guard lock(feed->mu);
      feed->events.push_back(e);
    }
    wake();
  });
  std::string first = state_event(view, simulator).dump();
  bool done = !co_await w.send("state", first) || is_terminal(view.status);
  while (!done && w.open()) {
    std::deque<SessionEvent> batch;
    {
      std::lock_guard lock(feed->mu);
      batch.swap(feed->events);
    }
    for (const SessionEvent& e : batch) {
      std::string name;
      json data;
      if (!stream_event(e, session->view(), &name, &data)) continue;
      std::string payload = data.dump();
      if (!co_await w.send(name, payload)) {
        done = true;
        break;
      }
      if (name == "authorized" || name == "expired" || name == "failed") {
        done = true;
        break;
      }
    }
    if (done) break;
    if (!co_await w.wait(wait)) break;
  }
  session->unsubscribe(listener);
}

std::string_view bearer(const Request& r) {
  std::string_view h = r.header("authorization");
  constexpr std::string_view kPrefix = "Bearer ";
  if (h.size() <= kPrefix.size() || h.substr(0, kPrefix.size()) != kPrefix) return {};
  return h.substr(kPrefix.size());
}

// Retry-After of an invoke on a session that is still restoring.
constexpr int kRestoringRetryAfterS = 1;

Response not_found() { return Response::error(bhttp::status::not_found, "not_found", "no such session"); }
Response bad_request(std::string_view message) {
  return Response::error(bhttp::status::bad_request, "invalid_argument", message);
}

// Every JSON body a route reads: bounded while it is parsed (JsonLimits' defaults, 64 levels and 100,000
// values), before anything copies, walks or serialises it.
constexpr JsonLimits kBodyLimits{};

// The request body as a JSON object ("" counts as {} when `empty_ok`). A body over the bounds is counted
// (body_bounds) when `rejections` is set.
Result<json> body_object(const Request& r, bool empty_ok, telemetry::Rejections* rejections) {
  if (r.body.empty()) {
    if (empty_ok) return json::object();
    return Error(Errc::invalid_argument, "the body must be a JSON object");
  }
  ParsedJson parsed = BoundedJsonParser::parse(r.body, kBodyLimits);
  if (parsed.over_limits() && rejections != nullptr) rejections->count(telemetry::RejectReason::body_bounds);
  if (!parsed.ok()) return Error(Errc::invalid_argument, "the body " + parsed.message(kBodyLimits));
  if (!parsed.value.is_object()) return Error(Errc::invalid_argument, "the body must be a JSON object");
  return std::move(parsed.value);
}

// 'sha256-...' of every inline <script> of a page, for its Content-Security-Policy: the page's scripts
// run, and nothing injected into it does (no 'unsafe-inline').
std::string script_hashes(std::string_view html) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t open = html.find("<script>", pos);
    if (open == std::string_view::npos) break;
    const std::size_t start = open + 8;
    const std::size_t end = html.find("</script>", start);
    if (end == std::string_view::npos) break;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(html.data() + start, end - start, digest, &length, EVP_sha256(), nullptr);
    unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    const int n = EVP_EncodeBlock(b64, digest, static_cast<int>(length));
    if (!out.empty()) out += ' ';
    out += "'sha256-" + std::string(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(n)) + "'";
    pos = end;
  }
  return out.empty() ? std::string("'none'") : out;
}

// The login page's policy: its own inline script (by hash), its own styles, its own origin for the QR
// image and the event stream; no framing (clickjacking of the scan page), no plugins, no forms.
std::string login_page_csp() {
  return "default-src 'none'; img-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; script-src " +
         script_hashes(assets::login_page_html()) + "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
}

Response svg_response(const SessionView& v) {
  if (v.link.empty()) {
    return Response::error(bhttp::status::conflict, "conflict", "no QR code to show (status " +
                                                                    std::string(session_status_name(v.status)) + ")");
  }
  Result<std::string> svg = qr::render_qr_svg(v.link);
  if (!svg) return Response::from_error(svg.error());
  Response r = Response::text(bhttp::status::ok, std::move(*svg), "image/svg+xml");
  r.with_header("Cache-Control", "no-store");
  r.with_header("X-Content-Type-Options", "nosniff");
  return r;
}

std::string page_url(const std::string& id, const std::string& key) { return "/login/" + id + "?key=" + key; }

// The body's optional "proxy" (ProxySpec); a 400 naming the bad field otherwise.
std::optional<Response> read_proxy(const json& body, std::optional<ProxySpec>* out) {
  auto it = body.find("proxy");
  if (it == body.end() || it->is_null()) return std::nullopt;
  Result<ProxySpec> p = ProxySpec::parse(*it);
  if (!p) return bad_request(p.error().message);
  *out = std::move(*p);
  return std::nullopt;
}

// A refusal of TenantLimits: 429 for the tenant's own cap, 503 for the process's, the reason as the
// error code, Retry-After when waiting helps (counted by TenantLimits).
Response limit_refusal(const TenantLimits::Refusal& r) {
  const char* scope = r.process_wide                                          ? "process"
                      : r.reason == telemetry::RejectReason::auth_failures ? "client"
                                                                            : "tenant";
  json extra = {{"scope", scope}};
  if (r.retry_after_s > 0) extra["retry_after"] = r.retry_after_s;
  Response resp = Response::error(r.process_wide ? bhttp::status::service_unavailable : bhttp::status::too_many_requests,
                                  telemetry::reject_reason_name(r.reason), r.message, extra);
  if (r.retry_after_s > 0) resp.with_header("Retry-After", std::to_string(r.retry_after_s));
  return resp;
}

// An event stream that gives its stream slot back when it ends (the producer's copy of the lease goes
// with the response on every other path).
asio::awaitable<void> stream_events_leased(std::shared_ptr<Session> session, bool simulator,
                                           std::chrono::milliseconds wait,
                                           std::shared_ptr<TenantLimits::Lease> lease, http::SseWriter& w) {
  asio::awaitable<void> events = stream_events(std::move(session), simulator, wait, w);
  co_await std::move(events);
  if (lease) lease->release();
}

}  // namespace

struct SessionRoutes::Impl {
  SessionManager& manager;
  RouteStore store;  // every call awaited on the blocking pool; tokens cached; last_used_at batched
  throttle::InvokePipeline* invoke;
  ScanSimulator* simulator;
  SessionRoutesOptions options;
  telemetry::Rejections* rejections;
  std::string page_csp = login_page_csp();  // hashed once at start-up

  void reject(telemetry::RejectReason reason) const {
    if (rejections != nullptr) rejections->count(reason);
  }
  TenantLimits* limits = nullptr;  // null: no per-tenant limits
  AuthFailureLimiter* auth_failures = nullptr;  // null: unknown tokens are not limited per client
  SessionRoutes::UploadCheck upload_check;  // unset: no inputFileLocal passes invoke

  // --- authentication -----------------------------------------------------------------------------
  // Nothing when the request carries the admin token; else the answer: 401, or 429 auth_failures when
  // the client's address spent its failed-authentication budget (the same bucket unknown tenant tokens
  // draw on, so the admin token cannot be guessed faster than a tenant's). A missing token is no guess
  // and costs nothing; the right token gives its charge back.
  std::optional<Response> admin_refusal(const Request& r) const {
    static const auto required = [] {
      return Response::error(bhttp::status::unauthorized, "unauthorized", "admin token required");
    };
    std::string_view token = bearer(r);
    if (options.admin_token.empty() || token.empty()) return required();
    if (auth_failures != nullptr) {
      if (std::optional<TenantLimits::Refusal> refusal = auth_failures->admit(r.client_address)) {
        return limit_refusal(*refusal);
      }
    }
    if (!store::TenantTokens::constant_time_equal(token, options.admin_token)) return required();
    if (auth_failures != nullptr) auth_failures->succeeded(r.client_address);
    return std::nullopt;
  }
  // The caller's tenant, or what to answer instead: 401, 429 auth_failures (too many unknown tokens
  // from the client's address), 429 tenant_quota, 503 (the store pool is full) or 500.
  using Caller = http::Caller;
  // The caller's tenant, once its request passed the tenant's request quota. Not a coroutine: the
  // token is copied into the frame of resolve_tenant(), which outlives the request's suspension.
  asio::awaitable<Caller> tenant_of(const Request& r) {
    return resolve_tenant(std::string(bearer(r)), r.client_address);
  }
  static Caller refused(Response answer) { return Caller{{}, std::move(answer)}; }

  // The token's tenant from the cache (keyed by the token's hash), else from the store on the blocking
  // pool; unavailable (503 + Retry-After) when the pool is full. A token the cache does not know is
  // first admitted by the client's failed-authentication bucket (429 auth_failures, no store call),
  // then answered 401 at once if the store recently did not know it either; only then is the store
  // asked (docs/security-isolation.md, "A flood of unknown tokens").
  static Error invalid_token() { return Error(Errc::unauthorized, "the token is not valid"); }
  asio::awaitable<Caller> resolve_tenant(std::string token, std::string client) {
    if (token.empty()) co_return refused(Response::from_error(Error(Errc::unauthorized, "a bearer token is required")));
    std::string hash = store::TenantTokens::hash_token(token);
    std::optional<std::string> tenant_id = store.tokens.find(hash);
    if (!tenant_id) {
      if (auth_failures != nullptr) {
        if (std::optional<TenantLimits::Refusal> refusal = auth_failures->admit(client)) {
          co_return refused(limit_refusal(*refusal));
        }
      }
      if (store.tokens.known_unknown(hash)) co_return refused(Response::from_error(invalid_token()));
      const std::uint64_t generation = store.tokens.generation();
      const std::uint64_t unknown_generation = store.tokens.unknown_generation();
      asio::awaitable<Result<store::TenantRecord>> lookup = store.calls.find_tenant_by_token(std::move(token));
      Result<store::TenantRecord> t = co_await std::move(lookup);
      if (!t) {
        const bool unknown = t.error().code == Errc::unauthorized;
        if (!unknown && auth_failures != nullptr) auth_failures->succeeded(client);  // not the client's failure
        if (t.error().code == Errc::unavailable) co_return refused(Response::from_error(t.error()));
        if (!unknown) co_return refused(Response::from_error(Error(Errc::store_error, "the token could not be checked")));
        store.tokens.store_unknown(std::move(hash), unknown_generation);
        co_return refused(Response::from_error(invalid_token()));
      }
      if (auth_failures != nullptr) auth_failures->succeeded(client);
      store.tokens.store(std::move(hash), t->tenant_id, generation);
      tenant_id = std::move(t->tenant_id);
    }
    if (limits != nullptr) {
      // Cluster-wide when a shared quota is set (one Redis call under quota.redis_timeout), else local.
      asio::awaitable<std::optional<TenantLimits::Refusal>> admitted = limits->admit_request_async(*tenant_id);
      if (std::optional<TenantLimits::Refusal> refusal = co_await std::move(admitted)) {
        co_return refused(limit_refusal(*refusal));
      }
    }
    co_return Caller{std::move(*tenant_id), std::nullopt};
  }
  std::shared_ptr<Session> by_page_key(const Request& r) {
    std::optional<std::string_view> key = r.query("key");
    if (!key || key->empty()) return nullptr;
    return manager.find_by_login_key(r.param("id"), *key);
  }
  // The caller's session named by the {id} parameter, or what to answer instead: 401 without a valid
  // tenant token, 404 when the session is missing or another tenant's (never 403: ids do not leak).
  struct Owned {
    std::shared_ptr<Session> session;
    std::optional<Response> refusal;
  };
  // Not a coroutine (see tenant_of()).
  asio::awaitable<Owned> owned_session(const Request& r) {
    return owned_session_of(std::string(bearer(r)), std::string(r.param("id")), r.client_address);
  }
  asio::awaitable<Owned> owned_session_of(std::string token, std::string id, std::string client) {
    asio::awaitable<Caller> lookup = resolve_tenant(std::move(token), std::move(client));
    Caller tenant = co_await std::move(lookup);
    if (!tenant) co_return Owned{nullptr, std::move(tenant.refusal)};
    auto s = manager.find(tenant.tenant_id, id);
    if (!s) co_return Owned{nullptr, not_found()};
    co_return Owned{std::move(s), std::nullopt};
  }

  // --- tenants (admin) ----------------------------------------------------------------------------
  asio::awaitable<Response> create_tenant(Request& r) {
    if (std::optional<Response> refusal = admin_refusal(r)) co_return std::move(*refusal);
    Result<json> body = body_object(r, false, rejections);
    if (!body) co_return Response::from_error(body.error());
    auto it = body->find("tenant_id");
    if (it == body->end() || !it->is_string()) co_return bad_request("tenant_id (string) is required");
    std::string tenant_id = it->get<std::string>();
    if (!store::is_valid_tenant_id(tenant_id)) co_return bad_request("tenant_id must be 1-64 characters of [A-Za-z0-9_-]");
    Result<std::string> token = store::TenantTokens::generate_token();
    if (!token) co_return Response::from_error(token.error());
    std::string token_hash = store::TenantTokens::hash_token(*token);
    store::TenantRecord rec{tenant_id, token_hash, unix_ms(manager.services().clock.wall())};
    asio::awaitable<Status> created = store.calls.create_tenant(std::move(rec));
    Status st = co_await std::move(created);
    store.tokens.forget_unknown(token_hash);  // the new token is known from now on, wherever it was tried
    if (!st) {
      if (st.error().code == Errc::conflict) {
        co_return Response::error(bhttp::status::conflict, "conflict", "the tenant exists");
      }
      co_return Response::from_error(st.error());
    }
    co_return Response::json(bhttp::status::created, {{"tenant_id", tenant_id}, {"token", *token}})
        .with_header("Cache-Control", "no-store");
  }

  asio::awaitable<Response> list_tenants(Request& r) {
    if (std::optional<Response> refusal = admin_refusal(r)) co_return std::move(*refusal);
    Result<std::vector<store::TenantRecord>> all = co_await store.calls.list_tenants();
    if (!all) co_return Response::from_error(all.error());
    json out = json::array();
    for (const auto& t : *all) {
      out.push_back({{"tenant_id", t.tenant_id},
                     {"created_at", iso8601(from_unix_ms(t.created_at_ms))},
                     {"sessions", manager.list(t.tenant_id).size()}});
    }
    co_return Response::json(bhttp::status::ok, {{"tenants", out}});
  }

  asio::awaitable<Response> delete_tenant(Request& r) {
    if (std::optional<Response> refusal = admin_refusal(r)) co_return std::move(*refusal);
    std::string tenant_id(r.param("tenant_id"));
    asio::awaitable<Result<store::TenantRecord>> lookup = store.calls.get_tenant(tenant_id);
    if (Result<store::TenantRecord> found = co_await std::move(lookup); !found) {
      if (found.error().code == Errc::not_found) {
        co_return Response::error(bhttp::status::not_found, "not_found", "no such tenant");
      }
      co_return Response::from_error(found.error());
    }
    store.tokens.forget_tenant(tenant_id);  // its token stops working now, before its sessions go
    // In a cluster the node that deletes the tenant first asks every other node to end the tenant's
    // sessions it holds (docs/scaling.md): that request, forwarded by a node, deletes nothing else.
    const bool sessions_only =
        !r.header("X-Tgpulse-Forwarded-By").empty() && r.query("scope").value_or("") == "sessions";
    if (sessions_only) {
      asio::awaitable<int> ending = manager.remove_tenant(tenant_id);
      const int failed_here = co_await std::move(ending);
      store.tokens.forget_tenant(tenant_id);
      if (invoke != nullptr) invoke->forget_tenant(tenant_id);
      co_return Response::json(bhttp::status::ok,
                               {{"tenant_id", tenant_id}, {"deleted", false}, {"cleanup_failed", failed_here}});
    }
    int failed = co_await manager.remove_tenant(tenant_id);
    asio::awaitable<Status> deleted = store.calls.delete_tenant(tenant_id, store::TenantDeletion::with_sessions);
    Status st = co_await std::move(deleted);
    store.tokens.forget_tenant(tenant_id);  // and again: a lookup that was in flight cannot bring it back
    if (!st) co_return Response::from_error(st.error());
    if (invoke != nullptr) invoke->forget_tenant(tenant_id);
    if (limits != nullptr) limits->forget_tenant(tenant_id);
    if (UpdateSink* updates = manager.services().updates; updates != nullptr) updates->forget_tenant(tenant_id);
    co_return Response::json(bhttp::status::ok, {{"tenant_id", tenant_id}, {"deleted", true}, {"cleanup_failed", failed}});
  }

  // The proxy a new login goes through: the body's "proxy" when it has one (null: none), else the
  // tenant's default (PUT /v1/proxy), else none.
  asio::awaitable<std::optional<Response>> login_proxy(std::string tenant_id, const json& body,
                                                       std::optional<ProxySpec>* out) {
    if (body.contains("proxy")) co_return read_proxy(body, out);
    asio::awaitable<Result<std::optional<std::string>>> reading = store.calls.tenant_proxy(std::move(tenant_id));
    Result<std::optional<std::string>> stored = co_await std::move(reading);
    if (!stored) co_return Response::from_error(stored.error());
    if (!*stored) co_return std::nullopt;
    Result<ProxySpec> spec = stored_proxy(**stored);
    if (!spec) co_return Response::from_error(spec.error());
    *out = std::move(*spec);
    co_return std::nullopt;
  }

  static Result<ProxySpec> stored_proxy(const std::string& text) {
    json td = json::parse(text, nullptr, false);
    Result<ProxySpec> spec = td.is_discarded() ? Result<ProxySpec>(Error(Errc::invalid_argument, "not JSON"))
                                               : ProxySpec::from_td(td);
    if (!spec) return Error(Errc::store_error, "the tenant's default proxy in the store is unreadable");
    return spec;
  }

  // GET /v1/proxy — the tenant's default proxy (never its credentials).
  asio::awaitable<Response> get_default_proxy(Request& r) {
    Caller tenant = co_await tenant_of(r);
    if (!tenant) co_return std::move(*tenant.refusal);
    asio::awaitable<Result<std::optional<std::string>>> reading = store.calls.tenant_proxy(tenant.tenant_id);
    Result<std::optional<std::string>> stored = co_await std::move(reading);
    if (!stored) co_return Response::from_error(stored.error());
    json view = nullptr;
    if (*stored) {
      Result<ProxySpec> spec = stored_proxy(**stored);
      if (!spec) co_return Response::from_error(spec.error());
      view = spec->view();
    }
    co_return Response::json(bhttp::status::ok, {{"proxy", view}});
  }

  // PUT /v1/proxy {"proxy": {...} | null} — sets or removes the default for logins started later.
  asio::awaitable<Response> put_default_proxy(Request& r) {
    Caller tenant = co_await tenant_of(r);
    if (!tenant) co_return std::move(*tenant.refusal);
    Result<json> body = body_object(r, false, rejections);
    if (!body) co_return Response::from_error(body.error());
    if (!body->contains("proxy")) co_return bad_request("proxy (an object, or null for none) is required");
    std::optional<ProxySpec> proxy;
    if (std::optional<Response> bad = read_proxy(*body, &proxy)) co_return std::move(*bad);
    std::optional<std::string> text;
    if (proxy) text = proxy->td_proxy().dump();
    asio::awaitable<Result<void>> writing = store.calls.set_tenant_proxy(tenant.tenant_id, std::move(text));
    Result<void> written = co_await std::move(writing);
    if (!written) co_return Response::from_error(written.error());
    co_return Response::json(bhttp::status::ok, {{"proxy", proxy ? proxy->view() : json(nullptr)}});
  }

  // --- QR logins (tenant) -------------------------------------------------------------------------
  asio::awaitable<Response> create_qr(Request& r) {
    Caller tenant = co_await tenant_of(r);
    if (!tenant) co_return std::move(*tenant.refusal);
    Result<json> body = body_object(r, true, rejections);
    if (!body) co_return Response::from_error(body.error());
    std::optional<ProxySpec> proxy;
    asio::awaitable<std::optional<Response>> choosing = login_proxy(tenant.tenant_id, *body, &proxy);
    if (std::optional<Response> bad = co_await std::move(choosing)) co_return std::move(*bad);
    TenantLimits::LoginAdmission admission;
    if (limits != nullptr) {
      admission = limits->admit_login(tenant.tenant_id);
      if (admission.refusal) co_return limit_refusal(*admission.refusal);
    }
    asio::awaitable<Result<SessionManager::Created>> creating =
        manager.create_qr_login(tenant.tenant_id, r.span_context, options.first_link_wait, std::move(proxy));
    Result<SessionManager::Created> created = co_await std::move(creating);
    if (!created) co_return Response::from_error(created.error());  // the admission's slots go back
    if (limits != nullptr) track_login(tenant.tenant_id, created->view.id, std::move(admission));
    const SessionView& v = created->view;
    json j = view_json(v, true);
    j["qr_svg_url"] = "/v1/qr-logins/" + v.id + "/qr.svg";
    j["page_url"] = page_url(v.id, created->login_key);
    co_return Response::json(bhttp::status::created, j)
        .with_header("Location", "/v1/qr-logins/" + v.id)
        .with_header("Cache-Control", "no-store");
  }

  // Parks a new login's slots under its id: the login slot goes at the login's outcome, the session
  // slot when the session leaves the live map (SessionService's removal hook calls session_ended()).
  void track_login(const std::string& tenant_id, const std::string& id, TenantLimits::LoginAdmission admission) {
    limits->attach(id, std::move(admission.session), std::move(admission.login));
    std::shared_ptr<Session> s = manager.find(tenant_id, id);
    if (!s) {  // already gone (its removal hook may have run before attach)
      limits->session_ended(id);
      return;
    }
    auto [listener, view] = s->subscribe([lim = limits, id](const SessionEvent& e) {
      if (e.type == "authorized" || e.type == "expired" || e.type == "failed" || e.type == "closed") {
        lim->login_ended(id);
      }
    });
    (void)listener;  // stays until the session goes; login_ended() is idempotent
    if (!is_login_status(view.status)) limits->login_ended(id);
  }

  // An event stream of `s` (tenant or page route): its slot counts against the session's tenant.
  Response events_response(std::shared_ptr<Session> s) {
    std::shared_ptr<TenantLimits::Lease> lease;
    if (limits != nullptr) {
      TenantLimits::StreamAdmission admission = limits->admit_stream(s->tenant_id());
      if (admission.refusal) return limit_refusal(*admission.refusal);
      lease = std::make_shared<TenantLimits::Lease>(std::move(admission.stream));
    }
    const bool sim = simulator != nullptr;
    const auto wait = options.events_wait;
    return Response::event_stream([s, sim, wait, lease](http::SseWriter& w) {
      return stream_events_leased(s, sim, wait, lease, w);
    });
  }

  asio::awaitable<Response> get_qr(Request& r) {
    Owned owned = co_await owned_session(r);
    if (owned.refusal) co_return std::move(*owned.refusal);
    std::shared_ptr<Session> s = std::move(owned.session);
    co_return Response::json(bhttp::status::ok, view_json(s->view(), true)).with_header("Cache-Control", "no-store");
  }

  asio::awaitable<Response> qr_events(Request& r) {
    Owned owned = co_await owned_session(r);
    if (owned.refusal) co_return std::move(*owned.refusal);
    co_return events_response(std::move(owned.session));
  }

  asio::awaitable<Response> qr_svg(Request& r) {
    Owned owned = co_await owned_session(r);
    if (owned.refusal) co_return std::move(*owned.refusal);
    std::shared_ptr<Session> s = std::move(owned.session);
    co_return svg_response(s->view());
  }

  // The last allowed password, code or number was wrong: the login ends (cleaned up with `trigger_name`,
  // a plain cancel when empty), and the answer is the limit's refusal of every further attempt.
  asio::awaitable<std::optional<Response>> end_spent_login(std::shared_ptr<Session> s, const Request& r,
                                                           TenantLimits::Attempt what, std::string trigger_name) {
    asio::awaitable<Status> ending = manager.cancel_login(s, r.span_context, std::move(trigger_name));
    Status ended = co_await std::move(ending);
    (void)ended;  // conflict when it ended on its own meanwhile; either way it is over
    if (std::optional<TenantLimits::Refusal> refused = limits->admit_attempt(s->id(), what)) {
      co_return limit_refusal(*refused);
    }
    co_return std::nullopt;
  }

  asio::awaitable<Response> password(std::shared_ptr<Session> s, const Request& r) {
    Result<json> body = body_object(r, false, rejections);
    if (!body) co_return Response::from_error(body.error());
    auto it = body->find("password");
    if (it == body->end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
      co_return bad_request("password (non-empty string) is required");
    }
    if (limits != nullptr) {
      if (std::optional<TenantLimits::Refusal> refused = limits->admit_password(s->id())) {
        co_return limit_refusal(*refused);
      }
    }
    std::string password = it->get<std::string>();
    Status st = co_await manager.submit_password(s, std::move(password), r.span_context);
    if (!st) {
      if (st.error().code == Errc::invalid_argument) {
        const int left = limits != nullptr ? limits->password_attempts_left(s->id()) : -1;
        if (left == 0) {
          asio::awaitable<std::optional<Response>> ending = end_spent_login(s, r, TenantLimits::Attempt::password, {});
          if (std::optional<Response> refusal = co_await std::move(ending)) co_return std::move(*refusal);
        }
        json extra = {{"status", "password_required"}};
        if (left >= 0) extra["attempts_left"] = left;
        co_return Response::error(bhttp::status::unprocessable_entity, "invalid_argument", st.error().message, extra);
      }
      // A FloodWait, the engine away or a wrong state means the password was not checked: the attempt is
      // given back. A timeout is not: the request may still reach Telegram's check after we gave up on
      // it, and a refund there would let a caller try past the limit by racing the deadline.
      if (limits != nullptr && st.error().code != Errc::timeout) limits->refund_password(s->id());
      co_return Response::from_error(st.error());
    }
    co_return Response::json(bhttp::status::ok, {{"session_id", s->id()}, {"status", "accepted"}});
  }

  asio::awaitable<Response> qr_password(Request& r) {
    Owned owned = co_await owned_session(r);
    if (owned.refusal) co_return std::move(*owned.refusal);
    std::shared_ptr<Session> s = std::move(owned.session);
    co_return co_await password(s, r);
  }

  asio::awaitable<Response> cancel_qr(Request& r) {
    Owned owned = co_await owned_session(r);
    if (owned.refusal) co_return std::move(*owned.refusal);
    std::shared_ptr<Session> s = std::move(owned.session);
    Status st = co_await manager.cancel_login(s, r.span_context);
    if (!st) co_return Response::from_error(st.error());
    co_return Response::json(bhttp::status::ok, {{"session_id", s->id()}, {"status", "cancelled"}});
  }

  // --- phone-number logins (tenant) ---------------------------------------------------------------
  // The answer to a phone step's error: 429 flood_wait with Retry-After (Telegram's FloodWait, or
  // PHONE_NUMBER_FLOOD), 422 phone_number_invalid when Telegram refused the number, else the error's own.
  static Response phone_error(const Error& e) {
    if (e.code == Errc::flood_wait) {
      Response resp = Response::error(bhttp::status::too_many_requests, "flood_wait", e.message,
                                      {{"retry_after", e.retry_after_s}});
      if (e.retry_after_s > 0) resp.with_header("Retry-After", std::to_string(e.retry_after_s));
      return resp;
    }
    if (e.code == Errc::invalid_argument) {
      return Response::error(bhttp::status::unprocessable_entity, "phone_number_invalid", e.message);
    }
    return Response::from_error(e);
  }

  // The body's phone_number: 5-32 characters of digits, '+', spaces, '-', '(' and ')' with 5-20 digits.
  // The error never repeats what was sent (a phone number is a secret of the login).
  static std::optional<Response> read_phone_number(const json& body, bool required, std::optional<std::string>* out) {
    auto it = body.find("phone_number");
    if (it == body.end() || it->is_null()) {
      if (required) return bad_request("phone_number (string) is required");
      return std::nullopt;
    }
    static const auto invalid = [] {
      return bad_request("phone_number must be 5-32 characters of digits, '+', spaces, '-', '(' and ')', with 5-20 digits");
    };
    if (!it->is_string()) return invalid();
    const std::string& v = it->get_ref<const std::string&>();
    if (v.size() < 5 || v.size() > 32) return invalid();
    int digits = 0;
    for (char c : v) {
      if (c >= '0' && c <= '9') {
        ++digits;
      } else if (c != '+' && c != ' ' && c != '-' && c != '(' && c != ')') {
        return invalid();
      }
    }
    if (digits < 5 || digits > 20) return invalid();
    *out = v;
    return std::nullopt;
  }

  asio::awaitable<Response> create_phone(Request& r) {
    Caller tenant = co_await tenant_of(r);
    if (!tenant) co_return std::move(*tenant.refusal);
    Result<json> body = body_object(r, true, rejections);
    if (!body) co_return Response::from_error(body.error());
    std::optional<std::string> number;
    if (std::optional<Response> bad = read_phone_number(*body, false, &number)) co_return std::move(*bad);
    std::optional<ProxySpec> proxy;
    asio::awaitable<std::optional<Response>> choosing = login_proxy(tenant.tenant_id, *body, &proxy);
    if (std::optional<Response> bad = co_await std::move(choosing)) co_return std::move(*bad);
    TenantLimits::LoginAdmission admission;
    if (limits != nullptr) {
      admission = limits->admit_login(tenant.tenant_id);
      if (admission.refusal) co_return limit_refusal(*admission.refusal);
    }
    asio::awaitable<Result<SessionManager::Created>> creating =
        manager.create_phone_login(tenant.tenant_id, std::move(number), r.span_context, options.first_link_wait,
                                   std::move(proxy));
    Result<SessionManager::Created> created = co_await std::move(creating);
    if (!created) co_return phone_error(created.error());  // the admission's slots go back
    if (limits != nullptr) track_login(tenant.tenant_id, created->view.id, std::move(admission));
    const SessionView& v = created->view;
    json j = view_json(v, false);
    j["page_url"] = page_url(v.id, created->login_key);
    co_return Response::json(bhttp::status::created, j)
        .with_header("Location", "/v1/phone-logins/" + v.id)
        .with_header("Cache-Control", "no-store");
  }

  asio::awaitable<Response> get_phone(Request& r) {
    Owned owned = co_await owned_session(r);
    if (owned.refusal) co_return std::move(*owned.refusal);
    co_return Response::json(bhttp::status::ok, view_json(owned.session->view(), false)).with_header("Cache-Control", "no-store");
  }

  asio::awaitable<Response> phone_number(std::shared_ptr<Session> s, const Request& r) {
    Result<json> body = body_object(r, false, rejections);
    if (!body) co_return Response::from_error(body.error());
    std::optional<std::string> number;
    if (std::optional<Response> bad = read_phone_number(*body, true, &number)) co_return std::move(*bad);
    using Attempt = TenantLimits::Attempt;
    if (limits != nullptr) {
      if (std::optional<TenantLimits::Refusal> refused = limits->admit_attempt(s->id(), Attempt::phone_number)) {
        co_return limit_refusal(*refused);
      }
    }
    asio::awaitable<Status> submitting = manager.submit_phone_number(s, std::move(*number), r.span_context);
    Status st = co_await std::move(submitting);
    if (st) co_return Response::json(bhttp::status::ok, {{"session_id", s->id()}, {"status", "accepted"}});
    if (limits == nullptr) co_return phone_error(st.error());
    if (st.error().code != Errc::invalid_argument) {
      // Not checked by Telegram (FloodWait, wrong step, engine away): given back; not after a timeout.
      if (st.error().code != Errc::timeout) limits->refund_attempt(s->id(), Attempt::phone_number);
      co_return phone_error(st.error());
    }
    if (limits->attempts_left(s->id(), Attempt::phone_number) == 0) {
      asio::awaitable<std::optional<Response>> ending =
          end_spent_login(s, r, Attempt::phone_number, trigger::kPhoneCodeAttempts);
      if (std::optional<Response> refusal = co_await std::move(ending)) co_return std::move(*refusal);
    }
    co_return phone_error(st.error());
  }

  asio::awaitable<Response> code(std::shared_ptr<Session> s, const Request& r) {
    Result<json> body = body_object(r, false, rejections);
    if (!body) co_return Response::from_error(body.error());
    auto it = body->find("code");
    bool valid = it != body->end() && it->is_string() && !it->get_ref<const std::string&>().empty() &&
                 it->get_ref<const std::string&>().size() <= 64;
    if (valid) {
      for (char c : it->get_ref<const std::string&>()) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == ' ' || c == '-')) {
          valid = false;
        }
      }
    }
    if (!valid) co_return bad_request("code must be 1-64 letters, digits, spaces or '-'");
    using Attempt = TenantLimits::Attempt;
    if (limits != nullptr) {
      if (std::optional<TenantLimits::Refusal> refused = limits->admit_attempt(s->id(), Attempt::code)) {
        co_return limit_refusal(*refused);
      }
    }
    asio::awaitable<Result<PhoneLoginFlow::CodeAnswer>> checking =
        manager.submit_code(s, it->get<std::string>(), r.span_context);
    Result<PhoneLoginFlow::CodeAnswer> answer = co_await std::move(checking);
    if (!answer) {
      // Not checked (FloodWait, engine away, wrong state): the attempt is given back. Not after a
      // timeout: the check may still reach Telegram (see password()).
      if (limits != nullptr && answer.error().code != Errc::timeout) limits->refund_attempt(s->id(), Attempt::code);
      co_return phone_error(answer.error());
    }
    if (*answer == PhoneLoginFlow::CodeAnswer::accepted) {
      co_return Response::json(bhttp::status::ok, {{"session_id", s->id()}, {"status", "accepted"}});
    }
    const int left = limits != nullptr ? limits->attempts_left(s->id(), Attempt::code) : -1;
    if (left == 0) {
      asio::awaitable<std::optional<Response>> ending =
          end_spent_login(s, r, Attempt::code, trigger::kPhoneCodeAttempts);
      if (std::optional<Response> refusal = co_await std::move(ending)) co_return std::move(*refusal);
    }
    json extra = {{"status", "code_required"}};
    if (left >= 0) extra["attempts_left"] = left;
    if (*answer == PhoneLoginFlow::CodeAnswer::expired) {
      co_return Response::error(bhttp::status::unprocessable_entity, "code_expired",
                                "the code has expired; ask for a new one (POST .../resend)", extra);
    }
    co_return Response::error(bhttp::status::unprocessable_entity, "code_invalid", "the code is not correct", extra);
  }

  asio::awaitable<Response> resend(std::shared_ptr<Session> s, const Request& r) {
    asio::awaitable<Status> resending = manager.resend_code(s, r.span_context);
    Status st = co_await std::move(resending);
    if (!st) co_return phone_error(st.error());
    co_return Response::json(bhttp::status::ok, {{"session_id", s->id()}, {"status", "resent"}});
  }

  // The tenant routes of a phone step on the {id} session.
  using Step = asio::awaitable<Response> (Impl::*)(std::shared_ptr<Session>, const Request&);
  asio::awaitable<Response> owned_step(Request& r, Step step) {
    Owned owned = co_await owned_session(r);
    if (owned.refusal) co_return std::move(*owned.refusal);
    std::shared_ptr<Session> s = std::move(owned.session);
    co_return co_await (this->*step)(s, r);
  }
  asio::awaitable<Response> phone_login_number(Request& r) { return owned_step(r, &Impl::phone_number); }
  asio::awaitable<Response> phone_login_code(Request& r) { return owned_step(r, &Impl::code); }
  asio::awaitable<Response> phone_login_resend(Request& r) { return owned_step(r, &Impl::resend); }
  asio::awaitable<Response> phone_login_password(Request& r) { return owned_step(r, &Impl::password); }

  // --- sessions (tenant) --------------------------------------------------------------------------
  asio::awaitable<Response> list_sessions(Request& r) {
    Caller tenant = co_await tenant_of(r);
    if (!tenant) co_return std::move(*tenant.refusal);
    json out = json::array();
    for (const SessionView& v : manager.list(tenant.tenant_id)) out.push_back(view_json(v, false));
    co_return Response::json(bhttp::status::ok, {{"sessions", out}});
  }

  asio::awaitable<Response> get_session(Request& r) {
    Owned owned = co_await owned_session(r);
    if (owned.refusal) co_return std::move(*owned.refusal);
    std::shared_ptr<Session> s = std::move(owned.session);
    co_return Response::json(bhttp::status::ok, view_json(s->view(), false));
  }

  asio::awaitable<Response> delete_session(Request& r) {
    Owned owned = co_await owned_session(r);
    if (owned.refusal) co_return std::move(*owned.refusal);
    std::shared_ptr<Session> s = std::move(owned.session);
    bool logout = true;
    if (auto q = r.query("logout")) {
      if (*q == "true") {
        logout = true;
      } else if (*q == "false") {
        logout = false;
      } else {
        co_return bad_request("logout must be true or false");
      }
    }
    Status st = co_await manager.remove(s, trigger::kDelete, logout, r.span_context);
    if (!st) co_return Response::from_error(st.error());
    co_return Response::json(bhttp::status::ok,
                             {{"session_id", s->id()}, {"status", "closed"}, {"logout", logout}});
  }

  // PUT /v1/sessions/{id}/proxy {"proxy": {...} | null}
  asio::awaitable<Response> put_proxy(Request& r) {
    Owned owned = co_await owned_session(r);
    if (owned.refusal) co_return std::move(*owned.refusal);
    std::shared_ptr<Session> s = std::move(owned.session);
    Result<json> body = body_object(r, false, rejections);
    if (!body) co_return Response::from_error(body.error());
    if (!body->contains("proxy")) co_return bad_request("proxy (an object, or null for none) is required");
    std::optional<ProxySpec> proxy;
    if (std::optional<Response> bad = read_proxy(*body, &proxy)) co_return std::move(*bad);
    asio::awaitable<Status> setting = manager.set_proxy(s, std::move(proxy));
    Status st = co_await std::move(setting);
    if (!st) {
      if (st.error().code == Errc::invalid_argument) {
        co_return Response::error(bhttp::status::unprocessable_entity, "proxy_refused", st.error().message);
      }
      co_return Response::from_error(st.error());
    }
    const SessionView v = s->view();
    co_return Response::json(bhttp::status::ok,
                             {{"session_id", s->id()}, {"proxy", v.proxy.is_object() ? v.proxy : json(nullptr)}});
  }

  asio::awaitable<Response> invoke_session(Request& r) {
    Owned owned = co_await owned_session(r);
    if (owned.refusal) co_return std::move(*owned.refusal);
    std::shared_ptr<Session> s = std::move(owned.session);
    Result<json> body = body_object(r, false, rejections);
    if (!body) co_return Response::from_error(body.error());
    // The name first: nothing (span, metrics, throttle, ledger) sees it before it is a bounded identifier.
    auto type = body->find("@type");
    if (type == body->end() || !type->is_string() ||
        !FunctionPolicy::is_valid_name(type->get_ref<const std::string&>())) {
      reject(telemetry::RejectReason::invalid_function);
      co_return bad_request("the body must be a TDLib function object whose \"@type\" is a function name "
                            "([a-zA-Z][a-zA-Z0-9]*, at most 64 characters)");
    }
    const std::string method = type->get<std::string>();
    std::optional<std::string> refusal = options.invoke_policy.check(method);
    if (!refusal) {
      FunctionPolicy::LocalFileCheck own_upload;
      if (upload_check) {
        own_upload = [this, &s](std::string_view path) { return upload_check(s->id(), path); };
      }
      refusal = FunctionPolicy::check_arguments(*body, own_upload);
    }
    if (refusal) {
      reject(telemetry::RejectReason::forbidden_function);
      co_return Response::error(bhttp::status::forbidden, "forbidden_function", *refusal, {{"function", method}});
    }
    body->erase("@client_id");  // the engine addresses the session's own client; never the tenant's say
    std::chrono::milliseconds deadline = options.default_invoke_deadline;
    if (auto q = r.query("deadline_ms")) {
      long long ms = 0;
      auto [end, ec] = std::from_chars(q->data(), q->data() + q->size(), ms);
      if (ec != std::errc() || end != q->data() + q->size() || ms < 1 || ms > 300000) {
        co_return bad_request("deadline_ms must be an integer from 1 to 300000");
      }
      deadline = std::chrono::milliseconds(ms);
    }
    throttle::FloodMode mode = throttle::FloodMode::wait;
    if (auto q = r.query("flood")) {
      if (*q == "wait") {
        mode = throttle::FloodMode::wait;
      } else if (*q == "fail") {
        mode = throttle::FloodMode::fail_fast;
      } else {
        co_return bad_request("flood must be wait or fail");
      }
    }
    const SessionStatus status = s->view().status;
    if (status == SessionStatus::restoring) {
      // Transient: the engine has not confirmed the restored authorization yet (usually well under a
      // second). Retrying helps, so 503 with Retry-After rather than the 409 of a session that is not
      // authorized at all.
      co_return Response::error(bhttp::status::service_unavailable, "unavailable",
                                "the session is being restored (status restoring); retry shortly",
                                {{"status", "restoring"}, {"retry_after", kRestoringRetryAfterS}})
          .with_header("Retry-After", std::to_string(kRestoringRetryAfterS));
    }
    if (status != SessionStatus::authorized) {
      co_return Response::error(bhttp::status::conflict, "conflict",
                                std::string("the session is not authorized (status ") + session_status_name(status) + ")");
    }
    const SessionServices& sv = manager.services();
    telemetry::Span span = sv.tracer.start_span("telethon_invoke", &r.span_context);
    span.set_attribute("telethon.operation", std::string("invoke"));
    span.set_attribute("telethon.tenant_id", s->tenant_id());
    span.set_attribute("telethon.session_id", s->id());
    span.set_attribute("telethon.method", method);
    // The time of this invoke, written in the next batch (not the batch's own time); the idle TTL also
    // reads the live view.
    store.last_used.mark(s->id(), unix_ms(s->touch()));

    Result<json> answer = Error(Errc::internal, "no invoke path");
    if (invoke != nullptr) {
      throttle::InvokeCall call{s->tenant_id(), s->id(), std::move(*body), sv.clock.now() + deadline, mode};
      throttle::Sender sender = [s](json request, std::chrono::milliseconds timeout) {
        return s->send(std::move(request), timeout);
      };
      answer = co_await invoke->invoke(std::move(call), std::move(sender), span);
    } else {
      answer = co_await s->send(std::move(*body), deadline);
    }
    if (!answer) {
      span.set_status(telemetry::SpanStatus::error, answer.error().message);
      const Error& e = answer.error();
      if (e.code == Errc::flood_wait || e.code == Errc::throttled) {
        json extra = {{"method", method}, {"retry_after", e.retry_after_s}, {"seconds", e.retry_after_s}};
        Response resp = Response::error(http::status_for(e.code), errc_name(e.code), e.message, extra);
        if (e.retry_after_s > 0) resp.with_header("Retry-After", std::to_string(e.retry_after_s));
        co_return resp;
      }
      co_return Response::from_error(e);
    }
    span.set_status(telemetry::SpanStatus::ok);
    co_return Response::json(bhttp::status::ok, *answer);
  }

  // --- the end-user page (page key) ---------------------------------------------------------------
  asio::awaitable<Response> page(Request& r) {
    if (!by_page_key(r)) co_return not_found();
    Response resp = Response::text(bhttp::status::ok, std::string(assets::login_page_html()), "text/html; charset=utf-8");
    resp.with_header("Cache-Control", "no-store");
    resp.with_header("Referrer-Policy", "no-referrer");
    resp.with_header("X-Content-Type-Options", "nosniff");
    resp.with_header("Content-Security-Policy", page_csp);
    resp.with_header("X-Frame-Options", "DENY");
    co_return resp;
  }

  asio::awaitable<Response> page_svg(Request& r) {
    auto s = by_page_key(r);
    if (!s) co_return not_found();
    co_return svg_response(s->view());
  }

  asio::awaitable<Response> page_events(Request& r) {
    auto s = by_page_key(r);
    if (!s) co_return not_found();
    co_return events_response(std::move(s));
  }

  asio::awaitable<Response> page_password(Request& r) {
    auto s = by_page_key(r);
    if (!s) co_return not_found();
    co_return co_await password(s, r);
  }

  asio::awaitable<Response> page_step(Request& r, Step step) {
    auto s = by_page_key(r);
    if (!s) co_return not_found();
    co_return co_await (this->*step)(s, r);
  }
  asio::awaitable<Response> page_phone_number(Request& r) { return page_step(r, &Impl::phone_number); }
  asio::awaitable<Response> page_code(Request& r) { return page_step(r, &Impl::code); }
  asio::awaitable<Response> page_resend(Request& r) { return page_step(r, &Impl::resend); }

  asio::awaitable<Response> page_simulate(Request& r) {
    auto s = by_page_key(r);
    if (!s || simulator == nullptr) co_return not_found();
    Result<json> body = body_object(r, false, rejections);
    if (!body) co_return Response::from_error(body.error());
    auto it = body->find("outcome");
    if (it == body->end() || !it->is_string()) co_return bad_request("outcome (accept, password or decline) is required");
    std::string outcome = it->get<std::string>();
    if (outcome != "accept" && outcome != "password" && outcome != "decline") {
      co_return bad_request("outcome must be accept, password or decline");
    }
    SessionView v = s->view();
    if (v.status != SessionStatus::qr_pending || v.link.empty()) {
      co_return Response::error(bhttp::status::conflict, "conflict", "no QR code is waiting for a scan");
    }
    Status st = co_await simulator->scan(v.link, outcome);
    if (!st) co_return Response::from_error(st.error());
    co_return Response::json(bhttp::status::ok, {{"session_id", s->id()}, {"outcome", outcome}});
  }
};

SessionRoutes::SessionRoutes(SessionManager& manager, RouteStore store, throttle::InvokePipeline* invoke,
                             ScanSimulator* simulator, SessionRoutesOptions options, telemetry::Rejections* rejections)
    : impl_(std::make_shared<Impl>(Impl{manager, store, invoke, simulator, std::move(options), rejections})) {}

void SessionRoutes::set_tenant_limits(TenantLimits* limits) { impl_->limits = limits; }

void SessionRoutes::set_auth_failure_limiter(AuthFailureLimiter* limiter) { impl_->auth_failures = limiter; }

void SessionRoutes::set_upload_check(UploadCheck check) { impl_->upload_check = std::move(check); }

asio::awaitable<http::Caller> SessionRoutes::tenant_of(const http::Request& r) { return impl_->tenant_of(r); }

Result<json> SessionRoutes::json_body(const http::Request& r) { return body_object(r, false, impl_->rejections); }

updates::TenantGate SessionRoutes::tenant_gate() {
  return updates::TenantGate{[this](const http::Request& r) { return tenant_of(r); },
                             [this](const http::Request& r) { return json_body(r); },
                             [this](std::string tenant_id, std::string session_id) {
                               return owns_session(std::move(tenant_id), std::move(session_id));
                             }};
}

asio::awaitable<Status> SessionRoutes::owns_session(std::string tenant_id, std::string session_id) {
  asio::awaitable<Result<store::SessionRecord>> lookup = impl_->store.calls.get_session(std::move(tenant_id), std::move(session_id));
  Result<store::SessionRecord> found = co_await std::move(lookup);
  if (!found) co_return found.error().code == Errc::not_found ? Error(Errc::not_found, "no such session") : found.error();
  co_return Status{};
}

void SessionRoutes::add_to(http::Router& router) {
  using Member = asio::awaitable<Response> (Impl::*)(Request&);
  auto add = [&](bhttp::verb verb, std::string_view pattern, Member member) {
    router.add(verb, pattern, [impl = impl_, member](Request& r) { return ((*impl).*member)(r); });
  };
  add(bhttp::verb::post, "/v1/tenants", &Impl::create_tenant);
  add(bhttp::verb::get, "/v1/tenants", &Impl::list_tenants);
  add(bhttp::verb::delete_, "/v1/tenants/{tenant_id}", &Impl::delete_tenant);
  add(bhttp::verb::post, "/v1/qr-logins", &Impl::create_qr);
  add(bhttp::verb::get, "/v1/qr-logins/{id}", &Impl::get_qr);
  add(bhttp::verb::get, "/v1/qr-logins/{id}/events", &Impl::qr_events);
  add(bhttp::verb::get, "/v1/qr-logins/{id}/qr.svg", &Impl::qr_svg);
  add(bhttp::verb::post, "/v1/qr-logins/{id}/password", &Impl::qr_password);
  add(bhttp::verb::delete_, "/v1/qr-logins/{id}", &Impl::cancel_qr);
  add(bhttp::verb::post, "/v1/phone-logins", &Impl::create_phone);
  add(bhttp::verb::get, "/v1/phone-logins/{id}", &Impl::get_phone);
  add(bhttp::verb::get, "/v1/phone-logins/{id}/events", &Impl::qr_events);
  add(bhttp::verb::post, "/v1/phone-logins/{id}/phone-number", &Impl::phone_login_number);
  add(bhttp::verb::post, "/v1/phone-logins/{id}/code", &Impl::phone_login_code);
  add(bhttp::verb::post, "/v1/phone-logins/{id}/resend", &Impl::phone_login_resend);
  add(bhttp::verb::post, "/v1/phone-logins/{id}/password", &Impl::phone_login_password);
  add(bhttp::verb::delete_, "/v1/phone-logins/{id}", &Impl::cancel_qr);
  add(bhttp::verb::get, "/v1/sessions", &Impl::list_sessions);
  add(bhttp::verb::get, "/v1/sessions/{id}", &Impl::get_session);
  add(bhttp::verb::delete_, "/v1/sessions/{id}", &Impl::delete_session);
  add(bhttp::verb::post, "/v1/sessions/{id}/invoke", &Impl::invoke_session);
  add(bhttp::verb::put, "/v1/sessions/{id}/proxy", &Impl::put_proxy);
  add(bhttp::verb::get, "/v1/proxy", &Impl::get_default_proxy);
  add(bhttp::verb::put, "/v1/proxy", &Impl::put_default_proxy);
  add(bhttp::verb::get, "/login/{id}", &Impl::page);
  add(bhttp::verb::get, "/v1/login/{id}/qr.svg", &Impl::page_svg);
  add(bhttp::verb::get, "/v1/login/{id}/events", &Impl::page_events);
  add(bhttp::verb::post, "/v1/login/{id}/password", &Impl::page_password);
  add(bhttp::verb::post, "/v1/login/{id}/phone-number", &Impl::page_phone_number);
  add(bhttp::verb::post, "/v1/login/{id}/code", &Impl::page_code);
  add(bhttp::verb::post, "/v1/login/{id}/resend", &Impl::page_resend);
  add(bhttp::verb::post, "/v1/login/{id}/simulate", &Impl::page_simulate);
}

}  // namespace tgpulse::session
