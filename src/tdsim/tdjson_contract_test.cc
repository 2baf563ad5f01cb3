// Contract tests: the same scenarios against the real libtdjson (TDLib 1.8.67, offline) and against
// libtdsim.so, requiring the same answers. The real library comes from TGPULSE_TDJSON or
// third_party/tdlib/libtdjson.so (scripts/install-deps.sh fetches it); without it those cases skip.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "td/td_library.h"

namespace tgpulse::tdsim {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string real_library_path() {
  if (const char* env = std::getenv("TGPULSE_TDJSON"); env != nullptr && *env != '\0') return env;
  return TGPULSE_SOURCE_DIR "/third_party/tdlib/libtdjson.so";
}

// Each library is loaded once per process (never unloaded) and keeps its log quiet.
td::TdLibrary* library(const std::string& which) {
  static std::map<std::string, std::unique_ptr<td::DlopenTdLibrary>> loaded;
  auto it = loaded.find(which);
  if (it != loaded.end()) return it->second.get();
  const std::string path = which == "tdjson" ? real_library_path() : std::string(TGPULSE_TDSIM_LIBRARY);
  auto lib = td::DlopenTdLibrary::load(path);
  if (!lib.ok()) return nullptr;
  lib.value()->execute(R"({"@type":"setLogVerbosityLevel","new_verbosity_level":0})");
  return (loaded[which] = std::move(lib.value())).get();
}

class TdJsonContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    lib_ = library(GetParam());
    if (lib_ == nullptr) GTEST_SKIP() << GetParam() << " library not available";
    dir_ = fs::temp_directory_path() / ("tgpulse-contract-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(counter_++));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    // TDLib's exit handlers abort the process while clients are open: close every client of the case.
    for (int c : clients_) {
      if (closed_.count(c) != 0) continue;
      send(c, {{"@type", "close"}});
      receive_until(c, [](const json& d) {
        return d.value("@type", "") == "updateAuthorizationState" &&
               d["authorization_state"]["@type"] == "authorizationStateClosed";
      });
    }
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  int new_client() {
    clients_.push_back(lib_->create_client_id());
    return clients_.back();
  }
  void send(int client, const json& request) { lib_->send(client, request.dump().c_str()); }
  void send_raw(int client, const std::string& text) { lib_->send(client, text.c_str()); }

  // Receives objects of `client` until `done` holds for one of them (bounded); returns all of them.
  template <typename Pred>
  std::vector<json> receive_until(int client, Pred done, double timeout_seconds = 20) {
    std::vector<json> got;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      const char* line = lib_->receive(0.2);
      if (line == nullptr) continue;
      json doc = json::parse(line);
      if (doc.value("@client_id", -1) != client) continue;  // leftovers of earlier cases
      if (doc.value("@type", "") == "updateAuthorizationState" &&
          doc["authorization_state"]["@type"] == "authorizationStateClosed") {
        closed_.insert(client);
      }
      got.push_back(doc);
      if (done(doc)) return got;
    }
    ADD_FAILURE() << GetParam() << ": timed out; got " << json(got).dump();
    return got;
  }
  json answer_to(int client, const json& extra) {
    auto got = receive_until(client, [&](const json& d) { return d.contains("@extra") && d["@extra"] == extra; });
    return got.empty() ? json() : got.back();
  }
  json parameters(const std::string& extra) const {
    return {{"@type", "setTdlibParameters"}, {"database_directory", dir_.string()}, {"use_test_dc", false},
            {"api_id", 94575}, {"api_hash", "a3406de8d171bb422bb6ddf3bbd800e2"}, {"system_language_code", "en"},
            {"device_model", "tgpulse contract test"}, {"application_version", "1.0"}, {"@extra", extra}};
  }
  static std::vector<std::string> states(const std::vector<json>& objects) {
    std::vector<std::string> out;
    for (const auto& o : objects) {
      if (o.value("@type", "") == "updateAuthorizationState") out.push_back(o["authorization_state"]["@type"]);
    }
    return out;
  }
  // Brings a new client to WaitPhoneNumber and returns it.
  int started_client() {
    int c = new_client();
    send(c, parameters("params"));
    auto got = receive_until(c, [](const json& d) { return d.value("@extra", json()) == "params"; });
    EXPECT_EQ(got.back()["@type"], "ok");
    return c;
  }

