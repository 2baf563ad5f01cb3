#include "session/tenant_limits.h"
#include "session/auth_failure_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "telemetry/metrics.h"

namespace tgpulse::session {
namespace {

using Kind = TenantLimits::Kind;
using telemetry::RejectReason;

TenantLimitsOptions small() {
  TenantLimitsOptions o;
  o.tenant_request_rate = 10;
  o.tenant_request_burst = 5;
  o.tenant_sessions = 3;
  o.process_sessions = 5;
  o.tenant_logins = 2;
  o.process_logins = 3;
  o.tenant_logins_per_minute = 100;
  o.password_attempts = 3;
  o.tenant_streams = 2;
  o.process_streams = 3;
  return o;
}

class TenantLimitsTest : public ::testing::Test {
 protected:
  FakeClock clock;
  telemetry::Registry registry;
  telemetry::Rejections rejections{registry};
};

TEST_F(TenantLimitsTest, RequestQuotaIsOneBucketPerTenantWithRetryAfter) {
  TenantLimits limits(small(), clock, &rejections);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limits.admit_request("a")) << i;
  auto refused = limits.admit_request("a");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, RejectReason::tenant_quota);
  EXPECT_FALSE(refused->process_wide);
  EXPECT_EQ(refused->retry_after_s, 1);
  EXPECT_EQ(rejections.value(RejectReason::tenant_quota), 1);
  // Another tenant has its own bucket.
  EXPECT_FALSE(limits.admit_request("b"));
  // 0.1 s later one token is back (10/s).
  clock.advance(std::chrono::milliseconds(100));
  EXPECT_FALSE(limits.admit_request("a"));
  EXPECT_TRUE(limits.admit_request("a"));
}

TEST_F(TenantLimitsTest, LoginCapsTenantThenProcessAndLeasesGiveBack) {
  TenantLimits limits(small(), clock, &rejections);
  auto a1 = limits.admit_login("a");
  auto a2 = limits.admit_login("a");
  ASSERT_FALSE(a1.refusal);
  ASSERT_FALSE(a2.refusal);
  EXPECT_EQ(limits.held(Kind::login, "a"), 2u);
  auto a3 = limits.admit_login("a");
  ASSERT_TRUE(a3.refusal);
  EXPECT_EQ(a3.refusal->reason, RejectReason::logins_cap);
  EXPECT_FALSE(a3.refusal->process_wide);
  EXPECT_GT(a3.refusal->retry_after_s, 0);
  EXPECT_FALSE(a3.session.held());

  auto b1 = limits.admit_login("b");
  ASSERT_FALSE(b1.refusal);
  auto b2 = limits.admit_login("b");  // tenant b has room, the process (3 logins) does not
  ASSERT_TRUE(b2.refusal);
  EXPECT_EQ(b2.refusal->reason, RejectReason::logins_cap);
  EXPECT_TRUE(b2.refusal->process_wide);
  EXPECT_EQ(rejections.value(RejectReason::logins_cap), 2);

  // A login that reaches its outcome gives its login slot back and keeps its session slot.
  limits.attach("s1", std::move(a1.session), std::move(a1.login));
  limits.login_ended("s1");
  EXPECT_EQ(limits.held(Kind::login, "a"), 1u);
  EXPECT_EQ(limits.held(Kind::session, "a"), 2u);
  limits.session_ended("s1");
  EXPECT_EQ(limits.held(Kind::session, "a"), 1u);
  // A lease dropped on an error path gives back too.
  a2 = {};
  EXPECT_EQ(limits.held(Kind::login, "a"), 0u);
  EXPECT_EQ(limits.held(Kind::session, "a"), 0u);
  EXPECT_EQ(limits.held(Kind::login), 1u);  // b1
}

TEST_F(TenantLimitsTest, SessionCapCountsAuthorizedAndRestoredSessions) {
  TenantLimits limits(small(), clock, &rejections);
  limits.attach_restored("r1", "a");
  limits.attach_restored("r1", "a");  // the same session twice counts once
  for (const char* id : {"s1", "s2"}) {
    auto adm = limits.admit_login("a");
    ASSERT_FALSE(adm.refusal);
    limits.attach(id, std::move(adm.session), std::move(adm.login));
    limits.login_ended(id);
  }
  EXPECT_EQ(limits.held(Kind::session, "a"), 3u);
  auto refused = limits.admit_login("a");
  ASSERT_TRUE(refused.refusal);
  EXPECT_EQ(refused.refusal->reason, RejectReason::sessions_cap);
  EXPECT_EQ(refused.refusal->retry_after_s, 0);  // waiting does not help: sessions live until deleted
  limits.session_ended("r1");
  EXPECT_FALSE(limits.admit_login("a").refusal);
}

