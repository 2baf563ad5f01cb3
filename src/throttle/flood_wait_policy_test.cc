#include "throttle/flood_wait_policy.h"

#include <gtest/gtest.h>

#include <chrono>

namespace tgpulse::throttle {
namespace {

using namespace std::chrono_literals;

constexpr Clock::Duration kLongDeadline = 1h;

TEST(FloodWaitPolicy, DefaultsAreTelethons) {
  FloodOptions o;
  EXPECT_EQ(o.sleep_threshold, 60s);
  EXPECT_EQ(o.request_retries, 5);
}

TEST(FloodWaitPolicy, WaitsUpToTheThresholdAreSleptAndRetried) {
  FloodWaitPolicy policy{FloodOptions{}};
  FloodDecision d = policy.on_flood_wait(60, 0, FloodMode::wait, kLongDeadline);
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.seconds, 60);
  EXPECT_EQ(d.wait, 60s);
  EXPECT_TRUE(policy.on_flood_wait(3, 0, FloodMode::wait, kLongDeadline).retry);
}

TEST(FloodWaitPolicy, LongerWaitsFailFastWithTheirSeconds) {
  FloodWaitPolicy policy{FloodOptions{}};
  FloodDecision d = policy.on_flood_wait(61, 0, FloodMode::wait, kLongDeadline);
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.seconds, 61);
}

TEST(FloodWaitPolicy, FloodWaitZeroCountsAsOneSecond) {
  FloodWaitPolicy policy{FloodOptions{}};
  EXPECT_EQ(FloodWaitPolicy::effective_seconds(0), 1);
  EXPECT_EQ(FloodWaitPolicy::effective_seconds(-3), 1);
  EXPECT_EQ(FloodWaitPolicy::effective_seconds(7), 7);
  FloodDecision d = policy.on_flood_wait(0, 0, FloodMode::wait, kLongDeadline);
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.wait, 1s);
  // With a threshold of 0 even FLOOD_WAIT_0 is too long to sleep.
  FloodOptions zero;
  zero.sleep_threshold = 0s;
  EXPECT_FALSE(FloodWaitPolicy(zero).on_flood_wait(0, 0, FloodMode::wait, kLongDeadline).retry);
}

TEST(FloodWaitPolicy, RetriesStopAfterRequestRetries) {
  FloodOptions o;
  o.request_retries = 2;
  FloodWaitPolicy policy(o);
  EXPECT_TRUE(policy.on_flood_wait(1, 0, FloodMode::wait, kLongDeadline).retry);
  EXPECT_TRUE(policy.on_flood_wait(1, 1, FloodMode::wait, kLongDeadline).retry);
  EXPECT_FALSE(policy.on_flood_wait(1, 2, FloodMode::wait, kLongDeadline).retry);
  o.request_retries = 0;
  EXPECT_FALSE(FloodWaitPolicy(o).on_flood_wait(1, 0, FloodMode::wait, kLongDeadline).retry);
}

TEST(FloodWaitPolicy, AWaitPastTheDeadlineFailsFast) {
  FloodWaitPolicy policy{FloodOptions{}};
  EXPECT_FALSE(policy.on_flood_wait(10, 0, FloodMode::wait, 9s).retry);
  EXPECT_TRUE(policy.on_flood_wait(10, 0, FloodMode::wait, 10s).retry);
}

TEST(FloodWaitPolicy, FailFastModeNeverSleeps) {
  FloodWaitPolicy policy{FloodOptions{}};
  EXPECT_FALSE(policy.on_flood_wait(1, 0, FloodMode::fail_fast, kLongDeadline).retry);
  EXPECT_FALSE(policy.may_wait_for_ledger(1s, FloodMode::fail_fast, kLongDeadline));
}

TEST(FloodWaitPolicy, LedgerWaitsFollowTheThresholdAndTheDeadline) {
  FloodWaitPolicy policy{FloodOptions{}};
  EXPECT_TRUE(policy.may_wait_for_ledger(60s, FloodMode::wait, kLongDeadline));
  EXPECT_FALSE(policy.may_wait_for_ledger(61s, FloodMode::wait, kLongDeadline));
  EXPECT_FALSE(policy.may_wait_for_ledger(5s, FloodMode::wait, 4s));
}

}  // namespace
}  // namespace tgpulse::throttle
