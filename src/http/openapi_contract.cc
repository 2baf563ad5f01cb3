#include "http/openapi_contract.h"

#include <cctype>

#include <boost/beast/http/status.hpp>

namespace tgpulse::http {

using nlohmann::json;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// "text/html; charset=utf-8" → "text/html".
std::string media_type(std::string_view content_type) {
  const std::size_t semi = content_type.find(';');
  std::string_view type = content_type.substr(0, semi);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return lower(type);
}

const std::set<std::string>& operation_keys() {
  static const std::set<std::string> keys = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
  return keys;
}

// A header value as the JSON its schema speaks of: an integer when it reads as one, else the string.
json header_value(const std::string& text, const json& schema) {
  if (schema.value("type", "") == "integer") {
    json parsed = json::parse(text, nullptr, false);
    if (!parsed.is_discarded() && parsed.is_number()) return parsed;
  }
  return text;
}

}  // namespace

std::string answer_key(boost::beast::http::verb method, std::string_view pattern, unsigned status) {
  return upper(boost::beast::http::to_string(method)) + " " + std::string(pattern) + " " + std::to_string(status);
}

OpenApiContract::OpenApiContract(std::string_view document_text) : document_(json::parse(document_text)) {}

const json& OpenApiContract::resolve(const json& maybe_ref) const {
  const json* at = &maybe_ref;
  for (int hops = 0; at->is_object() && at->contains("$ref") && hops < 16; ++hops) {
    at = &document_.at(json::json_pointer(at->at("$ref").get<std::string>().substr(1)));
  }
  return *at;
}

std::set<std::string> OpenApiContract::documented_answers() const {
  std::set<std::string> out;
  for (const auto& [path, item] : document_.at("paths").items()) {
    for (const auto& [method, op] : item.items()) {
      if (operation_keys().count(method) == 0) continue;
      for (const auto& [status, response] : op.at("responses").items()) {
        out.insert(upper(method) + " " + path + " " + status);
      }
    }
  }
  return out;
}

std::vector<std::string> OpenApiContract::check(boost::beast::http::verb method, std::string_view pattern,
                                                const Response& response) const {
  std::vector<std::string> errors;
  const std::string where = answer_key(method, pattern, static_cast<unsigned>(response.status));
  const json& paths = document_.at("paths");
  const std::string path(pattern);
  const std::string op_key = lower(boost::beast::http::to_string(method));
  if (!paths.contains(path) || !paths.at(path).contains(op_key)) {
    errors.push_back(where + ": the operation is not documented");
    return errors;
  }
  const json& responses = paths.at(path).at(op_key).at("responses");
  const std::string status = std::to_string(static_cast<unsigned>(response.status));
  if (!responses.contains(status)) {
    errors.push_back(where + ": the status is not documented");
    return errors;
  }
  const json& documented = resolve(responses.at(status));

  const std::string type = media_type(response.content_type);
  const json content = documented.value("content", json::object());
  if (!content.contains(type)) {
    errors.push_back(where + ": content type " + type + " is not documented (" + content.dump() + ")");
    return errors;
  }
  if (response.is_event_stream()) return errors;

  const json& media = content.at(type);
  if (type == "application/json" && media.contains("schema")) {
    const json body = json::parse(response.body, nullptr, false);
    if (body.is_discarded()) {
      errors.push_back(where + ": the body is not JSON");
    } else {
      for (const std::string& e : validator_.validate(body, media.at("schema"))) errors.push_back(where + " body " + e);
    }
  }

  const json headers = documented.value("headers", json::object());
  for (const auto& [name, header_doc] : headers.items()) {
    const json& header = resolve(header_doc);
    const json schema_doc = header.value("schema", json::object());
    const json schema = resolve(schema_doc);
    const std::string wanted = lower(name);
    const std::pair<std::string, std::string>* sent = nullptr;
    for (const auto& h : response.headers) {
      if (lower(h.first) == wanted) sent = &h;
    }
    if (sent == nullptr) {
      if (header.value("required", false) || schema.contains("const")) {
        errors.push_back(where + ": header " + name + " is missing");
      }
      continue;
    }
    for (const std::string& e : validator_.validate(header_value(sent->second, schema), schema)) {
      errors.push_back(where + " header " + name + " " + e);
    }
  }
  return errors;
}

}  // namespace tgpulse::http