  td::TdLibrary* lib_ = nullptr;
  fs::path dir_;
  std::vector<int> clients_;
  std::set<int> closed_;
  static inline int counter_ = 0;
};

TEST_P(TdJsonContractTest, StateSequenceUpToWaitPhoneNumber) {
  int c = new_client();
  send(c, parameters("p1"));
  auto got = receive_until(c, [](const json& d) {
    return d.value("@type", "") == "updateAuthorizationState" &&
           d["authorization_state"]["@type"] == "authorizationStateWaitPhoneNumber";
  });
  EXPECT_EQ(states(got), (std::vector<std::string>{"authorizationStateWaitTdlibParameters",
                                                   "authorizationStateWaitPhoneNumber"}));
  auto ok = answer_to(c, "p1");
  EXPECT_EQ(ok, (json{{"@type", "ok"}, {"@extra", "p1"}, {"@client_id", c}}));
}

TEST_P(TdJsonContractTest, ExtraAndClientIdAreEchoed) {
  int c = new_client();
  for (const json& extra : {json("text"), json(1234567), json{{"a", json::array({1, "x"})}}}) {
    send(c, {{"@type", "getOption"}, {"name", "version"}, {"@extra", extra}});
    auto answer = answer_to(c, extra);
    EXPECT_EQ(answer, (json{{"@type", "optionValueString"}, {"value", "1.8.67"}, {"@extra", extra}, {"@client_id", c}}));
  }
}

TEST_P(TdJsonContractTest, MalformedRequestError) {
  int c = new_client();
  send_raw(c, "{not json");
  send(c, {{"@type", "getOption"}, {"name", "version"}, {"@extra", "after"}});
  auto got = receive_until(c, [](const json& d) { return d.value("@extra", json()) == "after"; });
  std::vector<json> errors;
  for (const auto& d : got) {
    if (d.value("@type", "") == "error") errors.push_back(d);
  }
  ASSERT_EQ(errors.size(), 1u) << json(got).dump();
  EXPECT_EQ(errors[0]["code"], 400);
  EXPECT_FALSE(errors[0].contains("@extra"));
  EXPECT_EQ(errors[0]["message"].get<std::string>().rfind("Failed to parse request as JSON object: ", 0), 0u)
      << errors[0].dump();
}

TEST_P(TdJsonContractTest, UnknownFunctionAndMissingTypeErrors) {
  int c = new_client();
  send(c, {{"@type", "noSuchFunction"}, {"@extra", "u"}});
  EXPECT_EQ(answer_to(c, "u"), (json{{"@type", "error"}, {"code", 400},
                                     {"message", "Failed to parse JSON object as TDLib request: Unknown class \"noSuchFunction\""},
                                     {"@extra", "u"}, {"@client_id", c}}));
  send(c, {{"chat_id", 1}, {"@extra", "t"}});
  EXPECT_EQ(answer_to(c, "t")["message"], "Failed to parse JSON object as TDLib request: Can't find field \"@type\"");
}

TEST_P(TdJsonContractTest, RequestsNeedParametersFirst) {
  int c = new_client();
  send(c, {{"@type", "getMe"}, {"@extra", "me"}});
  EXPECT_EQ(answer_to(c, "me"), (json{{"@type", "error"}, {"code", 400},
                                      {"message", "Initialization parameters are needed: call setTdlibParameters first"},
                                      {"@extra", "me"}, {"@client_id", c}}));
  auto bad = parameters("bad");
  bad.erase("api_id");
  send(c, bad);
  EXPECT_EQ(answer_to(c, "bad")["message"], "Valid api_id must be provided. Can be obtained at https://my.telegram.org");
}

