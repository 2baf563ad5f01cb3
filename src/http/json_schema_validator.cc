#include "http/json_schema_validator.h"

#include <regex>
#include <set>
#include <string_view>

namespace tgpulse::http {
namespace {

using nlohmann::json;

// $ref chains deeper than this are a cycle in the document.
constexpr int kMaxDepth = 64;

const std::set<std::string_view>& annotations() {
  static const std::set<std::string_view> names = {"description", "examples", "format", "title", "default",
                                                    "deprecated", "readOnly", "writeOnly", "$comment"};
  return names;
}

bool has_type(const json& v, std::string_view type) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_boolean();
  if (type == "null") return v.is_null();
  if (type == "number") return v.is_number();
  if (type == "integer") {
    return v.is_number_integer() || (v.is_number_float() && v.get<double>() == static_cast<double>(v.get<long long>()));
  }
  return false;
}

// Code points of a UTF-8 string (minLength/maxLength count characters, not bytes).
std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

std::string pointer_child(const std::string& at, const std::string& key) {
  std::string escaped;
  for (char c : key) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped += c;
    }
  }
  return at + "/" + escaped;
}

}  // namespace

std::vector<std::string> JsonSchemaValidator::validate(const json& value, const json& schema) const {
  std::vector<std::string> errors;
  check(value, schema, "", 0, &errors);
  return errors;
}

void JsonSchemaValidator::check(const json& value, const json& schema, const std::string& at, int depth,
                                std::vector<std::string>* errors) const {
  auto fail = [&](const std::string& what) { errors->push_back((at.empty() ? "/" : at) + ": " + what); };
  if (depth > kMaxDepth) return fail("schema nesting over " + std::to_string(kMaxDepth) + " ($ref cycle?)");
  if (schema.is_boolean()) {
    if (!schema.get<bool>()) fail("no value is allowed here");
    return;
  }
  if (!schema.is_object()) return fail("the schema is not an object");

  for (const auto& [key, arg] : schema.items()) {
    if (key == "$ref") {
      const std::string ref = arg.get<std::string>();
      if (ref.rfind("#/", 0) != 0) {
        fail("unsupported $ref " + ref);
        continue;
      }
      const json::json_pointer pointer(ref.substr(1));
      if (!root_.contains(pointer)) {
        fail("unresolved $ref " + ref);
        continue;
      }
      check(value, root_.at(pointer), at, depth + 1, errors);
    } else if (key == "type") {
      bool ok = false;
      if (arg.is_string()) {
        ok = has_type(value, arg.get<std::string>());
      } else {
        for (const json& t : arg) ok = ok || has_type(value, t.get<std::string>());
      }
      if (!ok) fail("expected type " + arg.dump() + ", got " + value.type_name());
    } else if (key == "enum") {
      bool found = false;
      for (const json& option : arg) found = found || option == value;
      if (!found) fail(value.dump() + " is not one of " + arg.dump());
    } else if (key == "const") {
      if (value != arg) fail(value.dump() + " is not " + arg.dump());
    } else if (key == "required") {
      if (!value.is_object()) continue;
      for (const json& name : arg) {
        if (!value.contains(name.get<std::string>())) fail("missing required property " + name.dump());
      }
    } else if (key == "properties") {
      if (!value.is_object()) continue;
      for (const auto& [name, sub] : arg.items()) {
        if (value.contains(name)) check(value.at(name), sub, pointer_child(at, name), depth + 1, errors);
      }
    } else if (key == "additionalProperties") {
      if (!value.is_object()) continue;
      const json known = schema.value("properties", json::object());
      for (const auto& [name, member] : value.items()) {
        if (!known.contains(name)) check(member, arg, pointer_child(at, name), depth + 1, errors);
      }
    } else if (key == "items") {
      if (!value.is_array()) continue;
      for (std::size_t i = 0; i < value.size(); ++i) {
        check(value[i], arg, at + "/" + std::to_string(i), depth + 1, errors);
      }
    } else if (key == "allOf" || key == "anyOf" || key == "oneOf") {
      std::size_t passed = 0;
      std::vector<std::string> first_failure;
      for (const json& sub : arg) {
        std::vector<std::string> sub_errors;
        check(value, sub, at, depth + 1, &sub_errors);
        if (sub_errors.empty()) {
          ++passed;
        } else if (key == "allOf") {
          errors->insert(errors->end(), sub_errors.begin(), sub_errors.end());
        } else if (first_failure.empty()) {
          first_failure = std::move(sub_errors);
        }
      }
      if (key == "anyOf" && passed == 0) {
        fail("matches none of anyOf (first: " + (first_failure.empty() ? "" : first_failure.front()) + ")");
      }
      if (key == "oneOf" && passed != 1) {
        fail("matches " + std::to_string(passed) + " of oneOf, not exactly one" +
             (first_failure.empty() ? "" : " (first: " + first_failure.front() + ")"));
      }
    } else if (key == "pattern") {
      if (!value.is_string()) continue;
      const std::regex re(arg.get<std::string>(), std::regex::ECMAScript);
      if (!std::regex_search(value.get_ref<const std::string&>(), re)) {
        fail(value.dump() + " does not match " + arg.get<std::string>());
      }
    } else if (key == "minLength" || key == "maxLength") {
      if (!value.is_string()) continue;
      const std::size_t n = code_points(value.get_ref<const std::string&>());
      const auto bound = arg.get<std::size_t>();
      if (key == "minLength" ? n < bound : n > bound) fail("length " + std::to_string(n) + " breaks " + key + " " + arg.dump());
    } else if (key == "minimum" || key == "maximum") {
      if (!value.is_number()) continue;
      const double v = value.get<double>();
      const double bound = arg.get<double>();
      if (key == "minimum" ? v < bound : v > bound) fail(value.dump() + " breaks " + key + " " + arg.dump());
    } else if (annotations().count(key) == 0) {
      fail("unsupported schema keyword \"" + key + "\"");
    }
  }
}

}  // namespace tgpulse::http
