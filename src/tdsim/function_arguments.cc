#include "tdsim/function_arguments.h"

#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <unordered_map>
#include <vector>

namespace tgpulse::tdsim {

using nlohmann::json;

namespace {

// object: a field of an abstract type (ProxyType, ChatList, ...): an object whose "@type" names one of
// its classes. record: a field of a concrete class (proxy, phoneNumberAuthenticationSettings): any
// object, its "@type" neither needed nor looked at, its fields read as that class's.
enum class Kind { int32, int64, boolean, string, object, record, int64_vector };

struct Field {
  const char* name;
  Kind kind;
  // object: the classes it may hold, separated by spaces; their own fields (schemas() has an entry for
  // each) are checked too, and another class is TDLib's "Unknown class". nullptr: any object with an
  // "@type", not looked into. record: its class, whose fields are checked.
  const char* classes = nullptr;
};

// TDLib 1.8.67's td_api.tl, in declaration order, for the functions tdsim plays and the classes their
// checked object arguments hold.
const std::unordered_map<std::string_view, std::vector<Field>>& schemas() {
  static const std::unordered_map<std::string_view, std::vector<Field>> kSchemas = {
      {"setTdlibParameters",
       {{"use_test_dc", Kind::boolean}, {"database_directory", Kind::string}, {"files_directory", Kind::string},
        {"database_encryption_key", Kind::string}, {"use_file_database", Kind::boolean},
        {"use_chat_info_database", Kind::boolean}, {"use_message_database", Kind::boolean},
        {"use_secret_chats", Kind::boolean}, {"api_id", Kind::int32}, {"api_hash", Kind::string},
        {"system_language_code", Kind::string}, {"device_model", Kind::string}, {"system_version", Kind::string},
        {"application_version", Kind::string}}},
      {"requestQrCodeAuthentication", {{"other_user_ids", Kind::int64_vector}}},
      {"checkAuthenticationPassword", {{"password", Kind::string}}},
      {"setAuthenticationPhoneNumber",
       {{"phone_number", Kind::string}, {"settings", Kind::record, "phoneNumberAuthenticationSettings"}}},
      {"phoneNumberAuthenticationSettings",  // the Bool fields; the objects and vectors after them are not checked
       {{"allow_flash_call", Kind::boolean}, {"allow_missed_call", Kind::boolean},
        {"is_current_phone_number", Kind::boolean}, {"has_unknown_phone_number", Kind::boolean},
        {"allow_sms_retriever_api", Kind::boolean}}},
      {"checkAuthenticationCode", {{"code", Kind::string}}},
      {"resendAuthenticationCode",
       {{"reason", Kind::object, "resendCodeReasonUserRequest resendCodeReasonVerificationFailed"}}},
      {"resendCodeReasonUserRequest", {}},
      {"resendCodeReasonVerificationFailed", {{"error_message", Kind::string}}},
      {"addProxy", {{"proxy", Kind::record, "proxy"}, {"enable", Kind::boolean}, {"comment", Kind::string}}},
      {"proxy",
       {{"server", Kind::string}, {"port", Kind::int32},
        {"type", Kind::object, "proxyTypeSocks5 proxyTypeHttp proxyTypeMtproto"}}},
      {"proxyTypeSocks5", {{"username", Kind::string}, {"password", Kind::string}}},
      {"proxyTypeHttp", {{"username", Kind::string}, {"password", Kind::string}, {"http_only", Kind::boolean}}},
      {"proxyTypeMtproto", {{"secret", Kind::string}}},
      {"enableProxy", {{"proxy_id", Kind::int32}}},
      {"removeProxy", {{"proxy_id", Kind::int32}}},
      {"disableProxy", {}},
      {"getProxies", {}},
      {"pingProxy", {{"proxy", Kind::record, "proxy"}}},
      {"getUser", {{"user_id", Kind::int64}}},
      {"getUserFullInfo", {{"user_id", Kind::int64}}},
      {"getChats", {{"chat_list", Kind::object}, {"limit", Kind::int32}}},
      {"loadChats", {{"chat_list", Kind::object}, {"limit", Kind::int32}}},
      {"getChat", {{"chat_id", Kind::int64}}},
      {"joinChat", {{"chat_id", Kind::int64}}},
      {"getChatHistory",
       {{"chat_id", Kind::int64}, {"from_message_id", Kind::int64}, {"offset", Kind::int32}, {"limit", Kind::int32},
        {"only_local", Kind::boolean}}},
      {"searchPublicChat", {{"username", Kind::string}}},
      {"sendMessage",
       {{"chat_id", Kind::int64}, {"message_thread_id", Kind::int64}, {"reply_to", Kind::object},
        {"options", Kind::record, "messageSendOptions"}, {"reply_markup", Kind::object}, {"input_message_content", Kind::object}}},
      {"viewMessages",
       {{"chat_id", Kind::int64}, {"message_ids", Kind::int64_vector}, {"source", Kind::object},
        {"force_read", Kind::boolean}}},
      {"getSupergroupMembers",
       {{"supergroup_id", Kind::int64}, {"filter", Kind::object}, {"offset", Kind::int32}, {"limit", Kind::int32}}},
      {"getOption", {{"name", Kind::string}}},
      {"setOption", {{"name", Kind::string}, {"value", Kind::object}}},
      {"testSquareInt", {{"x", Kind::int32}}},
      {"messageSendOptions", {}},  // not looked into
      {"getFile", {{"file_id", Kind::int32}}},
      {"downloadFile",
       {{"file_id", Kind::int32}, {"priority", Kind::int32}, {"offset", Kind::int64}, {"limit", Kind::int64},
        {"synchronous", Kind::boolean}}},
      {"cancelDownloadFile", {{"file_id", Kind::int32}, {"only_if_pending", Kind::boolean}}},
      {"deleteFile", {{"file_id", Kind::int32}}},
      {"optimizeStorage",  // file_types (vector<FileType>) is not looked into
       {{"size", Kind::int64}, {"ttl", Kind::int32}, {"count", Kind::int32}, {"immunity_delay", Kind::int32},
        {"chat_ids", Kind::int64_vector}, {"exclude_chat_ids", Kind::int64_vector},
        {"return_deleted_file_statistics", Kind::boolean}, {"chat_limit", Kind::int32}}},
  };
  return kSchemas;
}

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "Null";
    case json::value_t::boolean: return "Boolean";
    case json::value_t::string: return "String";
    case json::value_t::array: return "Array";
    case json::value_t::object: return "Object";
    default: return "Number";
  }
}

