#include "tdsim/td_request.h"

#include <unordered_set>

#include "tdsim/function_arguments.h"

namespace tgpulse::tdsim {

using nlohmann::json;

json TdRequest::error(int code, std::string message) {
  return {{"@type", "error"}, {"code", code}, {"message", std::move(message)}};
}

bool TdRequest::known_function(std::string_view type) {
  static const std::unordered_set<std::string_view> kKnown = {
      // authorization and lifetime
      "setTdlibParameters", "requestQrCodeAuthentication", "checkAuthenticationPassword", "getAuthorizationState",
      "logOut", "close", "destroy", "setAuthenticationPhoneNumber", "checkAuthenticationCode",
      "requestAuthenticationPasswordRecovery", "resendAuthenticationCode",
      // proxies
      "addProxy", "enableProxy", "disableProxy", "removeProxy", "getProxies", "pingProxy",
      // ordinary functions tdsim plays
      "getMe", "getUser", "getUserFullInfo", "getChats", "loadChats", "getChat", "getChatHistory",
      "searchPublicChat", "sendMessage", "viewMessages", "joinChat", "getSupergroupMembers", "getOption",
      "setOption", "testNetwork", "testSquareInt", "getCurrentState",
      // files
      "getFile", "downloadFile", "cancelDownloadFile", "deleteFile", "optimizeStorage",
      // static functions (td_execute) also accepted by td_send
      "setLogVerbosityLevel", "getLogVerbosityLevel", "setLogStream", "getLogStream", "getLogTags",
      "setLogTagVerbosityLevel", "getLogTagVerbosityLevel", "addLogMessage", "getTextEntities",
      "parseTextEntities", "parseMarkdown", "getMarkdownText", "getFileMimeType", "getFileExtension",
      "cleanFileName", "getJsonValue", "getJsonString", "testReturnError",
      // real TDLib functions tdsim does not play (answered with an error that says so)
      "getContacts", "searchChats", "getMessage", "getMessages", "deleteMessages", "editMessageText",
      "forwardMessages", "getChatMember", "leaveChat", "getBasicGroup", "getSupergroup", "getSupergroupFullInfo",
      "getRemoteFile", "editProxy", "getActiveSessions", "terminateSession",
      "getNetworkStatistics", "setNetworkType", "searchMessages", "searchChatMessages", "getChatAdministrators",
      "createPrivateChat", "openChat", "closeChat", "getStorageStatistics"};
  return kKnown.count(type) != 0;
}

std::optional<TdRequest> TdRequest::parse(std::string_view text, json* error) {
  json doc;
  if (text.empty()) {
    *error = TdRequest::error(400, "Failed to parse request as JSON object: Unexpected string end");
    return std::nullopt;
  }
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    // nlohmann's text differs from TDLib's own parser; the prefix and code are TDLib's.
    std::string what = e.what();
    auto pos = what.find(": ");
    *error = TdRequest::error(400, "Failed to parse request as JSON object: " +
                                       (pos == std::string::npos ? what : what.substr(pos + 2)));
    return std::nullopt;
  }
  if (!doc.is_object()) {
    *error = TdRequest::error(400, "Expected a JSON object");
    return std::nullopt;
  }
  std::optional<json> extra;
  if (auto it = doc.find("@extra"); it != doc.end()) extra = *it;
  auto fail = [&](std::string message) {
    *error = TdRequest::error(400, "Failed to parse JSON object as TDLib request: " + message);
    if (extra) (*error)["@extra"] = *extra;
    return std::nullopt;
  };
  auto type = doc.find("@type");
  if (type == doc.end() || !type->is_string()) return fail("Can't find field \"@type\"");
  std::string name = type->get<std::string>();
  if (!known_function(name)) return fail("Unknown class \"" + name + "\"");
  // TDLib reads (and so type-checks) the arguments here, before any state check.
  if (auto wrong = FunctionArguments::check(name, doc)) return fail(std::move(*wrong));
  TdRequest r;
  r.type = std::move(name);
  r.extra = std::move(extra);
  r.object = std::move(doc);
  return r;
}

}  // namespace tgpulse::tdsim