// TDLib type-checks a function's arguments while it reads the request, before it looks at the state:
// a wrong-typed argument is a 400 both before setTdlibParameters and before authorization (never the
// 400 "parameters are needed" or the 401 "Unauthorized" a well-typed call gets).
TEST_P(TdJsonContractTest, WrongTypedArgumentsAreRefusedBeforeTheStateIsChecked) {
  const std::string prefix = "Failed to parse JSON object as TDLib request: ";
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"@type", "getChat"}, {"chat_id", "abc"}}, "Can't parse as an integer string \"abc\""},
      {{{"@type", "getChat"}, {"chat_id", true}}, "Expected String or Number, but receive Boolean"},
      {{{"@type", "getChat"}, {"chat_id", 1.5}}, "Can't parse as an integer string \"1.5\""},
      {{{"@type", "getChats"}, {"limit", "x"}}, "Can't parse as an integer string \"x\""},
      {{{"@type", "getChats"}, {"limit", 3000000000LL}}, "Can't parse as an integer string \"3000000000\""},
      {{{"@type", "getChats"}, {"chat_list", "main"}}, "Expected Object, but receive String"},
      {{{"@type", "getChatHistory"}, {"chat_id", 1}, {"limit", json::array({1})}}, "Expected Number, but receive Array"},
      {{{"@type", "getChatHistory"}, {"limit", json::array({1})}, {"chat_id", "x"}},  // declaration order
       "Can't parse as an integer string \"x\""},
      {{{"@type", "getChatHistory"}, {"chat_id", 1}, {"only_local", "yes"}}, "Expected Boolean, but receive String"},
      {{{"@type", "searchPublicChat"}, {"username", 5}}, "Expected String, but receive Number"},
      {{{"@type", "sendMessage"}, {"chat_id", 1}, {"input_message_content", "hi"}}, "Expected Object, but receive String"},
      {{{"@type", "sendMessage"}, {"chat_id", 1}, {"input_message_content", json::object({{"text", json::object()}})}},
       "Can't find field \"@type\""},
      {{{"@type", "viewMessages"}, {"chat_id", 1}, {"message_ids", json::array({"a"})}},
       "Can't parse as an integer string \"a\""},
      {{{"@type", "checkAuthenticationPassword"}, {"password", 1}}, "Expected String, but receive Number"},
      {{{"@type", "requestQrCodeAuthentication"}, {"other_user_ids", "x"}}, "Expected Array, but receive String"},
      {{{"@type", "getOption"}, {"name", 5}}, "Expected String, but receive Number"},
      // Phone-number login and proxies. A field of a concrete class (proxy, phoneNumberAuthenticationSettings)
      // needs no "@type"; one of an abstract type (ProxyType, ResendCodeReason) needs one of its classes.
      {{{"@type", "setAuthenticationPhoneNumber"}, {"phone_number", 5}}, "Expected String, but receive Number"},
      {{{"@type", "setAuthenticationPhoneNumber"}, {"settings", {{"allow_flash_call", "x"}}}},
       "Expected Boolean, but receive String"},
      {{{"@type", "setAuthenticationPhoneNumber"}, {"settings", 1}}, "Expected Object, but receive Number"},
      {{{"@type", "checkAuthenticationCode"}, {"code", 5}}, "Expected String, but receive Number"},
      {{{"@type", "resendAuthenticationCode"}, {"reason", 5}}, "Expected Object, but receive Number"},
      {{{"@type", "resendAuthenticationCode"}, {"reason", json::object()}}, "Can't find field \"@type\""},
      {{{"@type", "resendAuthenticationCode"}, {"reason", {{"@type", "proxy"}}}}, "Unknown class \"proxy\""},
      {{{"@type", "resendAuthenticationCode"},
        {"reason", {{"@type", "resendCodeReasonVerificationFailed"}, {"error_message", 5}}}},
       "Expected String, but receive Number"},
      {{{"@type", "addProxy"}, {"proxy", 5}}, "Expected Object, but receive Number"},
      {{{"@type", "addProxy"}, {"proxy", {{"server", 5}}}}, "Expected String, but receive Number"},
      {{{"@type", "addProxy"}, {"proxy", {{"@type", "proxy"}, {"port", "x"}}}}, "Can't parse as an integer string \"x\""},
      {{{"@type", "addProxy"}, {"proxy", {{"@type", "proxy"}, {"type", 5}}}}, "Expected Object, but receive Number"},
      {{{"@type", "addProxy"}, {"proxy", {{"@type", "proxy"}, {"type", {{"username", "u"}}}}}}, "Can't find field \"@type\""},
      {{{"@type", "addProxy"}, {"proxy", {{"@type", "proxy"}, {"type", {{"@type", "proxy"}}}}}}, "Unknown class \"proxy\""},
      {{{"@type", "addProxy"}, {"proxy", {{"type", {{"@type", "proxyTypeSocks5"}, {"password", 1}}}}}},
       "Expected String, but receive Number"},
      {{{"@type", "addProxy"}, {"proxy", {{"type", {{"@type", "proxyTypeHttp"}, {"http_only", "x"}}}}}},
       "Expected Boolean, but receive String"},
      {{{"@type", "addProxy"}, {"proxy", {{"type", {{"@type", "proxyTypeMtproto"}, {"secret", 5}}}}}},
       "Expected String, but receive Number"},
      {{{"@type", "addProxy"}, {"enable", "x"}, {"comment", 5}}, "Expected Boolean, but receive String"},
      {{{"@type", "addProxy"}, {"comment", 5}}, "Expected String, but receive Number"},
      {{{"@type", "enableProxy"}, {"proxy_id", "x"}}, "Can't parse as an integer string \"x\""},
      {{{"@type", "removeProxy"}, {"proxy_id", true}}, "Expected Number, but receive Boolean"},
      {{{"@type", "pingProxy"}, {"proxy", {{"@type", "proxy"}, {"server", 5}}}}, "Expected String, but receive Number"},
      // Files.
      {{{"@type", "downloadFile"}, {"file_id", "x"}}, "Can't parse as an integer string \"x\""},
      {{{"@type", "downloadFile"}, {"file_id", 1}, {"priority", true}}, "Expected Number, but receive Boolean"},
      {{{"@type", "downloadFile"}, {"file_id", 1}, {"offset", json::array()}}, "Expected String or Number, but receive Array"},
      {{{"@type", "downloadFile"}, {"limit", "1e3"}}, "Can't parse as an integer string \"1e3\""},
      {{{"@type", "downloadFile"}, {"synchronous", "yes"}}, "Expected Boolean, but receive String"},
      {{{"@type", "getFile"}, {"file_id", json::object()}}, "Expected Number, but receive Object"},
      {{{"@type", "cancelDownloadFile"}, {"file_id", 1}, {"only_if_pending", "x"}}, "Expected Boolean, but receive String"},
      {{{"@type", "deleteFile"}, {"file_id", 1.5}}, "Can't parse as an integer string \"1.5\""},
      {{{"@type", "optimizeStorage"}, {"chat_ids", 5}}, "Expected Array, but receive Number"},
      {{{"@type", "optimizeStorage"}, {"return_deleted_file_statistics", "x"}}, "Expected Boolean, but receive String"},
  };
  int c = new_client();
  auto check_all = [&](const std::string& phase) {
    for (std::size_t i = 0; i < cases.size(); ++i) {
      json request = cases[i].first;
      const std::string extra = phase + std::to_string(i);
      request["@extra"] = extra;
      send(c, request);
      EXPECT_EQ(answer_to(c, extra), (json{{"@type", "error"}, {"code", 400}, {"message", prefix + cases[i].second},
                                           {"@extra", extra}, {"@client_id", c}}))
          << phase << ": " << cases[i].first.dump();
    }
  };
  check_all("before-parameters-");
  send(c, parameters("params"));
  EXPECT_EQ(answer_to(c, "params")["@type"], "ok");
  check_all("unauthorized-");
  // The same calls well typed get the state's answer.
  send(c, {{"@type", "getChat"}, {"chat_id", "12"}, {"@extra", "typed"}});
  EXPECT_EQ(answer_to(c, "typed")["code"], 401);
  send(c, {{"@type", "getChatHistory"}, {"chat_id", 1}, {"only_local", 1}, {"@extra", "bool-as-number"}});
  EXPECT_EQ(answer_to(c, "bool-as-number")["code"], 401);
  send(c, {{"@type", "sendMessage"}, {"chat_id", 1}, {"options", {{"@type", "proxy"}}}, {"@extra", "record"}});
  EXPECT_EQ(answer_to(c, "record")["code"], 401);  // a concrete class's "@type" is not looked at
  // The file functions need authorization like any ordinary function (even with a bad priority).
  send(c, {{"@type", "downloadFile"}, {"file_id", 1}, {"priority", 0}, {"@extra", "download"}});
  EXPECT_EQ(answer_to(c, "download")["code"], 401);
  send(c, {{"@type", "getFile"}, {"file_id", 1}, {"@extra", "get-file"}});
  EXPECT_EQ(answer_to(c, "get-file")["code"], 401);
}

