#include "telemetry/rejections.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "telemetry/exposition_test_parser.h"

namespace tgpulse::telemetry {
namespace {

using testing::parse_exposition;

// The reasons an operator's alerts and dashboards select on, written out here (not read from the code).
const std::set<std::string> kReasons = {"tenant_quota",    "sessions_cap",       "logins_cap",
                                        "login_rate",      "password_attempts",  "streams_cap",
                                        "connections_cap", "forbidden_function", "invalid_function",
                                        "body_bounds",     "request_framing",    "auth_failures",
                                        "code_attempts"};

TEST(Rejections, EveryReasonIsExposedAtZeroBeforeAnyRefusal) {
  Registry registry;
  Rejections rejections(registry);
  const auto parsed = parse_exposition(registry.expose(ExpositionFormat::prometheus_text_004));
  EXPECT_EQ(parsed.type.at("tgpulse_rejected_total"), "counter");
  std::set<std::string> seen;
  for (const auto& s : parsed.samples) {
    if (s.name != "tgpulse_rejected_total") continue;
    seen.insert(s.labels.at("reason"));
    EXPECT_EQ(s.value, 0) << s.labels.at("reason");
  }
  EXPECT_EQ(seen, kReasons);
}

TEST(Rejections, CountsEachReasonOnItsOwnSeries) {
  Registry registry;
  Rejections rejections(registry);
  rejections.count(RejectReason::tenant_quota);
  rejections.count(RejectReason::tenant_quota);
  rejections.count(RejectReason::forbidden_function);
  const auto parsed = parse_exposition(registry.expose(ExpositionFormat::prometheus_text_004));
  EXPECT_EQ(parsed.value("tgpulse_rejected_total", {{"reason", "tenant_quota"}}), 2);
  EXPECT_EQ(parsed.value("tgpulse_rejected_total", {{"reason", "forbidden_function"}}), 1);
  EXPECT_EQ(parsed.value("tgpulse_rejected_total", {{"reason", "body_bounds"}}), 0);
  EXPECT_EQ(rejections.value(RejectReason::tenant_quota), 2);
}

}  // namespace
}  // namespace tgpulse::telemetry
