#include "throttle/throttle.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace tgpulse::throttle {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

ThrottleOptions five_per_second() {
  ThrottleOptions o;
  o.session = LayerOptions{BucketLimit{5, 1}, {{"sendMessage", {10000, 1}}}};
  o.process = LayerOptions{BucketLimit{0, 1}, {}};
  o.tenant = LayerOptions{BucketLimit{1, 1}, {}};
  return o;
}

struct Fixture : ::testing::Test {
  telemetry::Registry registry;
  telemetry::TelethonMetrics metrics{registry};
  Throttle throttle{five_per_second(), SystemClock::instance(), metrics, registry, telemetry::CatalogOptions{}.known_methods};
  asio::io_context io;

  Status acquire(const std::string& session, const std::string& method, Clock::Duration budget) {
    std::optional<Status> out;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      std::string s = session;
      std::string m = method;
      out.emplace(co_await throttle.acquire(s, m, SystemClock::instance().now() + budget));
    }, asio::detached);
    io.restart();
    io.run();
    return *out;
  }
  double hits(std::string_view method) { return metrics.method(method).rate_limit_hits->value(); }
};

using ThrottleTest = Fixture;

TEST_F(ThrottleTest, ATokenAtHandPassesAtOnceAndObservesZeroDelay) {
  const auto t0 = SteadyClock::now();
  ASSERT_TRUE(acquire("s1", "getMe", 1s).ok());
  EXPECT_LT(SteadyClock::now() - t0, 100ms);
  EXPECT_EQ(metrics.throttling_delay.count(), 1u);
  EXPECT_EQ(metrics.throttling_delay.sum(), 0);
  EXPECT_EQ(hits("getMe"), 0);
}

TEST_F(ThrottleTest, NoTokenWaitsOnATimerThenPassesAndCountsAHit) {
  ASSERT_TRUE(acquire("s1", "getMe", 1s).ok());
  const auto t0 = SteadyClock::now();
  ASSERT_TRUE(acquire("s1", "getMe", 1s).ok());  // 5/s: the next token in 200 ms
  EXPECT_GE(SteadyClock::now() - t0, 190ms);
  EXPECT_EQ(hits("getMe"), 1);
  EXPECT_EQ(metrics.throttling_delay.count(), 2u);
  EXPECT_NEAR(metrics.throttling_delay.sum(), 0.2, 0.01);
}

TEST_F(ThrottleTest, AWaitPastTheDeadlineIsRefusedAtOnceAndTakesNoToken) {
  ASSERT_TRUE(acquire("s1", "getMe", 1s).ok());
  const auto t0 = SteadyClock::now();
  Status refused = acquire("s1", "getMe", 50ms);
  EXPECT_LT(SteadyClock::now() - t0, 50ms);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::throttled);
  EXPECT_EQ(refused.error().retry_after_s, 1);
  EXPECT_EQ(hits("getMe"), 1);
  EXPECT_EQ(metrics.throttling_delay.count(), 1u);  // only passing acquires observe
  // The refusal took nothing: the next caller still gets the token 200 ms after the first.
  const auto t1 = SteadyClock::now();
  ASSERT_TRUE(acquire("s1", "getMe", 1s).ok());
  EXPECT_LT(SteadyClock::now() - t1, 250ms);
}

TEST_F(ThrottleTest, ThousandsWaitAtOnceOnOneThread) {
  // 10,000/s with a burst of 1: 2,000 calls of one session queue up to 200 ms, all on this thread.
  constexpr int kCalls = 2000;
  int done = 0;
  int ok = 0;
  int waiting = 0;
  int max_waiting = 0;
  for (int i = 0; i < kCalls; ++i) {
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      ++waiting;
      max_waiting = std::max(max_waiting, waiting);
      std::string s = "s1";
      std::string m = "sendMessage";
      Status st = co_await throttle.acquire(s, m, SystemClock::instance().now() + 10s);
      --waiting;
      ok += st.ok();
      ++done;
    }, asio::detached);
  }
  const auto t0 = SteadyClock::now();
  io.run();
  EXPECT_EQ(done, kCalls);
  EXPECT_EQ(ok, kCalls);
  EXPECT_GT(max_waiting, kCalls / 2);
  EXPECT_LT(SteadyClock::now() - t0, 2s);
  // All but the first wait (a slow machine may let a token refill between two spawns).
  EXPECT_GT(hits("sendMessage"), kCalls * 9 / 10);
  EXPECT_LE(hits("sendMessage"), kCalls - 1);
}