TEST_P(TdJsonContractTest, WrongStateCallsAreRefused) {
  int c = started_client();
  send(c, {{"@type", "checkAuthenticationPassword"}, {"password", "x"}, {"@extra", "pw"}});
  EXPECT_EQ(answer_to(c, "pw")["message"], "Call to checkAuthenticationPassword unexpected");
  send(c, {{"@type", "checkAuthenticationCode"}, {"code", "12345"}, {"@extra", "code"}});
  EXPECT_EQ(answer_to(c, "code")["message"], "Call to checkAuthenticationCode unexpected");
  send(c, {{"@type", "resendAuthenticationCode"}, {"@extra", "resend"}});
  EXPECT_EQ(answer_to(c, "resend")["message"], "Call to resendAuthenticationCode unexpected");
  send(c, parameters("again"));
  EXPECT_EQ(answer_to(c, "again")["message"], "Unexpected setTdlibParameters");
  send(c, {{"@type", "getAuthorizationState"}, {"@extra", "gs"}});
  EXPECT_EQ(answer_to(c, "gs"), (json{{"@type", "authorizationStateWaitPhoneNumber"}, {"@extra", "gs"}, {"@client_id", c}}));
}

// Proxies are TDLib's own (no network): added, listed, enabled, refused with TDLib's messages. 1.8.67's
// addProxy takes a proxy object and answers addedProxy; the first id of a new database is 2.
TEST_P(TdJsonContractTest, ProxiesAreKeptLikeTdlibKeepsThem) {
  int c = started_client();
  const json socks5 = {{"@type", "proxy"}, {"server", "127.0.0.1"}, {"port", 1080}, {"type", {{"@type", "proxyTypeSocks5"}}}};
  const json socks5_full = {{"@type", "proxy"}, {"server", "127.0.0.1"}, {"port", 1080},
                            {"type", {{"@type", "proxyTypeSocks5"}, {"username", ""}, {"password", ""}}}};
  send(c, {{"@type", "getProxies"}, {"@extra", "none"}});
  EXPECT_EQ(answer_to(c, "none"), (json{{"@type", "addedProxies"}, {"proxies", json::array()}, {"@extra", "none"}, {"@client_id", c}}));
  send(c, {{"@type", "addProxy"}, {"proxy", socks5}, {"enable", false}, {"@extra", "add"}});
  const json added = {{"@type", "addedProxy"}, {"id", 2}, {"last_used_date", 0}, {"is_enabled", false},
                      {"comment", ""}, {"proxy", socks5_full}};
  json expected = added;
  expected["@extra"] = "add";
  expected["@client_id"] = c;
  EXPECT_EQ(answer_to(c, "add"), expected);
  send(c, {{"@type", "enableProxy"}, {"proxy_id", 2}, {"@extra", "enable"}});
  auto got = receive_until(c, [](const json& d) { return d.value("@extra", json()) == "enable"; });
  EXPECT_EQ(got.back()["@type"], "ok");
  bool connecting_to_proxy = false;  // announced before the answer
  for (const auto& d : got) {
    connecting_to_proxy = connecting_to_proxy || (d.value("@type", "") == "updateConnectionState" &&
                                                  d["state"]["@type"] == "connectionStateConnectingToProxy");
  }
  EXPECT_TRUE(connecting_to_proxy);
  send(c, {{"@type", "getProxies"}, {"@extra", "one"}});
  auto listed = answer_to(c, "one");
  ASSERT_EQ(listed["proxies"].size(), 1u);
  EXPECT_EQ(listed["proxies"][0]["is_enabled"], true);
  EXPECT_EQ(listed["proxies"][0]["proxy"], socks5_full);

  const std::vector<std::pair<json, std::string>> refused = {
      {{{"@type", "addProxy"}, {"enable", false}}, "Proxy must be non-empty"},
      {{{"@type", "addProxy"}, {"proxy", {{"@type", "proxy"}, {"server", "a"}, {"port", 1}}}}, "Proxy type must be non-empty"},
      {{{"@type", "addProxy"}, {"proxy", {{"@type", "proxy"}, {"server", ""}, {"port", 1}, {"type", socks5["type"]}}}},
       "Server name must be non-empty"},
      {{{"@type", "addProxy"}, {"proxy", {{"@type", "proxy"}, {"server", "a"}, {"port", 70000}, {"type", socks5["type"]}}}},
       "Wrong port number"},
      {{{"@type", "addProxy"},
        {"proxy", {{"@type", "proxy"}, {"server", "a"}, {"port", 1}, {"type", {{"@type", "proxyTypeMtproto"}, {"secret", "zz"}}}}}},
       "Wrong proxy secret"},
      {{{"@type", "enableProxy"}, {"proxy_id", 99}}, "Unknown proxy identifier"},
      {{{"@type", "removeProxy"}, {"proxy_id", 99}}, "Unknown proxy identifier"},
  };
  for (std::size_t i = 0; i < refused.size(); ++i) {
    json request = refused[i].first;
    request["@extra"] = "refused" + std::to_string(i);
    send(c, request);
    EXPECT_EQ(answer_to(c, request["@extra"]),
              (json{{"@type", "error"}, {"code", 400}, {"message", refused[i].second}, {"@extra", request["@extra"]}, {"@client_id", c}}))
        << request.dump();
  }
  send(c, {{"@type", "disableProxy"}, {"@extra", "off"}});
  EXPECT_EQ(answer_to(c, "off")["@type"], "ok");
  send(c, {{"@type", "removeProxy"}, {"proxy_id", 2}, {"@extra", "remove"}});
  EXPECT_EQ(answer_to(c, "remove")["@type"], "ok");
  send(c, {{"@type", "getProxies"}, {"@extra", "empty"}});
  EXPECT_EQ(answer_to(c, "empty")["proxies"], json::array());
}

