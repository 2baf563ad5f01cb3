// The tenant API (SessionRoutes) in-process: each route called through the Router over the in-memory store
// and the fake engine, for every answer docs/openapi.json documents — success, 401 without or with a
// wrong token, 404 for an unknown id, another tenant's session or a wrong page key, 400 for a bad body,
// bounds or query (a malformed phone number or code is never repeated), 409 for a wrong state, 403 for a
// refused function, 422 for a wrong password or code or a number Telegram refused, 429 with Retry-After
// for a spent quota or a FloodWait (without, for spent password or code attempts), 502/503/504 from the
// engine; for proxies (PUT /v1/sessions/{id}/proxy and the login bodies' `proxy`), 400 naming each bad
// field, hostile sizes refused, 422 proxy_refused, and no password or secret in any answer or log line.
// Every answer is checked against the document (OpenApiContract). Each case is one row of kCases;
// DocumentedAnswersAreCovered fails when the document lists an answer no row produces (unless the
// server, not the route, gives it: see kServerAnswers).
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>

#include "http/openapi_contract.h"
#include "http/openapi_route.h"
#include "http/router.h"
#include "session/session_routes.h"
#include "session/session_test_fixture.h"
#include "session/tenant_limits.h"
#include "store/memory_update_log.h"
#include "telemetry/rejections.h"
#include "updates/update_hub.h"
#include "updates/update_routes.h"

namespace tgpulse::session {
namespace {

namespace bhttp = boost::beast::http;
using nlohmann::json;

constexpr std::string_view kAdminToken = "adm_0123456789abcdef";

// One HTTP request as a client sends it.
struct Call {
  bhttp::verb method = bhttp::verb::get;
  std::string target;
  std::string token;  // bearer token; "" sends no Authorization header
  std::string body;
};

// A ScanSimulator that records the scans it is asked for and answers `answer`.
class RecordingSimulator final : public ScanSimulator {
 public:
  boost::asio::awaitable<Status> scan(std::string link, std::string outcome) override {
    scans.emplace_back(std::move(link), std::move(outcome));
    co_return answer;
  }
  std::vector<std::pair<std::string, std::string>> scans;
  Status answer;
};

class SessionRoutesTest;
struct Case;
void PrintTo(const Case& c, std::ostream* os);

// One row: the request `arrange` builds (after putting the service in the state the case needs), the
// route pattern it must reach, the status and error code it must get, and optional further checks.
struct Case {
  std::string name;
  bhttp::verb method;
  std::string pattern;
  unsigned status;
  std::string code;  // the JSON error code; "" for a success
  std::function<Call(SessionRoutesTest&)> arrange;
  std::function<void(SessionRoutesTest&, const http::Response&)> verify;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class SessionRoutesTest : public SessionTestFixture, public ::testing::WithParamInterface<Case> {
 public:
  // The sessions end (and give their limit slots back) while the routes and the limits still exist.
  ~SessionRoutesTest() override {
    held_ = http::Response{};
    if (manager_) run(manager_->stop());
    manager_.reset();
  }

  // --- configuration (before the first call) ---------------------------------------------------------
  TenantLimitsOptions& limits() {
    if (!limits_options_) limits_options_.emplace();
    return *limits_options_;
  }
  void without_simulator() { use_simulator_ = false; }

  // The fixture's doubles and helpers, for the cases' lambdas.
  using SessionTestFixture::clock_;
  using SessionTestFixture::io_;
  using SessionTestFixture::all_logs;
  using SessionTestFixture::engine_;
  using SessionTestFixture::manager_;
  using SessionTestFixture::run_until;
  using SessionTestFixture::store_;

  // --- state -------------------------------------------------------------------------------------------
  struct Login {
    std::string id;
    std::string key;
  };
  // A QR login of `tenant` started through the API (so that its limits are tracked).
  Login login(const std::string& tenant = "acme") {
    http::Response r = call({bhttp::verb::post, "/v1/qr-logins", "tgp_" + tenant, ""});
    EXPECT_EQ(r.status, bhttp::status::created) << r.body;
    const json j = json::parse(r.body);
    const std::string page = j.at("page_url").get<std::string>();
    return {j.at("session_id").get<std::string>(), page.substr(page.find("key=") + 4)};
  }
  Login authorized(const std::string& tenant = "acme") {
    Login l = login(tenant);
    engine_.emit({{"@type", "authorizationStateReady"}});
    EXPECT_TRUE(run_until([&] { return status_of(l.id, tenant) == SessionStatus::authorized; }));
    return l;
  }
  Login password_required(const std::string& tenant = "acme") {
    Login l = login(tenant);
    engine_.emit({{"@type", "authorizationStateWaitPassword"}, {"password_hint", "pet"}});
    EXPECT_TRUE(run_until([&] { return status_of(l.id, tenant) == SessionStatus::password_required; }));
    return l;
  }
  // A phone login of `tenant` started through the API (so that its limits are tracked): with the fake's
  // number it waits for the code (code_required: sent as a Telegram message, next by SMS); without one it
  // waits for the number (phone_number_required).
  Login phone_login(const std::string& tenant = "acme", bool with_number = true) {
    const std::string body = with_number ? std::string(R"({"phone_number":")") + FakeEngine::kPhoneNumber + "\"}" : "";
    http::Response r = call({bhttp::verb::post, "/v1/phone-logins", "tgp_" + tenant, body});
    EXPECT_EQ(r.status, bhttp::status::created) << r.body;
    const json j = json::parse(r.body);
    EXPECT_EQ(j.at("status"), with_number ? "code_required" : "phone_number_required");
    const std::string page = j.at("page_url").get<std::string>();
    last_id = j.at("session_id").get<std::string>();
    last_key = page.substr(page.find("key=") + 4);
    return {last_id, last_key};
  }
  Login phone_password_required(const std::string& tenant = "acme") {
    Login l = phone_login(tenant);
    engine_.emit({{"@type", "authorizationStateWaitPassword"}, {"password_hint", "pet"}});
    EXPECT_TRUE(run_until([&] { return status_of(l.id, tenant) == SessionStatus::password_required; }));
    return l;
  }
  // How many requests of type `type` the latest engine client was sent.
  std::size_t sent_count(const std::string& type) {
    if (engine_.client_count() == 0) return 0;
    std::size_t n = 0;
    for (const std::string& m : engine_.last().methods()) n += m == type ? 1 : 0;
    return n;
  }
  // An authorized session a previous process left, whose engine has not confirmed it yet.
  std::string restoring() {
    const store::SessionRecord r = stored_authorized("s_RRRRRRRRRRRRRRRRRRRRRR");
    std::filesystem::create_directories(r.engine_dir);
    engine_.respond_with([](const json& request) -> std::optional<Result<json>> {
      if (request.value("@type", "") == "setTdlibParameters") return Result<json>(json{{"@type", "ok"}});
      return std::nullopt;
    });
    start();
    EXPECT_TRUE(run_until([&] { return engine_.client_count() == 1 && !engine_.last().sent.empty(); }));
    EXPECT_EQ(status_of(r.session_id, "acme"), SessionStatus::restoring);
    return r.session_id;
  }
  // Answers requests of type `type` with `answer`.
  void engine_answers(std::string type, Result<json> answer) {
    engine_.respond_with([type, answer](const json& request) -> std::optional<Result<json>> {
      if (request.value("@type", "") == type) return answer;
      return std::nullopt;
    });
  }
  // Plays authorization state `state` on the latest client and waits until session `id` shows `status`.
  void emit_and_wait(const json& state, const std::string& id, SessionStatus status) {
    engine_.emit(state);
    EXPECT_TRUE(run_until([&] { return status_of(id) == status; }));
  }
  SessionStatus status_of(const std::string& id, const std::string& tenant = "acme") {
    auto s = manager_ ? manager_->find(tenant, id) : nullptr;
    return s ? s->view().status : SessionStatus::closed;
  }

  // --- the API -----------------------------------------------------------------------------------------
  // Sends `c` through the router to its handler and answers what the handler answered. Fails the test
  // when the answer breaks docs/openapi.json.
  http::Response call(const Call& c) {
    start();
    http::Request req;
    req.method = c.method;
    req.target = c.target;
    const std::size_t q = c.target.find('?');
    req.path = c.target.substr(0, q);
    if (q != std::string::npos) {
      std::optional<http::Params> query = http::parse_query(c.target.substr(q + 1));
      EXPECT_TRUE(query.has_value()) << c.target;
      if (query) req.query_params = std::move(*query);
    }
    if (!c.token.empty()) req.headers.set(bhttp::field::authorization, "Bearer " + c.token);
    req.body = c.body;
    req.executor = io_.get_executor();
    http::RouteMatch m = router_.match(c.method, req.path);
    if (m.kind != http::RouteMatch::Kind::found) {
      ADD_FAILURE() << "no route for " << c.target;
      return http::Response::error(bhttp::status::not_found, "not_found", "no route");
    }
    req.route = m.route->pattern;
    req.path_params = std::move(m.params);
    last_pattern_ = m.route->pattern;
    http::Response r = run(m.route->handler(req));
    for (const std::string& e : contract().check(c.method, m.route->pattern, r)) ADD_FAILURE() << e;
    return r;
  }
  const std::string& last_pattern() const { return last_pattern_; }

  static const http::OpenApiContract& contract() {
    static const http::OpenApiContract doc(http::openapi_document());
    return doc;
  }
  static std::string header(const http::Response& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (boost::beast::iequals(k, name)) return v;
    }
    return "<missing>";
  }

  RecordingSimulator simulator_;
  std::unique_ptr<telemetry::Rejections> rejections_;
  std::string last_id, last_key;  // the latest phone login's id and page key
  http::Response held_;  // an event stream a case keeps open (it holds a stream slot)

 private:
  void start() {
    if (routes_) return;
    SessionManager& m = manager();
    run(m.start());
    rejections_ = std::make_unique<telemetry::Rejections>(registry_);
    SessionRoutesOptions o;
    o.admin_token = std::string(kAdminToken);
    o.first_link_wait = std::chrono::milliseconds(500);
    routes_ = std::make_unique<SessionRoutes>(m, RouteStore{calls_, tokens_, last_used_}, nullptr,
                                              use_simulator_ ? &simulator_ : nullptr, o, rejections_.get());
    if (limits_options_) {
      tenant_limits_ = std::make_unique<TenantLimits>(*limits_options_, clock_, rejections_.get());
      routes_->set_tenant_limits(tenant_limits_.get());
    }
    routes_->add_to(router_);
    update_routes_ = std::make_unique<updates::UpdateRoutes>(
        hub_, routes_->tenant_gate());
    update_routes_->add_to(router_);
  }

  std::optional<TenantLimitsOptions> limits_options_;
  bool use_simulator_ = true;
  std::unique_ptr<TenantLimits> tenant_limits_;
  // The store as the service reaches it: calls on a blocking pool, tokens through the cache.
  BlockingPool pool_{{"store", 1, 64}};
  store::AsyncSessionStore calls_{store_, pool_};
  store::TenantTokenCache tokens_{store::StoreAccessOptions{}, clock_};
  store::LastUsedBatcher last_used_{store_, store::StoreAccessOptions{}, nullptr};
  std::unique_ptr<SessionRoutes> routes_;
  // The update routes over the in-memory log (the hub's writer is not started: no case needs it).
  store::MemoryUpdateLog update_log_{&store_};
  updates::UpdateMetrics update_metrics_{registry_};

 public:
  updates::UpdateHub hub_{io_.get_executor(), pool_, update_log_, clock_, updates::UpdatesOptions{}, update_metrics_};

