#include "td/engine.h"

#include <chrono>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "td/engine_test_support.h"
#include "td/fake_td_library.h"

namespace tgpulse::td {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Default: answer every request with {"@type":"ok"}, echoing @extra like TDLib.
    lib.set_responder([this](int client_id, const json& request) {
      if (request.value("@type", "") == "hang") return;
      lib.push_object(client_id, {{"@type", "ok"}}, request.value("@extra", json()));
    });
    ASSERT_TRUE(engine.start().ok());
  }
  std::shared_ptr<TdClient> client(TdClient::UpdateHandler handler = {}) {
    auto c = engine.create_client(std::move(handler));
    EXPECT_TRUE(c.ok());
    return c.value();
  }
  Result<json> send(const std::shared_ptr<TdClient>& c, json request, std::chrono::milliseconds timeout = 2s) {
    return bed.run([c, request, timeout] { return c->send(request, timeout); });
  }
  template <typename Pred>
  static bool eventually(Pred pred, std::chrono::milliseconds limit = 2s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(5ms);
    }
    return pred();
  }

  FakeTdLibrary lib;
  EngineTestBed bed;
  Engine engine{bed.io, lib, bed.registry, bed.telethon, bed.logger, EngineOptions{.receive_timeout_seconds = 0.05}};
};

TEST_F(EngineTest, StartConfiguresTdlibLogAndRegistersCallback) {
  auto executed = lib.executed();
  ASSERT_GE(executed.size(), 2u);
  EXPECT_EQ(json::parse(executed[0]), (json{{"@type", "setLogVerbosityLevel"}, {"new_verbosity_level", 2}}));
  EXPECT_EQ(json::parse(executed[1])["log_stream"]["@type"], "logStreamEmpty");
  EXPECT_TRUE(lib.has_log_callback());
  EXPECT_EQ(lib.log_max_verbosity(), 2);
  EXPECT_EQ(engine.start().error().code, Errc::conflict);
}

TEST_F(EngineTest, HeartbeatAdvancesWhileTheReceiveLoopTurnsAndStopsWithIt) {
  // Readiness ("engine") reads this: each iteration of the loop, at least every receive_timeout.
  ASSERT_TRUE(eventually([&] { return engine.last_heartbeat().time_since_epoch().count() != 0; }));
  const auto first = engine.last_heartbeat();
  EXPECT_LE(std::chrono::steady_clock::now() - first, 1s);
  EXPECT_TRUE(eventually([&] { return engine.last_heartbeat() > first; }));
  engine.stop();
  EXPECT_FALSE(engine.running());
  const auto last = engine.last_heartbeat();
  std::this_thread::sleep_for(150ms);  // three receive timeouts
  EXPECT_EQ(engine.last_heartbeat(), last);
}

TEST_F(EngineTest, SendCompletesWithTheAnswerAndRestoresCallerExtra) {
  auto c = client();
  auto r = send(c, {{"@type", "getMe"}, {"@extra", {{"mine", 1}}}});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r.value()["@type"], "ok");
  EXPECT_EQ(r.value()["@extra"], (json{{"mine", 1}}));
  EXPECT_FALSE(r.value().contains("@client_id"));
  auto sent = lib.sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].first, c->id());
  EXPECT_TRUE(sent[0].second["@extra"].is_number_unsigned());  // the engine's own request id
  EXPECT_NE(bed.metrics().find("telethon_requests_total{method=\"getMe\",status=\"success\"} 1"), std::string::npos);
  EXPECT_NE(bed.metrics().find("tgpulse_td_request_duration_seconds_count{method=\"getMe\"} 1"), std::string::npos);
}

// An answer deeper than the bounds (a hostile message content, say) never reaches a copy or dump():
// the request that asked for it fails at once with an error naming the limit, and the engine goes on.
TEST_F(EngineTest, AnswerOverTheJsonBoundsFailsThatRequestClearly) {
  lib.set_responder([this](int id, const json& request) {
    if (request.value("@type", "") == "getChatHistory") {
      const std::string deep = std::string(100000, '[') + std::string(100000, ']');
      lib.push(R"({"@type":"messages","messages":)" + deep + R"(,"@extra":)" + request["@extra"].dump() +
               R"(,"@client_id":)" + std::to_string(id) + "}");
      return;
    }
    lib.push_object(id, {{"@type", "ok"}}, request.value("@extra", json()));
  });
  auto c = client();
  const auto started = std::chrono::steady_clock::now();
  auto r = send(c, {{"@type", "getChatHistory"}}, 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s) << "waited for the timeout instead";
  EXPECT_EQ(r.error().code, Errc::engine_error);
  EXPECT_NE(r.error().message.find("nests deeper than the limit of 100 levels"), std::string::npos)
      << r.error().message;
  auto next = send(c, {{"@type", "getMe"}});
  EXPECT_TRUE(next.ok());
}