TEST_P(TdJsonContractTest, CloseLeadsToClosed) {
  int c = started_client();
  send(c, {{"@type", "close"}, {"@extra", "close"}});
  auto got = receive_until(c, [](const json& d) {
    return d.value("@type", "") == "updateAuthorizationState" &&
           d["authorization_state"]["@type"] == "authorizationStateClosed";
  });
  EXPECT_EQ(states(got), (std::vector<std::string>{"authorizationStateClosing", "authorizationStateClosed"}));
  bool ok_seen = false;
  for (const auto& d : got) ok_seen = ok_seen || (d.value("@extra", json()) == "close" && d["@type"] == "ok");
  EXPECT_TRUE(ok_seen);
  send(c, {{"@type", "getOption"}, {"name", "version"}, {"@extra", "late"}});
  EXPECT_EQ(answer_to(c, "late"), (json{{"@type", "error"}, {"code", 500}, {"message", "Request aborted"},
                                        {"@extra", "late"}, {"@client_id", c}}));
}

TEST_P(TdJsonContractTest, LogOutLeavesNoAuthorizationData) {
  int c = started_client();
  send(c, {{"@type", "logOut"}, {"@extra", "bye"}});
  auto got = receive_until(c, [](const json& d) {
    return d.value("@type", "") == "updateAuthorizationState" &&
           d["authorization_state"]["@type"] == "authorizationStateClosed";
  });
  EXPECT_EQ(states(got), (std::vector<std::string>{"authorizationStateLoggingOut", "authorizationStateClosed"}));
  EXPECT_FALSE(fs::exists(dir_ / "td.binlog"));
}

