#include "tdsim/simulator.h"

#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tdsim/control_server.h"
#include "tdsim/simulator_test_fixture.h"

namespace tgpulse::tdsim {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

using namespace test;


TEST_F(SimulatorTest, QrLinkIsATelegramLoginTokenLink) {
  make();
  auto [c, link] = qr_client();
  ASSERT_EQ(link.rfind("tg://login?token=", 0), 0u);
  const auto token = link.substr(17);
  EXPECT_GE(token.size(), 40u);
  EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), std::string::npos);
}

TEST_F(SimulatorTest, ScanAcceptLeadsToReadyAndPersists) {
  make();
  int c = ready_client();
  send(c, {{"@type", "getMe"}, {"@extra", "me"}});
  auto me = answer("me");
  EXPECT_EQ(me["@type"], "user");
  EXPECT_EQ(me["id"], 700000000 + c);
  // close keeps the database: a new client on the same directory is authorized at once.
  send(c, {{"@type", "close"}, {"@extra", "c"}});
  state("authorizationStateClosed");
  int again = sim_->create_client_id();
  send(again, params("p2"));
  state("authorizationStateReady");
}

// hold_restored_sessions: a client on an authorized database withholds Ready until POST /release, so
// a test can look at the service's restoring window without racing it.
TEST_F(SimulatorTest, HeldRestoreAnnouncesReadyOnlyWhenReleased) {
  make();
  int c = ready_client();
  send(c, {{"@type", "close"}, {"@extra", "c"}});
  state("authorizationStateClosed");
  ASSERT_TRUE(sim_->update_profile(json{{"hold_restored_sessions", true}}).ok());
  ControlServer control(*sim_);
  int again = sim_->create_client_id();
  send(again, params("p2"));
  EXPECT_EQ(answer("p2")["@type"], "ok");
  // Ready is not announced (updateConnectionState may still arrive).
  for (const char* line = sim_->receive(0.3); line != nullptr; line = sim_->receive(0.3)) {
    EXPECT_NE(json::parse(line).value("@type", ""), "updateAuthorizationState") << line;
  }
  for (const json& d : received_) {
    if (d.value("@client_id", 0) == again && d.value("@type", "") == "updateAuthorizationState") {
      EXPECT_NE(d["authorization_state"]["@type"], "authorizationStateReady");
    }
  }
  const json clients = control.handle("GET", "/state", "").body["clients"];
  EXPECT_EQ(clients.back()["ready_withheld"], true);
  auto released = control.handle("POST", "/release", "{}");
  ASSERT_EQ(released.status, 200);
  EXPECT_EQ(released.body["released"], 1);
  state("authorizationStateReady");
  EXPECT_EQ(control.handle("POST", "/release", "{}").body["released"], 0);
}

TEST_F(SimulatorTest, ADatabaseOpensOnlyWithItsEncryptionKey) {
  make();
  auto keyed = [this](const std::string& key, const std::string& extra) {
    json p = params(extra);
    p["database_encryption_key"] = key;
    return p;
  };
  int c = sim_->create_client_id();
  send(c, keyed("a2V5LW9uZQ==", "p1"));
  state("authorizationStateWaitPhoneNumber");
  send(c, {{"@type", "requestQrCodeAuthentication"}, {"@extra", "qr"}});
  auto link = state("authorizationStateWaitOtherDeviceConfirmation")["link"].get<std::string>();
  ASSERT_TRUE(sim_->scan(link, "accept", "").ok());
  state("authorizationStateReady");
  send(c, {{"@type", "close"}, {"@extra", "c"}});
  state("authorizationStateClosed");
  std::stringstream binlog;
  binlog << std::ifstream(dir_ / "td.binlog").rdbuf();
  EXPECT_EQ(binlog.str().find("a2V5LW9uZQ=="), std::string::npos) << "the key itself is in td.binlog";

  int wrong = sim_->create_client_id();
  send(wrong, keyed("a2V5LXR3bw==", "p2"));
  auto refused = answer("p2");
  EXPECT_EQ(refused["@type"], "error");
  EXPECT_EQ(refused["code"], 401);
  EXPECT_EQ(refused["message"], "Wrong database encryption key");
  int right = sim_->create_client_id();
  send(right, keyed("a2V5LW9uZQ==", "p3"));
  state("authorizationStateReady");
}

