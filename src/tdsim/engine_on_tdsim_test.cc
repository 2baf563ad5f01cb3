// The engine driving an in-process tdsim: a whole QR login with 2FA, a 429 becoming FloodWait, an
// absorbed flood wait reaching the FloodWait metrics through TDLib's log line, and loss of authorization.
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "td/engine.h"
#include "td/engine_test_support.h"
#include "tdsim/simulator.h"
#include "tdsim/simulator_td_library.h"

namespace tgpulse::tdsim {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

class EngineOnTdsimTest : public ::testing::Test {
 protected:
  EngineOnTdsimTest()
      : sim(Profile::apply(Profile::defaults(), json{{"latency_ms", {{"min", 1}, {"max", 3}}}}).value()),
        lib(sim),
        engine(bed.io, lib, bed.registry, bed.telethon, bed.logger,
               td::EngineOptions{.receive_timeout_seconds = 0.05}) {}
  void SetUp() override {
    dir = fs::temp_directory_path() / ("tgpulse-engine-tdsim-" + std::to_string(::getpid()));
    ASSERT_TRUE(engine.start().ok());
  }
  void TearDown() override {
    engine.stop();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  Result<json> send(const std::shared_ptr<td::TdClient>& c, json request, std::chrono::milliseconds timeout = 5s) {
    return bed.run([c, request, timeout] { return c->send(request, timeout); });
  }
  static bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(5ms);
    }
    return pred();
  }
  std::shared_ptr<td::TdClient> authorized_client() {
    auto c = engine.create_client().value();
    auto params = send(c, {{"@type", "setTdlibParameters"}, {"database_directory", dir.string()}, {"api_id", 1},
                           {"api_hash", "x"}});
    EXPECT_TRUE(params.ok());
    EXPECT_TRUE(send(c, {{"@type", "requestQrCodeAuthentication"}}).ok());
    EXPECT_TRUE(eventually([&] { return c->authorization_state() == td::AuthorizationState::wait_other_device_confirmation; }));
    EXPECT_TRUE(sim.scan(c->authorization_state_object()["link"], "accept", "").ok());
    EXPECT_TRUE(eventually([&] { return c->authorization_state() == td::AuthorizationState::ready; }));
    return c;
  }

  td::EngineTestBed bed;
  Simulator sim;
  SimulatorTdLibrary lib;
  td::Engine engine;
  fs::path dir;
};

TEST_F(EngineOnTdsimTest, QrLoginWithPasswordThroughTheEngine) {
  std::vector<std::string> states;
  std::mutex m;
  auto c = engine.create_client([&](const json& update) {
    if (update["@type"] == "updateAuthorizationState") {
      std::lock_guard lock(m);
      states.push_back(update["authorization_state"]["@type"]);
    }
  }).value();
  ASSERT_TRUE(send(c, {{"@type", "setTdlibParameters"}, {"database_directory", dir.string()}, {"api_id", 1},
                       {"api_hash", "x"}}).ok());
  ASSERT_TRUE(send(c, {{"@type", "requestQrCodeAuthentication"}}).ok());
  ASSERT_TRUE(eventually([&] { return c->authorization_state() == td::AuthorizationState::wait_other_device_confirmation; }));
  ASSERT_TRUE(sim.scan(c->authorization_state_object()["link"], "password", "pw").ok());
  ASSERT_TRUE(eventually([&] { return c->authorization_state() == td::AuthorizationState::wait_password; }));
  auto wrong = send(c, {{"@type", "checkAuthenticationPassword"}, {"password", "nope"}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, Errc::engine_error);
  EXPECT_EQ(wrong.error().message, "PASSWORD_HASH_INVALID");
  ASSERT_TRUE(send(c, {{"@type", "checkAuthenticationPassword"}, {"password", "pw"}}).ok());
  ASSERT_TRUE(eventually([&] { return c->authorization_state() == td::AuthorizationState::ready; }));
  auto me = send(c, {{"@type", "getMe"}});
  ASSERT_TRUE(me.ok());
  EXPECT_EQ(me.value()["@type"], "user");
  std::lock_guard lock(m);
  EXPECT_EQ(states, (std::vector<std::string>{"authorizationStateWaitTdlibParameters", "authorizationStateWaitPhoneNumber",
                                              "authorizationStateWaitOtherDeviceConfirmation",
                                              "authorizationStateWaitPassword", "authorizationStateReady"}));
}

TEST_F(EngineOnTdsimTest, TooManyRequestsBecomesFloodWait) {
  auto c = authorized_client();
  ASSERT_TRUE(sim.force_flood("getChats", 0, 300).ok());
  auto r = send(c, {{"@type", "getChats"}, {"limit", 10}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::flood_wait);
  EXPECT_EQ(r.error().retry_after_s, 300);
  EXPECT_NE(bed.metrics().find("telethon_requests_total{method=\"getChats\",status=\"flood_wait\"} 1"), std::string::npos);
}

TEST_F(EngineOnTdsimTest, AbsorbedFloodWaitReachesTheFloodWaitMetrics) {
  auto c = authorized_client();
  ASSERT_TRUE(sim.force_flood("getMe", 0, 1).ok());
  auto r = send(c, {{"@type", "getMe"}});
  ASSERT_TRUE(r.ok());  // absorbed: late, but answered
  const auto m = bed.metrics();
  EXPECT_NE(m.find("telethon_floodwait_total{reason=\"engine\",seconds=\"1\"} 1"), std::string::npos) << m;
  EXPECT_EQ(engine.stats().absorbed_flood_waits, 1u);
  EXPECT_NE(m.find("telethon_requests_total{method=\"getMe\",status=\"success\"} 1"), std::string::npos);
}

TEST_F(EngineOnTdsimTest, RevokedAuthorizationClosesTheClient) {
  auto c = authorized_client();
  ASSERT_TRUE(sim.revoke("", c->id()).ok());
  ASSERT_TRUE(eventually([&] { return c->closed(); }));
  EXPECT_EQ(send(c, {{"@type", "getMe"}}).error().code, Errc::unavailable);
  EXPECT_EQ(engine.client_count(), 0u);
}

}  // namespace
}  // namespace tgpulse::tdsim