 private:
  std::unique_ptr<updates::UpdateRoutes> update_routes_;
  http::Router router_;
  std::string last_pattern_;
};

// --- request builders ------------------------------------------------------------------------------------
Call admin(bhttp::verb method, std::string target, std::string body = "") {
  return {method, std::move(target), std::string(kAdminToken), std::move(body)};
}
Call acme(bhttp::verb method, std::string target, std::string body = "") {
  return {method, std::move(target), "tgp_acme", std::move(body)};
}
Call anonymous(bhttp::verb method, std::string target, std::string body = "") {
  return {method, std::move(target), "", std::move(body)};
}
Call with_token(Call c, std::string token) {
  c.token = std::move(token);
  return c;
}
// A body nested one level deeper than the bounded parser allows (64).
std::string too_deep() { return std::string(65, '[') + std::string(65, ']'); }

const std::string kUnknownId = "s_AAAAAAAAAAAAAAAAAAAAAA";
constexpr auto GET = bhttp::verb::get;
constexpr auto POST = bhttp::verb::post;
constexpr auto DEL = bhttp::verb::delete_;
constexpr auto PUT = bhttp::verb::put;

// `pattern` with its {id} replaced by `id`.
std::string with_id(const std::string& pattern, const std::string& id) {
  std::string out = pattern;
  const std::size_t at = out.find("{id}");
  if (at != std::string::npos) out.replace(at, 4, id);
  return out;
}

// A tenant route's 401 (no token and an unknown one), 429 (the tenant's request quota: one request a
// second, which the previous request spent) and, for a route on one session, 404 (an unknown id and
// another tenant's session).
void add_tenant_refusals(std::vector<Case>* out, const std::string& name, bhttp::verb method, const std::string& pattern) {
  const bool has_id = pattern.find("{id}") != std::string::npos;
  out->push_back({name + "_NoToken", method, pattern, 401, "unauthorized",
                  [=](SessionRoutesTest&) { return anonymous(method, with_id(pattern, kUnknownId)); }, nullptr});
  out->push_back({name + "_WrongToken", method, pattern, 401, "unauthorized",
                  [=](SessionRoutesTest&) { return with_token(acme(method, with_id(pattern, kUnknownId)), "tgp_nobody"); },
                  nullptr});
  out->push_back({name + "_QuotaSpent", method, pattern, 429, "tenant_quota",
                  [=](SessionRoutesTest& t) {
                    t.limits().tenant_request_rate = 1;
                    t.limits().tenant_request_burst = 1;
                    t.call(acme(GET, "/v1/sessions"));  // spends the burst
                    return acme(method, with_id(pattern, kUnknownId));
                  },
                  [](SessionRoutesTest& t, const http::Response& r) {
                    EXPECT_EQ(t.header(r, "Retry-After"), "1");
                  }});
  if (!has_id) return;
  out->push_back({name + "_UnknownId", method, pattern, 404, "not_found",
                  [=](SessionRoutesTest&) { return acme(method, with_id(pattern, kUnknownId)); }, nullptr});
  out->push_back({name + "_OtherTenantsSession", method, pattern, 404, "not_found",
                  [=](SessionRoutesTest& t) { return acme(method, with_id(pattern, t.login("other").id)); }, nullptr});
}

// An event stream route of a login that `start` creates for a tenant: 200, 429 streams_cap when the
// tenant's one stream slot is held by its own stream, 503 streams_cap when another tenant's stream holds
// the process's one slot, and the tenant refusals.
void add_stream_cases(std::vector<Case>* out, const std::string& name, const std::string& pattern,
                      std::function<std::string(SessionRoutesTest&, const std::string& owner)> start) {
  out->push_back({name, GET, pattern, 200, "", [=](SessionRoutesTest& t) { return acme(GET, with_id(pattern, start(t, "acme"))); },
                  [](SessionRoutesTest&, const http::Response& r) { EXPECT_TRUE(r.is_event_stream()); }});
  out->push_back({name + "_TenantStreamsCap", GET, pattern, 429, "streams_cap",
                  [=](SessionRoutesTest& t) {
                    t.limits().tenant_streams = 1;
                    const std::string id = start(t, "acme");
                    t.held_ = t.call(acme(GET, with_id(pattern, id)));  // holds the one slot
                    return acme(GET, with_id(pattern, id));
                  },
                  nullptr});
  out->push_back({name + "_ProcessStreamsCap", GET, pattern, 503, "streams_cap",
                  [=](SessionRoutesTest& t) {
                    t.limits().process_streams = 1;
                    const std::string other = start(t, "other");
                    t.held_ = t.call(with_token(acme(GET, with_id(pattern, other)), "tgp_other"));
                    return acme(GET, with_id(pattern, start(t, "acme")));
                  },
                  nullptr});
  add_tenant_refusals(out, name, GET, pattern);
}

// --- phone-number logins -----------------------------------------------------------------------------
// An error TDLib answers with Telegram's `code` and `message` ("PHONE_NUMBER_INVALID", ...).
Error td_error(int code, const char* message) {
  Error e(Errc::engine_error, message);
  e.td_code = code;
  return e;
}
// Telegram's FLOOD_WAIT_<seconds>.
Error flood_wait(int seconds) {
  Error e(Errc::flood_wait, "FLOOD_WAIT_" + std::to_string(seconds));
  e.retry_after_s = seconds;
  return e;
}
std::string number_body(const std::string& number) { return R"({"phone_number":")" + number + "\"}"; }

// A value a route must refuse (400) without repeating it: `value` as JSON, `needle` what must not come back.
struct Malformed {
  std::string name;
  std::string value;
  std::string needle;
};
std::vector<Malformed> malformed_numbers() {
  return {{"NotAString", "9996621234", "99966"},
          {"AnObject", R"({"n":"+99966 2 1234"})", "99966"},
          {"TooLong", "\"+" + std::string(40, '7') + "\"", "7777777"},
          {"Letters", R"("+1 555 CALL NOW")", "CALL NOW"},
          {"TooFewDigits", R"("+(12)-3")", "(12)-3"}};
}
std::vector<Malformed> malformed_codes() {
  return {{"NotAString", "22222", "22222"},
          {"Empty", R"("")", ""},
          {"TooLong", "\"" + std::string(65, '8') + "\"", "8888888"},
          {"Symbols", R"("222<script>")", "<script>"}};
}
void expect_not_echoed(const http::Response& r, const std::string& needle) {
  if (!needle.empty()) {
    EXPECT_EQ(r.body.find(needle), std::string::npos) << r.body;
  }
}
// Neither the answer nor any log line holds the fake's phone number or its digits.
void expect_no_phone_number(SessionRoutesTest& t, const http::Response& r) {
  for (const std::string& secret : {std::string(FakeEngine::kPhoneNumber), std::string("99966")}) {
    EXPECT_EQ(r.body.find(secret), std::string::npos) << r.body;
    EXPECT_EQ(t.all_logs().find(secret), std::string::npos) << secret;
  }
}

// Another tenant's phone login answers 404 like an unknown id, and nothing reaches its engine.
void add_other_tenants_phone_login(std::vector<Case>* out, const std::string& name, bhttp::verb method,
                                   const std::string& pattern, const std::string& body) {
  out->push_back({name + "_OtherTenantsPhoneLogin", method, pattern, 404, "not_found",
                  [=](SessionRoutesTest& t) { return acme(method, with_id(pattern, t.phone_login("other").id), body); },
                  [](SessionRoutesTest& t, const http::Response&) {
                    EXPECT_EQ(t.engine_.last().methods().back(), "setAuthenticationPhoneNumber");
                    EXPECT_EQ(t.manager_->live_count(), 1u);
                  }});
}

// A login in the state a step needs, and the step's request on it.
using Arrive = std::function<SessionRoutesTest::Login(SessionRoutesTest&)>;
using Send = std::function<Call(SessionRoutesTest&, const SessionRoutesTest::Login&)>;

// Telegram refuses the next 2FA password.
void wrong_password(SessionRoutesTest& t) { t.engine_answers("checkAuthenticationPassword", td_error(400, "PASSWORD_HASH_INVALID")); }

// A tenant's 2FA password route: 200, 400 (no password), 409 (the login made by `other_step` waits for
// something else), 422 with attempts_left (the login still waits), and 429 password_attempts when the
// last attempt was wrong (the login ends). `waiting` makes a login that waits for the password.
void add_password_cases(std::vector<Case>* out, const std::string& name, const std::string& pattern, Arrive waiting,
                        Arrive other_step) {
  auto post = [pattern](const SessionRoutesTest::Login& l, const char* body) {
    return acme(POST, with_id(pattern, l.id), body);
  };
  out->push_back({name, POST, pattern, 200, "", [=](SessionRoutesTest& t) { return post(waiting(t), R"({"password":"pw"})"); },
                  [](SessionRoutesTest& t, const http::Response&) {
                    EXPECT_EQ(t.engine_.last().methods().back(), "checkAuthenticationPassword");
                    EXPECT_EQ(t.all_logs().find("\"pw\""), std::string::npos);
                  }});
  out->push_back({name + "_Missing", POST, pattern, 400, "invalid_argument",
                  [=](SessionRoutesTest& t) { return post(waiting(t), R"({"password":""})"); }, nullptr});
  out->push_back({name + "_NotWaitingForOne", POST, pattern, 409, "conflict",
                  [=](SessionRoutesTest& t) { return post(other_step(t), R"({"password":"pw"})"); }, nullptr});
  out->push_back({name + "_Wrong", POST, pattern, 422, "invalid_argument",
                  [=](SessionRoutesTest& t) {
                    t.limits();  // the defaults: 5 attempts
                    const SessionRoutesTest::Login l = waiting(t);
                    wrong_password(t);
                    return post(l, R"({"password":"guess"})");
                  },
                  [](SessionRoutesTest&, const http::Response& r) {
                    const json e = json::parse(r.body).at("error");
                    EXPECT_EQ(e.at("attempts_left"), 4);
                    EXPECT_EQ(e.at("status"), "password_required");
                  }});
  out->push_back({name + "_AttemptsSpent", POST, pattern, 429, "password_attempts",
                  [=](SessionRoutesTest& t) {
                    t.limits().password_attempts = 1;
                    const SessionRoutesTest::Login l = waiting(t);
                    wrong_password(t);
                    return post(l, R"({"password":"guess"})");
                  },
                  [](SessionRoutesTest& t, const http::Response&) {
                    EXPECT_TRUE(t.run_until([&] { return t.manager_->live_count() == 0; }));  // the login ended
                  }});
}

// What a login step that sends `request` to TDLib answers when that fails: 429 flood_wait with
// Retry-After (Telegram's FLOOD_WAIT; not repeated for the caller), 502 engine_error (with td_code),
// 503 unavailable (the engine is away) and 504 timeout.
void add_engine_failures(std::vector<Case>* out, const std::string& name, const std::string& pattern,
                         const std::string& request, Arrive arrive, Send send) {
  auto failing = [=](Error e) {
    return [=](SessionRoutesTest& t) {
      const SessionRoutesTest::Login l = arrive(t);
      t.engine_answers(request, e);
      return send(t, l);
    };
  };
  out->push_back({name + "_FloodWait", POST, pattern, 429, "flood_wait", failing(flood_wait(30)),
                  [request](SessionRoutesTest& t, const http::Response& r) {
                    EXPECT_EQ(t.header(r, "Retry-After"), "30");
                    EXPECT_EQ(json::parse(r.body)["error"]["retry_after"], 30);
                    EXPECT_EQ(t.sent_count(request), 1u) << "not repeated for the caller";
                  }});
  out->push_back({name + "_EngineError", POST, pattern, 502, "engine_error", failing(td_error(500, "INTERNAL_SERVER_ERROR")),
                  [](SessionRoutesTest&, const http::Response& r) {
                    EXPECT_EQ(json::parse(r.body)["error"]["td_code"], 500);
                  }});
  out->push_back({name + "_EngineAway", POST, pattern, 503, "unavailable",
                  failing(Error(Errc::unavailable, "engine stopped")), nullptr});
  out->push_back({name + "_Timeout", POST, pattern, 504, "timeout", failing(Error(Errc::timeout, "no answer")), nullptr});
}

// --- proxies ---------------------------------------------------------------------------------------------
// The credentials of the proxies the cases send: no answer and no log line may ever hold them.
constexpr std::string_view kProxyPassword = "s3cret-pw";
constexpr std::string_view kProxySecret = "dd0123456789abcdef0123456789abcdef";
std::string socks5_proxy() {
  return R"({"type":"socks5","server":"10.1.2.3","port":1080,"username":"fleet","password":")" +
         std::string(kProxyPassword) + "\"}";
}
std::string mtproto_proxy() {
  return R"({"type":"mtproto","server":"proxy.example","port":443,"secret":")" + std::string(kProxySecret) + "\"}";
}
void expect_no_proxy_credentials(SessionRoutesTest& t, const http::Response& r) {
  for (std::string_view secret : {kProxyPassword, kProxySecret}) {
    EXPECT_EQ(r.body.find(secret), std::string::npos) << r.body;
    EXPECT_EQ(t.all_logs().find(secret), std::string::npos) << secret;
  }
}
// The view of the socks5 proxy above, before or after its first ping.
void expect_socks5_view(const json& proxy) {
  ASSERT_TRUE(proxy.is_object()) << proxy;
  EXPECT_EQ(proxy.at("type"), "socks5");
  EXPECT_EQ(proxy.at("server"), "10.1.2.3");
  EXPECT_EQ(proxy.at("port"), 1080);
  EXPECT_EQ(proxy.at("has_credentials"), true);
  EXPECT_FALSE(proxy.contains("username") || proxy.contains("password"));
}

