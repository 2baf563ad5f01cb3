#include "td/td_codec.h"

#include <gtest/gtest.h>

namespace tgpulse::td {
namespace {

using nlohmann::json;

TEST(TdCodecTest, ParseAcceptsObjectsOnly) {
  EXPECT_TRUE(TdCodec::parse(R"({"@type":"ok"})").has_value());
  EXPECT_FALSE(TdCodec::parse("{broken").has_value());
  EXPECT_FALSE(TdCodec::parse("[1]").has_value());
  EXPECT_FALSE(TdCodec::parse("").has_value());
}

TEST(TdCodecTest, ReadsRoutingFields) {
  auto doc = json::parse(R"({"@type":"ok","@client_id":3,"@extra":18446744073709551615})");
  EXPECT_EQ(TdCodec::type_of(doc), "ok");
  EXPECT_EQ(TdCodec::client_id_of(doc), 3);
  EXPECT_EQ(TdCodec::extra_of(doc), 18446744073709551615ull);
  EXPECT_FALSE(TdCodec::extra_of(json::parse(R"({"@extra":"text"})")).has_value());
  EXPECT_FALSE(TdCodec::extra_of(json::parse(R"({"@extra":-1})")).has_value());
  EXPECT_FALSE(TdCodec::client_id_of(json::parse(R"({"@client_id":"3"})")).has_value());
  EXPECT_EQ(TdCodec::type_of(json::parse(R"({"@type":5})")), "");
}

// Found by fuzz/td_codec_fuzzer: numbers outside int were wrapped, so @client_id 4294967297 routed an
// answer to client 1 and code 4294967725 (429 + 2^32) became a FloodWait.
TEST(TdCodecTest, OutOfRangeNumbersAreRefusedNotWrapped) {
  EXPECT_FALSE(TdCodec::client_id_of(json::parse(R"({"@client_id":4294967297})")).has_value());
  EXPECT_FALSE(TdCodec::client_id_of(json::parse(R"({"@client_id":-2147483649})")).has_value());
  EXPECT_FALSE(TdCodec::client_id_of(json::parse(R"({"@client_id":18446744073709551615})")).has_value());
  EXPECT_EQ(TdCodec::client_id_of(json::parse(R"({"@client_id":2147483647})")), 2147483647);
  Error e = TdCodec::error_from(
      json::parse(R"({"@type":"error","code":4294967725,"message":"Too Many Requests: retry after 5"})"));
  EXPECT_EQ(e.code, Errc::engine_error);
  EXPECT_EQ(e.td_code, 0);
}

TEST(TdCodecTest, TooManyRequestsIsFloodWait) {
  auto e = TdCodec::error_from(json{{"@type", "error"}, {"code", 429}, {"message", "Too Many Requests: retry after 120"}});
  EXPECT_EQ(e.code, Errc::flood_wait);
  EXPECT_EQ(e.retry_after_s, 120);
  EXPECT_EQ(e.td_code, 429);
}

TEST(TdCodecTest, RetryAfterZeroCountsAsOneSecond) {
  auto e = TdCodec::error_from(json{{"@type", "error"}, {"code", 429}, {"message", "Too Many Requests: retry after 0"}});
  EXPECT_EQ(e.retry_after_s, 1);
}

TEST(TdCodecTest, OtherErrorsKeepCodeAndMessage) {
  auto e = TdCodec::error_from(json{{"@type", "error"}, {"code", 400}, {"message", "PASSWORD_HASH_INVALID"}});
  EXPECT_EQ(e.code, Errc::engine_error);
  EXPECT_EQ(e.td_code, 400);
  EXPECT_EQ(e.message, "PASSWORD_HASH_INVALID");
  // A 429 without the retry text is not a flood wait TDLib computed.
  auto odd = TdCodec::error_from(json{{"@type", "error"}, {"code", 429}, {"message", "something"}});
  EXPECT_EQ(odd.code, Errc::engine_error);
  EXPECT_EQ(TdCodec::error_from(json::object()).code, Errc::engine_error);
}

TEST(TdCodecTest, RetryAfterParsing) {
  EXPECT_EQ(TdCodec::retry_after("Too Many Requests: retry after 5"), 5);
  EXPECT_FALSE(TdCodec::retry_after("Too Many Requests: retry after ").has_value());
  EXPECT_FALSE(TdCodec::retry_after("FLOOD_WAIT_5").has_value());
}

TEST(TdCodecTest, AuthorizationStates) {
  EXPECT_EQ(TdCodec::authorization_state(json{{"@type", "authorizationStateWaitOtherDeviceConfirmation"}, {"link", "x"}}),
            AuthorizationState::wait_other_device_confirmation);
  EXPECT_EQ(TdCodec::authorization_state(json("authorizationStateReady")), AuthorizationState::ready);
  EXPECT_EQ(TdCodec::authorization_state(json{{"@type", "authorizationStateWaitCode"}}), AuthorizationState::other);
  EXPECT_EQ(TdCodec::authorization_state(json{{"@type", "user"}}), AuthorizationState::unknown);
  EXPECT_STREQ(TdCodec::state_label(AuthorizationState::wait_password), "wait_password");
  EXPECT_STREQ(TdCodec::state_type_name(AuthorizationState::closed), "authorizationStateClosed");
  for (int s = 1; s < kAuthorizationStateCount - 1; ++s) {
    auto state = static_cast<AuthorizationState>(s);
    EXPECT_EQ(TdCodec::authorization_state_from_type(TdCodec::state_type_name(state)), state);
  }
}

TEST(TdCodec, LocalFunctionsAreTheSynchronousAndClientDrivingOnes) {
  for (const char* local : {"addLogMessage", "getTextEntities", "getOption", "setLogVerbosityLevel", "testSquareInt",
                            "setTdlibParameters", "getAuthorizationState", "checkDatabaseEncryptionKey", "close",
                            "destroy", "testReturnError"}) {
    EXPECT_TRUE(TdCodec::is_local_function(local)) << local;
  }
  for (const char* remote : {"getMe", "getChats", "sendMessage", "requestQrCodeAuthentication",
                             "checkAuthenticationPassword", "logOut", "setOption", "", "Close", "closeChat"}) {
    EXPECT_FALSE(TdCodec::is_local_function(remote)) << remote;
  }
}

}  // namespace
}  // namespace tgpulse::td