TEST_F(ThrottleTest, TenantQuotaRefusesWithRetryAfterAndCountsAHit) {
  EXPECT_TRUE(throttle.admit_tenant("t1", "getChats").ok());
  Status refused = throttle.admit_tenant("t1", "getChats");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::throttled);
  EXPECT_EQ(refused.error().retry_after_s, 1);
  EXPECT_EQ(hits("getChats"), 1);
}

TEST_F(ThrottleTest, GaugesShowTheSlowestSessionAndHowManyAreSlowed) {
  auto gauge = [&](std::string_view name, std::string_view label, std::string_view value) {
    const std::string text = registry.expose(telemetry::ExpositionFormat::prometheus_text_004);
    const std::string key = std::string(name) + "{" + std::string(label) + "=\"" + std::string(value) + "\"} ";
    const auto pos = text.find(key);
    return pos == std::string::npos ? std::string("missing") : text.substr(pos + key.size(), text.find('\n', pos) - pos - key.size());
  };
  auto rate = [&](std::string_view m) { return gauge("tgpulse_throttle_rate", "method", m); };
  auto slowed = [&](std::string_view m) { return gauge("tgpulse_throttle_slowed_sessions", "method", m); };
  EXPECT_EQ(rate("getMe"), "5");
  EXPECT_EQ(rate("other"), "5");
  EXPECT_EQ(slowed("getMe"), "0");

  throttle.on_flood_wait("s1", "getMe");
  throttle.on_success("s2", "getMe");  // s2 at its configured rate: does not hide s1
  EXPECT_EQ(rate("getMe"), "2.5");
  EXPECT_EQ(slowed("getMe"), "1");
  throttle.on_success("s1", "getMe");
  EXPECT_EQ(rate("getMe"), "2.75");

  // The slowest session wins, whichever adapted last.
  throttle.on_flood_wait("s2", "getMe");
  throttle.on_flood_wait("s2", "getMe");
  throttle.on_success("s1", "getMe");
  EXPECT_EQ(rate("getMe"), "1.25");
  EXPECT_EQ(slowed("getMe"), "2");

  throttle.on_flood_wait("s1", "someUnknownMethod");
  EXPECT_EQ(rate("other"), "2.5");
  EXPECT_EQ(slowed("other"), "1");
  EXPECT_EQ(gauge("tgpulse_throttle_buckets", "layer", "session"), "3");

  // Sessions that go away take their buckets with them.
  throttle.layers().forget_session("s1");
  throttle.layers().forget_session("s2");
  EXPECT_EQ(rate("getMe"), "5");
  EXPECT_EQ(slowed("getMe"), "0");
  EXPECT_EQ(rate("other"), "5");
  EXPECT_EQ(gauge("tgpulse_throttle_buckets", "layer", "session"), "0");
  EXPECT_EQ(registry.expose(telemetry::ExpositionFormat::prometheus_text_004).find("s1"), std::string::npos);
}

TEST(ThrottleLifetime, ARegistryThatOutlivesTheThrottleStillExposes) {
  telemetry::Registry registry;
  telemetry::TelethonMetrics metrics(registry);
  FakeClock clock;
  {
    ThrottleOptions o;
    o.session.default_limit = {5, 1};
    Throttle t(o, clock, metrics, registry, {"getMe"});
    t.on_flood_wait("s1", "getMe");
    EXPECT_NE(registry.expose(telemetry::ExpositionFormat::prometheus_text_004).find("tgpulse_throttle_rate{method=\"getMe\"} 2.5"),
              std::string::npos);
  }
  EXPECT_NE(registry.expose(telemetry::ExpositionFormat::prometheus_text_004).find("tgpulse_throttle_rate"),
            std::string::npos);
}

TEST(RetryAfterSeconds, RoundsUpToWholeSecondsAtLeastOne) {
  EXPECT_EQ(retry_after_seconds(0ms), 1);
  EXPECT_EQ(retry_after_seconds(1ms), 1);
  EXPECT_EQ(retry_after_seconds(1000ms), 1);
  EXPECT_EQ(retry_after_seconds(1001ms), 2);
  EXPECT_EQ(retry_after_seconds(120s), 120);
}

}  // namespace
}  // namespace tgpulse::throttle