// A proxy object a route must refuse (400) naming `field`, never repeating the password or the secret.
struct BadProxy {
  std::string name;
  std::string proxy;  // the JSON value of "proxy"
  std::string field;  // what the message must name ("proxy.port")
};
std::vector<BadProxy> bad_proxies() {
  const std::string pw = std::string(kProxyPassword);
  const std::string secret = std::string(kProxySecret);
  return {
      {"NotAnObject", R"(["socks5","10.1.2.3",1080])", "proxy must be an object"},
      {"UnknownField", R"({"type":"socks5","server":"10.1.2.3","port":1080,"password":")" + pw + R"(","user":"x"})",
       "proxy.user"},
      {"NoType", R"({"server":"10.1.2.3","port":1080,"password":")" + pw + "\"}", "proxy.type"},
      {"BadType", R"({"type":"vpn","server":"10.1.2.3","port":1080})", "proxy.type"},
      {"NoServer", R"({"type":"socks5","port":1080,"password":")" + pw + "\"}", "proxy.server"},
      {"BadServer", R"({"type":"socks5","server":"10.1.2.3/evil","port":1080})", "proxy.server"},
      {"LongServer", R"({"type":"socks5","server":")" + std::string(254, 'a') + R"(","port":1080})", "proxy.server"},
      {"NoPort", R"({"type":"socks5","server":"10.1.2.3","password":")" + pw + "\"}", "proxy.port"},
      {"PortZero", R"({"type":"socks5","server":"10.1.2.3","port":0})", "proxy.port"},
      {"PortTooHigh", R"({"type":"socks5","server":"10.1.2.3","port":65536})", "proxy.port"},
      {"PortNotAnInteger", R"({"type":"socks5","server":"10.1.2.3","port":"1080"})", "proxy.port"},
      {"UsernameNotAString", R"({"type":"socks5","server":"10.1.2.3","port":1080,"username":7,"password":")" + pw + "\"}",
       "proxy.username"},
      {"LongUsername", R"({"type":"http","server":"10.1.2.3","port":3128,"username":")" + std::string(256, 'u') + "\"}",
       "proxy.username"},
      {"PasswordControlCharacter",
       R"({"type":"socks5","server":"10.1.2.3","port":1080,"password":")" + pw + R"(\u0007"})", "proxy.password"},
      {"LongPassword", R"({"type":"socks5","server":"10.1.2.3","port":1080,"password":")" + pw + std::string(256, 'p') + "\"}",
       "proxy.password"},
      {"HttpOnlyNotABoolean", R"({"type":"http","server":"10.1.2.3","port":3128,"http_only":"yes"})", "proxy.http_only"},
      {"HttpOnlyOnSocks5", R"({"type":"socks5","server":"10.1.2.3","port":1080,"http_only":true})", "proxy.http_only"},
      {"MtprotoWithoutSecret", R"({"type":"mtproto","server":"proxy.example","port":443})", "proxy.secret"},
      {"MtprotoWithPassword", R"({"type":"mtproto","server":"proxy.example","port":443,"secret":")" + secret +
                                  R"(","password":")" + pw + "\"}",
       "proxy.username and password"},
      {"BadSecret", R"({"type":"mtproto","server":"proxy.example","port":443,"secret":")" + secret + R"( <x>"})",
       "proxy.secret"},
      {"SecretOnSocks5", R"({"type":"socks5","server":"10.1.2.3","port":1080,"secret":")" + secret + "\"}", "proxy.secret"},
      // Hostile sizes: bounded before anything copies them.
      {"ManyFields", [] {
         std::string o = R"({"type":"socks5","server":"10.1.2.3","port":1080)";
         for (int i = 0; i < 5000; ++i) o += ",\"f" + std::to_string(i) + "\":0";
         return o + "}";
       }(),
       "is not a proxy field"},
      {"HugeField", R"({"type":"socks5","server":"10.1.2.3","port":1080,")" + std::string(100000, 'k') + R"(":1})",
       "<field> is not a proxy field"},
      {"DeeplyNested", R"({"type":"socks5","server":"10.1.2.3","port":1080,"password":)" + std::string(70, '[') +
                           std::string(70, ']') + "}",
       "the body"},
      {"TooManyValues", R"({"type":"socks5","server":"10.1.2.3","port":1080,"password":[)" + [] {
         std::string a = "0";
         for (int i = 0; i < 100001; ++i) a += ",0";
         return a;
       }() + "]}",
       "the body"},
  };
}
// 400 for `bad`: the message names the field, the body's credentials never come back, nothing started.
std::function<void(SessionRoutesTest&, const http::Response&)> refused_naming(std::string field, std::size_t clients) {
  return [field, clients](SessionRoutesTest& t, const http::Response& r) {
    EXPECT_NE(json::parse(r.body)["error"]["message"].get<std::string>().find(field), std::string::npos) << r.body;
    EXPECT_LT(r.body.size(), 512u) << "a refusal never echoes the object";
    expect_no_proxy_credentials(t, r);
    EXPECT_EQ(t.engine_.client_count(), clients);
  };
}

