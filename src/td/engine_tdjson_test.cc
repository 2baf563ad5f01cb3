// The engine on the real libtdjson (TDLib 1.8.67, offline): start with TDLib's log routed to the
// structured log, a client to WaitPhoneNumber and back to Closed, td_execute, TDLib errors as Errors.
// Skipped when the library is absent (TGPULSE_TDJSON or third_party/tdlib/libtdjson.so).
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "td/engine.h"
#include "td/engine_test_support.h"

namespace tgpulse::td {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string library_path() {
  if (const char* env = std::getenv("TGPULSE_TDJSON"); env != nullptr && *env != '\0') return env;
  return TGPULSE_SOURCE_DIR "/third_party/tdlib/libtdjson.so";
}

TEST(EngineOnTdjsonTest, ClientLifecycleOffline) {
  auto lib = DlopenTdLibrary::load(library_path());
  if (!lib.ok()) GTEST_SKIP() << lib.error().message;
  EngineTestBed bed;
  Engine engine(bed.io, *lib.value(), bed.registry, bed.telethon, bed.logger, EngineOptions{.receive_timeout_seconds = 0.1});
  ASSERT_TRUE(engine.start().ok());
  auto version = engine.execute({{"@type", "getOption"}, {"name", "version"}});
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version.value()["value"], "1.8.67");

  const fs::path dir = fs::temp_directory_path() / ("tgpulse-engine-tdjson-" + std::to_string(::getpid()));
  auto client = engine.create_client().value();
  auto send = [&](json request) {
    return bed.run([client, request] { return client->send(request, 20s); });
  };
  auto early = send({{"@type", "getMe"}});
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, Errc::engine_error);
  EXPECT_EQ(early.error().td_code, 400);
  EXPECT_EQ(early.error().message, "Initialization parameters are needed: call setTdlibParameters first");

  auto params = send({{"@type", "setTdlibParameters"}, {"database_directory", dir.string()}, {"api_id", 94575},
                      {"api_hash", "a3406de8d171bb422bb6ddf3bbd800e2"}, {"system_language_code", "en"},
                      {"device_model", "tgpulse test"}, {"application_version", "1.0"}});
  ASSERT_TRUE(params.ok()) << params.error().to_string();
  EXPECT_EQ(client->authorization_state(), AuthorizationState::wait_phone_number);
  EXPECT_NE(bed.metrics().find("tgpulse_td_clients{state=\"wait_phone_number\"} 1"), std::string::npos);

  ASSERT_TRUE(send({{"@type", "close"}}).ok());
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!client->closed() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(client->closed());
  EXPECT_EQ(send({{"@type", "getMe"}}).error().code, Errc::unavailable);
  engine.stop();
  EXPECT_EQ(engine.stats().invalid_json, 0u);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace tgpulse::td
