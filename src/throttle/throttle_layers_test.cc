#include "throttle/throttle_layers.h"

#include <gtest/gtest.h>

#include <chrono>

namespace tgpulse::throttle {
namespace {

using namespace std::chrono_literals;

ThrottleOptions small_limits() {
  ThrottleOptions o;
  o.session = LayerOptions{BucketLimit{10, 2}, {{"sendMessage", {1, 1}}}};
  o.process = LayerOptions{BucketLimit{0, 1}, {{"getChats", {2, 2}}}};
  o.tenant = LayerOptions{BucketLimit{5, 2}, {{"getMe", {0, 1}}}};
  return o;
}

TEST(ThrottleLayers, EachSessionAndMethodHasItsOwnBucket) {
  FakeClock clock;
  ThrottleLayers layers(small_limits(), clock);
  EXPECT_EQ(layers.reserve_call("s1", "sendMessage", 0s).delay, 0s);
  EXPECT_FALSE(layers.reserve_call("s1", "sendMessage", 0s).granted);
  EXPECT_TRUE(layers.reserve_call("s2", "sendMessage", 0s).granted);  // another session
  EXPECT_TRUE(layers.reserve_call("s1", "getMe", 0s).granted);        // another method: the default
}

TEST(ThrottleLayers, PerMethodLimitOverridesTheDefault) {
  FakeClock clock;
  ThrottleLayers layers(small_limits(), clock);
  ASSERT_TRUE(layers.reserve_call("s1", "sendMessage", 0s).granted);
  EXPECT_EQ(layers.reserve_call("s1", "sendMessage", 10s).delay, 1s);  // 1/s
  ASSERT_TRUE(layers.reserve_call("s1", "getMe", 0s).granted);
  ASSERT_TRUE(layers.reserve_call("s1", "getMe", 0s).granted);
  EXPECT_EQ(layers.reserve_call("s1", "getMe", 10s).delay, 100ms);  // default 10/s
}

TEST(ThrottleLayers, ProcessLayerIsSharedByAllSessions) {
  FakeClock clock;
  ThrottleLayers layers(small_limits(), clock);
  EXPECT_EQ(layers.reserve_call("a", "getChats", 0s).delay, 0s);
  EXPECT_EQ(layers.reserve_call("b", "getChats", 0s).delay, 0s);
  // Sessions c has tokens of its own, but the process bucket (2/s, burst 2) is empty.
  Grant g = layers.reserve_call("c", "getChats", 0s);
  EXPECT_FALSE(g.granted);
  EXPECT_EQ(g.delay, 500ms);
}

TEST(ThrottleLayers, DelayIsTheLargestOfTheLayers) {
  FakeClock clock;
  ThrottleOptions o = small_limits();
  o.session.per_method["getChats"] = BucketLimit{1, 1};  // session 1/s, process 2/s
  ThrottleLayers layers(o, clock);
  ASSERT_EQ(layers.reserve_call("a", "getChats", 0s).delay, 0s);
  EXPECT_EQ(layers.reserve_call("a", "getChats", 5s).delay, 1s);  // session: 1 s, process: 0 s
}

TEST(ThrottleLayers, RefusalReservesInNoLayer) {
  FakeClock clock;
  ThrottleOptions o = small_limits();
  o.session.per_method["getChats"] = BucketLimit{1, 1};
  ThrottleLayers layers(o, clock);
  ASSERT_TRUE(layers.reserve_call("a", "getChats", 0s).granted);
  // Session "a" needs 1 s: refused with a 100 ms bound, and the process bucket keeps its token ...
  Grant refused = layers.reserve_call("a", "getChats", 100ms);
  EXPECT_FALSE(refused.granted);
  EXPECT_EQ(refused.delay, 1s);
  // ... so session "b" still finds the process layer's second token at once.
  EXPECT_EQ(layers.reserve_call("b", "getChats", 0s).delay, 0s);
  EXPECT_FALSE(layers.reserve_call("c", "getChats", 0s).granted);
}

TEST(ThrottleLayers, GrantedWaitsQueueUpToTheBound) {
  FakeClock clock;
  ThrottleLayers layers(small_limits(), clock);
  ASSERT_TRUE(layers.reserve_call("s", "sendMessage", 0s).granted);
  EXPECT_EQ(layers.reserve_call("s", "sendMessage", 2s).delay, 1s);
  EXPECT_EQ(layers.reserve_call("s", "sendMessage", 2s).delay, 2s);
  Grant g = layers.reserve_call("s", "sendMessage", 2s);
  EXPECT_FALSE(g.granted);
  EXPECT_EQ(g.delay, 3s);
  clock.advance(3s);
  EXPECT_EQ(layers.reserve_call("s", "sendMessage", 0s).delay, 0s);
}

TEST(ThrottleLayers, TenantQuotaIsRefusedAtOnceNeverQueued) {
  FakeClock clock;
  ThrottleLayers layers(small_limits(), clock);
  EXPECT_TRUE(layers.reserve_tenant("t1", "getChats").granted);
  EXPECT_TRUE(layers.reserve_tenant("t1", "getChats").granted);
  Grant g = layers.reserve_tenant("t1", "getChats");
  EXPECT_FALSE(g.granted);
  EXPECT_EQ(g.delay, 200ms);  // 5/s
  EXPECT_TRUE(layers.reserve_tenant("t2", "getChats").granted);  // another tenant
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(layers.reserve_tenant("t1", "getMe").granted);  // unlimited
  clock.advance(200ms);
  EXPECT_TRUE(layers.reserve_tenant("t1", "getChats").granted);
}

TEST(ThrottleLayers, FloodWaitSlowsOnlyThatSessionsMethodAndSuccessRecovers) {
  FakeClock clock;
  ThrottleLayers layers(small_limits(), clock, {"getMe", "getChats"});
  EXPECT_DOUBLE_EQ(layers.on_flood_wait("s1", "getMe"), 5);
  EXPECT_DOUBLE_EQ(layers.current_rate("s1", "getMe"), 5);
  EXPECT_DOUBLE_EQ(layers.current_rate("s1", "getChats"), 10);
  EXPECT_DOUBLE_EQ(layers.current_rate("s2", "getMe"), 10);
  for (int i = 0; i < 10; ++i) layers.on_success("s1", "getMe");
  EXPECT_DOUBLE_EQ(layers.current_rate("s1", "getMe"), 10);
}

TEST(ThrottleLayers, RotatingUnknownMethodsSharesOneBucketAndGrowsNoMap) {
  FakeClock clock;
  ThrottleOptions o = small_limits();
  o.process.default_limit = BucketLimit{100, 100};  // a process default: every layer stores buckets
  ThrottleLayers layers(o, clock, {"getMe"});
  // Session default burst 2: two calls of made-up methods pass, the third waits — whatever its name.
  ASSERT_TRUE(layers.reserve_call("s1", "rotate0", 0s).granted);
  ASSERT_TRUE(layers.reserve_call("s1", "rotate1", 0s).granted);
  EXPECT_FALSE(layers.reserve_call("s1", "rotate2", 0s).granted);
  // A known method keeps its own bucket.
  EXPECT_TRUE(layers.reserve_call("s1", "getMe", 0s).granted);
  // Tenant layer (default burst 2): one bucket for every method not listed, known or not.
  ASSERT_TRUE(layers.reserve_tenant("t", "rotateA").granted);
  ASSERT_TRUE(layers.reserve_tenant("t", "getChats").granted);
  EXPECT_FALSE(layers.reserve_tenant("t", "rotateB").granted);
  EXPECT_TRUE(layers.reserve_tenant("t", "getMe").granted);  // listed: its own (unlimited) limit
  // Ten thousand distinct names later the maps hold what they held.
  const std::size_t before = layers.bucket_count();
  for (int i = 0; i < 10000; ++i) {
    (void)layers.reserve_call("s1", "m" + std::to_string(i), 1h);
    (void)layers.reserve_tenant("t", "m" + std::to_string(i));
  }
  EXPECT_EQ(layers.bucket_count(), before);
  EXPECT_LE(before, 6u);  // s1: (other), getMe; process: (other), getMe; tenant t: (other)
}

TEST(ThrottleLayers, DisabledGrantsEveryCallButKeepsTheTenantQuota) {
  FakeClock clock;
  ThrottleOptions o = small_limits();
  o.enabled = false;
  ThrottleLayers layers(o, clock);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(layers.reserve_call("s", "sendMessage", 0s).delay, 0s);
  EXPECT_TRUE(layers.reserve_tenant("t", "getChats").granted);
  EXPECT_TRUE(layers.reserve_tenant("t", "getChats").granted);
  EXPECT_FALSE(layers.reserve_tenant("t", "getChats").granted);
}

TEST(ThrottleLayers, ForgetAndSweepDropBuckets) {
  FakeClock clock;
  ThrottleLayers layers(small_limits(), clock);
  ASSERT_TRUE(layers.reserve_call("s1", "getChats", 0s).granted);  // session + process buckets
  ASSERT_TRUE(layers.reserve_call("s2", "sendMessage", 0s).granted);
  ASSERT_TRUE(layers.reserve_tenant("t", "getChats").granted);
  EXPECT_EQ(layers.bucket_count(), 4u);
  layers.forget_session("s2");
  EXPECT_EQ(layers.bucket_count(), 3u);
  layers.on_flood_wait("s1", "getChats");
  clock.advance(1h);
  EXPECT_EQ(layers.sweep_idle(), 2u);  // the process and tenant buckets; s1's is still slowed down
  EXPECT_EQ(layers.bucket_count(), 1u);
  EXPECT_DOUBLE_EQ(layers.current_rate("s1", "getChats"), 5);
}

TEST(ThrottleLayers, IdleBucketsAreSweptOnTheirOwnAsSessionsComeAndGo) {
  FakeClock clock;
  ThrottleLayers layers(small_limits(), clock);
  // 5,000 one-off sessions, each leaving a bucket that is full again 1 s later.
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(layers.reserve_call("s" + std::to_string(i), "getMe", 0s).granted);
    clock.advance(1s);
  }
  EXPECT_LE(layers.bucket_count(), 1024u);
  // A bucket still in use (slowed down) survives every sweep.
  layers.on_flood_wait("keep", "getMe");
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(layers.reserve_call("t" + std::to_string(i), "getMe", 0s).granted);
    clock.advance(1s);
  }
  EXPECT_DOUBLE_EQ(layers.current_rate("keep", "getMe"), 5);
}

TEST(ThrottleOptions, DefaultsAreValidAndBadValuesNameTheKey) {
  ThrottleOptions o;
  EXPECT_TRUE(o.validate().ok());
  o.session.per_method["sendMessage"].burst = 0;
  Status s = o.validate();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("throttle.session.sendMessage.burst"), std::string::npos);
  o = ThrottleOptions{};
  o.flood.request_retries = -1;
  ASSERT_FALSE(o.validate().ok());
  EXPECT_NE(o.validate().error().message.find("flood.request_retries"), std::string::npos);
  o = ThrottleOptions{};
  o.adaptive.decrease_factor = 1.5;
  EXPECT_FALSE(o.validate().ok());
}

}  // namespace
}  // namespace tgpulse::throttle