// POST /v1/qr-logins and /v1/phone-logins with a proxy: 201 with the proxy in the view (the engine adds
// it before the login reaches Telegram), the login failed when TDLib refuses it, 400 for each bad field.
void add_login_proxy_cases(std::vector<Case>* out) {
  const std::string logins = "/v1/qr-logins";
  const std::string phone_logins = "/v1/phone-logins";
  out->push_back({"CreateLogin_WithProxy", POST, logins, 201, "",
                  [](SessionRoutesTest&) { return acme(POST, "/v1/qr-logins", R"({"proxy":)" + socks5_proxy() + "}"); },
                  [](SessionRoutesTest& t, const http::Response& r) {
                    const json j = json::parse(r.body);
                    EXPECT_EQ(j.at("status"), "qr_pending");
                    expect_socks5_view(j.at("proxy"));
                    EXPECT_EQ(t.engine_.last().methods(),
                              (std::vector<std::string>{"setTdlibParameters", "addProxy", "requestQrCodeAuthentication"}));
                    EXPECT_EQ(t.engine_.last().sent[1]["proxy"]["type"]["password"], kProxyPassword) << "TDLib has it";
                    expect_no_proxy_credentials(t, r);
                  }});
  out->push_back({"CreateLogin_WithoutProxy", POST, logins, 201, "",
                  [](SessionRoutesTest&) { return acme(POST, "/v1/qr-logins", R"({"proxy":null})"); },
                  [](SessionRoutesTest& t, const http::Response& r) {
                    EXPECT_TRUE(json::parse(r.body).at("proxy").is_null());
                    EXPECT_EQ(t.sent_count("addProxy"), 0u);
                  }});
  out->push_back({"CreatePhoneLogin_WithProxy", POST, phone_logins, 201, "",
                  [](SessionRoutesTest&) {
                    return acme(POST, "/v1/phone-logins",
                                std::string(R"({"phone_number":")") + FakeEngine::kPhoneNumber + R"(","proxy":)" +
                                    mtproto_proxy() + "}");
                  },
                  [](SessionRoutesTest& t, const http::Response& r) {
                    const json j = json::parse(r.body);
                    EXPECT_EQ(j.at("status"), "code_required");
                    EXPECT_EQ(j.at("proxy").at("type"), "mtproto");
                    EXPECT_EQ(j.at("proxy").at("has_credentials"), true);
                    EXPECT_EQ(t.engine_.last().methods(),
                              (std::vector<std::string>{"setTdlibParameters", "addProxy", "setAuthenticationPhoneNumber"}));
                    expect_no_proxy_credentials(t, r);
                    expect_no_phone_number(t, r);
                  }});
  for (const BadProxy& b : bad_proxies()) {
    const std::string proxy = b.proxy;
    out->push_back({"CreateLogin_Proxy" + b.name, POST, logins, 400, "invalid_argument",
                    [proxy](SessionRoutesTest&) { return acme(POST, "/v1/qr-logins", R"({"proxy":)" + proxy + "}"); },
                    refused_naming(b.field, 0)});
    out->push_back({"CreatePhoneLogin_Proxy" + b.name, POST, phone_logins, 400, "invalid_argument",
                    [proxy](SessionRoutesTest&) {
                      return acme(POST, "/v1/phone-logins",
                                  std::string(R"({"phone_number":")") + FakeEngine::kPhoneNumber + R"(","proxy":)" + proxy + "}");
                    },
                    refused_naming(b.field, 0)});
  }
}

// PUT /v1/sessions/{id}/proxy: every answer it documents, and what an attacker may try.
void add_put_proxy_cases(std::vector<Case>* out) {
  const std::string pattern = "/v1/sessions/{id}/proxy";
  auto put = [](const std::string& id, std::string body) { return acme(PUT, "/v1/sessions/" + id + "/proxy", std::move(body)); };
  auto on_authorized = [put](std::string body) {
    return [put, body](SessionRoutesTest& t) { return put(t.authorized().id, body); };
  };
  const std::string set_socks5 = R"({"proxy":)" + socks5_proxy() + "}";
  out->push_back({"SetProxy", PUT, pattern, 200, "", on_authorized(set_socks5),
                  [](SessionRoutesTest& t, const http::Response& r) {
                    const json j = json::parse(r.body);
                    expect_socks5_view(j.at("proxy"));
                    EXPECT_EQ(j.at("session_id"), t.manager_->list("acme").at(0).id);
                    ASSERT_EQ(t.engine_.last().proxies.size(), 1u);
                    EXPECT_EQ(t.engine_.last().proxies[0]["proxy"]["type"]["password"], kProxyPassword);
                    expect_no_proxy_credentials(t, r);
                  }});
  out->push_back({"SetProxy_Replaces", PUT, pattern, 200, "",
                  [put, set_socks5](SessionRoutesTest& t) {
                    const std::string id = t.authorized().id;
                    EXPECT_EQ(t.call(put(id, set_socks5)).status, bhttp::status::ok);
                    return put(id, R"({"proxy":)" + mtproto_proxy() + "}");
                  },
                  [](SessionRoutesTest& t, const http::Response& r) {
                    EXPECT_EQ(json::parse(r.body).at("proxy").at("type"), "mtproto");
                    ASSERT_EQ(t.engine_.last().proxies.size(), 1u) << "the old one is gone, not disabled beside";
                    EXPECT_EQ(t.engine_.last().proxies[0]["proxy"]["server"], "proxy.example");
                    expect_no_proxy_credentials(t, r);
                  }});
  out->push_back({"SetProxy_Remove", PUT, pattern, 200, "",
                  [put, set_socks5](SessionRoutesTest& t) {
                    const std::string id = t.authorized().id;
                    EXPECT_EQ(t.call(put(id, set_socks5)).status, bhttp::status::ok);
                    return put(id, R"({"proxy":null})");
                  },
                  [](SessionRoutesTest& t, const http::Response& r) {
                    EXPECT_TRUE(json::parse(r.body).at("proxy").is_null());
                    EXPECT_TRUE(t.engine_.last().proxies.empty());
                    const json view = json::parse(t.call(acme(GET, "/v1/sessions/" + t.manager_->list("acme").at(0).id)).body);
                    EXPECT_TRUE(view.at("proxy").is_null());
                  }});
  out->push_back({"SetProxy_OnALogin", PUT, pattern, 200, "",
                  [put, set_socks5](SessionRoutesTest& t) { return put(t.login().id, set_socks5); },
                  [](SessionRoutesTest& t, const http::Response& r) {
                    expect_socks5_view(json::parse(r.body).at("proxy"));
                    const json view = json::parse(t.call(acme(GET, "/v1/qr-logins/" + t.manager_->list("acme").at(0).id)).body);
                    expect_socks5_view(view.at("proxy"));
                    expect_no_proxy_credentials(t, r);
                  }});
  out->push_back({"SetProxy_NotJson", PUT, pattern, 400, "invalid_argument", on_authorized("{\"proxy\":"), nullptr});
  out->push_back({"SetProxy_EmptyBody", PUT, pattern, 400, "invalid_argument", on_authorized(""), nullptr});
  out->push_back({"SetProxy_OverBounds", PUT, pattern, 400, "invalid_argument", on_authorized(too_deep()), nullptr});
  out->push_back({"SetProxy_NoProxyKey", PUT, pattern, 400, "invalid_argument", on_authorized(R"({"proxies":[]})"),
                  [](SessionRoutesTest& t, const http::Response& r) {
                    EXPECT_NE(r.body.find("proxy (an object, or null for none) is required"), std::string::npos) << r.body;
                    EXPECT_EQ(t.sent_count("getProxies"), 0u);
                  }});
  for (const BadProxy& b : bad_proxies()) {
    out->push_back({"SetProxy_" + b.name, PUT, pattern, 400, "invalid_argument", on_authorized(R"({"proxy":)" + b.proxy + "}"),
                    [field = b.field](SessionRoutesTest& t, const http::Response& r) {
                      refused_naming(field, 1)(t, r);
                      EXPECT_EQ(t.sent_count("getProxies"), 0u) << "nothing reached the engine";
                    }});
  }
  // A cleanup dropped the client while TDLib listed the proxies (the fake answers at once; the
  // responder plays the cleanup's step): nothing more is sent through the gone client.
  out->push_back({"SetProxy_NoLiveClient", PUT, pattern, 409, "conflict",
                  [put, set_socks5](SessionRoutesTest& t) {
                    const std::string id = t.authorized().id;
                    std::shared_ptr<Session> s = t.manager_->find("acme", id);
                    t.engine_.respond_with([s](const json& request) -> std::optional<Result<json>> {
                      if (request.value("@type", "") != "getProxies") return std::nullopt;
                      s->drop_client();
                      return Result<json>(json{{"@type", "addedProxies"}, {"proxies", json::array()}});
                    });
                    return put(id, set_socks5);
                  },
                  [](SessionRoutesTest& t, const http::Response& r) {
                    t.engine_.respond_with(nullptr);  // lets the session go with the fixture
                    EXPECT_NE(r.body.find("no live TDLib client"), std::string::npos) << r.body;
                    EXPECT_EQ(t.engine_.last().methods().back(), "getProxies");
                    expect_no_proxy_credentials(t, r);
                  }});
  out->push_back({"SetProxy_Refused", PUT, pattern, 422, "proxy_refused",
                  [put, set_socks5](SessionRoutesTest& t) {
                    const std::string id = t.authorized().id;
                    EXPECT_EQ(t.call(put(id, R"({"proxy":)" + mtproto_proxy() + "}")).status, bhttp::status::ok);
                    t.engine_answers("addProxy", td_error(400, "Unsupported proxy type"));
                    return put(id, set_socks5);
                  },
                  [](SessionRoutesTest& t, const http::Response& r) {
                    EXPECT_NE(r.body.find("Unsupported proxy type"), std::string::npos) << "TDLib's reason";
                    EXPECT_TRUE(t.engine_.last().proxies.empty()) << "the old one is gone";
                    const json view = json::parse(t.call(acme(GET, "/v1/sessions/" + t.manager_->list("acme").at(0).id)).body);
                    EXPECT_TRUE(view.at("proxy").is_null()) << "the view says so";
                    expect_no_proxy_credentials(t, r);
                  }});
  auto engine_fails = [put, set_socks5](std::string request, Error e) {
    return [put, set_socks5, request, e](SessionRoutesTest& t) {
      const std::string id = t.authorized().id;
      if (request == "removeProxy") {  // one to remove
        EXPECT_EQ(t.call(put(id, set_socks5)).status, bhttp::status::ok);
      }
      t.engine_answers(request, e);
      return put(id, set_socks5);
    };
  };
  out->push_back({"SetProxy_EngineError", PUT, pattern, 502, "engine_error",
                  engine_fails("getProxies", td_error(500, "INTERNAL_SERVER_ERROR")),
                  [](SessionRoutesTest& t, const http::Response& r) {
                    EXPECT_EQ(json::parse(r.body)["error"]["td_code"], 500);
                    EXPECT_EQ(t.sent_count("addProxy"), 0u);
                  }});
  out->push_back({"SetProxy_FloodWait", PUT, pattern, 429, "flood_wait", engine_fails("removeProxy", flood_wait(30)),
                  [](SessionRoutesTest& t, const http::Response& r) {
                    EXPECT_EQ(t.header(r, "Retry-After"), "30") << "Telegram's wait reaches the caller";
                    EXPECT_EQ(json::parse(r.body)["error"]["retry_after"], 30);
                  }});
  out->push_back({"SetProxy_EngineAway", PUT, pattern, 503, "unavailable",
                  engine_fails("addProxy", Error(Errc::unavailable, "engine stopped")), expect_no_proxy_credentials});
  out->push_back({"SetProxy_Timeout", PUT, pattern, 504, "timeout",
                  engine_fails("addProxy", Error(Errc::timeout, "no answer")), expect_no_proxy_credentials});
  add_tenant_refusals(out, "SetProxy", PUT, pattern);
  // An attacker with a valid proxy body on another tenant's session: 404 like an unknown id, and nothing
  // reaches that session's engine.
  out->push_back({"SetProxy_OtherTenantsAuthorizedSession", PUT, pattern, 404, "not_found",
                  [put, set_socks5](SessionRoutesTest& t) { return put(t.authorized("other").id, set_socks5); },
                  [](SessionRoutesTest& t, const http::Response& r) {
                    EXPECT_EQ(t.sent_count("getProxies") + t.sent_count("addProxy") + t.sent_count("removeProxy"), 0u);
                    EXPECT_TRUE(t.engine_.last().proxies.empty());
                    EXPECT_TRUE(t.manager_->list("other").at(0).proxy.is_null());
                    expect_no_proxy_credentials(t, r);
                  }});
  out->push_back({"SetProxy_OtherTenantsProxiedSession", PUT, pattern, 404, "not_found",
                  [put](SessionRoutesTest& t) {
                    const http::Response mine = t.call(with_token(
                        acme(POST, "/v1/qr-logins", R"({"proxy":)" + mtproto_proxy() + "}"), "tgp_other"));
                    EXPECT_EQ(mine.status, bhttp::status::created);
                    return put(json::parse(mine.body).at("session_id").get<std::string>(), R"({"proxy":null})");
                  },
                  [](SessionRoutesTest& t, const http::Response& r) {
                    EXPECT_EQ(t.engine_.last().proxies.size(), 1u) << "the other tenant's proxy stays";
                    EXPECT_EQ(t.sent_count("removeProxy"), 0u);
                    expect_no_proxy_credentials(t, r);
                  }});
  // The session views show the proxy's health after a ping, and never its credentials.
  out->push_back({"GetSession_WithProxy", GET, "/v1/sessions/{id}", 200, "",
                  [put, set_socks5](SessionRoutesTest& t) {
                    const std::string id = t.authorized().id;
                    EXPECT_EQ(t.call(put(id, set_socks5)).status, bhttp::status::ok);
                    t.manager_->ping_due_proxies();
                    std::shared_ptr<Session> s = t.manager_->find("acme", id);
                    EXPECT_TRUE(t.run_until([&] { return s->view().proxy["status"]["state"] == "ok"; }));
                    return acme(GET, "/v1/sessions/" + id);
                  },
                  [](SessionRoutesTest& t, const http::Response& r) {
                    const json proxy = json::parse(r.body).at("proxy");
                    expect_socks5_view(proxy);
                    EXPECT_EQ(proxy.at("status").at("state"), "ok");
                    EXPECT_EQ(proxy.at("status").at("ping_ms"), 42);
                    EXPECT_TRUE(proxy.at("status").at("checked_at").is_string());
                    expect_no_proxy_credentials(t, r);
                  }});
  out->push_back({"ListSessions_WithProxy", GET, "/v1/sessions", 200, "",
                  [put, set_socks5](SessionRoutesTest& t) {
                    EXPECT_EQ(t.call(put(t.authorized().id, set_socks5)).status, bhttp::status::ok);
                    t.login();
                    return acme(GET, "/v1/sessions");
                  },
                  [](SessionRoutesTest& t, const http::Response& r) {
                    const json list = json::parse(r.body).at("sessions");
                    ASSERT_EQ(list.size(), 2u);
                    EXPECT_EQ(list[0].at("proxy").is_null() + list[1].at("proxy").is_null(), 1);
                    expect_no_proxy_credentials(t, r);
                  }});
}

std::vector<Case> make_cases() {
  std::vector<Case> c;
  // --- admin: tenants -----------------------------------------------------------------------------------
  const std::string tenants = "/v1/tenants";
  c.push_back({"CreateTenant", POST, tenants, 201, "",
               [](SessionRoutesTest&) { return admin(POST, "/v1/tenants", R"({"tenant_id":"newco"})"); },
               [](SessionRoutesTest& t, const http::Response& r) {
                 const std::string token = json::parse(r.body).at("token").get<std::string>();
                 EXPECT_TRUE(t.store_.find_tenant_by_token(token).ok());
                 EXPECT_EQ(t.all_logs().find(token), std::string::npos);
               }});
  c.push_back({"CreateTenant_NotJson", POST, tenants, 400, "invalid_argument",
               [](SessionRoutesTest&) { return admin(POST, "/v1/tenants", "{"); }, nullptr});
  c.push_back({"CreateTenant_OverBounds", POST, tenants, 400, "invalid_argument",
               [](SessionRoutesTest&) { return admin(POST, "/v1/tenants", too_deep()); }, nullptr});
  c.push_back({"CreateTenant_NoTenantId", POST, tenants, 400, "invalid_argument",
               [](SessionRoutesTest&) { return admin(POST, "/v1/tenants", R"({"tenant":"x"})"); }, nullptr});
  c.push_back({"CreateTenant_BadTenantId", POST, tenants, 400, "invalid_argument",
               [](SessionRoutesTest&) { return admin(POST, "/v1/tenants", R"({"tenant_id":"a/b"})"); }, nullptr});
  c.push_back({"CreateTenant_Exists", POST, tenants, 409, "conflict",
               [](SessionRoutesTest&) { return admin(POST, "/v1/tenants", R"({"tenant_id":"acme"})"); }, nullptr});
  c.push_back({"CreateTenant_NoToken", POST, tenants, 401, "unauthorized",
               [](SessionRoutesTest&) { return anonymous(POST, "/v1/tenants", R"({"tenant_id":"x"})"); }, nullptr});
  c.push_back({"CreateTenant_TenantToken", POST, tenants, 401, "unauthorized",
               [](SessionRoutesTest&) { return acme(POST, "/v1/tenants", R"({"tenant_id":"x"})"); }, nullptr});
  c.push_back({"ListTenants", GET, tenants, 200, "",
               [](SessionRoutesTest& t) {
                 t.login();
                 return admin(GET, "/v1/tenants");
               },
               [](SessionRoutesTest&, const http::Response& r) {
                 EXPECT_EQ(json::parse(r.body).at("tenants").size(), 2u);
               }});
  c.push_back({"ListTenants_WrongToken", GET, tenants, 401, "unauthorized",
               [](SessionRoutesTest&) { return with_token(admin(GET, "/v1/tenants"), "adm_wrong"); }, nullptr});
  const std::string tenant = "/v1/tenants/{tenant_id}";
  c.push_back({"DeleteTenant", DEL, tenant, 200, "",
               [](SessionRoutesTest& t) {
                 t.login("other");
                 return admin(DEL, "/v1/tenants/other");
               },
               [](SessionRoutesTest& t, const http::Response&) {
                 EXPECT_FALSE(t.store_.get_tenant("other").ok());
                 EXPECT_FALSE(t.store_.find_tenant_by_token("tgp_other").ok());
               }});
  c.push_back({"DeleteTenant_Unknown", DEL, tenant, 404, "not_found",
               [](SessionRoutesTest&) { return admin(DEL, "/v1/tenants/ghost"); }, nullptr});
  c.push_back({"DeleteTenant_NoToken", DEL, tenant, 401, "unauthorized",
               [](SessionRoutesTest&) { return anonymous(DEL, "/v1/tenants/other"); },
               [](SessionRoutesTest& t, const http::Response&) { EXPECT_TRUE(t.store_.get_tenant("other").ok()); }});

  // --- tenant: QR logins --------------------------------------------------------------------------------
  const std::string logins = "/v1/qr-logins";
  c.push_back({"CreateLogin", POST, logins, 201, "",
               [](SessionRoutesTest&) { return acme(POST, "/v1/qr-logins"); },
               [](SessionRoutesTest& t, const http::Response& r) {
                 const json j = json::parse(r.body);
                 EXPECT_EQ(j.at("link"), FakeEngine::link_for(0, 1));
                 EXPECT_EQ(t.header(r, "Location"), "/v1/qr-logins/" + j.at("session_id").get<std::string>());
                 EXPECT_EQ(t.all_logs().find("tg://"), std::string::npos);
               }});
  c.push_back({"CreateLogin_BodyNotAnObject", POST, logins, 400, "invalid_argument",
               [](SessionRoutesTest&) { return acme(POST, "/v1/qr-logins", "[]"); },
               [](SessionRoutesTest& t, const http::Response&) { EXPECT_EQ(t.engine_.client_count(), 0u); }});
  c.push_back({"CreateLogin_TenantLoginsCap", POST, logins, 429, "logins_cap",
               [](SessionRoutesTest& t) {
                 t.limits().tenant_logins = 1;
                 t.login();
                 return acme(POST, "/v1/qr-logins");
               },
               [](SessionRoutesTest& t, const http::Response& r) {
                 EXPECT_EQ(json::parse(r.body)["error"]["scope"], "tenant");
                 EXPECT_EQ(t.engine_.client_count(), 1u);
               }});
  c.push_back({"CreateLogin_LoginRate", POST, logins, 429, "login_rate",
               [](SessionRoutesTest& t) {
                 t.limits().tenant_logins_per_minute = 1;
                 t.login();
                 return acme(POST, "/v1/qr-logins");
               },
               [](SessionRoutesTest& t, const http::Response& r) {
                 const int after = std::stoi(t.header(r, "Retry-After"));
                 EXPECT_GE(after, 1);
                 EXPECT_LE(after, 60);
               }});
  c.push_back({"CreateLogin_ProcessLoginsCap", POST, logins, 503, "logins_cap",
               [](SessionRoutesTest& t) {
                 t.limits().process_logins = 1;
                 t.login("other");
                 return acme(POST, "/v1/qr-logins");
               },
               [](SessionRoutesTest&, const http::Response& r) {
                 EXPECT_EQ(json::parse(r.body)["error"]["scope"], "process");
               }});
  add_tenant_refusals(&c, "CreateLogin", POST, logins);

  const std::string qr = "/v1/qr-logins/{id}";
  c.push_back({"GetLogin", GET, qr, 200, "",
               [](SessionRoutesTest& t) { return acme(GET, "/v1/qr-logins/" + t.login().id); },
               [](SessionRoutesTest& t, const http::Response& r) {
                 EXPECT_EQ(json::parse(r.body).at("status"), "qr_pending");
                 EXPECT_EQ(t.header(r, "Cache-Control"), "no-store");
               }});
  add_tenant_refusals(&c, "GetLogin", GET, qr);
  c.push_back({"CancelLogin", DEL, qr, 200, "",
               [](SessionRoutesTest& t) { return acme(DEL, "/v1/qr-logins/" + t.login().id); },
               [](SessionRoutesTest&, const http::Response& r) {
                 EXPECT_EQ(json::parse(r.body).at("status"), "cancelled");
               }});
  c.push_back({"CancelLogin_Authorized", DEL, qr, 409, "conflict",
               [](SessionRoutesTest& t) { return acme(DEL, "/v1/qr-logins/" + t.authorized().id); },
               [](SessionRoutesTest&, const http::Response& r) {
                 EXPECT_NE(r.body.find("authorized"), std::string::npos) << r.body;
               }});
  add_tenant_refusals(&c, "CancelLogin", DEL, qr);

  const std::string events = "/v1/qr-logins/{id}/events";
  add_stream_cases(&c, "LoginEvents", events, [](SessionRoutesTest& t, const std::string& owner) { return t.login(owner).id; });

  const std::string svg = "/v1/qr-logins/{id}/qr.svg";
  c.push_back({"LoginSvg", GET, svg, 200, "",
               [](SessionRoutesTest& t) { return acme(GET, "/v1/qr-logins/" + t.login().id + "/qr.svg"); },
               [](SessionRoutesTest&, const http::Response& r) { EXPECT_EQ(r.body.rfind("<svg", 0), 0u) << r.body.substr(0, 40); }});
  c.push_back({"LoginSvg_NoLink", GET, svg, 409, "conflict",
               [](SessionRoutesTest& t) { return acme(GET, "/v1/qr-logins/" + t.authorized().id + "/qr.svg"); },
               nullptr});
  add_tenant_refusals(&c, "LoginSvg", GET, svg);

  const std::string password = "/v1/qr-logins/{id}/password";
  add_password_cases(&c, "LoginPassword", password, [](SessionRoutesTest& t) { return t.password_required(); },
                     [](SessionRoutesTest& t) { return t.login(); });
  c.push_back({"LoginPassword_EngineAway", POST, password, 503, "unavailable",
               [](SessionRoutesTest& t) {
                 const std::string id = t.password_required().id;
                 t.engine_answers("checkAuthenticationPassword", Error(Errc::unavailable, "engine stopped"));
                 return acme(POST, "/v1/qr-logins/" + id + "/password", R"({"password":"pw"})");
               },
               nullptr});
  add_tenant_refusals(&c, "LoginPassword", POST, password);

  // --- tenant: phone-number logins ----------------------------------------------------------------------
  // The fake engine sends every code as a Telegram message with SMS as the next way, the resent one by
  // SMS with no next way. Neither the number nor a code may come back in an answer or reach a log.
  const std::string phone_logins = "/v1/phone-logins";
  c.push_back({"CreatePhoneLogin", POST, phone_logins, 201, "",
               [](SessionRoutesTest&) { return acme(POST, "/v1/phone-logins", number_body(FakeEngine::kPhoneNumber)); },
               [](SessionRoutesTest& t, const http::Response& r) {
                 const json j = json::parse(r.body);
                 EXPECT_EQ(j.at("status"), "code_required");
                 EXPECT_EQ(j.at("method"), "phone");
                 EXPECT_EQ(j.at("code_info"),
                           (json{{"type", "telegram_message"}, {"length", 5}, {"next_type", "sms"}, {"timeout", 60}}));
                 EXPECT_FALSE(j.contains("link"));
                 EXPECT_EQ(t.header(r, "Location"), "/v1/phone-logins/" + j.at("session_id").get<std::string>());
                 EXPECT_EQ(t.header(r, "Cache-Control"), "no-store");
                 EXPECT_EQ(t.engine_.last().methods(),
                           (std::vector<std::string>{"setTdlibParameters", "setAuthenticationPhoneNumber"}));
                 expect_no_phone_number(t, r);
               }});
  c.push_back({"CreatePhoneLogin_WithoutNumber", POST, phone_logins, 201, "",
               [](SessionRoutesTest&) { return acme(POST, "/v1/phone-logins"); },
               [](SessionRoutesTest& t, const http::Response& r) {
                 const json j = json::parse(r.body);
                 EXPECT_EQ(j.at("status"), "phone_number_required");
                 EXPECT_FALSE(j.contains("code_info"));
                 EXPECT_NE(j.at("page_url").get<std::string>().find("?key="), std::string::npos);
                 EXPECT_EQ(t.engine_.last().methods(), std::vector<std::string>{"setTdlibParameters"});
               }});
  c.push_back({"CreatePhoneLogin_BodyNotAnObject", POST, phone_logins, 400, "invalid_argument",
               [](SessionRoutesTest&) { return acme(POST, "/v1/phone-logins", R"(["+99966 2 1234"])"); },
               [](SessionRoutesTest& t, const http::Response&) { EXPECT_EQ(t.engine_.client_count(), 0u); }});
  // A malformed number is refused before anything starts, and the answer never repeats it.
  for (const Malformed& m : malformed_numbers()) {
    const std::string value = m.value;
    const std::string needle = m.needle;
    c.push_back({"CreatePhoneLogin_Number" + m.name, POST, phone_logins, 400, "invalid_argument",
                 [value](SessionRoutesTest&) { return acme(POST, "/v1/phone-logins", R"({"phone_number":)" + value + "}"); },
                 [needle](SessionRoutesTest& t, const http::Response& r) {
                   EXPECT_EQ(t.engine_.client_count(), 0u);
                   expect_not_echoed(r, needle);
                 }});
  }
  c.push_back({"CreatePhoneLogin_Refused", POST, phone_logins, 422, "phone_number_invalid",
               [](SessionRoutesTest& t) {
                 t.engine_answers("setAuthenticationPhoneNumber", td_error(400, "PHONE_NUMBER_INVALID"));
                 return acme(POST, "/v1/phone-logins", number_body(FakeEngine::kPhoneNumber));
               },
               [](SessionRoutesTest& t, const http::Response& r) {
                 EXPECT_NE(r.body.find("PHONE_NUMBER_INVALID"), std::string::npos) << "Telegram's reason";
                 expect_no_phone_number(t, r);
                 EXPECT_TRUE(t.run_until([&] { return t.manager_->live_count() == 0; })) << "nothing is left behind";
               }});
  c.push_back({"CreatePhoneLogin_FloodWait", POST, phone_logins, 429, "flood_wait",
               [](SessionRoutesTest& t) {
                 t.engine_answers("setAuthenticationPhoneNumber", flood_wait(30));
                 return acme(POST, "/v1/phone-logins", number_body(FakeEngine::kPhoneNumber));
               },
               [](SessionRoutesTest& t, const http::Response& r) {
                 EXPECT_EQ(t.header(r, "Retry-After"), "30");
                 EXPECT_EQ(json::parse(r.body)["error"]["retry_after"], 30);
                 EXPECT_TRUE(t.run_until([&] { return t.manager_->live_count() == 0; }));
               }});
  c.push_back({"CreatePhoneLogin_NumberFlood", POST, phone_logins, 429, "flood_wait",
               [](SessionRoutesTest& t) {
                 t.engine_answers("setAuthenticationPhoneNumber", td_error(400, "PHONE_NUMBER_FLOOD"));
                 return acme(POST, "/v1/phone-logins", number_body(FakeEngine::kPhoneNumber));
               },
               [](SessionRoutesTest& t, const http::Response& r) {
                 EXPECT_EQ(t.header(r, "Retry-After"), "3600") << "phone.flood_retry_after's default";
                 EXPECT_NE(r.body.find("PHONE_NUMBER_FLOOD"), std::string::npos);
               }});
  c.push_back({"CreatePhoneLogin_TenantLoginsCap", POST, phone_logins, 429, "logins_cap",
               [](SessionRoutesTest& t) {
                 t.limits().tenant_logins = 1;
                 t.login();  // a QR login holds the tenant's one login slot: both kinds share the cap
                 return acme(POST, "/v1/phone-logins", number_body(FakeEngine::kPhoneNumber));
               },
               [](SessionRoutesTest& t, const http::Response&) { EXPECT_EQ(t.engine_.client_count(), 1u); }});
  c.push_back({"CreatePhoneLogin_ProcessLoginsCap", POST, phone_logins, 503, "logins_cap",
               [](SessionRoutesTest& t) {
                 t.limits().process_logins = 1;
                 t.phone_login("other");
                 return acme(POST, "/v1/phone-logins");
               },
               [](SessionRoutesTest&, const http::Response& r) {
                 EXPECT_EQ(json::parse(r.body)["error"]["scope"], "process");
               }});
  c.push_back({"CreatePhoneLogin_EngineError", POST, phone_logins, 502, "engine_error",
               [](SessionRoutesTest& t) {
                 t.engine_answers("setAuthenticationPhoneNumber", td_error(500, "INTERNAL_SERVER_ERROR"));
                 return acme(POST, "/v1/phone-logins", number_body(FakeEngine::kPhoneNumber));
               },
               [](SessionRoutesTest& t, const http::Response&) {
                 EXPECT_TRUE(t.run_until([&] { return t.manager_->live_count() == 0; }));
               }});
  c.push_back({"CreatePhoneLogin_Timeout", POST, phone_logins, 504, "timeout",
               [](SessionRoutesTest& t) {
                 t.engine_answers("setAuthenticationPhoneNumber", Error(Errc::timeout, "no answer"));
                 return acme(POST, "/v1/phone-logins", number_body(FakeEngine::kPhoneNumber));
               },
               [](SessionRoutesTest& t, const http::Response&) {
                 EXPECT_TRUE(t.run_until([&] { return t.manager_->live_count() == 0; }));
               }});
  add_tenant_refusals(&c, "CreatePhoneLogin", POST, phone_logins);

  const std::string phone = "/v1/phone-logins/{id}";
  c.push_back({"GetPhoneLogin", GET, phone, 200, "",
               [](SessionRoutesTest& t) { return acme(GET, "/v1/phone-logins/" + t.phone_login().id); },
               [](SessionRoutesTest& t, const http::Response& r) {
                 const json j = json::parse(r.body);
                 EXPECT_EQ(j.at("status"), "code_required");
                 EXPECT_EQ(j.at("method"), "phone");
                 EXPECT_EQ(j.at("code_info").at("next_type"), "sms");
                 EXPECT_EQ(t.header(r, "Cache-Control"), "no-store");
                 expect_no_phone_number(t, r);
               }});
  add_tenant_refusals(&c, "GetPhoneLogin", GET, phone);
  add_other_tenants_phone_login(&c, "GetPhoneLogin", GET, phone, "");
  c.push_back({"CancelPhoneLogin", DEL, phone, 200, "",
               [](SessionRoutesTest& t) { return acme(DEL, "/v1/phone-logins/" + t.phone_login().id); },
               [](SessionRoutesTest& t, const http::Response& r) {
                 EXPECT_EQ(json::parse(r.body).at("status"), "cancelled");
                 EXPECT_EQ(t.manager_->live_count(), 0u);
               }});
  c.push_back({"CancelPhoneLogin_Authorized", DEL, phone, 409, "conflict",
               [](SessionRoutesTest& t) {
                 const std::string id = t.phone_login().id;
                 t.emit_and_wait({{"@type", "authorizationStateReady"}}, id, SessionStatus::authorized);
                 return acme(DEL, "/v1/phone-logins/" + id);
               },
               [](SessionRoutesTest& t, const http::Response& r) {
                 EXPECT_NE(r.body.find("authorized"), std::string::npos) << r.body;
                 EXPECT_EQ(t.manager_->live_count(), 1u) << "nothing changes";
               }});
  add_tenant_refusals(&c, "CancelPhoneLogin", DEL, phone);
  add_other_tenants_phone_login(&c, "CancelPhoneLogin", DEL, phone, "");

  const std::string phone_events = "/v1/phone-logins/{id}/events";
  add_stream_cases(&c, "PhoneLoginEvents", phone_events,
                   [](SessionRoutesTest& t, const std::string& owner) { return t.phone_login(owner).id; });
  add_other_tenants_phone_login(&c, "PhoneLoginEvents", GET, phone_events, "");

  // The steps, on the tenant routes and (below) the page routes.
  const Arrive waiting_for_number = [](SessionRoutesTest& t) { return t.phone_login("acme", false); };
  const Arrive waiting_for_code = [](SessionRoutesTest& t) { return t.phone_login(); };
  for (const bool page : {false, true}) {
    const std::string prefix = page ? "Page" : "PhoneLogin";
    const std::string base = page ? "/v1/login/{id}" : "/v1/phone-logins/{id}";
    // A request to `suffix` of login `l` with `body`: the tenant's token, or the login's page key.
    auto step = [page](const std::string& suffix, std::string body) {
      return [page, suffix, body](SessionRoutesTest&, const SessionRoutesTest::Login& l) {
        return page ? anonymous(POST, "/v1/login/" + l.id + suffix + "?key=" + l.key, body)
                    : acme(POST, "/v1/phone-logins/" + l.id + suffix, body);
      };
    };

    const std::string number = base + "/phone-number";
    const auto submit_number = step("/phone-number", number_body("+99966 2 1234"));
    c.push_back({prefix + "PhoneNumber", POST, number, 200, "",
                 [submit_number](SessionRoutesTest& t) { return submit_number(t, t.phone_login("acme", false)); },
                 [](SessionRoutesTest& t, const http::Response& r) {
                   EXPECT_EQ(json::parse(r.body).at("status"), "accepted");
                   EXPECT_EQ(t.engine_.last().sent.back()["phone_number"], "+99966 2 1234");
                   EXPECT_TRUE(t.run_until([&] { return t.manager_->list("acme").at(0).status == SessionStatus::code_required; }));
                   expect_no_phone_number(t, r);
                 }});
    c.push_back({prefix + "PhoneNumber_NotJson", POST, number, 400, "invalid_argument",
                 [step](SessionRoutesTest& t) { return step("/phone-number", "{")(t, t.phone_login("acme", false)); },
                 nullptr});
    c.push_back({prefix + "PhoneNumber_Missing", POST, number, 400, "invalid_argument",
                 [step](SessionRoutesTest& t) { return step("/phone-number", R"({"phone":"+1"})")(t, t.phone_login("acme", false)); },
                 nullptr});
    for (const Malformed& m : malformed_numbers()) {
      const std::string value = m.value;
      const std::string needle = m.needle;
      c.push_back({prefix + "PhoneNumber_" + m.name, POST, number, 400, "invalid_argument",
                   [step, value](SessionRoutesTest& t) {
                     return step("/phone-number", R"({"phone_number":)" + value + "}")(t, t.phone_login("acme", false));
                   },
                   [needle](SessionRoutesTest& t, const http::Response& r) {
                     EXPECT_EQ(t.sent_count("setAuthenticationPhoneNumber"), 0u);
                     expect_not_echoed(r, needle);
                   }});
    }
    c.push_back({prefix + "PhoneNumber_CodeAlreadySent", POST, number, 409, "conflict",
                 [submit_number](SessionRoutesTest& t) { return submit_number(t, t.phone_login()); },
                 [](SessionRoutesTest& t, const http::Response& r) {
                   EXPECT_NE(r.body.find("code_required"), std::string::npos) << r.body;
                   EXPECT_EQ(t.sent_count("setAuthenticationPhoneNumber"), 1u) << "only the creation's";
                 }});
    c.push_back({prefix + "PhoneNumber_Refused", POST, number, 422, "phone_number_invalid",
                 [submit_number](SessionRoutesTest& t) {
                   const auto l = t.phone_login("acme", false);
                   t.engine_answers("setAuthenticationPhoneNumber", td_error(400, "PHONE_NUMBER_INVALID"));
                   return submit_number(t, l);
                 },
                 [](SessionRoutesTest& t, const http::Response& r) {
                   expect_no_phone_number(t, r);
                   EXPECT_EQ(t.manager_->list("acme").at(0).status, SessionStatus::phone_number_required)
                       << "the login waits for another number";
                 }});
    add_engine_failures(&c, prefix + "PhoneNumber", number, "setAuthenticationPhoneNumber", waiting_for_number, submit_number);
    c.push_back({prefix + "PhoneNumber_NumberFlood", POST, number, 429, "flood_wait",
                 [submit_number](SessionRoutesTest& t) {
                   const auto l = t.phone_login("acme", false);
                   t.engine_answers("setAuthenticationPhoneNumber", td_error(400, "PHONE_NUMBER_FLOOD"));
                   return submit_number(t, l);
                 },
                 [](SessionRoutesTest& t, const http::Response& r) { EXPECT_EQ(t.header(r, "Retry-After"), "3600"); }});

    const std::string code = base + "/code";
    const auto submit_code = step("/code", R"({"code":"22222"})");
    c.push_back({prefix + "Code", POST, code, 200, "",
                 [submit_code](SessionRoutesTest& t) { return submit_code(t, t.phone_login()); },
                 [](SessionRoutesTest& t, const http::Response& r) {
                   EXPECT_EQ(json::parse(r.body).at("status"), "accepted");
                   EXPECT_EQ(t.engine_.last().sent.back(), (json{{"@type", "checkAuthenticationCode"}, {"code", "22222"}}));
                   EXPECT_EQ(t.all_logs().find("22222"), std::string::npos);
                 }});
    c.push_back({prefix + "Code_NotAnObject", POST, code, 400, "invalid_argument",
                 [step](SessionRoutesTest& t) { return step("/code", R"("22222")")(t, t.phone_login()); }, nullptr});
    for (const Malformed& m : malformed_codes()) {
      const std::string value = m.value;
      const std::string needle = m.needle;
      c.push_back({prefix + "Code_" + m.name, POST, code, 400, "invalid_argument",
                   [step, value](SessionRoutesTest& t) { return step("/code", R"({"code":)" + value + "}")(t, t.phone_login()); },
                   [needle](SessionRoutesTest& t, const http::Response& r) {
                     EXPECT_EQ(t.sent_count("checkAuthenticationCode"), 0u);
                     expect_not_echoed(r, needle);
                   }});
    }
    c.push_back({prefix + "Code_NoCodeSent", POST, code, 409, "conflict",
                 [submit_code](SessionRoutesTest& t) { return submit_code(t, t.phone_login("acme", false)); },
                 [](SessionRoutesTest& t, const http::Response& r) {
                   EXPECT_NE(r.body.find("phone_number_required"), std::string::npos) << r.body;
                   EXPECT_EQ(t.sent_count("checkAuthenticationCode"), 0u);
                 }});
    c.push_back({prefix + "Code_Wrong", POST, code, 422, "code_invalid",
                 [submit_code](SessionRoutesTest& t) {
                   t.limits();  // the defaults: 5 codes
                   const auto l = t.phone_login();
                   t.engine_answers("checkAuthenticationCode", td_error(400, "PHONE_CODE_INVALID"));
                   return submit_code(t, l);
                 },
                 [](SessionRoutesTest& t, const http::Response& r) {
                   const json e = json::parse(r.body).at("error");
                   EXPECT_EQ(e.at("attempts_left"), 4);
                   EXPECT_EQ(e.at("status"), "code_required");
                   EXPECT_EQ(t.manager_->list("acme").at(0).status, SessionStatus::code_required);
                 }});
    c.push_back({prefix + "Code_Expired", POST, code, 422, "code_expired",
                 [submit_code](SessionRoutesTest& t) {
                   t.limits();
                   const auto l = t.phone_login();
                   t.engine_answers("checkAuthenticationCode", td_error(400, "PHONE_CODE_EXPIRED"));
                   return submit_code(t, l);
                 },
                 [](SessionRoutesTest&, const http::Response& r) {
                   const json e = json::parse(r.body).at("error");
                   EXPECT_EQ(e.at("attempts_left"), 4);
                   EXPECT_NE(e.at("message").get<std::string>().find("resend"), std::string::npos) << "says what to do";
                 }});
    // Guessing: limits.code_attempts (5) codes, four wrong ones answered 422; the fifth wrong one ends
    // the login and answers 429 code_attempts; after that the login is gone (404).
    c.push_back({prefix + "Code_BruteForce", POST, code, 429, "code_attempts",
                 [step](SessionRoutesTest& t) {
                   t.limits();
                   const auto l = t.phone_login();
                   t.engine_answers("checkAuthenticationCode", td_error(400, "PHONE_CODE_INVALID"));
                   for (int guess = 0; guess < 4; ++guess) {
                     const http::Response r = t.call(step("/code", R"({"code":"0000)" + std::to_string(guess) + "\"}")(t, l));
                     EXPECT_EQ(r.status, bhttp::status::unprocessable_entity) << r.body;
                     EXPECT_EQ(json::parse(r.body)["error"]["attempts_left"], 4 - guess);
                   }
                   return step("/code", R"({"code":"00004"})")(t, l);
                 },
                 [step](SessionRoutesTest& t, const http::Response& r) {
                   EXPECT_EQ(t.header(r, "Retry-After"), "<missing>") << "waiting does not help";
                   EXPECT_EQ(t.sent_count("checkAuthenticationCode"), 5u);
                   EXPECT_EQ(t.rejections_->value(telemetry::RejectReason::code_attempts), 1);
                   EXPECT_TRUE(t.run_until([&] { return t.manager_->live_count() == 0; })) << "the login ended";
                   const http::Response again = t.call(step("/code", R"({"code":"00005"})")(t, SessionRoutesTest::Login{t.last_id, t.last_key}));
                   EXPECT_EQ(again.status, bhttp::status::not_found) << again.body;
                   EXPECT_EQ(t.sent_count("checkAuthenticationCode"), 5u) << "no sixth guess reached Telegram";
                 }});
    c.push_back({prefix + "Code_LastAttemptExpired", POST, code, 429, "code_attempts",
                 [submit_code](SessionRoutesTest& t) {
                   t.limits().code_attempts = 1;
                   const auto l = t.phone_login();
                   t.engine_answers("checkAuthenticationCode", td_error(400, "PHONE_CODE_EXPIRED"));
                   return submit_code(t, l);
                 },
                 [](SessionRoutesTest& t, const http::Response&) {
                   EXPECT_TRUE(t.run_until([&] { return t.manager_->live_count() == 0; }));
                 }});
    c.push_back({prefix + "Code_FloodWaitCostsNoAttempt", POST, code, 429, "flood_wait",
                 [submit_code](SessionRoutesTest& t) {
                   t.limits();
                   const auto l = t.phone_login();
                   t.engine_answers("checkAuthenticationCode", flood_wait(30));
                   return submit_code(t, l);
                 },
                 [submit_code](SessionRoutesTest& t, const http::Response& r) {
                   EXPECT_EQ(t.header(r, "Retry-After"), "30");
                   t.engine_answers("checkAuthenticationCode", td_error(400, "PHONE_CODE_INVALID"));
                   const http::Response wrong = t.call(submit_code(t, SessionRoutesTest::Login{t.last_id, t.last_key}));
                   EXPECT_EQ(json::parse(wrong.body)["error"]["attempts_left"], 4) << "the unchecked code was given back";
                 }});
    add_engine_failures(&c, prefix + "Code", code, "checkAuthenticationCode", waiting_for_code, submit_code);

    const std::string resend = base + "/resend";
    const auto resend_code = step("/resend", "");
    c.push_back({prefix + "Resend", POST, resend, 200, "",
                 [resend_code](SessionRoutesTest& t) { return resend_code(t, t.phone_login()); },
                 [](SessionRoutesTest& t, const http::Response& r) {
                   EXPECT_EQ(json::parse(r.body).at("status"), "resent");
                   EXPECT_EQ(t.engine_.last().methods().back(), "resendAuthenticationCode");
                   const json by_sms = {{"type", "sms"}, {"length", 5}, {"next_type", nullptr}, {"timeout", 60}};
                   EXPECT_TRUE(t.run_until([&] { return t.manager_->list("acme").at(0).code_info == by_sms; }));
                 }});
    c.push_back({prefix + "Resend_NoOtherWay", POST, resend, 409, "conflict",
                 [resend_code](SessionRoutesTest& t) {
                   const auto l = t.phone_login();
                   EXPECT_EQ(t.call(resend_code(t, l)).status, bhttp::status::ok);  // SMS now, nothing after it
                   EXPECT_TRUE(t.run_until([&] { return t.manager_->list("acme").at(0).code_info.at("next_type").is_null(); }));
                   return resend_code(t, l);
                 },
                 [](SessionRoutesTest& t, const http::Response& r) {
                   EXPECT_NE(r.body.find("next_type"), std::string::npos) << r.body;
                   EXPECT_EQ(t.sent_count("resendAuthenticationCode"), 1u);
                 }});
    c.push_back({prefix + "Resend_NoCodeSent", POST, resend, 409, "conflict",
                 [resend_code](SessionRoutesTest& t) { return resend_code(t, t.phone_login("acme", false)); }, nullptr});
    c.push_back({prefix + "Resend_TelegramHasNoOtherWay", POST, resend, 409, "conflict",
                 [resend_code](SessionRoutesTest& t) {
                   const auto l = t.phone_login();
                   t.engine_answers("resendAuthenticationCode", td_error(400, "SEND_CODE_UNAVAILABLE"));
                   return resend_code(t, l);
                 },
                 nullptr});
    c.push_back({prefix + "Resend_NumberFlood", POST, resend, 429, "flood_wait",
                 [resend_code](SessionRoutesTest& t) {
                   const auto l = t.phone_login();
                   t.engine_answers("resendAuthenticationCode", td_error(400, "PHONE_NUMBER_FLOOD"));
                   return resend_code(t, l);
                 },
                 [](SessionRoutesTest& t, const http::Response& r) { EXPECT_EQ(t.header(r, "Retry-After"), "3600"); }});
    add_engine_failures(&c, prefix + "Resend", resend, "resendAuthenticationCode", waiting_for_code, resend_code);

    if (page) {
      for (const auto& [suffix, name, body] : {std::tuple{"/phone-number", "PhoneNumber", number_body("+99966 2 1234")},
                                               std::tuple{"/code", "Code", std::string(R"({"code":"22222"})")},
                                               std::tuple{"/resend", "Resend", std::string()}}) {
        const std::string s = suffix;
        const std::string b = body;
        c.push_back({prefix + name + "_WrongKey", POST, base + s, 404, "not_found",
                     [s, b](SessionRoutesTest& t) {
                       const auto l = t.phone_login();
                       return anonymous(POST, "/v1/login/" + l.id + s + "?key=wrong", b);
                     },
                     [](SessionRoutesTest& t, const http::Response&) {
                       EXPECT_EQ(t.engine_.last().methods().back(), "setAuthenticationPhoneNumber") << "nothing sent";
                     }});
        c.push_back({prefix + name + "_NoKey", POST, base + s, 404, "not_found",
                     [s, b](SessionRoutesTest& t) { return anonymous(POST, "/v1/login/" + t.phone_login().id + s, b); },
                     nullptr});
        // The key of one login opens no other, not even the same tenant's.
        c.push_back({prefix + name + "_AnotherLoginsKey", POST, base + s, 404, "not_found",
                     [s, b](SessionRoutesTest& t) {
                       const auto mine = t.phone_login();
                       const auto victim = t.phone_login();
                       return anonymous(POST, "/v1/login/" + victim.id + s + "?key=" + mine.key, b);
                     },
                     [](SessionRoutesTest& t, const http::Response&) {
                       EXPECT_EQ(t.engine_.last().methods().back(), "setAuthenticationPhoneNumber") << "nothing sent";
                     }});
      }
    } else {
      add_tenant_refusals(&c, prefix + "PhoneNumber", POST, number);
      add_other_tenants_phone_login(&c, prefix + "PhoneNumber", POST, number, number_body("+99966 2 1234"));
      add_tenant_refusals(&c, prefix + "Code", POST, code);
      add_other_tenants_phone_login(&c, prefix + "Code", POST, code, R"({"code":"22222"})");
      add_tenant_refusals(&c, prefix + "Resend", POST, resend);
      add_other_tenants_phone_login(&c, prefix + "Resend", POST, resend, "");
    }
  }

  const std::string phone_password = "/v1/phone-logins/{id}/password";
  add_password_cases(&c, "PhoneLoginPassword", phone_password,
                     [](SessionRoutesTest& t) { return t.phone_password_required(); },
                     [](SessionRoutesTest& t) { return t.phone_login(); });
  add_engine_failures(&c, "PhoneLoginPassword", phone_password, "checkAuthenticationPassword",
                      [](SessionRoutesTest& t) { return t.phone_password_required(); },
                      [](SessionRoutesTest&, const SessionRoutesTest::Login& l) {
                        return acme(POST, "/v1/phone-logins/" + l.id + "/password", R"({"password":"pw"})");
                      });
  add_tenant_refusals(&c, "PhoneLoginPassword", POST, phone_password);
  add_other_tenants_phone_login(&c, "PhoneLoginPassword", POST, phone_password, R"({"password":"pw"})");

  // --- tenant: sessions ---------------------------------------------------------------------------------
  const std::string sessions = "/v1/sessions";
  c.push_back({"ListSessions", GET, sessions, 200, "",
               [](SessionRoutesTest& t) {
                 t.authorized();
                 t.login("other");
                 return acme(GET, "/v1/sessions");
               },
               [](SessionRoutesTest&, const http::Response& r) {
                 const json list = json::parse(r.body).at("sessions");
                 ASSERT_EQ(list.size(), 1u);  // not the other tenant's
                 EXPECT_FALSE(list[0].contains("link"));
               }});
  add_tenant_refusals(&c, "ListSessions", GET, sessions);

  const std::string session = "/v1/sessions/{id}";
  c.push_back({"GetSession", GET, session, 200, "",
               [](SessionRoutesTest& t) { return acme(GET, "/v1/sessions/" + t.authorized().id); },
               [](SessionRoutesTest&, const http::Response& r) {
                 EXPECT_EQ(json::parse(r.body).at("status"), "authorized");
               }});
  add_tenant_refusals(&c, "GetSession", GET, session);
  c.push_back({"DeleteSession", DEL, session, 200, "",
               [](SessionRoutesTest& t) { return acme(DEL, "/v1/sessions/" + t.authorized().id + "?logout=false"); },
               [](SessionRoutesTest& t, const http::Response& r) {
                 EXPECT_EQ(json::parse(r.body).at("logout"), false);
                 EXPECT_EQ(t.engine_.last().methods().back(), "close");
               }});
  c.push_back({"DeleteSession_BadLogout", DEL, session, 400, "invalid_argument",
               [](SessionRoutesTest& t) { return acme(DEL, "/v1/sessions/" + t.authorized().id + "?logout=maybe"); },
               [](SessionRoutesTest& t, const http::Response&) { EXPECT_EQ(t.manager_->live_count(), 1u); }});
  add_tenant_refusals(&c, "DeleteSession", DEL, session);
  // The engine fails logOut and close with `code` and never reaches authorizationStateClosed; the fake
  // clock passes close_timeout so the cleanup stops waiting. The local data is removed either way.
  const auto engine_fails_close = [](SessionRoutesTest& t, Errc code) {
    const std::string id = t.authorized().id;
    t.engine_.close_reaches_closed(false);
    t.engine_.respond_with([&t, code](const json& request) -> std::optional<Result<json>> {
      const std::string type = request.value("@type", "");
      if (type != "logOut" && type != "close") return std::nullopt;
      if (type == "close") {
        // Past close_timeout once the cleanup waits for authorizationStateClosed (it computes its
        // deadline after this answer): 200 ms of real time later, well inside its 1 s wake interval.
        auto later = std::make_shared<boost::asio::steady_timer>(t.io_, std::chrono::milliseconds(200));
        later->async_wait([&t, later](boost::system::error_code) { t.clock_.advance(std::chrono::minutes(1)); });
      }
      return Result<json>(Error(code, type + " failed in the engine"));
    });
    return acme(DEL, "/v1/sessions/" + id);
  };
  c.push_back({"DeleteSession_EngineTimeout", DEL, session, 504, "timeout",
               [engine_fails_close](SessionRoutesTest& t) { return engine_fails_close(t, Errc::timeout); },
               [](SessionRoutesTest& t, const http::Response&) { EXPECT_EQ(t.manager_->live_count(), 0u); }});
  c.push_back({"DeleteSession_EngineError", DEL, session, 502, "engine_error",
               [engine_fails_close](SessionRoutesTest& t) { return engine_fails_close(t, Errc::engine_error); },
               [](SessionRoutesTest& t, const http::Response&) { EXPECT_EQ(t.manager_->live_count(), 0u); }});

  const std::string invoke = "/v1/sessions/{id}/invoke";
  auto invoke_on = [](std::string body, std::string query = "") {
    return [body, query](SessionRoutesTest& t) {
      return acme(POST, "/v1/sessions/" + t.authorized().id + "/invoke" + query, body);
    };
  };
  c.push_back({"Invoke", POST, invoke, 200, "", invoke_on(R"({"@type":"getMe","@client_id":99})"),
               [](SessionRoutesTest& t, const http::Response& r) {
                 EXPECT_EQ(json::parse(r.body).at("@type"), "ok");
                 EXPECT_FALSE(t.engine_.last().sent.back().contains("@client_id"));  // never the tenant's say
               }});
  c.push_back({"Invoke_NotJson", POST, invoke, 400, "invalid_argument", invoke_on("not json"), nullptr});
  c.push_back({"Invoke_OverBounds", POST, invoke, 400, "invalid_argument", invoke_on(too_deep()), nullptr});
  c.push_back({"Invoke_BadType", POST, invoke, 400, "invalid_argument", invoke_on(R"({"@type":"get Me"})"), nullptr});
  c.push_back({"Invoke_LongType", POST, invoke, 400, "invalid_argument",
               invoke_on(R"({"@type":")" + std::string(65, 'a') + R"("})"), nullptr});
  c.push_back({"Invoke_BadDeadline", POST, invoke, 400, "invalid_argument",
               invoke_on(R"({"@type":"getMe"})", "?deadline_ms=300001"), nullptr});
  c.push_back({"Invoke_BadFlood", POST, invoke, 400, "invalid_argument",
               invoke_on(R"({"@type":"getMe"})", "?flood=later"), nullptr});
  c.push_back({"Invoke_DeniedFunction", POST, invoke, 403, "forbidden_function", invoke_on(R"({"@type":"logOut"})"),
               [](SessionRoutesTest& t, const http::Response& r) {
                 EXPECT_EQ(json::parse(r.body)["error"]["function"], "logOut");
                 EXPECT_NE(t.engine_.last().methods().back(), "logOut");
               }});
  c.push_back({"Invoke_NotAuthorized", POST, invoke, 409, "conflict",
               [](SessionRoutesTest& t) {
                 return acme(POST, "/v1/sessions/" + t.login().id + "/invoke", R"({"@type":"getMe"})");
               },
               [](SessionRoutesTest&, const http::Response& r) {
                 EXPECT_NE(r.body.find("qr_pending"), std::string::npos) << r.body;
               }});
  c.push_back({"Invoke_Restoring", POST, invoke, 503, "unavailable",
               [](SessionRoutesTest& t) {
                 return acme(POST, "/v1/sessions/" + t.restoring() + "/invoke", R"({"@type":"getMe"})");
               },
               [](SessionRoutesTest& t, const http::Response& r) { EXPECT_EQ(t.header(r, "Retry-After"), "1"); }});
  auto engine_fails = [](Error e) {
    return [e](SessionRoutesTest& t) {
      const std::string id = t.authorized().id;
      t.engine_answers("getMe", e);
      return acme(POST, "/v1/sessions/" + id + "/invoke", R"({"@type":"getMe"})");
    };
  };
  Error flood(Errc::flood_wait, "FLOOD_WAIT_7");
  flood.retry_after_s = 7;
  c.push_back({"Invoke_FloodWait", POST, invoke, 429, "flood_wait", engine_fails(flood),
               [](SessionRoutesTest& t, const http::Response& r) {
                 EXPECT_EQ(t.header(r, "Retry-After"), "7");
                 EXPECT_EQ(json::parse(r.body)["error"]["seconds"], 7);
               }});
  Error td(Errc::engine_error, "USER_DEACTIVATED");
  td.td_code = 401;
  c.push_back({"Invoke_EngineError", POST, invoke, 502, "engine_error", engine_fails(td),
               [](SessionRoutesTest&, const http::Response& r) {
                 EXPECT_EQ(json::parse(r.body)["error"]["td_code"], 401);
               }});
  c.push_back({"Invoke_Timeout", POST, invoke, 504, "timeout", engine_fails(Error(Errc::timeout, "no answer")), nullptr});
  add_tenant_refusals(&c, "Invoke", POST, invoke);

  // --- the end user's page (page key) ------------------------------------------------------------------
  auto page_target = [](std::string suffix, bool good_key) {
    return [suffix, good_key](SessionRoutesTest& t) {
      const auto l = t.login();
      const std::string key = good_key ? l.key : "wrong";
      const std::string base = suffix.empty() ? "/login/" + l.id : "/v1/login/" + l.id + suffix;
      return anonymous(suffix == "/password" || suffix == "/simulate" ? POST : GET, base + "?key=" + key,
                       suffix == "/password" ? R"({"password":"pw"})" : R"({"outcome":"accept"})");
    };
  };
  c.push_back({"Page", GET, "/login/{id}", 200, "", page_target("", true),
               [](SessionRoutesTest& t, const http::Response& r) {
                 EXPECT_NE(t.header(r, "Content-Security-Policy").find("frame-ancestors 'none'"), std::string::npos);
               }});
  c.push_back({"Page_WrongKey", GET, "/login/{id}", 404, "not_found", page_target("", false), nullptr});
  c.push_back({"PageSvg", GET, "/v1/login/{id}/qr.svg", 200, "", page_target("/qr.svg", true), nullptr});
  c.push_back({"PageSvg_WrongKey", GET, "/v1/login/{id}/qr.svg", 404, "not_found", page_target("/qr.svg", false), nullptr});
  c.push_back({"PageSvg_NoLink", GET, "/v1/login/{id}/qr.svg", 409, "conflict",
               [](SessionRoutesTest& t) {
                 const auto l = t.login();
                 t.emit_and_wait({{"@type", "authorizationStateWaitPassword"}, {"password_hint", ""}}, l.id,
                               SessionStatus::password_required);
                 return anonymous(GET, "/v1/login/" + l.id + "/qr.svg?key=" + l.key);
               },
               nullptr});
  c.push_back({"PageEvents", GET, "/v1/login/{id}/events", 200, "", page_target("/events", true), nullptr});
  c.push_back({"PageEvents_WrongKey", GET, "/v1/login/{id}/events", 404, "not_found", page_target("/events", false),
               nullptr});
  c.push_back({"PageEvents_StreamsCap", GET, "/v1/login/{id}/events", 429, "streams_cap",
               [](SessionRoutesTest& t) {
                 t.limits().tenant_streams = 1;
                 const auto l = t.login();
                 t.held_ = t.call(anonymous(GET, "/v1/login/" + l.id + "/events?key=" + l.key));
                 return anonymous(GET, "/v1/login/" + l.id + "/events?key=" + l.key);
               },
               nullptr});
  c.push_back({"PageEvents_ProcessStreamsCap", GET, "/v1/login/{id}/events", 503, "streams_cap",
               [](SessionRoutesTest& t) {
                 t.limits().process_streams = 1;
                 const auto other = t.login("other");
                 t.held_ = t.call(anonymous(GET, "/v1/login/" + other.id + "/events?key=" + other.key));
                 const auto l = t.login();
                 return anonymous(GET, "/v1/login/" + l.id + "/events?key=" + l.key);
               },
               nullptr});
  const std::string page_password = "/v1/login/{id}/password";
  auto page_password_call = [](SessionRoutesTest& t, const std::string& body) {
    const auto l = t.login();
    t.emit_and_wait({{"@type", "authorizationStateWaitPassword"}, {"password_hint", ""}}, l.id,
                  SessionStatus::password_required);
    return anonymous(POST, "/v1/login/" + l.id + "/password?key=" + l.key, body);
  };
  c.push_back({"PagePassword", POST, page_password, 200, "",
               [page_password_call](SessionRoutesTest& t) { return page_password_call(t, R"({"password":"pw"})"); },
               nullptr});
  c.push_back({"PagePassword_NotAnObject", POST, page_password, 400, "invalid_argument",
               [page_password_call](SessionRoutesTest& t) { return page_password_call(t, R"("pw")"); }, nullptr});
  c.push_back({"PagePassword_WrongKey", POST, page_password, 404, "not_found", page_target("/password", false), nullptr});
  c.push_back({"PagePassword_NotWaitingForOne", POST, page_password, 409, "conflict", page_target("/password", true),
               nullptr});
  c.push_back({"PagePassword_Wrong", POST, page_password, 422, "invalid_argument",
               [page_password_call](SessionRoutesTest& t) {
                 Call call = page_password_call(t, R"({"password":"guess"})");
                 wrong_password(t);
                 return call;
               },
               nullptr});
  c.push_back({"PagePassword_AttemptsSpent", POST, page_password, 429, "password_attempts",
               [page_password_call](SessionRoutesTest& t) {
                 t.limits().password_attempts = 1;
                 Call call = page_password_call(t, R"({"password":"guess"})");
                 wrong_password(t);
                 return call;  // the one attempt, wrong: the login ends and this answer says why
               },
               nullptr});
  c.push_back({"PagePassword_EngineAway", POST, page_password, 503, "unavailable",
               [page_password_call](SessionRoutesTest& t) {
                 Call call = page_password_call(t, R"({"password":"pw"})");
                 t.engine_answers("checkAuthenticationPassword", Error(Errc::unavailable, "engine stopped"));
                 return call;
               },
               nullptr});
  const std::string simulate = "/v1/login/{id}/simulate";
  c.push_back({"PageSimulate", POST, simulate, 200, "", page_target("/simulate", true),
               [](SessionRoutesTest& t, const http::Response&) {
                 ASSERT_EQ(t.simulator_.scans.size(), 1u);
                 EXPECT_EQ(t.simulator_.scans[0], std::make_pair(FakeEngine::link_for(0, 1), std::string("accept")));
               }});
  c.push_back({"PageSimulate_BadOutcome", POST, simulate, 400, "invalid_argument",
               [](SessionRoutesTest& t) {
                 const auto l = t.login();
                 return anonymous(POST, "/v1/login/" + l.id + "/simulate?key=" + l.key, R"({"outcome":"maybe"})");
               },
               [](SessionRoutesTest& t, const http::Response&) { EXPECT_TRUE(t.simulator_.scans.empty()); }});
  c.push_back({"PageSimulate_SimulatorAway", POST, simulate, 503, "unavailable",
               [page_target](SessionRoutesTest& t) {
                 t.simulator_.answer = Error(Errc::unavailable, "tdsim control is not reachable");
                 return page_target("/simulate", true)(t);
               },
               nullptr});
  c.push_back({"PageSimulate_WrongKey", POST, simulate, 404, "not_found", page_target("/simulate", false), nullptr});
  c.push_back({"PageSimulate_RealTdlib", POST, simulate, 404, "not_found",
               [page_target](SessionRoutesTest& t) {
                 t.without_simulator();
                 return page_target("/simulate", true)(t);
               },
               nullptr});
  c.push_back({"PageSimulate_NothingToScan", POST, simulate, 409, "conflict",
               [](SessionRoutesTest& t) {
                 const auto l = t.login();
                 t.emit_and_wait({{"@type", "authorizationStateWaitPassword"}, {"password_hint", ""}}, l.id,
                                 SessionStatus::password_required);
                 return anonymous(POST, "/v1/login/" + l.id + "/simulate?key=" + l.key, R"({"outcome":"accept"})");
               },
               nullptr});

  // --- updates (tenant) ----------------------------------------------------------------------------
  const std::string updates = "/v1/updates";
  c.push_back({"Updates", GET, updates, 200, "", [](SessionRoutesTest&) { return acme(GET, "/v1/updates?offset=0&limit=10"); },
               [](SessionRoutesTest&, const http::Response& r) { EXPECT_EQ(json::parse(r.body)["updates"], json::array()); }});
  c.push_back({"Updates_BadOffset", GET, updates, 400, "invalid_argument",
               [](SessionRoutesTest&) { return acme(GET, "/v1/updates?offset=-1"); },
               [](SessionRoutesTest&, const http::Response& r) {
                 EXPECT_NE(r.body.find("offset"), std::string::npos) << "the message names the parameter";
               }});
  c.push_back({"Updates_OtherTenantsSession", GET, updates, 404, "not_found",
               [](SessionRoutesTest& t) { return acme(GET, "/v1/updates?session_id=" + t.login("other").id); }, nullptr});
  c.push_back({"Updates_ShuttingDown", GET, updates, 503, "unavailable",
               [](SessionRoutesTest& t) {
                 t.hub_.close_readers();
                 return acme(GET, "/v1/updates?timeout=1");
               },
               nullptr});
  c.push_back({"Updates_WebhookSet", GET, updates, 409, "conflict",
               [](SessionRoutesTest& t) {
                 t.hub_.set_webhook("acme", true);  // what PUT /v1/webhook does
                 return acme(GET, "/v1/updates");
               },
               [](SessionRoutesTest&, const http::Response& r) {
                 EXPECT_NE(r.body.find("webhook"), std::string::npos) << "the message names the webhook";
               }});
  add_tenant_refusals(&c, "Updates", GET, updates);
  const std::string stream = "/v1/updates/stream";
  c.push_back({"UpdateStream_WebhookSet", GET, stream, 409, "conflict",
               [](SessionRoutesTest& t) {
                 t.hub_.set_webhook("acme", true);
                 return acme(GET, "/v1/updates/stream");
               },
               nullptr});
  c.push_back({"UpdateStream", GET, stream, 200, "", [](SessionRoutesTest&) { return acme(GET, "/v1/updates/stream"); },
               nullptr});
  c.push_back({"UpdateStream_BadOffset", GET, stream, 400, "invalid_argument",
               [](SessionRoutesTest&) { return acme(GET, "/v1/updates/stream?offset=x"); }, nullptr});
  c.push_back({"UpdateStream_OtherTenantsSession", GET, stream, 404, "not_found",
               [](SessionRoutesTest& t) { return acme(GET, "/v1/updates/stream?session_id=" + t.login("other").id); },
               nullptr});
  add_tenant_refusals(&c, "UpdateStream", GET, stream);
  const std::string settings = "/v1/updates/settings";
  c.push_back({"GetUpdateSettings", GET, settings, 200, "", [](SessionRoutesTest&) { return acme(GET, "/v1/updates/settings"); },
               [](SessionRoutesTest&, const http::Response& r) {
                 EXPECT_EQ(json::parse(r.body)["allowed_updates"][0], "updateNewMessage") << "the default";
               }});
  add_tenant_refusals(&c, "GetUpdateSettings", GET, settings);
  c.push_back({"PutUpdateSettings", PUT, settings, 200, "",
               [](SessionRoutesTest&) { return acme(PUT, "/v1/updates/settings", R"({"allowed_updates":["updateUser*"]})"); },
               [](SessionRoutesTest& t, const http::Response&) {
                 const http::Response r = t.call(acme(GET, "/v1/updates/settings"));
                 EXPECT_EQ(json::parse(r.body)["allowed_updates"], json::array({"updateUser*"})) << "saved";
               }});
  c.push_back({"PutUpdateSettings_NotAList", PUT, settings, 400, "invalid_argument",
               [](SessionRoutesTest&) { return acme(PUT, "/v1/updates/settings", R"({"allowed_updates":"all"})"); }, nullptr});
  c.push_back({"PutUpdateSettings_UnknownType", PUT, settings, 422, "invalid_argument",
               [](SessionRoutesTest&) {
                 return acme(PUT, "/v1/updates/settings", R"({"allowed_updates":["updateNoSuchThing"]})");
               },
               [](SessionRoutesTest&, const http::Response& r) {
                 EXPECT_NE(r.body.find("updateNoSuchThing"), std::string::npos) << "the message names it";
               }});
  add_tenant_refusals(&c, "PutUpdateSettings", PUT, settings);
  add_login_proxy_cases(&c);
  add_put_proxy_cases(&c);
  return c;
}

}  // namespace