TEST_F(SimulatorTest, ScanWithPasswordNeedsTheRightPassword) {
  make();
  auto [c, link] = qr_client();
  ASSERT_TRUE(sim_->scan(link, "password", "s3cret").ok());
  auto s = state("authorizationStateWaitPassword");
  EXPECT_EQ(s["password_hint"], "sim hint");
  EXPECT_EQ(s["has_recovery_email_address"], false);
  send(c, {{"@type", "checkAuthenticationPassword"}, {"password", "wrong"}, {"@extra", "bad"}});
  EXPECT_EQ(answer("bad"), (json{{"@type", "error"}, {"code", 400}, {"message", "PASSWORD_HASH_INVALID"},
                                 {"@extra", "bad"}, {"@client_id", c}}));
  send(c, {{"@type", "checkAuthenticationPassword"}, {"password", "s3cret"}, {"@extra", "good"}});
  state("authorizationStateReady");
  EXPECT_EQ(answer("good")["@type"], "ok");
}

TEST_F(SimulatorTest, DeclineGoesBackToWaitPhoneNumber) {
  make();
  auto [c, link] = qr_client();
  ASSERT_TRUE(sim_->scan(link, "decline", "").ok());
  state("authorizationStateWaitPhoneNumber");
  EXPECT_EQ(sim_->scan(link, "accept", "").error().code, Errc::not_found);  // the link is gone
}

TEST_F(SimulatorTest, ExpiredTokenIsReplacedByAFreshLink) {
  auto p = fast_profile();
  p.qr_token_ttl_seconds = 0.2;
  make(p);
  auto [c, first] = qr_client();
  auto next = state("authorizationStateWaitOtherDeviceConfirmation", 3);
  ASSERT_TRUE(next.contains("link"));
  EXPECT_NE(next["link"], first);
  EXPECT_EQ(sim_->scan(first, "accept", "").error().code, Errc::not_found);
  EXPECT_TRUE(sim_->scan(next["link"], "accept", "").ok());
  state("authorizationStateReady");
}

TEST_F(SimulatorTest, PhoneScansOnItsOwnWhenTheProfileSaysSo) {
  auto p = fast_profile();
  p.qr.scan_probability = 1;
  p.qr.scan_delay = {10, 20};
  make(p);
  qr_client();
  state("authorizationStateReady");
}

