// OpenApiContract: docs/openapi.json as a checker of answers. check() tells how a Response a route
// handler produced breaks the document: the status is not documented for the operation, the content
// type is not one it lists, the JSON body does not validate against the response's schema
// (JsonSchemaValidator), a documented header has a value its schema refuses, or a header documented
// with a fixed value (`const`, e.g. Cache-Control: no-store) is missing. Event streams are checked for
// status and content type only: the server writes their head (and their Cache-Control).
//
// Test support (tgpulse_http_testing).
//
// Thread-safety: immutable after construction; check() may run from several threads.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>

#include "http/json_schema_validator.h"
#include "http/response.h"

namespace tgpulse::http {

class OpenApiContract {
 public:
  // Throws nlohmann::json::exception when `document_text` is not JSON.
  explicit OpenApiContract(std::string_view document_text);
  OpenApiContract(const OpenApiContract&) = delete;  // the validator refers to document_
  OpenApiContract& operator=(const OpenApiContract&) = delete;

  // Violations of the document by `response` as an answer of (method, pattern); empty when it conforms.
  // `pattern` is the route pattern as registered ("/v1/sessions/{id}").
  std::vector<std::string> check(boost::beast::http::verb method, std::string_view pattern,
                                 const Response& response) const;

  // Every documented answer as "METHOD pattern status" ("POST /v1/tenants 201").
  std::set<std::string> documented_answers() const;

  const nlohmann::json& document() const noexcept { return document_; }

 private:
  const nlohmann::json& resolve(const nlohmann::json& maybe_ref) const;

  nlohmann::json document_;
  JsonSchemaValidator validator_{document_};
};

// "POST /v1/tenants 201": how documented_answers() and the route tests name an answer.
std::string answer_key(boost::beast::http::verb method, std::string_view pattern, unsigned status);

}  // namespace tgpulse::http