// Answers the server itself gives, before or around any handler (http_server_test and the integration
// tests cover them): on every route 413 (a body over server.body_limit), 431 (headers over
// server.header_limit) and 500 (an internal or store failure); 400 on the routes that read neither a
// body nor a query (a malformed request line or path escape); 503 on the routes without one of their own
// (shutting down, connections_cap).
bool is_server_answer(const std::string& key) {
  static const std::set<std::string> kServerAnswers = {
      "GET /v1/tenants 400", "DELETE /v1/tenants/{tenant_id} 400", "GET /v1/qr-logins/{id} 400",
      "DELETE /v1/qr-logins/{id} 400", "GET /v1/qr-logins/{id}/events 400", "GET /v1/qr-logins/{id}/qr.svg 400",
      "GET /v1/sessions 400", "GET /v1/sessions/{id} 400", "GET /login/{id} 400", "GET /v1/login/{id}/qr.svg 400",
      "GET /v1/login/{id}/events 400",
      "POST /v1/tenants 503", "GET /v1/tenants 503", "DELETE /v1/tenants/{tenant_id} 503",
      "GET /v1/qr-logins/{id} 503", "DELETE /v1/qr-logins/{id} 503", "GET /v1/qr-logins/{id}/qr.svg 503",
      "GET /v1/sessions 503", "GET /v1/sessions/{id} 503", "DELETE /v1/sessions/{id} 503", "GET /login/{id} 503",
      "GET /v1/login/{id}/qr.svg 503", "GET /v1/updates/settings 400", "GET /v1/updates/stream 503",
      "GET /v1/updates/settings 503", "PUT /v1/updates/settings 503",
      "GET /v1/phone-logins/{id} 400", "DELETE /v1/phone-logins/{id} 400", "GET /v1/phone-logins/{id}/events 400",
      "POST /v1/phone-logins/{id}/resend 400", "POST /v1/login/{id}/resend 400", "GET /v1/phone-logins/{id} 503",
      "DELETE /v1/phone-logins/{id} 503"};
  const std::string status = key.substr(key.rfind(' ') + 1);
  return status == "413" || status == "431" || status == "500" || kServerAnswers.count(key) != 0;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = make_cases();
  return all;
}

