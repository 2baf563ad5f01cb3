#include "session/function_policy.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace tgpulse::session {
namespace {

using nlohmann::json;

TEST(FunctionPolicy, NamesAreTdlibIdentifiersOfAtMost64Characters) {
  EXPECT_TRUE(FunctionPolicy::is_valid_name("getChats"));
  EXPECT_TRUE(FunctionPolicy::is_valid_name("a"));
  EXPECT_TRUE(FunctionPolicy::is_valid_name("getChat2"));
  EXPECT_TRUE(FunctionPolicy::is_valid_name(std::string(64, 'a')));
  EXPECT_FALSE(FunctionPolicy::is_valid_name(std::string(65, 'a')));
  EXPECT_FALSE(FunctionPolicy::is_valid_name(""));
  EXPECT_FALSE(FunctionPolicy::is_valid_name("2getChats"));
  EXPECT_FALSE(FunctionPolicy::is_valid_name("get_chats"));
  EXPECT_FALSE(FunctionPolicy::is_valid_name("getChats "));
  EXPECT_FALSE(FunctionPolicy::is_valid_name("get.Chats"));
  EXPECT_FALSE(FunctionPolicy::is_valid_name(std::string_view("get\0Chats", 9)));
  EXPECT_FALSE(FunctionPolicy::is_valid_name("g\xc3\xa9tChats"));
}

TEST(FunctionPolicy, DefaultAllowsWhatAProductNeeds) {
  FunctionPolicy p;
  for (const char* name : {"getMe", "getChats", "getChat", "getChatHistory", "sendMessage", "searchPublicChat",
                           "getUser", "getContacts", "viewMessages", "getSupergroupMembers", "searchChatMembers"}) {
    EXPECT_EQ(p.check(name), std::nullopt) << name;
  }
}

TEST(FunctionPolicy, DefaultListHasNothingFromTheDenyList) {
  for (std::string_view name : FunctionPolicy::default_allow()) {
    EXPECT_TRUE(FunctionPolicy::is_valid_name(name)) << name;
    EXPECT_EQ(FunctionPolicy::never_allowed(name), std::nullopt) << name;
  }
}

TEST(FunctionPolicy, DeniesEveryProcessWideFamily) {
  FunctionPolicy p;
  for (const char* name :
       {"setLogStream", "getLogStream", "setLogVerbosityLevel", "getLogVerbosityLevel", "getLogTags",
        "setLogTagVerbosityLevel", "getLogTagVerbosityLevel", "addLogMessage", "parseTextEntities", "getOption",
        "getJsonString", "testReturnError", "testCallEmpty", "testSquareInt", "testNetwork", "testProxy",
        "addProxy", "pingProxy", "getProxies", "removeProxy", "setOption", "optimizeStorage", "setNetworkType",
        "preliminaryUploadFile", "readFilePart", "downloadFile", "writeGeneratedFilePart", "finishFileGeneration",
        "uploadStickerFile", "deleteFile", "setTdlibParameters", "setDatabaseEncryptionKey", "close", "logOut",
        "destroy", "deleteAccount", "requestQrCodeAuthentication", "checkAuthenticationPassword",
        "setAuthenticationPhoneNumber", "getAuthorizationState", "registerUser"}) {
    ASSERT_TRUE(FunctionPolicy::never_allowed(name).has_value()) << name;
    auto refusal = p.check(name);
    ASSERT_TRUE(refusal.has_value()) << name;
    EXPECT_NE(refusal->find(name), std::string::npos) << *refusal;
    EXPECT_NE(refusal->find("may not be invoked"), std::string::npos) << *refusal;
  }
}

// Every function the real libtdjson 1.8.67 runs through td_execute: found by calling td_execute with
// each constructor name in the library and keeping those that did not answer "can't be executed
// synchronously" (getThemeParametersJsonString without arguments crashes the library there).
TEST(FunctionPolicy, DeniesEverySynchronousFunctionOfTdlib1867) {
  for (const char* name :
       {"addLogMessage", "checkQuickReplyShortcutName", "cleanFileName", "getChatFolderDefaultIconName",
        "getCountryFlagEmoji", "getFileExtension", "getFileMimeType", "getJsonString", "getJsonValue",
        "getLanguagePackString", "getLogStream", "getLogTagVerbosityLevel", "getLogTags", "getLogVerbosityLevel",
        "getMarkdownText", "getOption", "getPhoneNumberInfoSync", "getPushReceiverId", "getTextEntities",
        "getThemeParametersJsonString", "parseMarkdown", "parseTextEntities", "searchQuote",
        "searchStringsByPrefix", "setLogStream", "setLogTagVerbosityLevel", "setLogVerbosityLevel",
        "testReturnError"}) {
    EXPECT_TRUE(FunctionPolicy::never_allowed(name).has_value()) << name;
  }
}

TEST(FunctionPolicy, UnknownNamesAreRefusedNamingThem) {
  FunctionPolicy p;
  auto refusal = p.check("rotatingName12345");
  ASSERT_TRUE(refusal.has_value());
  EXPECT_NE(refusal->find("rotatingName12345"), std::string::npos);
  EXPECT_NE(refusal->find("allow-list"), std::string::npos);
  EXPECT_TRUE(p.check("getChatEventLog").has_value());  // not on the default list either
}

TEST(FunctionPolicy, AllowReplacesAndAllowExtraAdds) {
  auto replaced = FunctionPolicy::make({{"getMe"}, {"getChatEventLog"}});
  ASSERT_TRUE(replaced.ok()) << replaced.error().message;
  EXPECT_EQ(replaced->check("getMe"), std::nullopt);
  EXPECT_EQ(replaced->check("getChatEventLog"), std::nullopt);
  EXPECT_TRUE(replaced->check("getChats").has_value());
  EXPECT_EQ(replaced->allowed().size(), 2u);

  auto extended = FunctionPolicy::make({{}, {"getChatEventLog"}});
  ASSERT_TRUE(extended.ok());
  EXPECT_EQ(extended->check("getChats"), std::nullopt);
  EXPECT_EQ(extended->check("getChatEventLog"), std::nullopt);
  EXPECT_EQ(extended->allowed().size(), FunctionPolicy::default_allow().size() + 1);
}

TEST(FunctionPolicy, ConfigurationCannotLiftTheDenyList) {
  auto a = FunctionPolicy::make({{"getMe", "setLogStream"}, {}});
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("invoke.allow:"), std::string::npos) << a.error().message;
  EXPECT_NE(a.error().message.find("setLogStream"), std::string::npos) << a.error().message;

