#include "throttle/shared_request_quota.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "telemetry/log_memory_sink.h"
#include "throttle/redis_test_server.h"
#include "throttle/redis_test_support.h"

namespace tgpulse::throttle {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Outcome = SharedRequestQuota::Outcome;

// One "node": its own io thread, Redis client, registry, logger and quota.
struct Node {
  explicit Node(int port) {
    RedisOptions o;
    o.port = static_cast<std::uint16_t>(port);
    // Generous: these tests are about sharing and degrading, and a loaded machine (a sanitizer build
    // beside two others) can take longer than the production 50 ms for a reply — which would count as a
    // fallback. A stopped Redis refuses connections at once, whatever the timeout.
    o.timeout = 1s;
    client = RedisClient::make(io.executor(), o);
    quota = std::make_unique<SharedRequestQuota>(*client, SystemClock::instance(), registry, logger);
  }
  ~Node() { client->stop(); }
  // A sample of the exposition (as a scrape sees it).
  double metric(std::string_view name) {
    const std::string text = registry.expose(telemetry::ExpositionFormat::prometheus_text_004);
    const std::string head = "\n" + std::string(name) + " ";
    const std::size_t at = text.find(head);
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + head.size()));
  }
  double state() { return metric("tgpulse_quota_shared_state"); }
  double fallbacks() { return metric("tgpulse_quota_shared_fallbacks_total"); }
  std::uint64_t redis_calls() { return static_cast<std::uint64_t>(metric("tgpulse_quota_redis_seconds_count")); }
  std::size_t log_lines_with(std::string_view text) {
    logger.flush();
    std::size_t n = 0;
    for (const std::string& l : lines->snapshot()) n += l.find(text) != std::string::npos;
    return n;
  }
  SharedRequestQuota::Verdict admit(std::string tenant, double rate, double burst) {
    return io.run(quota->admit(std::move(tenant), rate, burst));
  }

  IoThreads io{1};
  telemetry::Registry registry;
  std::shared_ptr<telemetry::LogMemorySink::Lines> lines = std::make_shared<telemetry::LogMemorySink::Lines>();
  telemetry::Logger logger{telemetry::LoggerOptions{}, std::make_unique<telemetry::LogMemorySink>(lines)};
  std::shared_ptr<RedisClient> client;
  std::unique_ptr<SharedRequestQuota> quota;
};

// Asks `n` admissions of `tenant` one after the other, at most one per `pause`, until `until`.
asio::awaitable<void> hammer(SharedRequestQuota* quota, std::string tenant, double rate, double burst,
                             std::chrono::steady_clock::time_point until, std::atomic<int>* allowed,
                             std::atomic<int>* asked) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (std::chrono::steady_clock::now() < until) {
    asio::awaitable<SharedRequestQuota::Verdict> call = quota->admit(tenant, rate, burst);
    SharedRequestQuota::Verdict v = co_await std::move(call);
    asked->fetch_add(1);
    if (v.outcome == Outcome::allowed) allowed->fetch_add(1);
    timer.expires_after(500us);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<int> hammer_counted(SharedRequestQuota* quota, std::string tenant, double rate, double burst,
                                    std::chrono::steady_clock::time_point until, std::atomic<int>* allowed,
                                    std::atomic<int>* asked) {
  asio::awaitable<void> run = hammer(quota, std::move(tenant), rate, burst, until, allowed, asked);
  co_await std::move(run);
  co_return 0;
}

std::unique_ptr<RedisTestServer> start_server() {
  auto server = RedisTestServer::start();
  if (!server) {
    ADD_FAILURE() << server.error().message;
    return nullptr;
  }
  return std::move(*server);
}

TEST(SharedRequestQuota, TwoNodesShareOneBucket) {
  auto server = start_server();
  ASSERT_NE(server, nullptr);
  Node a(server->port()), b(server->port());
  constexpr double rate = 100, burst = 40;
  std::atomic<int> allowed{0}, asked{0};
  const auto started = std::chrono::steady_clock::now();
  const auto until = started + 3s;
  std::vector<std::future<std::optional<int>>> runs;
  for (Node* n : {&a, &b}) {
    for (int i = 0; i < 2; ++i) {
      runs.push_back(n->io.spawn(hammer_counted(n->quota.get(), "tenant-a", rate, burst, until, &allowed, &asked)));
    }
  }
  for (auto& r : runs) r.get();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double expected = rate * seconds + burst;
  std::printf("[ measured ] two nodes, %.2f s: admitted %d of %d asked, expected %.0f (rate x time + burst); "
              "redis calls %llu + %llu, mean %.3f ms\n",
              seconds, allowed.load(), asked.load(), expected,
              static_cast<unsigned long long>(a.redis_calls()), static_cast<unsigned long long>(b.redis_calls()),
              1000 * a.metric("tgpulse_quota_redis_seconds_sum") / a.metric("tgpulse_quota_redis_seconds_count"));
  EXPECT_GT(asked.load(), 2 * expected) << "the nodes asked far more than the quota";
  EXPECT_NEAR(allowed.load(), expected, 0.05 * expected);
  EXPECT_EQ(a.fallbacks() + b.fallbacks(), 0);
  EXPECT_EQ(a.state(), 1);

  // Another tenant has its own bucket: its whole burst is there.
  // Its burst, plus what refilled while the 45 calls ran (a slow, sanitized build takes tens of ms).
  int other = 0;
  const auto asked_from = std::chrono::steady_clock::now();
  for (int i = 0; i < 45; ++i) other += a.admit("tenant-b", rate, burst).outcome == Outcome::allowed;
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - asked_from).count();
  EXPECT_GE(other, 40);
  EXPECT_LE(other, static_cast<int>(burst + rate * took) + 1) << "in " << took << " s";
  SharedRequestQuota::Verdict refused = b.admit("tenant-b", rate, burst);
  if (refused.outcome == Outcome::refused) {
    EXPECT_GE(refused.retry_after, 1ms);
    EXPECT_LE(refused.retry_after, 20ms);
  }
}