TEST_P(SessionRoutesTest, AnswersAsDocumented) {
  const Case& k = GetParam();
  const Call c = k.arrange(*this);
  ASSERT_FALSE(HasFailure()) << "arranging the case failed";
  const http::Response r = call(c);
  EXPECT_EQ(last_pattern(), k.pattern) << c.target;
  EXPECT_EQ(static_cast<unsigned>(r.status), k.status) << r.body;
  if (k.code.empty()) {
    EXPECT_FALSE(json::parse(r.body, nullptr, false).contains("error")) << r.body;
  } else {
    const json body = json::parse(r.body, nullptr, false);
    EXPECT_EQ(body.is_object() && body.contains("error") ? body["error"].value("code", "") : "<none>", k.code) << r.body;
  }
  if (k.verify) k.verify(*this, r);
}

INSTANTIATE_TEST_SUITE_P(Routes, SessionRoutesTest, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& row) { return row.param.name; });

// A login whose proxy TDLib refuses: 201 (the login exists, and ends) whose view says why, before
// anything reached Telegram — for a phone login too, whose number is then never sent. Not a row: its
// success answer carries the login's own `error`.
using SessionRoutesProxyTest = SessionRoutesTest;
TEST_F(SessionRoutesProxyTest, ALoginWhoseProxyTdlibRefusesEndsWithTheReason) {
  engine_answers("addProxy", td_error(400, "Wrong port number"));
  const http::Response qr = call(acme(POST, "/v1/qr-logins", R"({"proxy":)" + mtproto_proxy() + "}"));
  ASSERT_EQ(qr.status, bhttp::status::created) << qr.body;
  const json j = json::parse(qr.body);
  EXPECT_NE(j.at("status"), "qr_pending") << qr.body;
  EXPECT_TRUE(j.at("link").is_null());
  EXPECT_NE(j.at("error").get<std::string>().find("proxy: TDLib refused it: Wrong port number"), std::string::npos);
  EXPECT_EQ(sent_count("requestQrCodeAuthentication"), 0u) << "nothing reached Telegram without it";
  expect_no_proxy_credentials(*this, qr);
  EXPECT_TRUE(run_until([&] { return manager_->live_count() == 0; }));

  const http::Response phone = call(acme(POST, "/v1/phone-logins",
                                         std::string(R"({"phone_number":")") + FakeEngine::kPhoneNumber +
                                             R"(","proxy":)" + socks5_proxy() + "}"));
  ASSERT_EQ(phone.status, bhttp::status::created) << phone.body;
  const json p = json::parse(phone.body);
  EXPECT_NE(p.at("status"), "phone_number_required") << phone.body;
  EXPECT_NE(p.at("error").get<std::string>().find("proxy: TDLib refused it: Wrong port number"), std::string::npos);
  EXPECT_EQ(sent_count("setAuthenticationPhoneNumber"), 0u) << "the number never reached Telegram";
  expect_no_proxy_credentials(*this, phone);
  expect_no_phone_number(*this, phone);
  EXPECT_TRUE(run_until([&] { return manager_->live_count() == 0; })) << "nothing is left behind";
}