  auto b = FunctionPolicy::make({{}, {"testReturnError"}});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("invoke.allow_extra:"), std::string::npos) << b.error().message;
  EXPECT_NE(b.error().message.find("testReturnError"), std::string::npos) << b.error().message;

  auto c = FunctionPolicy::make({{}, {"addProxy"}});
  EXPECT_FALSE(c.ok());
  auto d = FunctionPolicy::make({{}, {"get_chats"}});
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("not a TDLib function name"), std::string::npos);
}

TEST(FunctionPolicy, ArgumentsThatReadTheLocalDiskAreRefusedAtAnyDepth) {
  json ok = {{"@type", "sendMessage"},
             {"chat_id", 1},
             {"input_message_content",
              {{"@type", "inputMessageDocument"}, {"document", {{"@type", "inputFileRemote"}, {"id", "abc"}}}}}};
  EXPECT_EQ(FunctionPolicy::check_arguments(ok), std::nullopt);

  json local = ok;
  local["input_message_content"]["document"] = {{"@type", "inputFileLocal"}, {"path", "/etc/passwd"}};
  auto refusal = FunctionPolicy::check_arguments(local);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_NE(refusal->find("inputFileLocal"), std::string::npos);
  EXPECT_EQ(refusal->rfind("sendMessage may not be invoked", 0), 0u) << *refusal;
  EXPECT_EQ(refusal->find("/etc/passwd"), std::string::npos);  // never echoes the path

  json album = {{"@type", "sendMessageAlbum"},
                {"input_message_contents",
                 json::array({{{"@type", "inputMessagePhoto"},
                               {"photo", {{"@type", "inputFileGenerated"}, {"original_path", "/x"}}}}})}};
  EXPECT_TRUE(FunctionPolicy::check_arguments(album).has_value());
}

TEST(FunctionPolicy, OnlyThePathsTheUploadCheckAcceptsPassAsLocalFiles) {
  const std::string own = "/data/sessions/s_a/uploads/0123456789abcdef0123456789abcdef/report.pdf";
  auto only_own = [&](std::string_view path) { return path == own; };
  auto send = [](json input_file) {
    return json{{"@type", "sendMessage"},
                {"chat_id", 1},
                {"input_message_content", {{"@type", "inputMessageDocument"}, {"document", std::move(input_file)}}}};
  };
  EXPECT_EQ(FunctionPolicy::check_arguments(send({{"@type", "inputFileLocal"}, {"path", own}}), only_own), std::nullopt);
  EXPECT_TRUE(FunctionPolicy::check_arguments(send({{"@type", "inputFileLocal"}, {"path", own}})).has_value())
      << "without a check no local file passes";
  for (const json& other : {json{{"@type", "inputFileLocal"}, {"path", own + "/../../td.binlog"}},
                            json{{"@type", "inputFileLocal"}, {"path", "/etc/passwd"}},
                            json{{"@type", "inputFileLocal"}, {"path", 7}},
                            json{{"@type", "inputFileLocal"}},
                            json{{"@type", "inputFileGenerated"}, {"original_path", own}}}) {
    EXPECT_TRUE(FunctionPolicy::check_arguments(send(other), only_own).has_value()) << other.dump();
  }
  // One accepted file does not carry a second one through.
  json two = send({{"@type", "inputFileLocal"}, {"path", own}});
  two["input_message_content"]["thumbnail"] = {{"@type", "inputThumbnail"},
                                               {"thumbnail", {{"@type", "inputFileLocal"}, {"path", "/etc/shadow"}}}};
  EXPECT_TRUE(FunctionPolicy::check_arguments(two, only_own).has_value());
}

}  // namespace
}  // namespace tgpulse::session
