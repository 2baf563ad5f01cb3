#include "http/response.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "http/readiness_checks.h"

namespace tgpulse::http {
namespace {

using boost::beast::http::status;

TEST(ResponseTest, ErrorBodyHasCodeAndMessageAndExtras) {
  Response r = Response::error(status::service_unavailable, "not_ready", "failing checks: store",
                               {{"failing_checks", {"store"}}});
  EXPECT_EQ(r.status, status::service_unavailable);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(nlohmann::json::parse(r.body),
            nlohmann::json::parse(
                R"({"error":{"code":"not_ready","message":"failing checks: store","failing_checks":["store"]}})"));
}

TEST(ResponseTest, FloodWaitBecomes429WithRetryAfter) {
  Response r = Response::from_error(Error::flood(42, "getChats is flood-limited"));
  EXPECT_EQ(r.status, status::too_many_requests);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Retry-After", "42"}));
  EXPECT_EQ(nlohmann::json::parse(r.body),
            nlohmann::json::parse(
                R"({"error":{"code":"flood_wait","message":"getChats is flood-limited","retry_after":42}})"));
}

TEST(ResponseTest, EveryErrcMapsToAnErrorStatus) {
  EXPECT_EQ(status_for(Errc::invalid_argument), status::bad_request);
  EXPECT_EQ(status_for(Errc::not_found), status::not_found);
  EXPECT_EQ(status_for(Errc::unauthorized), status::unauthorized);
  EXPECT_EQ(status_for(Errc::conflict), status::conflict);
  EXPECT_EQ(status_for(Errc::payload_too_large), status::payload_too_large);
  EXPECT_EQ(status_for(Errc::throttled), status::too_many_requests);
  EXPECT_EQ(status_for(Errc::unavailable), status::service_unavailable);
  EXPECT_EQ(status_for(Errc::engine_error), status::bad_gateway);
  EXPECT_EQ(status_for(Errc::timeout), status::gateway_timeout);
  for (int e = static_cast<int>(Errc::invalid_argument); e <= static_cast<int>(Errc::internal); ++e) {
    EXPECT_GE(static_cast<int>(status_for(static_cast<Errc>(e))), 400) << errc_name(static_cast<Errc>(e));
  }
}

// What a client can act on: a TDLib timeout is 504, a busy or closing dependency 503 with Retry-After
// when the error says when to come back (a cleanup queued for a retry does).
TEST(ResponseTest, TimeoutsAndUnavailabilityTellTheClientWhatToDo) {
  const Response timeout = Response::from_error(Error(Errc::timeout, "cleanup failed: engine: logOut got no answer"));
  EXPECT_EQ(timeout.status, status::gateway_timeout);
  EXPECT_EQ(nlohmann::json::parse(timeout.body)["error"]["code"], "timeout");
  EXPECT_TRUE(timeout.headers.empty());
  Error busy(Errc::unavailable, "cleanup failed: store: database is locked; ... queued for a retry");
  busy.retry_after_s = 2;
  const Response r = Response::from_error(busy);
  EXPECT_EQ(r.status, status::service_unavailable);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["retry_after"], 2);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Retry-After", "2"}));
}

TEST(ReadinessChecksTest, ReportsFailingAndThrowingChecksByName) {
  ReadinessChecks checks;
  checks.add("store", [] { return Status(); });
  checks.add("engine", [] { return Status(Errc::unavailable, "library not loaded"); });
  checks.add("flaky", []() -> Status { throw std::runtime_error("boom"); });
  const auto outcomes = checks.run();
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_TRUE(outcomes[0].ok);
  EXPECT_EQ(outcomes[1].name, "engine");
  EXPECT_FALSE(outcomes[1].ok);
  EXPECT_EQ(outcomes[1].message, "library not loaded");
  EXPECT_FALSE(outcomes[2].ok);
  EXPECT_EQ(outcomes[2].message, "check threw: boom");
  EXPECT_THROW(checks.add("store", [] { return Status(); }), std::invalid_argument);
  EXPECT_THROW(checks.add("", [] { return Status(); }), std::invalid_argument);
}

}  // namespace
}  // namespace tgpulse::http
