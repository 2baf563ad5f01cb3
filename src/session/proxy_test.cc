// A proxy per session on the session layer's test doubles: the tenant's proxy object checked before it is
// copied, applied before anything reaches Telegram, pinged on a schedule (view, metrics, log), replaced
// and removed — and never its password or secret in a view, a log line or an error.
#include "session/proxy_spec.h"
#include "session/session_test_fixture.h"

namespace tgpulse::session {
namespace {

using nlohmann::json;

TEST(ProxySpecTest, ParsesEachTypeIntoTdlibsProxyObject) {
  auto socks = ProxySpec::parse({{"type", "socks5"}, {"server", "10.0.0.1"}, {"port", 1080},
                                 {"username", "u"}, {"password", "p4ss"}});
  ASSERT_TRUE(socks.ok());
  EXPECT_EQ(socks->td_proxy(), (json{{"@type", "proxy"}, {"server", "10.0.0.1"}, {"port", 1080},
                                     {"type", {{"@type", "proxyTypeSocks5"}, {"username", "u"}, {"password", "p4ss"}}}}));
  EXPECT_EQ(socks->view(), (json{{"type", "socks5"}, {"server", "10.0.0.1"}, {"port", 1080}, {"has_credentials", true}}));
  auto http = ProxySpec::parse({{"type", "http"}, {"server", "proxy.example"}, {"port", 3128}, {"http_only", true}});
  ASSERT_TRUE(http.ok());
  EXPECT_EQ(http->td_proxy()["type"], (json{{"@type", "proxyTypeHttp"}, {"username", ""}, {"password", ""}, {"http_only", true}}));
  auto mt = ProxySpec::parse({{"type", "mtproto"}, {"server", "::1"}, {"port", 443}, {"secret", "dd0123456789abcdef"}});
  ASSERT_TRUE(mt.ok());
  EXPECT_EQ(mt->td_proxy()["type"], (json{{"@type", "proxyTypeMtproto"}, {"secret", "dd0123456789abcdef"}}));
}

TEST(ProxySpecTest, RefusesBadObjectsNamingTheFieldNeverACredential) {
  const json base = {{"type", "socks5"}, {"server", "10.0.0.1"}, {"port", 1080}};
  auto with = [&](const char* key, json value) {
    json j = base;
    j[key] = std::move(value);
    return ProxySpec::parse(j);
  };
  struct Bad {
    Result<ProxySpec> got;
    const char* names;
  };
  std::vector<Bad> cases = {
      {ProxySpec::parse(json::array()), "proxy must be an object"},
      {with("type", "tor"), "proxy.type"},
      {with("server", ""), "proxy.server"},
      {with("server", "evil host/../x"), "proxy.server"},
      {with("server", std::string(300, 'a')), "proxy.server"},
      {with("port", 0), "proxy.port"},
      {with("port", 70000), "proxy.port"},
      {with("port", "1080"), "proxy.port"},
      {with("password", std::string(256, 'x')), "proxy.password"},
      {with("password", "sec\nret"), "proxy.password"},
      {with("secret", "abc"), "proxy.secret"},
      {with("http_only", true), "proxy.http_only"},
      {with("extra", 1), "proxy.extra"},
  };
  for (const Bad& b : cases) {
    ASSERT_FALSE(b.got.ok()) << b.names;
    EXPECT_EQ(b.got.error().code, Errc::invalid_argument);
    EXPECT_NE(b.got.error().message.find(b.names), std::string::npos) << b.got.error().message;
    EXPECT_EQ(b.got.error().message.find("sec\nret"), std::string::npos);
  }
  auto no_secret = ProxySpec::parse({{"type", "mtproto"}, {"server", "h"}, {"port", 443}});
  ASSERT_FALSE(no_secret.ok());
  EXPECT_NE(no_secret.error().message.find("secret is required"), std::string::npos);
}

class ProxyTest : public SessionTestFixture {
 protected:
  ProxyTest() : proxy_metrics_(registry_) {}
  SessionManager& proxied_manager(std::chrono::milliseconds interval = std::chrono::seconds(60)) {
    SessionOptions o = options();
    o.proxy_ping_interval = interval;
    manager_ = std::make_unique<SessionManager>(
        io_.get_executor(), SessionServices{clock_, store_, engine_, metrics_, logger_, tracer_, o, {}, nullptr,
                                            nullptr, &phone_metrics_, &proxy_metrics_});
    return *manager_;
  }
  static ProxySpec spec() {
    return *ProxySpec::parse({{"type", "socks5"}, {"server", "10.0.0.1"}, {"port", 1080}, {"username", "u"},
                              {"password", "s3cret-pw"}});
  }
  telemetry::ProxyMetrics proxy_metrics_;
};

TEST_F(ProxyTest, TheProxyIsAddedBeforeTheLoginReachesTelegram) {
  SessionManager& m = proxied_manager();
  run(m.start());
  auto created = run(m.create_qr_login("acme", std::nullopt, std::chrono::milliseconds(500), spec()));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(engine_.last().methods(),
            (std::vector<std::string>{"setTdlibParameters", "addProxy", "requestQrCodeAuthentication"}));
  EXPECT_EQ(engine_.last().sent[1]["enable"], true);
  EXPECT_EQ(engine_.last().sent[1]["proxy"], spec().td_proxy());
  EXPECT_EQ(created->view.proxy["server"], "10.0.0.1");
  EXPECT_EQ(created->view.proxy.dump().find("s3cret-pw"), std::string::npos);

  auto phone = run(m.create_phone_login("acme", std::string("+99966 2 1234"), std::nullopt,
                                        std::chrono::milliseconds(500), spec()));
  ASSERT_TRUE(phone.ok());
  EXPECT_EQ(engine_.last().methods(),
            (std::vector<std::string>{"setTdlibParameters", "addProxy", "setAuthenticationPhoneNumber"}));
}

TEST_F(ProxyTest, ARefusedProxyFailsTheLoginWithAClearReason) {
  SessionManager& m = proxied_manager();
  run(m.start());
  engine_.respond_with([](const json& r) -> std::optional<Result<json>> {
    if (r.value("@type", "") != "addProxy") return std::nullopt;
    Error e(Errc::engine_error, "Wrong port number");
    e.td_code = 400;
    return Result<json>(e);
  });
  auto created = run(m.create_qr_login("acme", std::nullopt, std::chrono::milliseconds(500), spec()));
  ASSERT_TRUE(created.ok());
  EXPECT_FALSE(is_login_status(created->view.status));
  EXPECT_NE(created->view.error.find("proxy: TDLib refused it: Wrong port number"), std::string::npos);
  ASSERT_TRUE(run_until([&] { return m.find("acme", created->view.id) == nullptr; }));
  // Nothing reached Telegram without the proxy: no login request, only the cleanup's close.
  EXPECT_EQ(engine_.client(0).methods(), (std::vector<std::string>{"setTdlibParameters", "addProxy", "close"}));
}

TEST_F(ProxyTest, PingsRecordTheOutcomeInTheViewAndTheMetrics) {
  SessionManager& m = proxied_manager();
  run(m.start());
  auto created = run(m.create_qr_login("acme", std::nullopt, std::chrono::milliseconds(500), spec()));
  ASSERT_TRUE(created.ok());
  auto session = m.find("acme", created->view.id);
  EXPECT_EQ(session->view().proxy["status"]["state"], "unchecked");
  EXPECT_EQ(m.proxy_counts().unchecked, 1u);
  EXPECT_EQ(m.ping_due_proxies(), 1);
  ASSERT_TRUE(run_until([&] { return session->view().proxy["status"]["state"] == "ok"; }));
  EXPECT_EQ(session->view().proxy["status"]["ping_ms"], 42);
  EXPECT_EQ(proxy_metrics_.ping_seconds->count(), 1u);
  EXPECT_EQ(m.proxy_counts().ok, 1u);
  EXPECT_EQ(m.ping_due_proxies(), 0);  // not due again before the interval

  engine_.respond_with([](const json& r) -> std::optional<Result<json>> {
    if (r.value("@type", "") != "pingProxy") return std::nullopt;
    Error e(Errc::engine_error, "Connection timed out");
    e.td_code = 400;
    return Result<json>(e);
  });
  clock_.advance(std::chrono::seconds(61));
  EXPECT_EQ(m.ping_due_proxies(), 1);
  ASSERT_TRUE(run_until([&] { return session->view().proxy["status"]["state"] == "unreachable"; }));
  EXPECT_NE(session->view().proxy["status"]["error"].get<std::string>().find("Connection timed out"), std::string::npos);
  EXPECT_EQ(proxy_metrics_.ping_failures->value(), 1);
  EXPECT_EQ(m.proxy_counts().unreachable, 1u);
  auto warned = log_lines("Session proxy unreachable");
  ASSERT_EQ(warned.size(), 1u);
  EXPECT_EQ(warned[0]["session_id"], created->view.id);
  EXPECT_EQ(all_logs().find("s3cret-pw"), std::string::npos);
}

TEST_F(ProxyTest, ReplacingAndRemovingTheProxyOfAnAuthorizedSession) {
  SessionManager& m = proxied_manager();
  run(m.start());
  auto created = run(m.create_qr_login("acme", std::nullopt, std::chrono::milliseconds(500)));
  ASSERT_TRUE(created.ok());
  engine_.emit({{"@type", "authorizationStateReady"}});
  auto session = m.find("acme", created->view.id);
  ASSERT_TRUE(run_until([&] { return session->view().status == SessionStatus::authorized; }));
  EXPECT_TRUE(session->view().proxy.is_null());

  ASSERT_TRUE(run(m.set_proxy(session, spec())).ok());
  EXPECT_EQ(session->view().proxy["server"], "10.0.0.1");
  EXPECT_EQ(engine_.last().proxies.size(), 1u);
  auto other = *ProxySpec::parse({{"type", "http"}, {"server", "10.0.0.2"}, {"port", 3128}});
  ASSERT_TRUE(run(m.set_proxy(session, other)).ok());
  ASSERT_EQ(engine_.last().proxies.size(), 1u);  // the old one is gone, not disabled beside the new one
  EXPECT_EQ(engine_.last().proxies[0]["proxy"]["server"], "10.0.0.2");
  ASSERT_TRUE(run(m.set_proxy(session, std::nullopt)).ok());
  EXPECT_TRUE(engine_.last().proxies.empty());
  EXPECT_TRUE(session->view().proxy.is_null());
  EXPECT_EQ(m.proxy_counts().ok + m.proxy_counts().unchecked + m.proxy_counts().unreachable, 0u);
}

TEST_F(ProxyTest, ARestoredSessionGetsItsProxyBackFromTdlib) {
  store::SessionRecord r = stored_authorized("s_RRRRRRRRRRRRRRRRRRRRRR");
  engine_.mark_authorized(r.engine_dir);
  const ProxySpec kept = spec();
  engine_.respond_with([&](const json& q) -> std::optional<Result<json>> {
    if (q.value("@type", "") != "getProxies") return std::nullopt;
    json other = {{"@type", "addedProxy"}, {"id", 2}, {"is_enabled", false},
                  {"proxy", ProxySpec::parse({{"type", "http"}, {"server", "h"}, {"port", 1}})->td_proxy()}};
    json enabled = {{"@type", "addedProxy"}, {"id", 3}, {"is_enabled", true}, {"proxy", kept.td_proxy()}};
    return Result<json>(json{{"@type", "addedProxies"}, {"proxies", {other, enabled}}});
  });
  SessionManager& m = proxied_manager();
  run(m.start());
  auto session = m.find("acme", r.session_id);
  ASSERT_TRUE(run_until([&] { return session->view().status == SessionStatus::authorized; }));
  EXPECT_EQ(session->view().proxy["server"], "10.0.0.1");
  EXPECT_EQ(session->proxy_state().spec, kept);
  EXPECT_EQ(m.ping_due_proxies(), 1);  // and it is watched again
  EXPECT_EQ(ProxySpec::from_td(json{{"server", "h"}}).ok(), false);
}

}  // namespace
}  // namespace tgpulse::session
