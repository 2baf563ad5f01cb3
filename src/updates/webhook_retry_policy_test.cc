#include "updates/webhook_retry_policy.h"

#include <gtest/gtest.h>

namespace tgpulse::updates {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

WebhookRetryOptions options() {
  WebhookRetryOptions o;
  o.initial_backoff = 1000ms;
  o.max_backoff = 60000ms;
  o.max_retry_after = 120s;
  o.max_age = 3600s;
  return o;
}

TEST(WebhookRetryPolicyTest, BackOffDoublesUpToTheCapWithFullJitter) {
  const auto o = options();
  // The top of the jitter range: 1 s, 2 s, 4 s, ... capped at 60 s.
  const milliseconds top[] = {1000ms, 2000ms, 4000ms, 8000ms, 16000ms, 32000ms, 60000ms, 60000ms};
  for (int attempt = 1; attempt <= 8; ++attempt) {
    auto d = next_webhook_retry(o, attempt, 500, std::nullopt, 0ms, 0.999999);
    EXPECT_FALSE(d.give_up);
    EXPECT_STREQ(d.reason, "backoff");
    EXPECT_NEAR(static_cast<double>(d.wait.count()), static_cast<double>(top[attempt - 1].count()), 1) << attempt;
    // Full jitter: the bottom of the range is 0, the middle is half.
    EXPECT_EQ(next_webhook_retry(o, attempt, 500, std::nullopt, 0ms, 0).wait, 0ms);
    EXPECT_EQ(next_webhook_retry(o, attempt, 500, std::nullopt, 0ms, 0.5).wait, top[attempt - 1] / 2);
  }
  // Huge attempt numbers neither overflow nor exceed the cap.
  EXPECT_EQ(next_webhook_retry(o, 1000000, 0, std::nullopt, 0ms, 0.5).wait, 30000ms);
  EXPECT_EQ(next_webhook_retry(o, -5, 0, std::nullopt, 0ms, 0.5).wait, 500ms);
}

TEST(WebhookRetryPolicyTest, RetryAfterOfA429IsHonouredWithinItsCap) {
  const auto o = options();
  auto d = next_webhook_retry(o, 1, 429, 30s, 0ms, 0.5);
  EXPECT_EQ(d.wait, 30000ms);
  EXPECT_STREQ(d.reason, "retry_after");
  EXPECT_EQ(next_webhook_retry(o, 1, 503, 7s, 0ms, 0.1).wait, 7000ms);
  // Beyond max_retry_after: the cap.
  EXPECT_EQ(next_webhook_retry(o, 1, 429, 100000s, 0ms, 0.5).wait, 120000ms);
  // Shorter than the jittered back-off: the back-off (a Retry-After: 0 cannot make a tight loop longer).
  auto shorter = next_webhook_retry(o, 6, 429, 1s, 0ms, 0.5);
  EXPECT_EQ(shorter.wait, 16000ms);
  EXPECT_STREQ(shorter.reason, "backoff");
  // Only 429 and 503 carry a meaningful Retry-After.
  EXPECT_EQ(next_webhook_retry(o, 1, 500, 90s, 0ms, 0.5).wait, 500ms);
}

TEST(WebhookRetryPolicyTest, AnUpdateOlderThanMaxAgeIsGivenUp) {
  const auto o = options();
  EXPECT_FALSE(next_webhook_retry(o, 3, 500, std::nullopt, 3590000ms, 0.5).give_up);  // 3590 s + 2 s < 3600 s
  auto d = next_webhook_retry(o, 3, 500, std::nullopt, 3599000ms, 0.5);                // 3599 s + 2 s > 3600 s
  EXPECT_TRUE(d.give_up);
  EXPECT_STREQ(d.reason, "max_age");
  EXPECT_TRUE(next_webhook_retry(o, 1, 429, 60s, 3550000ms, 0).give_up);  // the Retry-After would pass it
  EXPECT_TRUE(next_webhook_retry(o, 1, 0, std::nullopt, 7200000ms, 0).give_up);
}

}  // namespace
}  // namespace tgpulse::updates