TEST_P(TdJsonContractTest, ExecuteStaticFunctions) {
  auto exec = [&](const json& request) { return json::parse(lib_->execute(request.dump().c_str())); };
  EXPECT_EQ(exec({{"@type", "getOption"}, {"name", "version"}}), (json{{"@type", "optionValueString"}, {"value", "1.8.67"}}));
  EXPECT_EQ(exec({{"@type", "getOption"}, {"name", "version"}, {"@extra", 5}})["@extra"], 5);
  EXPECT_EQ(exec({{"@type", "getTextEntities"}, {"text", "hi @user https://x.com #tag /start $USD a@b.com t.me/abc"}}),
            json::parse(R"({"@type":"textEntities","entities":[
              {"@type":"textEntity","offset":3,"length":5,"type":{"@type":"textEntityTypeMention"}},
              {"@type":"textEntity","offset":9,"length":13,"type":{"@type":"textEntityTypeUrl"}},
              {"@type":"textEntity","offset":23,"length":4,"type":{"@type":"textEntityTypeHashtag"}},
              {"@type":"textEntity","offset":28,"length":6,"type":{"@type":"textEntityTypeBotCommand"}},
              {"@type":"textEntity","offset":35,"length":4,"type":{"@type":"textEntityTypeCashtag"}},
              {"@type":"textEntity","offset":40,"length":7,"type":{"@type":"textEntityTypeEmailAddress"}},
              {"@type":"textEntity","offset":48,"length":8,"type":{"@type":"textEntityTypeUrl"}}]})"));
  EXPECT_EQ(exec({{"@type", "setLogVerbosityLevel"}, {"new_verbosity_level", 1}}), (json{{"@type", "ok"}}));
  EXPECT_EQ(exec({{"@type", "getLogVerbosityLevel"}}), (json{{"@type", "logVerbosityLevel"}, {"verbosity_level", 1}}));
  exec({{"@type", "setLogVerbosityLevel"}, {"new_verbosity_level", 0}});
  EXPECT_EQ(exec({{"@type", "getMe"}}),
            (json{{"@type", "error"}, {"code", 400}, {"message", "The method can't be executed synchronously"}}));
  EXPECT_EQ(exec({{"@type", "nope"}})["message"], "Failed to parse JSON object as TDLib request: Unknown class \"nope\"");
  EXPECT_EQ(json::parse(lib_->execute("[1,2]")), (json{{"@type", "error"}, {"code", 400}, {"message", "Expected a JSON object"}}));
}

INSTANTIATE_TEST_SUITE_P(Libraries, TdJsonContractTest, ::testing::Values("tdjson", "tdsim"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) { return param_info.param; });

}  // namespace
}  // namespace tgpulse::tdsim