TEST_F(SimulatorTest, AbsorbedFloodWaitDelaysTheAnswerAndLogsLikeTdlib) {
  make();
  int c = ready_client();
  ASSERT_TRUE(sim_->force_flood("getChats", 0, 1).ok());
  const auto started = std::chrono::steady_clock::now();
  send(c, {{"@type", "getChats"}, {"limit", 5}, {"@extra", "chats"}});
  auto chats = answer("chats");
  EXPECT_GE(std::chrono::steady_clock::now() - started, 950ms);
  EXPECT_EQ(chats["@type"], "chats");
  auto lines = logs();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\tDelay: [Query:"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("[timeout:1][total_timeout:1] because of [Error : 420 : FLOOD_WAIT_1]"), std::string::npos);
}

TEST_F(SimulatorTest, AForcedErrorFloodWaitIsA429EvenWhenShortAndLogOutCanBeFlooded) {
  make();
  int c = ready_client();
  ASSERT_TRUE(sim_->force_flood("logOut", c, 2, true).ok());
  send(c, {{"@type", "logOut"}, {"@extra", "out"}});
  EXPECT_EQ(answer("out"), (json{{"@type", "error"}, {"code", 429}, {"message", "Too Many Requests: retry after 2"},
                                 {"@extra", "out"}, {"@client_id", c}}));
  auto lines = logs();
  ASSERT_EQ(lines.size(), 1u);
  // A query whose earlier waits filled TDLib's 60 s: the total is past the limit.
  EXPECT_NE(lines[0].find("\tFailed: "), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("[timeout:2][total_timeout:62]"), std::string::npos) << lines[0];
  // The client is still authorized; the next logOut goes through.
  send(c, {{"@type", "logOut"}, {"@extra", "out2"}});
  EXPECT_EQ(answer("out2")["@type"], "ok");
}

TEST_F(SimulatorTest, FloodWaitBeyondSixtySecondsIsA429) {
  make();
  int c = ready_client();
  ASSERT_TRUE(sim_->force_flood("sendMessage", c, 61).ok());
  send(c, {{"@type", "sendMessage"}, {"chat_id", 800000000}, {"@extra", "m"}});
  EXPECT_EQ(answer("m"), (json{{"@type", "error"}, {"code", 429}, {"message", "Too Many Requests: retry after 61"},
                               {"@extra", "m"}, {"@client_id", c}}));
  auto lines = logs();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\tFailed: "), std::string::npos);
  // Only the next call was forced.
  send(c, {{"@type", "sendMessage"}, {"chat_id", 800000000}, {"input_message_content", {{"@type", "inputMessageText"}}},
           {"@extra", "m2"}});
  EXPECT_EQ(answer("m2")["@type"], "message");
}

TEST_F(SimulatorTest, RateLimitsFollowTheProfileBuckets) {
  auto p = fast_profile();
  p.flood["searchPublicChat"] = FloodLimit{0.01, 2};  // 2 calls, then 100 s until the next token
  make(p);
  int c = ready_client();
  for (const char* extra : {"a", "b", "c"}) {
    send(c, {{"@type", "searchPublicChat"}, {"username", "tdsim_channel_4"}, {"@extra", extra}});
  }
  EXPECT_EQ(answer("a")["@type"], "chat");
  EXPECT_EQ(answer("b")["@type"], "chat");
  EXPECT_EQ(answer("c")["message"], "Too Many Requests: retry after 100");
}

TEST_F(SimulatorTest, RevokeLosesTheAuthorization) {
  make();
  int c = ready_client();
  ASSERT_TRUE(fs::exists(dir_ / "td.binlog"));
  auto r = sim_->revoke("", c);
  ASSERT_TRUE(r.ok());
  state("authorizationStateLoggingOut");
  state("authorizationStateClosed");
  EXPECT_FALSE(fs::exists(dir_ / "td.binlog"));
  EXPECT_EQ(sim_->revoke("", c).error().code, Errc::conflict);
  EXPECT_EQ(sim_->revoke("tg://login?token=unknown", 0).error().code, Errc::not_found);
}

TEST_F(SimulatorTest, OrdinaryFunctionsNeedAuthorization) {
  make();
  int c = sim_->create_client_id();
  send(c, params());
  send(c, {{"@type", "getMe"}, {"@extra", "me"}});
  EXPECT_EQ(answer("me")["code"], 401);
}

// TDLib reads the arguments before it looks at the state: a wrong type is a 400 even unauthorized.
TEST_F(SimulatorTest, WrongTypedArgumentsAre400BeforeTheAuthorizationCheck) {
  make();
  int c = sim_->create_client_id();
  send(c, params());
  send(c, {{"@type", "getChat"}, {"chat_id", true}, {"@extra", "b"}});
  EXPECT_EQ(answer("b"), (json{{"@type", "error"}, {"code", 400},
                              {"message", "Failed to parse JSON object as TDLib request: Expected String or Number, "
                                          "but receive Boolean"},
                              {"@extra", "b"}, {"@client_id", c}}));
  send(c, {{"@type", "getChats"}, {"limit", 3000000000LL}, {"@extra", "l"}});
  EXPECT_EQ(answer("l")["message"],
            "Failed to parse JSON object as TDLib request: Can't parse as an integer string \"3000000000\"");
  send(c, {{"@type", "getChat"}, {"chat_id", "12"}, {"@extra", "s"}});  // a well-formed string: accepted
  EXPECT_EQ(answer("s")["code"], 401);
}

// An integer given as a string is TDLib's own spelling for int53/int64: the simulator reads it as a number.
TEST_F(SimulatorTest, IntegerArgumentsGivenAsStringsAreRead) {
  make();
  int c = ready_client();
  send(c, {{"@type", "getChats"}, {"limit", "2"}, {"@extra", "1"}});
  auto chats = answer("1");
  ASSERT_EQ(chats["chat_ids"].size(), 2u);
  send(c, {{"@type", "getChat"}, {"chat_id", std::to_string(chats["chat_ids"][0].get<std::int64_t>())},
           {"@extra", "2"}});
  EXPECT_EQ(answer("2")["@type"], "chat");
}

TEST_F(SimulatorTest, OrdinaryFunctionsAnswerPlausibly) {
  make();
  int c = ready_client();
  send(c, {{"@type", "getChats"}, {"limit", 3}, {"@extra", "1"}});
  auto chats = answer("1");
  ASSERT_EQ(chats["chat_ids"].size(), 3u);
  send(c, {{"@type", "getChat"}, {"chat_id", chats["chat_ids"][0]}, {"@extra", "2"}});
  EXPECT_EQ(answer("2")["@type"], "chat");
  send(c, {{"@type", "getChat"}, {"chat_id", 1}, {"@extra", "3"}});
  EXPECT_EQ(answer("3")["message"], "Chat not found");
  send(c, {{"@type", "getChatHistory"}, {"chat_id", chats["chat_ids"][0]}, {"limit", 10}, {"@extra", "4"}});
  EXPECT_EQ(answer("4")["messages"].size(), 10u);
  send(c, {{"@type", "searchPublicChat"}, {"username", "nobody_here"}, {"@extra", "5"}});
  EXPECT_EQ(answer("5")["message"], "USERNAME_NOT_OCCUPIED");
  send(c, {{"@type", "getContacts"}, {"@extra", "6"}});
  EXPECT_EQ(answer("6")["code"], 400);
}

TEST_F(SimulatorTest, FaultRateTurnsAnswersIntoServerErrors) {
  auto p = fast_profile();
  p.faults.error_rate = 1;
  make(p);
  int c = ready_client();
  send(c, {{"@type", "getMe"}, {"@extra", "me"}});
  EXPECT_EQ(answer("me")["message"], "INTERNAL_SERVER_ERROR");
}

TEST_F(SimulatorTest, SameSeedSameLinks) {
  make();
  auto first = qr_client().second;
  make();
  EXPECT_EQ(qr_client().second, first);
}

TEST(ProfileTest, DefaultProfileFileMatchesTheBuiltInDefaults) {
  auto p = Profile::load_file(TGPULSE_TDSIM_PROFILES "/default.yaml");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p.value().to_json(), Profile::defaults().to_json());
}