TEST_F(EngineTest, TooManyRequestsBecomesFloodWait) {
  lib.set_responder([this](int id, const json& request) {
    lib.push_object(id, {{"@type", "error"}, {"code", 429}, {"message", "Too Many Requests: retry after 75"}},
                    request["@extra"]);
  });
  auto r = send(client(), {{"@type", "sendMessage"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::flood_wait);
  EXPECT_EQ(r.error().retry_after_s, 75);
  EXPECT_EQ(r.error().td_code, 429);
  EXPECT_NE(bed.metrics().find("telethon_requests_total{method=\"sendMessage\",status=\"flood_wait\"} 1"),
            std::string::npos);
}

TEST_F(EngineTest, OtherTdlibErrorsKeepCodeAndMessage) {
  lib.set_responder([this](int id, const json& request) {
    lib.push_object(id, {{"@type", "error"}, {"code", 400}, {"message", "PASSWORD_HASH_INVALID"}}, request["@extra"]);
  });
  auto r = send(client(), {{"@type", "checkAuthenticationPassword"}, {"password", "x"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::engine_error);
  EXPECT_EQ(r.error().td_code, 400);
  EXPECT_EQ(r.error().message, "PASSWORD_HASH_INVALID");
  EXPECT_NE(bed.metrics().find("telethon_requests_total{method=\"checkAuthenticationPassword\",status=\"failed\"} 1"),
            std::string::npos);
}

TEST_F(EngineTest, TimeoutCompletesOnceAndLateAnswerIsCounted) {
  auto c = client();
  auto r = send(c, {{"@type", "hang"}}, 50ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::timeout);
  EXPECT_EQ(c->pending_count(), 0u);
  // TDLib answers after all: nobody waits, it is counted and logged, nothing crashes.
  lib.push_object(c->id(), {{"@type", "ok"}}, lib.sent().back().second["@extra"]);
  EXPECT_TRUE(eventually([&] { return engine.stats().unknown_extra == 1; }));
  EXPECT_NE(bed.metrics().find("tgpulse_td_receive_errors_total{reason=\"unknown_extra\"} 1"), std::string::npos);
  EXPECT_NE(bed.metrics().find("telethon_requests_total{method=\"other\",status=\"failed\"} 1"), std::string::npos);
}

TEST_F(EngineTest, CancelPendingFailsEveryWaiter) {
  auto c = client();
  auto f1 = std::async(std::launch::async, [&] { return send(c, {{"@type", "hang"}}, 5s); });
  auto f2 = std::async(std::launch::async, [&] { return send(c, {{"@type", "hang"}}, 5s); });
  ASSERT_TRUE(eventually([&] { return c->pending_count() == 2; }));
  c->cancel_pending(Error(Errc::cancelled, "test"));
  for (auto* f : {&f1, &f2}) {
    auto r = f->get();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::cancelled);
  }
}

TEST_F(EngineTest, UpdatesReachTheHandlerOnTheClientStrandAndStateIsTracked) {
  std::promise<bool> on_strand;
  std::shared_ptr<TdClient> c;
  std::atomic<int> seen{0};
  c = client([&](const json& update) {
    if (seen++ == 0) on_strand.set_value(c->strand().running_in_this_thread() && update["@type"] == "updateAuthorizationState");
  });
  lib.push_object(c->id(), {{"@type", "updateAuthorizationState"},
                            {"authorization_state", {{"@type", "authorizationStateWaitPhoneNumber"}}}});
  EXPECT_TRUE(on_strand.get_future().get());
  EXPECT_EQ(c->authorization_state(), AuthorizationState::wait_phone_number);
  EXPECT_EQ(c->authorization_state_object()["@type"], "authorizationStateWaitPhoneNumber");
  EXPECT_NE(bed.metrics().find("tgpulse_td_clients{state=\"wait_phone_number\"} 1"), std::string::npos);
  EXPECT_NE(bed.metrics().find("tgpulse_td_updates_total 1"), std::string::npos);
}

TEST_F(EngineTest, ClosedClientFailsPendingAndLaterSends) {
  auto c = client();
  auto pending = std::async(std::launch::async, [&] { return send(c, {{"@type", "hang"}}, 5s); });
  ASSERT_TRUE(eventually([&] { return c->pending_count() == 1; }));
  lib.push_object(c->id(), {{"@type", "updateAuthorizationState"},
                            {"authorization_state", {{"@type", "authorizationStateClosed"}}}});
  auto r = pending.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_TRUE(c->closed());
  EXPECT_EQ(send(c, {{"@type", "getMe"}}).error().code, Errc::unavailable);
  EXPECT_EQ(engine.client_count(), 0u);
  // The request in flight had reached TDLib: counted. The one refused on the closed client never left.
  EXPECT_NE(bed.metrics().find("telethon_requests_total{method=\"other\",status=\"failed\"} 1"), std::string::npos);
  EXPECT_NE(bed.metrics().find("telethon_requests_total{method=\"getMe\",status=\"failed\"} 0"), std::string::npos);
}

// <ns>_requests_total is the reliability SLO's denominator: only what reached Telegram counts.
TEST_F(EngineTest, LocalFunctionsAreNotCountedAsRequestsToTelegram) {
  auto c = client();
  for (const char* local : {"setTdlibParameters", "getAuthorizationState", "getOption", "close"}) {
    EXPECT_TRUE(send(c, {{"@type", local}}).ok()) << local;
  }
  EXPECT_TRUE(send(c, {{"@type", "getChats"}}).ok());
  const std::string m = bed.metrics();
  for (const char* status : {"success", "failed", "flood_wait"}) {
    for (const char* method : {"setTdlibParameters", "close", "other"}) {
      EXPECT_NE(m.find(std::string("telethon_requests_total{method=\"") + method + "\",status=\"" + status + "\"} 0"),
                std::string::npos) << method << " " << status;
    }
  }
  EXPECT_NE(m.find("telethon_requests_total{method=\"getChats\",status=\"success\"} 1"), std::string::npos);
  // Still timed: the duration histogram is about TDLib, not about Telegram.
  EXPECT_NE(m.find("tgpulse_td_request_duration_seconds_count{method=\"setTdlibParameters\"} 1"), std::string::npos);
}

TEST_F(EngineTest, BadLinesAreCountedNotFatal) {
  auto c = client();
  lib.push("{this is not json");
  lib.push("[1,2,3]");
  lib.push_object(4242, {{"@type", "ok"}}, 7);  // a client this engine never created
  ASSERT_TRUE(eventually([&] { return engine.stats().invalid_json == 2 && engine.stats().unknown_client == 1; }));
  EXPECT_TRUE(send(c, {{"@type", "getMe"}}).ok());  // the loop is still alive
  EXPECT_NE(bed.logs().find("TDLib returned a line that is not a JSON object"), std::string::npos);
  EXPECT_NE(bed.metrics().find("tgpulse_td_receive_errors_total{reason=\"invalid_json\"} 2"), std::string::npos);
}

TEST_F(EngineTest, RequestWithoutTypeIsRejectedBeforeSending) {
  auto r = send(client(), {{"chat_id", 1}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_TRUE(lib.sent().empty());
}

TEST_F(EngineTest, AbsorbedFloodWaitInTdlibLogIsCountedAsEngineFloodWait) {
  ASSERT_TRUE(lib.play_log(2, "[ 2][t 1][1764000000.5][NetQueryDelayer.cpp:107][#3][!NetQueryDelayer]\tDelay: "
                              "[Query:[id:9][tl:0x1234abcd][state:Query]] [timeout:12][total_timeout:12] because of "
                              "[Error : 420 : FLOOD_WAIT_12] from \n"));
  EXPECT_EQ(engine.stats().absorbed_flood_waits, 1u);
  const auto m = bed.metrics();
  EXPECT_NE(m.find("telethon_floodwait_total{reason=\"engine\",seconds=\"15\"} 1"), std::string::npos) << m;
  EXPECT_NE(m.find("telethon_floodwait_duration_seconds_sum{reason=\"engine\"} 12"), std::string::npos);
  const auto logs = bed.logs();
  EXPECT_NE(logs.find("\"message\":\"FloodWait detected\""), std::string::npos) << logs;
  EXPECT_NE(logs.find("\"log.logger\":\"tdlib\""), std::string::npos);
}

TEST_F(EngineTest, AbsorbedFloodWaitIsAttributedToTheTenantAndSessionOfItsClient) {
  auto c = engine.create_client({}, ClientOwner{"tenant-a", "sess-7"});
  ASSERT_TRUE(c.ok());
  const std::string line = "[ 2][t 1][1764000000.5][NetQueryDelayer.cpp:107][#" + std::to_string((*c)->id()) +
                           "][!NetQueryDelayer]\tDelay: [Query:[id:9][tl:0x1234abcd][state:Query]] "
                           "[timeout:7][total_timeout:9] because of [Error : 420 : FLOOD_WAIT_7] from \n";
  ASSERT_TRUE(lib.play_log(2, line.c_str()));
  json detected;
  std::istringstream in(bed.logs());
  for (std::string l; std::getline(in, l);) {
    auto j = json::parse(l, nullptr, false);
    if (j.is_object() && j.value("message", "") == "FloodWait detected") detected = j;
  }
  ASSERT_TRUE(detected.is_object()) << bed.logs();
  EXPECT_EQ(detected["tenant_id"], "tenant-a");
  EXPECT_EQ(detected["session_id"], "sess-7");
  EXPECT_EQ(detected["operation"], "engine");
  EXPECT_EQ(detected["seconds"], 7);
  EXPECT_EQ(detected["delay"], 7.0);
  EXPECT_EQ(detected["td.total_wait"], 9);
  EXPECT_EQ(detected["td.client_id"], (*c)->id());
}

TEST_F(EngineTest, TdlibLogSecretsAreMasked) {
  ASSERT_TRUE(lib.play_log(2, "[ 2][t 3][1.0][Td.cpp:1][#1][!Td]\tReceive request: setTdlibParameters {\n"
                              "  api_hash = \"0123456789abcdef\"\n}\n"));
  const auto logs = bed.logs();
  EXPECT_EQ(logs.find("0123456789abcdef"), std::string::npos) << logs;
  EXPECT_NE(logs.find("Receive request"), std::string::npos);
}

TEST_F(EngineTest, ExecuteTurnsErrorsIntoErrors) {
  lib.set_execute_answer(R"({"@type":"optionValueString","value":"1.8.67"})");
  auto ok = engine.execute({{"@type", "getOption"}, {"name", "version"}});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value()["value"], "1.8.67");
  lib.set_execute_answer(R"({"@type":"error","code":400,"message":"The method can't be executed synchronously"})");
  auto bad = engine.execute({{"@type", "getMe"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().td_code, 400);
  lib.set_execute_answer("garbage");
  EXPECT_EQ(engine.execute({{"@type", "getMe"}}).error().code, Errc::engine_error);
}

TEST_F(EngineTest, StopFailsPendingAndRefusesNewClients) {
  auto c = client();
  auto pending = std::async(std::launch::async, [&] { return send(c, {{"@type", "hang"}}, 10s); });
  ASSERT_TRUE(eventually([&] { return c->pending_count() == 1; }));
  const auto started = std::chrono::steady_clock::now();
  engine.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  auto r = pending.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_FALSE(lib.has_log_callback());
  EXPECT_EQ(engine.create_client().error().code, Errc::unavailable);
  engine.stop();  // idempotent
}

TEST(DlopenTdLibraryTest, MissingFileNamesThePath) {
  auto r = DlopenTdLibrary::load("/nonexistent/libtdjson.so");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::not_found);
  EXPECT_NE(r.error().message.find("/nonexistent/libtdjson.so"), std::string::npos);
}

TEST(DlopenTdLibraryTest, MissingSymbolNamesSymbolAndPath) {
  auto r = DlopenTdLibrary::load(TGPULSE_TD_FIXTURE_LIBRARY);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_NE(r.error().message.find("td_set_log_message_callback"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(TGPULSE_TD_FIXTURE_LIBRARY), std::string::npos);
}

TEST(DlopenTdLibraryTest, NotASharedLibraryIsAnError) {
  auto r = DlopenTdLibrary::load(TGPULSE_TD_NOT_A_LIBRARY);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::not_found);
}

}  // namespace
}  // namespace tgpulse::td
