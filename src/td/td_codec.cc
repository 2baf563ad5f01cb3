#include "td/td_codec.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

namespace tgpulse::td {

std::optional<nlohmann::json> TdCodec::parse(std::string_view text) noexcept {
  ParsedJson parsed = parse_bounded(text);
  if (!parsed.ok() || !parsed.value.is_object()) return std::nullopt;
  return std::move(parsed.value);
}

ParsedJson TdCodec::parse_bounded(std::string_view text) noexcept {
  return BoundedJsonParser::parse(text, kAnswerLimits, {"@type", "@extra", "@client_id"});
}

std::string_view TdCodec::type_of(const nlohmann::json& object) noexcept {
  if (!object.is_object()) return {};
  auto it = object.find("@type");
  if (it == object.end() || !it->is_string()) return {};
  return it->get_ref<const std::string&>();
}

namespace {

// An integer that fits in int; nullopt for anything else (get<int>() would wrap 4294967297 to 1).
std::optional<int> as_int(const nlohmann::json& value) noexcept {
  if (value.is_number_unsigned()) {
    const auto v = value.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) return std::nullopt;
    return static_cast<int>(v);
  }
  if (!value.is_number_integer()) return std::nullopt;
  const auto v = value.get<std::int64_t>();
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) return std::nullopt;
  return static_cast<int>(v);
}

}  // namespace

std::optional<int> TdCodec::client_id_of(const nlohmann::json& object) noexcept {
  if (!object.is_object()) return std::nullopt;
  auto it = object.find("@client_id");
  if (it == object.end()) return std::nullopt;
  return as_int(*it);
}

std::optional<std::uint64_t> TdCodec::extra_of(const nlohmann::json& object) noexcept {
  if (!object.is_object()) return std::nullopt;
  auto it = object.find("@extra");
  if (it == object.end()) return std::nullopt;
  if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  if (it->is_number_integer() && it->get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(it->get<std::int64_t>());
  }
  return std::nullopt;
}

bool TdCodec::is_error(const nlohmann::json& object) noexcept { return type_of(object) == "error"; }

bool TdCodec::is_local_function(std::string_view type) noexcept {
  // Sorted (std::binary_search). TDLib's td_api.tl marks the synchronous ones "Can be called synchronously".
  static constexpr std::array<std::string_view, 35> kLocal = {
      "addLogMessage",         "checkDatabaseEncryptionKey", "checkQuickReplyShortcutName",
      "cleanFileName",         "close",                      "destroy",
      "getAuthorizationState", "getChatFolderDefaultIconName", "getCountryFlagEmoji",
      "getFileExtension",      "getFileMimeType",            "getJsonString",
      "getJsonValue",          "getLanguagePackString",      "getLogStream",
      "getLogTagVerbosityLevel", "getLogTags",               "getLogVerbosityLevel",
      "getMarkdownText",       "getOption",                  "getPhoneNumberInfoSync",
      "getPushReceiverId",     "getTextEntities",            "getThemeParametersJsonString",
      "parseMarkdown",         "parseTextEntities",          "searchQuote",
      "searchStringsByPrefix", "setDatabaseEncryptionKey",   "setLogStream",
      "setLogTagVerbosityLevel", "setLogVerbosityLevel",     "setTdlibParameters",
      "testReturnError",       "testSquareInt"};
  return std::binary_search(kLocal.begin(), kLocal.end(), type);
}

std::optional<int> TdCodec::retry_after(std::string_view message) noexcept {
  constexpr std::string_view prefix = "Too Many Requests: retry after ";
  if (message.substr(0, prefix.size()) != prefix) return std::nullopt;
  auto rest = message.substr(prefix.size());
  int value = 0;
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (ec != std::errc() || ptr == rest.data() || value < 0) return std::nullopt;
  return value;
}

Error TdCodec::error_from(const nlohmann::json& error_object) {
  int code = 0;
  std::string message;
  if (error_object.is_object()) {
    auto c = error_object.find("code");
    if (c != error_object.end()) code = as_int(*c).value_or(0);
    auto m = error_object.find("message");
    if (m != error_object.end() && m->is_string()) message = m->get<std::string>();
  }
  if (code == 429) {
    if (auto seconds = retry_after(message)) {
      return Error::flood(*seconds == 0 ? 1 : *seconds, message);
    }
  }
  Error e(Errc::engine_error, message.empty() ? "TDLib error without a message" : message);
  e.td_code = code;
  return e;
}

namespace {
struct StateName {
  AuthorizationState state;
  const char* type;
  const char* label;
};
constexpr StateName kStates[] = {
    {AuthorizationState::unknown, "", "unknown"},
    {AuthorizationState::wait_tdlib_parameters, "authorizationStateWaitTdlibParameters", "wait_tdlib_parameters"},
    {AuthorizationState::wait_phone_number, "authorizationStateWaitPhoneNumber", "wait_phone_number"},
    {AuthorizationState::wait_other_device_confirmation, "authorizationStateWaitOtherDeviceConfirmation",
     "wait_other_device_confirmation"},
    {AuthorizationState::wait_password, "authorizationStateWaitPassword", "wait_password"},
    {AuthorizationState::ready, "authorizationStateReady", "ready"},
    {AuthorizationState::logging_out, "authorizationStateLoggingOut", "logging_out"},
    {AuthorizationState::closing, "authorizationStateClosing", "closing"},
    {AuthorizationState::closed, "authorizationStateClosed", "closed"},
    {AuthorizationState::other, "", "other"},
};
static_assert(std::size(kStates) == kAuthorizationStateCount);
}  // namespace

AuthorizationState TdCodec::authorization_state_from_type(std::string_view type) noexcept {
  for (const auto& s : kStates) {
    if (s.type[0] != '\0' && type == s.type) return s.state;
  }
  if (type.substr(0, 18) == "authorizationState") return AuthorizationState::other;
  return AuthorizationState::unknown;
}

AuthorizationState TdCodec::authorization_state(const nlohmann::json& state_object) noexcept {
  if (state_object.is_string()) {
    return authorization_state_from_type(state_object.get_ref<const std::string&>());
  }
  return authorization_state_from_type(type_of(state_object));
}

const char* TdCodec::state_label(AuthorizationState s) noexcept {
  return kStates[static_cast<int>(s)].label;
}

const char* TdCodec::state_type_name(AuthorizationState s) noexcept {
  return kStates[static_cast<int>(s)].type;
}

}  // namespace tgpulse::td