TEST_F(TenantLimitsTest, LoginRateRefusesWithTheTimeUntilTheNextCreation) {
  TenantLimitsOptions o = small();
  o.tenant_logins_per_minute = 2;
  TenantLimits limits(o, clock, &rejections);
  EXPECT_FALSE(limits.admit_login("a").refusal);  // leases dropped at once: only the rate counts
  EXPECT_FALSE(limits.admit_login("a").refusal);
  auto r = limits.admit_login("a");
  ASSERT_TRUE(r.refusal);
  EXPECT_EQ(r.refusal->reason, RejectReason::login_rate);
  EXPECT_EQ(r.refusal->retry_after_s, 30);
  EXPECT_EQ(limits.held(Kind::session, "a"), 0u);
  clock.advance(std::chrono::seconds(30));
  EXPECT_FALSE(limits.admit_login("a").refusal);
}

TEST_F(TenantLimitsTest, PasswordAttemptsAreCountedPerLogin) {
  TenantLimits limits(small(), clock, &rejections);
  auto adm = limits.admit_login("a");
  limits.attach("s1", std::move(adm.session), std::move(adm.login));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limits.admit_password("s1")) << i;
  EXPECT_EQ(limits.password_attempts_left("s1"), 0);
  auto r = limits.admit_password("s1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, RejectReason::password_attempts);
  EXPECT_EQ(rejections.value(RejectReason::password_attempts), 1);
  auto other = limits.admit_login("a");
  limits.attach("s2", std::move(other.session), std::move(other.login));
  EXPECT_FALSE(limits.admit_password("s2"));  // another login has its own attempts
  limits.session_ended("s1");
  EXPECT_TRUE(limits.admit_password("s1"));  // an ended login takes no attempt (and no entry)
  EXPECT_EQ(limits.password_attempts_left("s2"), 2);
  limits.refund_password("s2");  // the attempt was never checked (a FloodWait): it is given back
  EXPECT_EQ(limits.password_attempts_left("s2"), 3);
  limits.refund_password("s2");  // never below zero used
  EXPECT_EQ(limits.password_attempts_left("s2"), 3);
}

TEST_F(TenantLimitsTest, StreamCapsTenantAndProcess) {
  TenantLimits limits(small(), clock, &rejections);
  auto a1 = limits.admit_stream("a");
  auto a2 = limits.admit_stream("a");
  auto a3 = limits.admit_stream("a");
  ASSERT_FALSE(a1.refusal);
  ASSERT_FALSE(a2.refusal);
  ASSERT_TRUE(a3.refusal);
  EXPECT_FALSE(a3.refusal->process_wide);
  auto b1 = limits.admit_stream("b");
  auto b2 = limits.admit_stream("b");
  ASSERT_FALSE(b1.refusal);
  ASSERT_TRUE(b2.refusal);
  EXPECT_TRUE(b2.refusal->process_wide);
  EXPECT_EQ(rejections.value(RejectReason::streams_cap), 2);
  a1.stream.release();
  a1.stream.release();  // idempotent
  EXPECT_EQ(limits.held(Kind::stream), 2u);
  EXPECT_FALSE(limits.admit_stream("b").refusal);
}

TEST_F(TenantLimitsTest, LeasesOutliveTheLimits) {
  TenantLimits::Lease lease;
  {
    TenantLimits limits(small(), clock, nullptr);
    lease = std::move(limits.admit_stream("a").stream);
    auto adm = limits.admit_login("a");
    limits.attach("s1", std::move(adm.session), std::move(adm.login));
  }
  lease.release();  // no crash, no leak (ASan)
}

TEST_F(TenantLimitsTest, ConcurrentAdmissionsNeverExceedTheCap) {
  TenantLimitsOptions o = small();
  o.tenant_streams = 7;
  o.process_streams = 7;
  TenantLimits limits(o, clock, nullptr);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<TenantLimits::Lease> kept;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        auto s = limits.admit_stream("a");
        if (!s.refusal) {
          ++admitted;
          std::lock_guard lock(mu);
          kept.push_back(std::move(s.stream));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 7);
  kept.clear();
  EXPECT_EQ(limits.held(Kind::stream, "a"), 0u);
}

TEST_F(TenantLimitsTest, IdleTenantsAreForgotten) {
  TenantLimits limits(small(), clock, nullptr);
  EXPECT_FALSE(limits.admit_request("a"));
  auto keep = limits.admit_stream("b");
  clock.advance(std::chrono::seconds(10));
  EXPECT_EQ(limits.forget_idle(), 1u);  // a: full bucket, nothing held; b holds a stream
  EXPECT_EQ(limits.held(Kind::stream, "b"), 1u);
}