TEST(SharedRequestQuota, IdleTenantsKeyExpires) {
  auto server = start_server();
  ASSERT_NE(server, nullptr);
  Node a(server->port());
  ASSERT_EQ(a.admit("tenant-x", 1000, 10).outcome, Outcome::allowed);
  Result<RedisReply> ttl = a.io.run(a.client->command({"PTTL", SharedRequestQuota::key_of("tenant-x")}));
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer, 0);
  EXPECT_LE(ttl->integer, 1001 + 1);  // one token to refill (1 ms) + 1 s
}

TEST(SharedRequestQuota, DegradesWhenRedisGoesAndRecoversWhenItComesBack) {
  auto server = start_server();
  ASSERT_NE(server, nullptr);
  Node a(server->port());
  ASSERT_EQ(a.admit("t", 1000, 100).outcome, Outcome::allowed);
  EXPECT_EQ(a.state(), 1);
  server->kill();
  // Two seconds of requests while Redis is away: each is answered unavailable (decided locally).
  const auto until = std::chrono::steady_clock::now() + 2s;
  int unavailable = 0, total = 0;
  const std::uint64_t calls_before = a.redis_calls();
  while (std::chrono::steady_clock::now() < until) {
    unavailable += a.admit("t", 1000, 100).outcome == Outcome::unavailable;
    ++total;
    std::this_thread::sleep_for(2ms);
  }
  const std::uint64_t redis_calls = a.redis_calls() - calls_before;
  std::printf("[ measured ] Redis away 2 s: %d of %d requests fell back, %llu tried Redis\n", unavailable, total,
              static_cast<unsigned long long>(redis_calls));
  EXPECT_EQ(unavailable, total);
  EXPECT_EQ(a.fallbacks(), total);
  EXPECT_EQ(a.state(), 0);
  EXPECT_LE(redis_calls, 4u) << "the breaker asks Redis about once a second, not per request";
  EXPECT_EQ(a.log_lines_with("Shared quota unavailable, using per-node quotas"), 1u);

  ASSERT_TRUE(server->restart().ok());
  const auto back_until = std::chrono::steady_clock::now() + 4s;
  while (a.admit("t", 1000, 100).outcome == Outcome::unavailable && std::chrono::steady_clock::now() < back_until) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(a.state(), 1);
  EXPECT_EQ(a.log_lines_with("Shared quota restored"), 1u);
  EXPECT_EQ(a.log_lines_with("Shared quota unavailable"), 1u);
}

}  // namespace
}  // namespace tgpulse::throttle