TEST(ProfileTest, EveryShippedProfileLoads) {
  for (const auto& entry : fs::directory_iterator(TGPULSE_TDSIM_PROFILES)) {
    auto p = Profile::load_file(entry.path().string());
    EXPECT_TRUE(p.ok()) << entry.path() << ": " << (p.ok() ? "" : p.error().message);
  }
}

// Found by fuzz/tdsim_profile_fuzzer: a seed or chat count beyond its type was converted anyway
// (undefined behaviour), and NaN/infinite durations were accepted.
TEST(ProfileTest, NumbersOutOfRangeAreRefused) {
  for (const json& bad : {json{{"seed", 1e30}}, json{{"seed", -1}}, json{{"seed", 1.5}}, json{{"chats", 1e10}},
                          json{{"qr_token_ttl_seconds", std::numeric_limits<double>::quiet_NaN()}},
                          json{{"flood_wait_limit_seconds", std::numeric_limits<double>::infinity()}},
                          json{{"latency_ms", {{"min", 0}, {"max", 1e300}}}}}) {
    EXPECT_FALSE(Profile::apply(Profile::defaults(), bad).ok()) << bad.dump();
  }
  auto max_seed = Profile::apply(Profile::defaults(), json{{"seed", 18446744073709551615ULL}});
  ASSERT_TRUE(max_seed.ok());
  EXPECT_EQ(max_seed->seed, 18446744073709551615ULL);
  auto from_yaml_float = Profile::apply(Profile::defaults(), json{{"seed", 7.0}});
  ASSERT_TRUE(from_yaml_float.ok());
  EXPECT_EQ(from_yaml_float->seed, 7u);
}