TEST(TenantLimitsOptionsTest, ValidateNamesTheKey) {
  TenantLimitsOptions o;
  EXPECT_TRUE(o.validate());
  o.tenant_sessions = 10;
  o.process_sessions = 5;
  auto s = o.validate();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("limits.tenant_sessions"), std::string::npos);
  o = {};
  o.password_attempts = -1;
  ASSERT_FALSE(o.validate());
  EXPECT_NE(o.validate().error().message.find("limits.password_attempts"), std::string::npos);
  o = {};
  o.tenant_request_burst = 0;
  EXPECT_NE(o.validate().error().message.find("limits.tenant_request_burst"), std::string::npos);
}

using namespace std::chrono_literals;

TenantLimitsOptions limiter_options(double rate, double burst, int clients) {
  TenantLimitsOptions o;
  o.auth_failure_rate = rate;
  o.auth_failure_burst = burst;
  o.auth_failure_clients = clients;
  return o;
}

// The limiter of unknown tokens per client address (auth_failure_limiter.h), on the same options.
using AuthFailureLimiterTest = TenantLimitsTest;

TEST_F(AuthFailureLimiterTest, AClientGetsItsBurstThenARefusalWithRetryAfterCounted) {
  AuthFailureLimiter limiter(limiter_options(1, 3, 100), clock, &rejections);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.admit("192.0.2.7")) << i;
  auto refused = limiter.admit("192.0.2.7");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, RejectReason::auth_failures);
  EXPECT_EQ(refused->retry_after_s, 1);
  EXPECT_FALSE(refused->process_wide);
  EXPECT_EQ(refused->message.find("192.0.2.7"), std::string::npos);  // the address goes nowhere
  EXPECT_EQ(rejections.value(RejectReason::auth_failures), 1);
  EXPECT_FALSE(limiter.admit("198.51.100.1"));  // another client is not touched
  clock.advance(1s);
  EXPECT_FALSE(limiter.admit("192.0.2.7"));  // one more a second
  EXPECT_TRUE(limiter.admit("192.0.2.7"));
}

TEST_F(AuthFailureLimiterTest, ALookupThatFindsATenantGivesItsTokenBack) {
  AuthFailureLimiter limiter(limiter_options(1, 2, 100), clock, &rejections);
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(limiter.admit("192.0.2.7")) << i;
    limiter.succeeded("192.0.2.7");  // a valid token: never counted as a failure
  }
  EXPECT_EQ(rejections.value(RejectReason::auth_failures), 0);
}

TEST_F(AuthFailureLimiterTest, AnIpv6ClientIsItsSlash64) {
  EXPECT_EQ(AuthFailureLimiter::client_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(AuthFailureLimiter::client_key("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(AuthFailureLimiter::client_key("192.0.2.7"), "192.0.2.7");
  AuthFailureLimiter limiter(limiter_options(1, 1, 100), clock, &rejections);
  EXPECT_FALSE(limiter.admit("2001:db8:1:2::1"));
  EXPECT_TRUE(limiter.admit("2001:db8:1:2:ffff::9"));  // same /64: same bucket
  EXPECT_FALSE(limiter.admit("2001:db8:1:3::1"));
}

// The attacker's view: many addresses cannot grow the table past its bound; the ones without room
// share one bucket, and clients that stopped failing make room again.
TEST_F(AuthFailureLimiterTest, TheTableIsBoundedAndNewcomersShareTheOverflowBucket) {
  AuthFailureLimiter limiter(limiter_options(1, 2, 3), clock, &rejections);
  for (int i = 1; i <= 3; ++i) EXPECT_FALSE(limiter.admit("192.0.2." + std::to_string(i)));
  EXPECT_EQ(limiter.clients(), 3u);
  EXPECT_FALSE(limiter.admit("203.0.113.1"));  // overflow bucket: 2 tokens for everyone without room
  EXPECT_FALSE(limiter.admit("203.0.113.2"));
  EXPECT_TRUE(limiter.admit("203.0.113.3"));
  EXPECT_EQ(limiter.clients(), 3u);
  clock.advance(2s);  // the first three are full again: a sweep may drop them
  EXPECT_FALSE(limiter.admit("203.0.113.4"));
  EXPECT_EQ(limiter.clients(), 1u);
}

TEST_F(AuthFailureLimiterTest, ARateOfZeroTurnsTheLimitOff) {
  AuthFailureLimiter limiter(limiter_options(0, 1, 100), clock, &rejections);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(limiter.admit("192.0.2.7"));
  EXPECT_EQ(limiter.clients(), 0u);
}

}  // namespace
}  // namespace tgpulse::session
