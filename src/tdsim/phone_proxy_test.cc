// Phone-number login on the test data centres and proxies: tdsim's side of docs/tdsim.md's
// "Phone-number login" and "Proxies", with td_api.tl's shapes.
#include <thread>

#include <gtest/gtest.h>

#include "tdsim/control_server.h"
#include "tdsim/simulator_test_fixture.h"

namespace tgpulse::tdsim {
namespace {

using namespace test;
using namespace std::chrono_literals;

bool is_type(const json& d, const char* type) { return d.value("@type", "") == type; }

json code_type(const char* type) { return {{"@type", type}, {"length", 5}}; }

class PhoneLoginTest : public SimulatorTest {
 protected:
  Profile phone_profile(const json& phone) { return Profile::apply(fast_profile(), {{"phone", phone}}).value(); }
  // A client in WaitPhoneNumber on `dir` (the fixture's directory when empty; a second client at the same
  // time needs its own, as TDLib locks a directory for one client).
  int waiting_client(const fs::path& dir = {}) {
    int c = sim_->create_client_id();
    json p = params();
    if (!dir.empty()) p["database_directory"] = dir.string();
    send(c, p);
    state("authorizationStateWaitPhoneNumber");
    return c;
  }
  // Sends the number; returns the objects up to its answer.
  std::vector<json> set_number(int c, const std::string& number, const std::string& extra = "n") {
    const std::size_t from = received_.size();
    send(c, {{"@type", "setAuthenticationPhoneNumber"}, {"phone_number", number}, {"@extra", extra}});
    answer(extra);
    return {received_.begin() + static_cast<std::ptrdiff_t>(from), received_.end()};
  }
  json call(int c, json request, const std::string& extra) {
    request["@extra"] = extra;
    send(c, request);
    return answer(extra);
  }
  json check_code(int c, const std::string& code, const std::string& extra = "code") {
    return call(c, {{"@type", "checkAuthenticationCode"}, {"code", code}}, extra);
  }
  json resend(int c, const std::string& extra) { return call(c, {{"@type", "resendAuthenticationCode"}}, extra); }
  json current_state(int c) { return call(c, {{"@type", "getAuthorizationState"}}, "state-now"); }
  // The state `type` once announced: from what was received already, else waiting for it.
  json reached(const std::string& type) {
    for (auto it = received_.rbegin(); it != received_.rend(); ++it) {
      if (it->value("@type", "") == "updateAuthorizationState" && (*it)["authorization_state"]["@type"] == type) {
        return (*it)["authorization_state"];
      }
    }
    return state(type);
  }
  // The answer with @extra `extra`: from what was received already, else waiting for it.
  json answered(const std::string& extra) {
    for (const auto& d : received_) {
      if (d.value("@extra", json()) == extra) return d;
    }
    return answer(extra);
  }
};

TEST_F(PhoneLoginTest, TheRightCodeLeadsToReadyAsAQrLoginDoes) {
  make();
  int c = waiting_client();
  auto got = set_number(c, "+999 66-2 1234");
  ASSERT_GE(got.size(), 2u);
  // TDLib's order: the new state, then the answer.
  const json& update = got[got.size() - 2];
  ASSERT_TRUE(is_type(update, "updateAuthorizationState")) << update;
  EXPECT_EQ(update["authorization_state"],
            (json{{"@type", "authorizationStateWaitCode"},
                  {"code_info", {{"@type", "authenticationCodeInfo"}, {"phone_number", "+999 66-2 1234"},
                                 {"type", code_type("authenticationCodeTypeTelegramMessage")},
                                 {"next_type", code_type("authenticationCodeTypeSms")}, {"timeout", 60}}}}));
  EXPECT_EQ(got.back(), (json{{"@type", "ok"}, {"@extra", "n"}, {"@client_id", c}}));

  EXPECT_EQ(check_code(c, "22222")["@type"], "ok");
  EXPECT_EQ(current_state(c)["@type"], "authorizationStateReady");
  const json me = call(c, {{"@type", "getMe"}}, "me");
  EXPECT_EQ(me["@type"], "user");
  const auto st = sim_->state()["clients"][0];
  EXPECT_EQ(me["id"], st["user_id"]);
  EXPECT_EQ(call(c, {{"@type", "getOption"}, {"name", "my_id"}}, "my_id")["value"], std::to_string(st["user_id"].get<std::int64_t>()));
  EXPECT_TRUE(fs::exists(dir_ / "td.binlog"));
}

TEST_F(PhoneLoginTest, AWrongCodeIsRefusedAndTheClientKeepsWaitingForTheCode) {
  make();
  int c = waiting_client();
  set_number(c, "9996631234");
  EXPECT_EQ(check_code(c, "22222", "wrong"), (json{{"@type", "error"}, {"code", 400}, {"message", "PHONE_CODE_INVALID"},
                                                   {"@extra", "wrong"}, {"@client_id", c}}));
  EXPECT_EQ(current_state(c)["@type"], "authorizationStateWaitCode");
  EXPECT_EQ(check_code(c, "33333")["@type"], "ok");
  reached("authorizationStateReady");
}

TEST_F(PhoneLoginTest, AnExpiredCodeIsRefusedUntilAResendGivesAFreshOne) {
  make(phone_profile({{"code_ttl_seconds", 0.2}}));
  int c = waiting_client();
  set_number(c, "9996611234");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(check_code(c, "11111", "old")["message"], "PHONE_CODE_EXPIRED");
  EXPECT_EQ(current_state(c)["@type"], "authorizationStateWaitCode");
  EXPECT_EQ(resend(c, "again")["@type"], "ok");
  EXPECT_EQ(check_code(c, "11111", "fresh")["@type"], "ok");
  reached("authorizationStateReady");
}

TEST_F(PhoneLoginTest, AnAccountWithTwoFactorAsksForThePasswordAfterTheCode) {
  make();
  ASSERT_TRUE(sim_->set_phone_account("+9996625555", std::string("secret"), std::string("the usual"), std::nullopt).ok());
  int c = waiting_client();
  set_number(c, "9996625555");
  EXPECT_EQ(check_code(c, "22222")["@type"], "ok");
  auto s = reached("authorizationStateWaitPassword");
  EXPECT_EQ(s["password_hint"], "the usual");
  EXPECT_EQ(call(c, {{"@type", "checkAuthenticationPassword"}, {"password", "nope"}}, "pw1")["message"],
            "PASSWORD_HASH_INVALID");
  EXPECT_EQ(call(c, {{"@type", "checkAuthenticationPassword"}, {"password", "secret"}}, "pw2")["@type"], "ok");
  reached("authorizationStateReady");
  EXPECT_EQ(sim_->state()["clients"][0]["has_password"], true);
}

TEST_F(PhoneLoginTest, ResendsFollowTdlibsChainUntilThereIsNoNextType) {
  make();
  int c = waiting_client();
  set_number(c, "9996611111");
  EXPECT_EQ(call(c, {{"@type", "resendAuthenticationCode"}, {"reason", {{"@type", "resendCodeReasonUserRequest"}}}},
                 "sms")["@type"],
            "ok");
  auto info = current_state(c)["code_info"];
  EXPECT_EQ(info["type"], code_type("authenticationCodeTypeSms"));
  EXPECT_EQ(info["next_type"], code_type("authenticationCodeTypeCall"));
  EXPECT_EQ(resend(c, "call")["@type"], "ok");
  info = current_state(c)["code_info"];
  EXPECT_EQ(info["type"], code_type("authenticationCodeTypeCall"));
  EXPECT_TRUE(info["next_type"].is_null());
  EXPECT_EQ(info["timeout"], 0);
  EXPECT_EQ(resend(c, "end"), (json{{"@type", "error"}, {"code", 400}, {"message", "Authentication code can't be resend"},
                                     {"@extra", "end"}, {"@client_id", c}}));
  EXPECT_EQ(check_code(c, "11111")["@type"], "ok");  // the code is still good
}

TEST_F(PhoneLoginTest, CodeSendsToOneNumberAreLimitedAcrossClients) {
  make(phone_profile({{"code_sends_per_window", 3}, {"flood_window_seconds", 0.5}}));
  int a = waiting_client();
  set_number(a, "9996621000", "a1");
  EXPECT_EQ(resend(a, "a2")["@type"], "ok");
  int b = waiting_client(dir_ / "b");
  EXPECT_EQ(set_number(b, "+9996621000", "b1").back()["@type"], "ok");  // the third send
  EXPECT_EQ(resend(a, "a3")["message"], "PHONE_NUMBER_FLOOD");
  EXPECT_EQ(set_number(b, "9996621000", "b2").back(),
            (json{{"@type", "error"}, {"code", 400}, {"message", "PHONE_NUMBER_FLOOD"}, {"@extra", "b2"}, {"@client_id", b}}));
  EXPECT_EQ(set_number(b, "9996621001", "other").back()["@type"], "ok");  // another number is not limited
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(resend(a, "later")["@type"], "ok");
}

TEST_F(PhoneLoginTest, AnUnregisteredNumberWaitsForRegistration) {
  make();
  ControlServer control(*sim_);
  auto r = control.handle("POST", "/phone-account", json{{"phone_number", "9996634321"}, {"registered", false}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, (json{{"phone_number", "9996634321"}, {"code", "33333"}, {"has_password", false},
                          {"password_hint", ""}, {"registered", false}}));
  int c = waiting_client();
  set_number(c, "9996634321");
  EXPECT_EQ(check_code(c, "33333")["@type"], "ok");
  auto s = reached("authorizationStateWaitRegistration");
  EXPECT_EQ(s["terms_of_service"]["@type"], "termsOfService");
  EXPECT_EQ(s["terms_of_service"]["text"]["@type"], "formattedText");
  EXPECT_TRUE(s["terms_of_service"]["text"]["text"].is_string());
  EXPECT_EQ(s["terms_of_service"]["min_user_age"], 0);
  EXPECT_EQ(s["terms_of_service"]["show_popup"], false);
  EXPECT_EQ(call(c, {{"@type", "getMe"}}, "me")["code"], 401);
  EXPECT_EQ(call(c, {{"@type", "logOut"}}, "bye")["@type"], "ok");
}

TEST_F(PhoneLoginTest, OnlyTestNumbersAreValid) {
  make();
  int c = waiting_client();
  for (const char* number : {"12345", "9996641234", "99966212345", "999662123", "abc", "", "+", "99966 2 12x4",
                             "++9996621234"}) {
    EXPECT_EQ(set_number(c, number).back()["message"], "PHONE_NUMBER_INVALID") << number;
  }
  EXPECT_EQ(current_state(c)["@type"], "authorizationStateWaitPhoneNumber");
  EXPECT_EQ(check_code(c, "11111")["message"], "Call to checkAuthenticationCode unexpected");
  EXPECT_EQ(resend(c, "r")["message"], "Call to resendAuthenticationCode unexpected");
}

TEST_F(PhoneLoginTest, TheControlRouteRefusesBadAccounts) {
  make();
  ControlServer control(*sim_);
  EXPECT_EQ(control.handle("POST", "/phone-account", json{{"phone_number", "12345"}}.dump()).status, 400);
  EXPECT_EQ(control.handle("POST", "/phone-account", json::object().dump()).status, 400);
  EXPECT_EQ(control.handle("POST", "/phone-account", json{{"phone_number", "9996611234"}, {"registered", "no"}}.dump()).status, 400);
  EXPECT_EQ(control.handle("POST", "/phone-account", json{{"phone_number", "9996611234"}, {"password", 5}}.dump()).status, 400);
  EXPECT_EQ(control.handle("GET", "/phone-account", "").status, 405);
}

TEST(PhoneProfileTest, PhoneAndProxyKeysAreValidatedByName) {
  auto bad = [](const json& patch) {
    auto r = Profile::apply(Profile::defaults(), patch);
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_NE(bad({{"phone", {{"code_ttl_seconds", 0}}}}).find("phone.code_ttl_seconds"), std::string::npos);
  EXPECT_NE(bad({{"phone", {{"resend_timeout_seconds", 1.5}}}}).find("phone.resend_timeout_seconds"), std::string::npos);
  EXPECT_NE(bad({{"phone", {{"code_sends_per_window", 0}}}}).find("phone.code_sends_per_window"), std::string::npos);
  EXPECT_NE(bad({{"phone", {{"flood_window_seconds", -1}}}}).find("phone.flood_window_seconds"), std::string::npos);
  EXPECT_NE(bad({{"phone", {{"nope", 1}}}}).find("phone.nope"), std::string::npos);
  EXPECT_NE(bad({{"phone", 3}}).find("phone"), std::string::npos);
  EXPECT_NE(bad({{"proxy", {{"ping_ms", {{"min", 50}, {"max", 10}}}}}}).find("proxy.ping_ms"), std::string::npos);
  EXPECT_NE(bad({{"proxy", {{"ping", 1}}}}).find("proxy.ping"), std::string::npos);
  auto ok = Profile::apply(Profile::defaults(), {{"phone", {{"code_sends_per_window", 2}}}, {"proxy", {{"ping_ms", {{"min", 1}, {"max", 2}}}}}});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().phone.code_sends_per_window, 2);
  EXPECT_EQ(ok.value().phone.code_ttl_seconds, 300);
  EXPECT_EQ(ok.value().to_json()["proxy"]["ping_ms"], (json{{"min", 1.0}, {"max", 2.0}}));
}

// --- Proxies -----------------------------------------------------------------------------------------

json socks5(const std::string& server, int port) {
  return {{"@type", "proxy"}, {"server", server}, {"port", port},
          {"type", {{"@type", "proxyTypeSocks5"}, {"username", "u"}, {"password", "p"}}}};
}

class ProxyTest : public PhoneLoginTest {
 protected:
  json add_proxy(int c, const json& proxy, bool enable, const std::string& extra = "add") {
    return call(c, {{"@type", "addProxy"}, {"proxy", proxy}, {"enable", enable}}, extra);
  }
  // Objects of client `c` that arrive within `seconds` (the simulator answers at once with fast_profile).
  std::vector<json> quiet(double seconds = 0.3) {
    std::vector<json> got;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (const char* line = sim_->receive(0.05)) got.push_back(json::parse(line));
    }
    received_.insert(received_.end(), got.begin(), got.end());
    return got;
  }
  json client_state(ControlServer& control, int c) {
    const auto response = control.handle("GET", "/state", "");
    for (const auto& entry : response.body["clients"]) {
      if (entry["client_id"] == c) return entry;
    }
    return json();
  }
  static std::vector<std::string> connection_states(const std::vector<json>& got) {
    std::vector<std::string> out;
    for (const auto& d : got) {
      if (is_type(d, "updateConnectionState")) out.push_back(d["state"]["@type"]);
    }
    return out;
  }
};

TEST_F(ProxyTest, ProxiesAreAddedEnabledPingedListedAndRemovedLikeTdlib) {
  make();
  int c = waiting_client();
  auto added = add_proxy(c, socks5("127.0.0.1", 1080), false);
  EXPECT_EQ(added, (json{{"@type", "addedProxy"}, {"id", 2}, {"last_used_date", 0}, {"is_enabled", false}, {"comment", ""},
                         {"proxy", socks5("127.0.0.1", 1080)}, {"@extra", "add"}, {"@client_id", c}}));
  const json http = {{"@type", "proxy"}, {"server", "10.0.0.1"}, {"port", 8080}, {"type", {{"@type", "proxyTypeHttp"}}}};
  auto second = add_proxy(c, http, false, "add2");
  EXPECT_EQ(second["id"], 3);
  EXPECT_EQ(second["proxy"]["type"],
            (json{{"@type", "proxyTypeHttp"}, {"username", ""}, {"password", ""}, {"http_only", false}}));
  auto list = call(c, {{"@type", "getProxies"}}, "list");
  ASSERT_EQ(list["@type"], "addedProxies");
  ASSERT_EQ(list["proxies"].size(), 2u);

  const std::size_t from = received_.size();
  EXPECT_EQ(call(c, {{"@type", "enableProxy"}, {"proxy_id", 2}}, "enable")["@type"], "ok");
  EXPECT_EQ(connection_states({received_.begin() + static_cast<std::ptrdiff_t>(from), received_.end()}),
            (std::vector<std::string>{"connectionStateConnectingToProxy", "connectionStateReady"}));
  EXPECT_EQ(call(c, {{"@type", "getProxies"}}, "list2")["proxies"][0]["is_enabled"], true);

  auto ping = call(c, {{"@type", "pingProxy"}, {"proxy", socks5("127.0.0.1", 1080)}}, "ping");
  ASSERT_EQ(ping["@type"], "seconds");
  EXPECT_GE(ping["seconds"].get<double>(), 0.030);
  EXPECT_LE(ping["seconds"].get<double>(), 0.120);
  EXPECT_EQ(call(c, {{"@type", "pingProxy"}, {"proxy", socks5("127.0.0.1", 1080)}}, "ping2")["seconds"], ping["seconds"]);
  EXPECT_EQ(call(c, {{"@type", "pingProxy"}}, "direct")["@type"], "seconds");

  EXPECT_EQ(call(c, {{"@type", "enableProxy"}, {"proxy_id", 99}}, "e99")["message"], "Unknown proxy identifier");
  EXPECT_EQ(call(c, {{"@type", "removeProxy"}, {"proxy_id", 99}}, "r99")["message"], "Unknown proxy identifier");
  EXPECT_EQ(call(c, {{"@type", "removeProxy"}, {"proxy_id", 2}}, "r2")["@type"], "ok");
  EXPECT_EQ(call(c, {{"@type", "disableProxy"}}, "off")["@type"], "ok");
  EXPECT_EQ(call(c, {{"@type", "getProxies"}}, "list3")["proxies"].size(), 1u);
}

TEST_F(ProxyTest, BadProxiesGetTdlibsMessages) {
  make();
  int c = waiting_client();
  auto with = [](json proxy, const char* key, json value) {
    proxy[key] = std::move(value);
    return proxy;
  };
  const json p = socks5("a", 1);
  EXPECT_EQ(call(c, {{"@type", "addProxy"}, {"enable", false}}, "1")["message"], "Proxy must be non-empty");
  EXPECT_EQ(add_proxy(c, with(p, "server", ""), false, "2")["message"], "Server name must be non-empty");
  EXPECT_EQ(add_proxy(c, with(p, "port", 0), false, "3")["message"], "Wrong port number");
  EXPECT_EQ(add_proxy(c, with(p, "port", 70000), false, "4")["message"], "Wrong port number");
  EXPECT_EQ(add_proxy(c, with(p, "type", nullptr), false, "5")["message"], "Proxy type must be non-empty");
  EXPECT_EQ(add_proxy(c, with(p, "type", {{"@type", "proxyTypeMtproto"}, {"secret", "zz"}}), false, "6")["message"],
            "Wrong proxy secret");
  EXPECT_EQ(add_proxy(c, with(p, "type", {{"@type", "proxyTypeMtproto"}, {"secret", "dd00112233445566778899aabbccddeeff"}}),
                      false, "7")["@type"],
            "addedProxy");
  // Before setTdlibParameters tdsim refuses them like other functions.
  int fresh = sim_->create_client_id();
  EXPECT_EQ(call(fresh, {{"@type", "getProxies"}}, "early")["message"],
            "Initialization parameters are needed: call setTdlibParameters first");
}

TEST_F(ProxyTest, AnUnreachableProxyHoldsNetworkRequestsUntilItIsReachable) {
  make();
  ControlServer control(*sim_);
  ASSERT_EQ(control.handle("POST", "/proxy", json{{"server", "10.9.9.9"}, {"port", 443}, {"reachable", false}}.dump()).status, 200);
  int c = waiting_client();
  const json mtproto = {{"@type", "proxy"}, {"server", "10.9.9.9"}, {"port", 443},
                        {"type", {{"@type", "proxyTypeMtproto"}, {"secret", "00112233445566778899aabbccddeeff"}}}};
  EXPECT_EQ(add_proxy(c, mtproto, true)["is_enabled"], true);
  EXPECT_EQ(connection_states(received_).back(), "connectionStateConnectingToProxy");
  EXPECT_EQ(call(c, {{"@type", "pingProxy"}, {"proxy", mtproto}}, "ping")["message"], "Connection timed out");

  send(c, {{"@type", "setAuthenticationPhoneNumber"}, {"phone_number", "9996621234"}, {"@extra", "held"}});
  send(c, {{"@type", "testNetwork"}, {"@extra", "held2"}});
  for (const auto& d : quiet()) EXPECT_NE(d.value("@extra", json()), "held") << d;
  EXPECT_EQ(call(c, {{"@type", "getProxies"}}, "local")["@type"], "addedProxies");  // local: answered
  auto st = client_state(control, c);
  EXPECT_EQ(st["connected"], false);
  EXPECT_EQ(st["held_requests"], 2);
  EXPECT_EQ(st["proxy"], (json{{"server", "10.9.9.9"}, {"port", 443}, {"type", "proxyTypeMtproto"}}));
  EXPECT_EQ(st.dump().find("00112233"), std::string::npos);  // never the secret

  auto released = control.handle("POST", "/proxy", json{{"server", "10.9.9.9"}, {"port", 443}, {"reachable", true}}.dump());
  EXPECT_EQ(released.body["released"], 2);
  const std::size_t from = received_.size();
  EXPECT_EQ(answer("held")["@type"], "ok");
  EXPECT_EQ(answered("held2")["code"], 401);  // answered as without a proxy: the client is not authorized
  std::vector<json> after(received_.begin() + static_cast<std::ptrdiff_t>(from), received_.end());
  EXPECT_EQ(connection_states(after), std::vector<std::string>{"connectionStateReady"});
  EXPECT_EQ(current_state(c)["@type"], "authorizationStateWaitCode");
  EXPECT_EQ(client_state(control, c)["connected"], true);
  EXPECT_EQ(client_state(control, c)["held_requests"], 0);

  // Unreachable again while enabled: the client reports it and holds again.
  control.handle("POST", "/proxy", json{{"server", "10.9.9.9"}, {"port", 443}, {"reachable", false}}.dump());
  send(c, {{"@type", "resendAuthenticationCode"}, {"@extra", "held3"}});
  quiet(0.2);
  EXPECT_EQ(connection_states(received_).back(), "connectionStateConnectingToProxy");
  EXPECT_EQ(client_state(control, c)["held_requests"], 1);
  // Disabling the proxy connects directly and answers what waited.
  EXPECT_EQ(call(c, {{"@type", "disableProxy"}}, "off")["@type"], "ok");
  EXPECT_EQ(answer("held3")["@type"], "ok");  // after the answer to disableProxy
}

TEST_F(ProxyTest, HeldRequestsAreBoundedAndAbortedWhenTheClientCloses) {
  make();
  ControlServer control(*sim_);
  control.handle("POST", "/proxy", json{{"server", "h"}, {"port", 1}, {"reachable", false}}.dump());
  int c = waiting_client();
  add_proxy(c, socks5("h", 1), true);
  for (std::size_t i = 0; i < SimClient::kMaxHeldRequests; ++i) {
    send(c, {{"@type", "requestQrCodeAuthentication"}, {"@extra", "q" + std::to_string(i)}});
  }
  EXPECT_EQ(call(c, {{"@type", "testNetwork"}}, "one-too-many"),
            (json{{"@type", "error"}, {"code", 500}, {"message", "Too many requests wait for a connection"},
                  {"@extra", "one-too-many"}, {"@client_id", c}}));
  EXPECT_EQ(client_state(control, c)["held_requests"], SimClient::kMaxHeldRequests);
  send(c, {{"@type", "close"}, {"@extra", "close"}});
  std::size_t aborted = 0;
  until([&](const json& d) {
    if (d.value("@type", "") == "error" && d.value("message", "") == "Request aborted") ++aborted;
    return is_type(d, "updateAuthorizationState") && d["authorization_state"]["@type"] == "authorizationStateClosed";
  });
  EXPECT_EQ(aborted, SimClient::kMaxHeldRequests);
}

TEST_F(ProxyTest, StateRecordsTheOrderOfCalls) {
  make();
  ControlServer control(*sim_);
  int c = waiting_client();
  add_proxy(c, socks5("127.0.0.1", 1080), false);
  call(c, {{"@type", "enableProxy"}, {"proxy_id", 2}}, "e");
  set_number(c, "9996621234");
  send(c, {{"@type", "noSuchFunction"}, {"@extra", "x"}});  // not a request TDLib could read: not recorded
  answer("x");
  EXPECT_EQ(client_state(control, c)["calls"],
            (json{"setTdlibParameters", "addProxy", "enableProxy", "setAuthenticationPhoneNumber"}));
  for (int i = 0; i < 70; ++i) send(c, {{"@type", "getOption"}, {"name", "version"}});
  quiet(0.2);
  auto calls = client_state(control, c)["calls"];
  ASSERT_EQ(calls.size(), SimClient::kMaxCalls);
  EXPECT_EQ(calls[0], "getOption");
  EXPECT_EQ(client_state(control, c)["proxy"]["server"], "127.0.0.1");
}

TEST_F(ProxyTest, TheControlRouteRefusesBadInput) {
  make();
  ControlServer control(*sim_);
  EXPECT_EQ(control.handle("POST", "/proxy", json{{"server", "a"}, {"port", 1}}.dump()).status, 400);
  EXPECT_EQ(control.handle("POST", "/proxy", json{{"server", "a"}, {"port", 0}, {"reachable", true}}.dump()).status, 400);
  EXPECT_EQ(control.handle("POST", "/proxy", json{{"server", ""}, {"port", 1}, {"reachable", true}}.dump()).status, 400);
  EXPECT_EQ(control.handle("POST", "/proxy", json{{"server", "a"}, {"port", "1"}, {"reachable", true}}.dump()).status, 400);
  auto ok = control.handle("POST", "/proxy", json{{"server", "a"}, {"port", 1}, {"reachable", true}}.dump());
  EXPECT_EQ(ok.body, (json{{"server", "a"}, {"port", 1}, {"reachable", true}, {"released", 0}}));
}

TEST_F(ProxyTest, NewFunctionsCheckTheirArgumentsLikeTdlib) {
  make();
  int c = sim_->create_client_id();
  const std::string prefix = "Failed to parse JSON object as TDLib request: ";
  auto message = [&](json request) { return call(c, std::move(request), "a")["message"].get<std::string>(); };
  EXPECT_EQ(message({{"@type", "addProxy"}, {"proxy", 5}}), prefix + "Expected Object, but receive Number");
  EXPECT_EQ(message({{"@type", "addProxy"}, {"proxy", {{"@type", "proxy"}, {"server", 5}}}}),
            prefix + "Expected String, but receive Number");
  EXPECT_EQ(message({{"@type", "addProxy"}, {"proxy", {{"@type", "proxy"}, {"type", {{"@type", "proxy"}}}}}}),
            prefix + "Unknown class \"proxy\"");
  EXPECT_EQ(message({{"@type", "addProxy"}, {"proxy", {{"@type", "proxy"}, {"type", {{"@type", "proxyTypeHttp"}, {"http_only", "x"}}}}}}),
            prefix + "Expected Boolean, but receive String");
  EXPECT_EQ(message({{"@type", "addProxy"}, {"enable", "x"}, {"comment", 5}}), prefix + "Expected Boolean, but receive String");
  EXPECT_EQ(message({{"@type", "enableProxy"}, {"proxy_id", "x"}}), prefix + "Can't parse as an integer string \"x\"");
  EXPECT_EQ(message({{"@type", "pingProxy"}, {"proxy", {{"@type", "proxy"}, {"port", "x"}}}}),
            prefix + "Can't parse as an integer string \"x\"");
  EXPECT_EQ(message({{"@type", "resendAuthenticationCode"}, {"reason", {{"@type", "proxy"}}}}), prefix + "Unknown class \"proxy\"");
  EXPECT_EQ(message({{"@type", "resendAuthenticationCode"}, {"reason", {{"@type", "resendCodeReasonVerificationFailed"}, {"error_message", 5}}}}),
            prefix + "Expected String, but receive Number");
  EXPECT_EQ(message({{"@type", "setAuthenticationPhoneNumber"}, {"settings", {{"@type", "phoneNumberAuthenticationSettings"}, {"allow_flash_call", "x"}}}}),
            prefix + "Expected Boolean, but receive String");
  EXPECT_EQ(message({{"@type", "checkAuthenticationCode"}, {"code", 5}}), prefix + "Expected String, but receive Number");
}

}  // namespace
}  // namespace tgpulse::tdsim