// The answers a cluster node's forwarder gives for a session route (502 owner_bad_response, 504
// owner_timeout): src/cluster/request_forwarder_test.cc produces them, not these cases.
bool is_forwarder_answer(const std::string& key) {
  const std::size_t method_end = key.find(' ');
  const std::size_t status_at = key.rfind(' ');
  const std::string method = key.substr(0, method_end);
  const std::string path = key.substr(method_end + 1, status_at - method_end - 1);
  const std::string status = key.substr(status_at + 1);
  std::string op = method;
  for (char& ch : op) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const json& paths = SessionRoutesTest::contract().document().at("paths");
  if (!paths.contains(path) || !paths.at(path).contains(op)) return false;
  const json& responses = paths.at(path).at(op).at("responses");
  if (!responses.contains(status)) return false;
  const std::string ref = responses.at(status).value("$ref", "");
  return ref == "#/components/responses/OwnerBadResponse" || ref == "#/components/responses/OwnerTimeout";
}

// Every answer the document lists for a session route is produced by a case — or is one the server gives.
TEST(SessionRoutesCoverage, DocumentedAnswersAreCovered) {
  std::set<std::string> tested;
  std::set<std::string> routes;
  for (const Case& k : cases()) {
    tested.insert(http::answer_key(k.method, k.pattern, k.status));
    routes.insert(http::answer_key(k.method, k.pattern, 0).substr(0, http::answer_key(k.method, k.pattern, 0).size() - 2));
  }
  std::vector<std::string> untested;
  for (const std::string& key : SessionRoutesTest::contract().documented_answers()) {
    const std::string route = key.substr(0, key.rfind(' '));
    if (routes.count(route) == 0) continue;  // not a session route (/healthz, /metrics, ...)
    if (tested.count(key) == 0 && !is_server_answer(key) && !is_forwarder_answer(key)) untested.push_back(key);
    if (tested.count(key) != 0 && is_server_answer(key)) ADD_FAILURE() << key << " is tested: drop it from the server's answers";
  }
  EXPECT_EQ(untested, std::vector<std::string>{});
  EXPECT_EQ(routes.size(), 34u);  // every route SessionRoutes and UpdateRoutes register has cases
  for (const std::string& key : tested) {
    EXPECT_EQ(SessionRoutesTest::contract().documented_answers().count(key), 1u) << key << " is not documented";
  }
}

}  // namespace tgpulse::session