std::string expected(const char* what, const json& v) {
  return std::string("Expected ") + what + ", but receive " + type_name(v);
}

// An integer argument: a JSON integer, or a string of one ([-]digits), within [min, max].
std::optional<std::string> check_integer(json& v, std::int64_t min, std::int64_t max, const char* expected_what) {
  if (!v.is_number() && !v.is_string()) return expected(expected_what, v);
  const std::string text = v.is_string() ? v.get<std::string>() : v.dump();
  std::int64_t n = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, n);
  if (text.empty() || ec != std::errc() || ptr != end || n < min || n > max || v.is_number_float()) {
    return "Can't parse as an integer string \"" + text + "\"";
  }
  v = n;
  return std::nullopt;
}

std::optional<std::string> check_fields(const std::vector<Field>& fields, json& object);

// An object of one of `classes` (space-separated), its fields checked too.
std::optional<std::string> check_class(json& v, std::string_view classes) {
  const std::string type = v["@type"].get<std::string>();
  bool listed = false;
  for (std::size_t start = 0; start <= classes.size() && !listed;) {
    const std::size_t end = std::min(classes.find(' ', start), classes.size());
    listed = classes.substr(start, end - start) == type;
    start = end + 1;
  }
  if (!listed) return "Unknown class \"" + type + "\"";
  return check_fields(schemas().at(type), v);
}

std::optional<std::string> check_value(json& v, Kind kind) {
  constexpr auto i32min = std::numeric_limits<std::int32_t>::min();
  constexpr auto i32max = std::numeric_limits<std::int32_t>::max();
  constexpr auto i64min = std::numeric_limits<std::int64_t>::min();
  constexpr auto i64max = std::numeric_limits<std::int64_t>::max();
  switch (kind) {
    case Kind::int32: return check_integer(v, i32min, i32max, "Number");
    case Kind::int64: return check_integer(v, i64min, i64max, "String or Number");
    case Kind::boolean:
      if (v.is_number()) {
        v = v.get<double>() != 0;
      } else if (!v.is_boolean()) {
        return expected("Boolean", v);
      }
      return std::nullopt;
    case Kind::string:
      if (!v.is_string()) return expected("String", v);
      return std::nullopt;
    case Kind::record:
      if (!v.is_object()) return expected("Object", v);
      return std::nullopt;
    case Kind::object: {
      if (!v.is_object()) return expected("Object", v);
      auto type = v.find("@type");
      if (type == v.end() || !type->is_string()) return std::string("Can't find field \"@type\"");
      return std::nullopt;
    }
    case Kind::int64_vector:
      if (!v.is_array()) return expected("Array", v);
      for (json& element : v) {
        if (auto e = check_value(element, Kind::int64)) return e;
      }
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

namespace {

std::optional<std::string> check_fields(const std::vector<Field>& fields, json& object) {
  for (const Field& field : fields) {
    auto it = object.find(field.name);
    if (it == object.end() || it->is_null()) continue;
    if (auto e = check_value(*it, field.kind)) return e;
    if (field.kind == Kind::record) {
      if (auto e = check_fields(schemas().at(field.classes), *it)) return e;
    } else if (field.classes != nullptr) {
      if (auto e = check_class(*it, field.classes)) return e;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> FunctionArguments::check(std::string_view type, json& function) {
  const auto& all = schemas();
  auto schema = all.find(type);
  if (schema == all.end()) return std::nullopt;
  return check_fields(schema->second, function);
}

}  // namespace tgpulse::tdsim
