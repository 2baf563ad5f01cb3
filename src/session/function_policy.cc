#include "session/function_policy.h"

#include <algorithm>
#include <array>
#include <utility>

#include <nlohmann/json.hpp>

namespace tgpulse::session {

namespace {

// The functions a product built on Telegram accounts needs (TDLib 1.8 names): read and write chats,
// messages, users, contacts and members. Nothing here touches the process, the disk or the login.
constexpr std::string_view kDefaultAllow[] = {
    // the account's own user and other users
    "getMe", "getUser", "getUserFullInfo", "getUserProfilePhotos", "searchUserByPhoneNumber",
    // chats and chat lists
    "getChats", "loadChats", "getChat", "searchPublicChat", "searchPublicChats", "searchChats",
    "searchChatsOnServer", "openChat", "closeChat", "joinChat", "leaveChat", "joinChatByInviteLink",
    "checkChatInviteLink", "setChatDraftMessage", "toggleChatIsMarkedAsUnread", "getCurrentState",
    // groups, channels and their members
    "getBasicGroup", "getBasicGroupFullInfo", "getSupergroup", "getSupergroupFullInfo", "getSupergroupMembers",
    "getChatAdministrators", "getChatMember", "searchChatMembers",
    // messages: read
    "getChatHistory", "getMessage", "getMessages", "getMessageLocally", "getRepliedMessage", "getChatPinnedMessage",
    "getMessageThread", "getMessageThreadHistory", "getMessageLink", "getChatMessageByDate", "getChatMessageCount",
    "searchMessages", "searchChatMessages",
    // messages: write and read state
    "sendMessage", "sendMessageAlbum", "forwardMessages", "editMessageText", "editMessageCaption", "deleteMessages",
    "pinChatMessage", "unpinChatMessage", "viewMessages", "readAllChatMentions", "readAllChatReactions",
    "sendChatAction",
    // contacts
    "getContacts", "searchContacts", "addContact", "importContacts", "removeContacts", "getImportedContactCount",
};

// Fixed deny-list: exact names with the reason a tenant may never run them.
struct Denied {
  std::string_view name;
  std::string_view why;
};

constexpr std::string_view kWhyLog = "acts on the whole process (TDLib's log)";
constexpr std::string_view kWhySync = "is one of TDLib's synchronous functions, which act on the whole process";
constexpr std::string_view kWhyOwned = "is run by the service itself (login, close and deletion have their own routes)";
constexpr std::string_view kWhyProcess = "changes the behaviour of the process or its storage";
constexpr std::string_view kWhyProxy = "changes the process's network path (proxies)";
constexpr std::string_view kWhyFiles = "reads or writes files on the service's disk";
constexpr std::string_view kWhyTest = "is a TDLib test function";

constexpr Denied kDenied[] = {
    // log functions (all synchronous)
    {"setLogStream", kWhyLog},
    {"getLogStream", kWhyLog},
    {"setLogVerbosityLevel", kWhyLog},
    {"getLogVerbosityLevel", kWhyLog},
    {"getLogTags", kWhyLog},
    {"setLogTagVerbosityLevel", kWhyLog},
    {"getLogTagVerbosityLevel", kWhyLog},
    {"addLogMessage", kWhyLog},
    // the other functions TDLib documents as "Can be called synchronously"
    {"getTextEntities", kWhySync},
    {"parseTextEntities", kWhySync},
    {"parseMarkdown", kWhySync},
    {"getMarkdownText", kWhySync},
    {"searchStringsByPrefix", kWhySync},
    {"searchQuote", kWhySync},
    {"checkQuickReplyShortcutName", kWhySync},
    {"getCountryFlagEmoji", kWhySync},
    {"getFileMimeType", kWhySync},
    {"getFileExtension", kWhySync},
    {"cleanFileName", kWhySync},
    {"getLanguagePackString", kWhySync},
    {"getPhoneNumberInfoSync", kWhySync},
    {"getChatFolderDefaultIconName", kWhySync},
    {"getJsonValue", kWhySync},
    {"getJsonString", kWhySync},
    {"getThemeParametersJsonString", kWhySync},
    {"getPushReceiverId", kWhySync},
    {"getOption", kWhySync},
    // owned by the service
    {"getAuthorizationState", kWhyOwned},
    {"setTdlibParameters", kWhyOwned},
    {"setDatabaseEncryptionKey", kWhyOwned},
    {"checkDatabaseEncryptionKey", kWhyOwned},
    {"registerUser", kWhyOwned},
    {"logOut", kWhyOwned},
    {"close", kWhyOwned},
    {"destroy", kWhyOwned},
    {"deleteAccount", kWhyOwned},
    // process and storage behaviour
    {"setOption", kWhyProcess},
    {"setNetworkType", kWhyProcess},
    {"getNetworkStatistics", kWhyProcess},
    {"addNetworkStatistics", kWhyProcess},
    {"resetNetworkStatistics", kWhyProcess},
    {"getStorageStatistics", kWhyProcess},
    {"getStorageStatisticsFast", kWhyProcess},
    {"getDatabaseStatistics", kWhyProcess},
    {"optimizeStorage", kWhyProcess},
    {"setAutoDownloadSettings", kWhyProcess},
    {"setAlarm", kWhyProcess},
    // local files
    {"preliminaryUploadFile", kWhyFiles},
    {"cancelPreliminaryUploadFile", kWhyFiles},
    {"uploadFile", kWhyFiles},
    {"uploadStickerFile", kWhyFiles},
    {"readFilePart", kWhyFiles},
    {"downloadFile", kWhyFiles},
    {"cancelDownloadFile", kWhyFiles},
    {"getFileDownloadedPrefixSize", kWhyFiles},
    {"getSuggestedFileName", kWhyFiles},
    {"addFileToDownloads", kWhyFiles},
    {"toggleDownloadIsPaused", kWhyFiles},
    {"toggleAllDownloadsArePaused", kWhyFiles},
    {"removeFileFromDownloads", kWhyFiles},
    {"removeAllFilesFromDownloads", kWhyFiles},
    {"searchFileDownloads", kWhyFiles},
    {"writeGeneratedFilePart", kWhyFiles},
    {"setFileGenerationProgress", kWhyFiles},
    {"finishFileGeneration", kWhyFiles},
    {"deleteFile", kWhyFiles},
};

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// Families matched by shape, so future TDLib functions of the same family are refused as well.
std::optional<std::string_view> denied_family(std::string_view name) {
  if (name.substr(0, 4) == "test") return kWhyTest;
  if (contains(name, "Authentication")) return kWhyOwned;  // setAuthenticationPhoneNumber, checkAuthentication*
  if (contains(name, "Proxy") || contains(name, "Proxies")) return kWhyProxy;
  return std::nullopt;
}

// Input files whose content TDLib reads from the local file system.
bool is_local_input_file(std::string_view type) { return type == "inputFileLocal" || type == "inputFileGenerated"; }

}  // namespace

FunctionPolicy::FunctionPolicy() {
  for (std::string_view name : kDefaultAllow) allowed_.emplace(name);
}

Result<FunctionPolicy> FunctionPolicy::make(const InvokePolicyOptions& options) {
  FunctionPolicy policy;
  if (!options.allow.empty()) policy.allowed_.clear();
  const std::pair<const char*, const std::vector<std::string>*> lists[] = {{"invoke.allow", &options.allow},
                                                                          {"invoke.allow_extra", &options.allow_extra}};
  for (const auto& [key, names] : lists) {
    for (const std::string& name : *names) {
      if (!is_valid_name(name)) {
        return Error(Errc::invalid_argument,
                     std::string(key) + ": \"" + name.substr(0, kMaxNameLength) +
                         "\" is not a TDLib function name ([a-zA-Z][a-zA-Z0-9]*, at most 64 characters)");
      }
      if (auto why = never_allowed(name)) {
        return Error(Errc::invalid_argument,
                     std::string(key) + ": " + name + " can never be allowed: it " + std::string(*why));
      }
      policy.allowed_.insert(name);
    }
  }
  return policy;
}

bool FunctionPolicy::is_valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

std::optional<std::string_view> FunctionPolicy::never_allowed(std::string_view name) noexcept {
  for (const Denied& d : kDenied) {
    if (d.name == name) return d.why;
  }
  return denied_family(name);
}

const std::vector<std::string_view>& FunctionPolicy::default_allow() {
  static const std::vector<std::string_view> sorted = [] {
    std::vector<std::string_view> v(std::begin(kDefaultAllow), std::end(kDefaultAllow));
    std::sort(v.begin(), v.end());
    return v;
  }();
  return sorted;
}

std::optional<std::string> FunctionPolicy::check(std::string_view name) const {
  if (auto why = never_allowed(name)) return std::string(name) + " may not be invoked: it " + std::string(*why);
  if (allowed_.find(name) == allowed_.end()) {
    return std::string(name) + " is not on this service's invoke allow-list (the operator extends it with invoke.allow_extra)";
  }
  return std::nullopt;
}

std::optional<std::string> FunctionPolicy::check_arguments(const nlohmann::json& function,
                                                          const LocalFileCheck& own_upload) {
  // Iterative: the depth is bounded by the parser, but a walk should not rely on it.
  std::vector<const nlohmann::json*> pending{&function};
  while (!pending.empty()) {
    const nlohmann::json* node = pending.back();
    pending.pop_back();
    if (node->is_object()) {
      auto type = node->find("@type");
      const bool own = own_upload && type != node->end() && type->is_string() &&
                       type->get_ref<const std::string&>() == "inputFileLocal" && node->contains("path") &&
                       (*node)["path"].is_string() && own_upload((*node)["path"].get_ref<const std::string&>());
      if (!own && type != node->end() && type->is_string() && is_local_input_file(type->get_ref<const std::string&>())) {
        std::string name = "this function";
        if (auto fn = function.find("@type"); fn != function.end() && fn->is_string()) name = fn->get<std::string>();
        return name + " may not be invoked with an " + type->get<std::string>() +
               " argument: it makes TDLib read the service's own disk (send files as inputFileRemote or inputFileId, or "
               "upload them with POST /v1/sessions/{id}/files and pass the inputFile it answers)";
      }
      for (const auto& item : node->items()) {
        if (item.value().is_structured()) pending.push_back(&item.value());
      }
    } else if (node->is_array()) {
      for (const auto& item : *node) {
        if (item.is_structured()) pending.push_back(&item);
      }
    }
  }
  return std::nullopt;
}

}  // namespace tgpulse::session
