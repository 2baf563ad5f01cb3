#include "throttle/token_bucket.h"

#include <gtest/gtest.h>

#include <chrono>

namespace tgpulse::throttle {
namespace {

using namespace std::chrono_literals;

AdaptiveOptions halving() { return AdaptiveOptions{}; }  // enabled, ×0.5, +5%, floor 5%

TEST(TokenBucket, StartsFullAndGrantsTheBurstAtOnce) {
  FakeClock clock;
  TokenBucket b(BucketLimit{10, 5}, halving(), clock.now());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(b.try_take(clock.now())) << i;
  EXPECT_FALSE(b.try_take(clock.now()));
}

TEST(TokenBucket, RefillsAtTheRateAndNeverAboveTheBurst) {
  FakeClock clock;
  TokenBucket b(BucketLimit{10, 5}, halving(), clock.now());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(b.try_take(clock.now()));
  EXPECT_EQ(b.time_until_available(clock.now()), 100ms);
  clock.advance(99ms);
  EXPECT_FALSE(b.try_take(clock.now()));
  clock.advance(1ms);
  EXPECT_TRUE(b.try_take(clock.now()));
  clock.advance(1h);
  EXPECT_DOUBLE_EQ(b.tokens(clock.now()), 5);
}

TEST(TokenBucket, ReservationsQueueBehindEachOther) {
  FakeClock clock;
  TokenBucket b(BucketLimit{2, 1}, halving(), clock.now());
  EXPECT_EQ(b.reserve(clock.now()), 0ms);
  EXPECT_EQ(b.reserve(clock.now()), 500ms);
  EXPECT_EQ(b.reserve(clock.now()), 1000ms);
  EXPECT_EQ(b.time_until_available(clock.now()), 1500ms);
  clock.advance(1000ms);
  EXPECT_EQ(b.time_until_available(clock.now()), 500ms);
}

TEST(TokenBucket, RefundGivesBackAnUnusedReservation) {
  FakeClock clock;
  TokenBucket b(BucketLimit{1, 1}, halving(), clock.now());
  ASSERT_EQ(b.reserve(clock.now()), 0s);
  ASSERT_EQ(b.reserve(clock.now()), 1s);
  b.refund(clock.now());
  EXPECT_EQ(b.time_until_available(clock.now()), 1s);
  b.refund(clock.now());
  b.refund(clock.now());  // never above the burst
  EXPECT_DOUBLE_EQ(b.tokens(clock.now()), 1);
}

TEST(TokenBucket, UnlimitedGrantsEverythingAndDoesNotAdapt) {
  FakeClock clock;
  TokenBucket b(BucketLimit{0, 1}, halving(), clock.now());
  EXPECT_TRUE(b.unlimited());
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(b.reserve(clock.now()), 0s);
  b.on_flood_wait(clock.now());
  EXPECT_EQ(b.current_rate(), 0);
}

TEST(TokenBucket, FloodWaitHalvesTheRateDownToTheFloor) {
  FakeClock clock;
  TokenBucket b(BucketLimit{10, 1}, halving(), clock.now());
  b.on_flood_wait(clock.now());
  EXPECT_DOUBLE_EQ(b.current_rate(), 5);
  b.on_flood_wait(clock.now());
  EXPECT_DOUBLE_EQ(b.current_rate(), 2.5);
  for (int i = 0; i < 10; ++i) b.on_flood_wait(clock.now());
  EXPECT_DOUBLE_EQ(b.current_rate(), 0.5);  // floor: 5% of 10/s
  // The slower rate is what refills the bucket.
  ASSERT_TRUE(b.try_take(clock.now()));
  EXPECT_EQ(b.time_until_available(clock.now()), 2s);
}

TEST(TokenBucket, SuccessRecoversStepByStepUpToTheConfiguredRate) {
  FakeClock clock;
  TokenBucket b(BucketLimit{10, 1}, halving(), clock.now());
  b.on_flood_wait(clock.now());
  ASSERT_DOUBLE_EQ(b.current_rate(), 5);
  b.on_success(clock.now());
  EXPECT_DOUBLE_EQ(b.current_rate(), 5.5);  // +5% of 10/s
  for (int i = 0; i < 8; ++i) b.on_success(clock.now());
  EXPECT_NEAR(b.current_rate(), 9.5, 1e-9);
  b.on_success(clock.now());
  b.on_success(clock.now());
  EXPECT_DOUBLE_EQ(b.current_rate(), 10);  // ceiling
}

TEST(TokenBucket, TokensEarnedBeforeARateChangeUseTheOldRate) {
  FakeClock clock;
  TokenBucket b(BucketLimit{10, 10}, halving(), clock.now());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(b.try_take(clock.now()));
  clock.advance(500ms);  // 5 tokens at 10/s
  b.on_flood_wait(clock.now());
  EXPECT_NEAR(b.tokens(clock.now()), 5, 1e-9);
}

TEST(TokenBucket, AdaptationOffKeepsTheConfiguredRate) {
  FakeClock clock;
  AdaptiveOptions off;
  off.enabled = false;
  TokenBucket b(BucketLimit{10, 1}, off, clock.now());
  b.on_flood_wait(clock.now());
  EXPECT_DOUBLE_EQ(b.current_rate(), 10);
}

TEST(TokenBucket, IdleOnlyWhenFullAndAtItsConfiguredRate) {
  FakeClock clock;
  TokenBucket b(BucketLimit{1, 2}, halving(), clock.now());
  EXPECT_TRUE(b.idle(clock.now()));
  ASSERT_TRUE(b.try_take(clock.now()));
  EXPECT_FALSE(b.idle(clock.now()));
  clock.advance(1s);
  EXPECT_TRUE(b.idle(clock.now()));
  b.on_flood_wait(clock.now());
  EXPECT_FALSE(b.idle(clock.now()));
}

}  // namespace
}  // namespace tgpulse::throttle