TEST(ProfileTest, BadKeysAndValuesAreNamed) {
  auto unknown = Profile::apply(Profile::defaults(), json{{"latency", 1}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("latency"), std::string::npos);
  auto bad = Profile::apply(Profile::defaults(), json{{"qr", {{"scan_probability", 2}}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("qr.scan_probability"), std::string::npos);
  auto range = Profile::apply(Profile::defaults(), json{{"latency_ms", {{"min", 5}, {"max", 1}}}});
  EXPECT_FALSE(range.ok());
  auto json_file = fs::temp_directory_path() / "tgpulse-tdsim-profile.json";
  std::ofstream(json_file) << R"({"seed": 7, "flood": {"methods": {"getMe": {"rate_per_second": 2, "burst": 3}}}})";
  auto loaded = Profile::load_file(json_file.string());
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded.value().seed, 7u);
  EXPECT_EQ(loaded.value().flood_for("getMe").burst, 3);
  fs::remove(json_file);
}

class ControlRoutesTest : public SimulatorTest {};

TEST_F(ControlRoutesTest, EachRouteAnswersJson) {
  make();
  ControlServer control(*sim_);
  auto [c, link] = qr_client();
  auto st = control.handle("GET", "/state", "");
  ASSERT_EQ(st.status, 200);
  ASSERT_EQ(st.body["clients"].size(), 1u);
  EXPECT_EQ(st.body["clients"][0]["link"], link);
  EXPECT_EQ(st.body["clients"][0]["state"], "authorizationStateWaitOtherDeviceConfirmation");
  EXPECT_EQ(control.handle("GET", "/health", "").status, 200);

  EXPECT_EQ(control.handle("POST", "/scan", json{{"link", "tg://login?token=nope"}}.dump()).status, 404);
  EXPECT_EQ(control.handle("POST", "/scan", json{{"link", link}, {"outcome", "maybe"}}.dump()).status, 400);
  auto scanned = control.handle("POST", "/scan", json{{"link", link}, {"outcome", "password"}, {"password", "pw"}}.dump());
  EXPECT_EQ(scanned.status, 200);
  EXPECT_EQ(scanned.body["state"], "authorizationStateWaitPassword");

  EXPECT_EQ(control.handle("POST", "/flood", json{{"method", "getMe"}, {"seconds", 3}}.dump()).status, 200);
  EXPECT_EQ(control.handle("POST", "/flood", json{{"method", "getMe"}}.dump()).status, 400);
  EXPECT_EQ(control.handle("POST", "/flood", json{{"method", "noSuch"}, {"seconds", 3}}.dump()).status, 400);
  EXPECT_EQ(control.handle("GET", "/state", "").body["forced_floods"], 1);

  auto prof = control.handle("POST", "/profile", json{{"qr_token_ttl_seconds", 5}}.dump());
  EXPECT_EQ(prof.status, 200);
  EXPECT_EQ(prof.body["qr_token_ttl_seconds"], 5);
  EXPECT_EQ(control.handle("POST", "/profile", json{{"bogus", 1}}.dump()).status, 400);

  EXPECT_EQ(control.handle("POST", "/revoke", json{{"client_id", c}}.dump()).status, 200);
  EXPECT_EQ(control.handle("POST", "/revoke", json{{"client_id", c}}.dump()).status, 409);
  EXPECT_EQ(control.handle("POST", "/revoke", json::object().dump()).status, 400);

  EXPECT_EQ(control.handle("GET", "/nowhere", "").status, 404);
  EXPECT_EQ(control.handle("GET", "/scan", "").status, 405);
  EXPECT_EQ(control.handle("POST", "/scan", "not json").status, 400);
}

// --- Incoming traffic ------------------------------------------------------------------------------

bool is_type(const json& d, const char* type) { return d.value("@type", "") == type; }

// The updateNewMessage shape of td_api.tl: updateNewMessage message:message; message has id, sender_id,
// chat_id, date, content (messageText text:formattedText).
void expect_new_message_shape(const json& u) {
  ASSERT_TRUE(is_type(u, "updateNewMessage")) << u;
  const json& m = u["message"];
  EXPECT_EQ(m["@type"], "message");
  EXPECT_TRUE(m["id"].is_number_integer());
  EXPECT_TRUE(m["chat_id"].is_number_integer());
  EXPECT_TRUE(m["date"].is_number_integer());
  EXPECT_EQ(m["is_outgoing"], false);
  EXPECT_TRUE(m["sender_id"]["@type"] == "messageSenderUser" || m["sender_id"]["@type"] == "messageSenderChat");
  EXPECT_EQ(m["content"]["@type"], "messageText");
  EXPECT_EQ(m["content"]["text"]["@type"], "formattedText");
  EXPECT_TRUE(m["content"]["text"]["text"].is_string());
}

std::string message_text(const json& u) { return u["message"]["content"]["text"]["text"].get<std::string>(); }

class IncomingTest : public SimulatorTest {
 protected:
  // Receives `n` updateNewMessage of client `c` (bounded), in arrival order.
  std::vector<json> new_messages(int c, std::size_t n) {
    std::vector<json> got;
    if (n == 0) return got;
    until([&](const json& d) {
      if (d.value("@client_id", 0) == c && is_type(d, "updateNewMessage")) got.push_back(d);
      return got.size() >= n;
    });
    return got;
  }
  // Everything queued now (the simulator delivers due objects at once): drains with a short poll.
  std::vector<json> drain() {
    std::vector<json> got;
    for (const char* line = sim_->receive(0.2); line != nullptr; line = sim_->receive(0.2)) got.push_back(json::parse(line));
    return got;
  }
  int client_on(const fs::path& dir) {
    int c = sim_->create_client_id();
    send(c, {{"@type", "setTdlibParameters"}, {"database_directory", dir.string()}, {"api_id", 1},
             {"api_hash", "abc"}, {"@extra", "p"}});
    return c;
  }
};

TEST_F(IncomingTest, TheRouteDeliversNewMessagesToOneClientOrToEveryAuthorizedClient) {
  make();
  ControlServer control(*sim_);
  int a = ready_client();
  const auto dir_a = dir_;
  dir_ = dir_.string() + "-b";
  int b = ready_client();
  auto r = control.handle("POST", "/incoming", json{{"client_id", a}, {"count", 3}, {"text", "ping"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, (json{{"messages", 3}, {"delivered", 1}, {"kept", 0}}));
  auto got = new_messages(a, 3);
  ASSERT_EQ(got.size(), 3u);
  std::set<std::int64_t> ids;
  for (std::size_t i = 0; i < got.size(); ++i) {
    expect_new_message_shape(got[i]);
    EXPECT_EQ(message_text(got[i]), "ping #" + std::to_string(i + 1));
    ids.insert(got[i]["message"]["id"].get<std::int64_t>());
    // Only chats of the account: getChat knows each.
    send(a, {{"@type", "getChat"}, {"chat_id", got[i]["message"]["chat_id"]}, {"@extra", "chat" + std::to_string(i)}});
    EXPECT_EQ(answer("chat" + std::to_string(i))["@type"], "chat");
  }
  EXPECT_EQ(ids.size(), 3u) << "message ids are unique";
  for (const json& d : drain()) EXPECT_FALSE(is_type(d, "updateNewMessage") && d["@client_id"] == b) << d;

  r = control.handle("POST", "/incoming", json{{"count", 2}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["delivered"], 2);
  EXPECT_EQ(new_messages(a, 2).size(), 2u);
  EXPECT_EQ(new_messages(b, 2).size(), 2u);
  EXPECT_EQ(message_text(received_.back()).rfind("tdsim incoming #", 0), 0u);
  std::error_code ec;
  fs::remove_all(dir_, ec);
  dir_ = dir_a;
}

TEST_F(IncomingTest, BadInputIsRefusedNamingWhatIsWrong) {
  make();
  ControlServer control(*sim_);
  auto [waiting, link] = qr_client();
  auto post = [&](const json& body) { return control.handle("POST", "/incoming", body.dump()); };
  for (const json& body : {json{{"count", 0}}, json{{"count", 1001}}, json{{"count", "3"}}, json::object(),
                           json{{"count", 1.5}}}) {
    auto r = post(body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_NE(r.body["error"].get<std::string>().find("count"), std::string::npos) << r.body;
  }
  for (const json& id : {json(-1), json("1"), json(0), json(1LL << 40)}) {
    auto r = post({{"count", 1}, {"client_id", id}});
    EXPECT_EQ(r.status, 400) << id;
    EXPECT_NE(r.body["error"].get<std::string>().find("client_id"), std::string::npos) << r.body;
  }
  EXPECT_EQ(post({{"count", 1}, {"text", 5}}).status, 400);
  auto long_text = post({{"count", 1}, {"text", std::string(4097, 'x')}});
  EXPECT_EQ(long_text.status, 400);
  EXPECT_NE(long_text.body["error"].get<std::string>().find("4096"), std::string::npos);
  EXPECT_EQ(post({{"count", 1}, {"client_id", 999}}).status, 404);
  auto unauthorized = post({{"count", 1}, {"client_id", waiting}});
  EXPECT_EQ(unauthorized.status, 409);
  EXPECT_NE(unauthorized.body["error"].get<std::string>().find("not authorized"), std::string::npos);
  EXPECT_EQ(control.handle("GET", "/incoming", "").status, 405);
  // Nobody authorized: nothing delivered, not an error.
  EXPECT_EQ(post({{"count", 1}}).body["delivered"], 0);
}

// Like Telegram: what arrives while the client is not running reaches it when it starts again (TDLib
// fetches the difference), bounded by incoming.max_pending (the oldest go), after Ready.
TEST_F(IncomingTest, MessagesForAClientThatIsNotRunningArriveAfterItStartsAgain) {
  make();
  ASSERT_TRUE(sim_->update_profile(json{{"incoming", {{"max_pending", 3}}}}).ok());
  ControlServer control(*sim_);
  int c = ready_client();
  ASSERT_EQ(control.handle("POST", "/incoming", json{{"client_id", c}, {"count", 1}, {"text", "live"}}.dump()).status, 200);
  const auto live_id = new_messages(c, 1).at(0)["message"]["id"].get<std::int64_t>();
  send(c, {{"@type", "close"}, {"@extra", "c"}});
  state("authorizationStateClosed");

  auto r = control.handle("POST", "/incoming", json{{"client_id", c}, {"count", 5}, {"text", "offline"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, (json{{"messages", 5}, {"delivered", 0}, {"kept", 1}}));
  // Kept in the account's database, not delivered to the closed client.
  for (const json& d : drain()) EXPECT_FALSE(is_type(d, "updateNewMessage")) << d;

  int again = client_on(dir_);
  bool ready_seen = false;
  std::vector<json> got;
  until([&](const json& d) {
    if (d.value("@client_id", 0) != again) return false;
    if (is_type(d, "updateAuthorizationState")) ready_seen = d["authorization_state"]["@type"] == "authorizationStateReady";
    if (is_type(d, "updateNewMessage")) {
      EXPECT_TRUE(ready_seen) << "a message before Ready";
      got.push_back(d);
    }
    return got.size() >= 3;
  });
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(message_text(got[0]), "offline #3");  // the newest 3 of 5 were kept
  EXPECT_EQ(message_text(got[2]), "offline #5");
  EXPECT_GT(got[0]["message"]["id"].get<std::int64_t>(), live_id) << "ids continue, never repeat";
  // The old client's account is open in the new one: messages go there, not into the database again.
  auto elsewhere = control.handle("POST", "/incoming", json{{"client_id", c}, {"count", 1}}.dump());
  EXPECT_EQ(elsewhere.status, 409);
  EXPECT_NE(elsewhere.body["error"].get<std::string>().find("open in another client"), std::string::npos) << elsewhere.body;
  // Delivered once: the next client on the database gets nothing again.
  send(again, {{"@type", "close"}, {"@extra", "c2"}});
  until([&](const json& d) { return d.value("@client_id", 0) == again && is_type(d, "updateAuthorizationState") &&
                                    d["authorization_state"]["@type"] == "authorizationStateClosed"; });
  int third = client_on(dir_);
  for (const json& d : drain()) EXPECT_FALSE(is_type(d, "updateNewMessage") && d["@client_id"] == third) << d;
}

TEST_F(IncomingTest, AWithheldRestoreGetsItsDifferenceAfterTheRelease) {
  make();
  ControlServer control(*sim_);
  int c = ready_client();
  send(c, {{"@type", "close"}, {"@extra", "c"}});
  state("authorizationStateClosed");
  ASSERT_EQ(control.handle("POST", "/incoming", json{{"client_id", c}, {"count", 2}}.dump()).status, 200);
  ASSERT_TRUE(sim_->update_profile(json{{"hold_restored_sessions", true}}).ok());
  int again = client_on(dir_);
  EXPECT_EQ(answer("p")["@type"], "ok");
  // Delivered while withheld: kept with Ready too.
  ASSERT_EQ(control.handle("POST", "/incoming", json{{"client_id", again}, {"count", 1}, {"text", "held"}}.dump()).status, 200);
  for (const json& d : drain()) EXPECT_FALSE(is_type(d, "updateNewMessage")) << d;
  ASSERT_EQ(control.handle("POST", "/release", "{}").body["released"], 1);
  state("authorizationStateReady");
  auto got = new_messages(again, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(message_text(got[2]), "held #1");
}

// The profile's rate: new messages, edits (updateMessageContent + updateMessageEdited), deletions and
// reads, with td_api.tl's fields, touching only messages that arrived before.
TEST_F(IncomingTest, TheRateProducesMessagesEditsDeletionsAndReadsInTdlibShapes) {
  auto p = fast_profile();
  p.incoming.rate_per_second = 400;
  p.incoming.edit_probability = 0.2;
  p.incoming.delete_probability = 0.2;
  p.incoming.read_probability = 0.2;
  make(p);
  int c = ready_client();
  std::set<std::int64_t> arrived;
  std::map<std::string, int> seen;
  until([&](const json& d) {
    if (d.value("@client_id", 0) != c) return false;
    const std::string type = d.value("@type", "");
    if (type == "updateNewMessage") {
      expect_new_message_shape(d);
      arrived.insert(d["message"]["id"].get<std::int64_t>());
    } else if (type == "updateMessageContent") {
      EXPECT_TRUE(arrived.count(d["message_id"].get<std::int64_t>())) << d;
      EXPECT_TRUE(d["chat_id"].is_number_integer());
      EXPECT_EQ(d["new_content"]["@type"], "messageText");
    } else if (type == "updateMessageEdited") {
      EXPECT_TRUE(arrived.count(d["message_id"].get<std::int64_t>())) << d;
      EXPECT_TRUE(d["edit_date"].is_number_integer());
      EXPECT_TRUE(d.contains("reply_markup"));
    } else if (type == "updateDeleteMessages") {
      EXPECT_TRUE(d["message_ids"].is_array());
      for (const auto& id : d["message_ids"]) EXPECT_TRUE(arrived.count(id.get<std::int64_t>())) << d;
      EXPECT_EQ(d["is_permanent"], true);
      EXPECT_EQ(d["from_cache"], false);
    } else if (type == "updateChatReadInbox") {
      EXPECT_TRUE(arrived.count(d["last_read_inbox_message_id"].get<std::int64_t>())) << d;
      EXPECT_EQ(d["unread_count"], 0);
    } else {
      return false;
    }
    seen[type]++;
    return seen.size() == 5 && seen["updateNewMessage"] >= 20;
  });
  EXPECT_EQ(seen["updateMessageContent"], seen["updateMessageEdited"]);
  // Turned off: the traffic stops (the tick ends; nothing more after what was queued).
  ASSERT_TRUE(sim_->update_profile(json{{"incoming", {{"rate_per_second", 0}}}}).ok());
  drain();
  EXPECT_EQ(sim_->receive(0.3), nullptr);
}

// The same seed gives the same traffic: kinds, chats, message ids and texts (dates aside).
TEST_F(IncomingTest, SameSeedSameTraffic) {
  auto run = [&](std::uint64_t seed) {
    std::error_code ec;
    fs::remove_all(dir_, ec);  // a new account each run
    auto p = fast_profile();
    p.seed = seed;
    p.incoming.rate_per_second = 500;
    make(p);
    int c = ready_client();
    std::vector<json> updates;
    until([&](const json& d) {
      if (d.value("@client_id", 0) != c || d.value("@type", "").rfind("updateAuth", 0) == 0 ||
          is_type(d, "updateConnectionState") || is_type(d, "updateOption")) {
        return false;
      }
      json u = d;
      if (u.contains("message")) u["message"].erase("date");
      u.erase("edit_date");
      updates.push_back(u);
      return updates.size() >= 40;
    });
    sim_.reset();
    return updates;
  };
  const auto first = run(11);
  EXPECT_EQ(first, run(11));
  EXPECT_NE(first, run(12));
}

// TDLib fetches the difference on start: a client restored after downtime gets rate x downtime events
// (the downtime counted up to max_catch_up_seconds) before the traffic goes on.
TEST_F(IncomingTest, ARestoredClientCatchesUpOnItsDowntime) {
  auto p = fast_profile();
  p.incoming.rate_per_second = 2;
  p.incoming.edit_probability = p.incoming.delete_probability = p.incoming.read_probability = 0;
  p.incoming.max_catch_up_seconds = 5;
  make(p);
  int c = ready_client();
  send(c, {{"@type", "close"}, {"@extra", "c"}});
  state("authorizationStateClosed");
  // The account went offline an hour ago.
  const auto binlog = dir_ / "td.binlog";
  std::ifstream in(binlog);
  json db = json::parse(in);
  db["incoming"]["last_seen"] = db["incoming"]["last_seen"].get<std::int64_t>() - 3600;
  std::ofstream(binlog, std::ios::trunc) << db.dump();
  int again = client_on(dir_);
  auto got = new_messages(again, 10);  // 2/s x 5 s, delivered with Ready
  ASSERT_EQ(got.size(), 10u);
  for (std::size_t i = 1; i < got.size(); ++i) {
    EXPECT_GT(got[i]["message"]["id"].get<std::int64_t>(), got[i - 1]["message"]["id"].get<std::int64_t>());
  }
}

TEST(ProfileTest, IncomingSettingsAreBoundedAndNamed) {
  auto bad = [](const json& incoming) {
    auto r = Profile::apply(Profile::defaults(), json{{"incoming", incoming}});
    EXPECT_FALSE(r.ok()) << incoming;
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_NE(bad({{"rate_per_second", -1}}).find("incoming.rate_per_second"), std::string::npos);
  EXPECT_NE(bad({{"rate_per_second", 1e6}}).find("incoming.rate_per_second"), std::string::npos);
  EXPECT_NE(bad({{"chats", 0}}).find("incoming.chats"), std::string::npos);
  EXPECT_NE(bad({{"edit_probability", 2}}).find("incoming.edit_probability"), std::string::npos);
  EXPECT_NE(bad({{"edit_probability", 0.5}, {"delete_probability", 0.4}, {"read_probability", 0.2}}).find("at most 1"),
            std::string::npos);
  EXPECT_NE(bad({{"max_pending", 1e7}}).find("incoming.max_pending"), std::string::npos);
  EXPECT_NE(bad(json(3)).find("incoming must be an object"), std::string::npos);
  auto ok = Profile::apply(Profile::defaults(), json{{"incoming", {{"rate_per_second", 5}, {"chats", 2}}}});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().incoming.rate_per_second, 5);
  EXPECT_EQ(ok.value().to_json()["incoming"]["chats"], 2);
}

}  // namespace
}  // namespace tgpulse::tdsim
