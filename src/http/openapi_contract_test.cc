// OpenApiContract against the repository's docs/openapi.json: a conforming answer passes; an
// undocumented status, a content type the operation does not list, a body its schema refuses, a bad
// Retry-After and a missing no-store header are each reported.
#include "http/openapi_contract.h"

#include <gtest/gtest.h>

#include "http/openapi_route.h"

namespace tgpulse::http {
namespace {

namespace bhttp = boost::beast::http;
using nlohmann::json;

class OpenApiContractCheckTest : public ::testing::Test {
 protected:
  std::vector<std::string> check(bhttp::verb method, std::string_view pattern, const Response& r) {
    return contract_.check(method, pattern, r);
  }
  OpenApiContract contract_{openapi_document()};
};

Response tenant_created() {
  return Response::json(bhttp::status::created, {{"tenant_id", "acme"}, {"token", "tgp_x"}})
      .with_header("Cache-Control", "no-store");
}

TEST_F(OpenApiContractCheckTest, AConformingAnswerPasses) {
  EXPECT_EQ(check(bhttp::verb::post, "/v1/tenants", tenant_created()), std::vector<std::string>{});
  EXPECT_EQ(check(bhttp::verb::get, "/v1/sessions/{id}", Response::error(bhttp::status::not_found, "not_found", "x")),
            std::vector<std::string>{});
}

TEST_F(OpenApiContractCheckTest, ReportsWhatBreaksTheDocument) {
  EXPECT_FALSE(check(bhttp::verb::post, "/v1/nothing", tenant_created()).empty());
  EXPECT_FALSE(check(bhttp::verb::put, "/v1/tenants", tenant_created()).empty());
  // 404 is not an answer POST /v1/tenants documents.
  EXPECT_FALSE(check(bhttp::verb::post, "/v1/tenants", Response::error(bhttp::status::not_found, "not_found", "x")).empty());
  Response as_text = tenant_created();
  as_text.content_type = "text/plain";
  EXPECT_FALSE(check(bhttp::verb::post, "/v1/tenants", as_text).empty());
  Response no_token = Response::json(bhttp::status::created, {{"tenant_id", "acme"}}).with_header("Cache-Control", "no-store");
  EXPECT_FALSE(check(bhttp::verb::post, "/v1/tenants", no_token).empty());
  Response cacheable = Response::json(bhttp::status::created, {{"tenant_id", "acme"}, {"token", "tgp_x"}});
  EXPECT_FALSE(check(bhttp::verb::post, "/v1/tenants", cacheable).empty());
  Response bad_code = Response::error(bhttp::status::not_found, "Not Found", "x");
  EXPECT_FALSE(check(bhttp::verb::get, "/v1/sessions/{id}", bad_code).empty());
  Response not_json = Response::text(bhttp::status::not_found, "{", "application/json");
  EXPECT_FALSE(check(bhttp::verb::get, "/v1/sessions/{id}", not_json).empty());
}

TEST_F(OpenApiContractCheckTest, RetryAfterMustBeSecondsWhenSent) {
  Response ok = Response::error(bhttp::status::too_many_requests, "tenant_quota", "x").with_header("Retry-After", "3");
  EXPECT_EQ(check(bhttp::verb::get, "/v1/sessions", ok), std::vector<std::string>{});
  Response date = Response::error(bhttp::status::too_many_requests, "tenant_quota", "x")
                      .with_header("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT");
  EXPECT_FALSE(check(bhttp::verb::get, "/v1/sessions", date).empty());
}

TEST_F(OpenApiContractCheckTest, ListsEveryDocumentedAnswer) {
  const std::set<std::string> all = contract_.documented_answers();
  EXPECT_EQ(all.count("POST /v1/tenants 201"), 1u);
  EXPECT_EQ(all.count("POST /v1/sessions/{id}/invoke 504"), 1u);
  EXPECT_EQ(all.count("POST /v1/tenants 404"), 0u);
}

}  // namespace
}  // namespace tgpulse::http
