// The store kept off the event loops (issue 12's slow-store acceptance): the HTTP server with the session
// routes over a store that sleeps 50 ms per call. While 1,000 tenant requests, each of which needs the
// store, run over loopback, /healthz on the same listener stays fast: its p99 stays within 10 ms.
// Also: a full store pool answers 503 with Retry-After and is counted; a deleted tenant's token stops
// working at once although it was cached.
#include <utility>  // before Asio 1.74's awaitable.hpp, which uses std::exchange without it

#include <algorithm>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "http/server.h"
#include "http/standard_routes.h"
#include "session/session_routes.h"
#include "session/session_test_fixture.h"
#include "store/slow_session_store.h"
#include "telemetry/exposition.h"

namespace tgpulse::session {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using namespace std::chrono_literals;

constexpr int kTenants = 1000;
std::string token_of(int i) { return "tgp_tenant" + std::to_string(i); }

// A keep-alive loopback connection answering one request at a time (blocking).
class BlockingClient {
 public:
  explicit BlockingClient(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    socket_.set_option(tcp::no_delay(true));
  }
  bhttp::response<bhttp::string_body> request(bhttp::verb verb, std::string target, std::string bearer = "") {
    bhttp::request<bhttp::string_body> req(verb, target, 11);
    req.set(bhttp::field::host, "127.0.0.1");
    if (!bearer.empty()) req.set(bhttp::field::authorization, "Bearer " + bearer);
    req.prepare_payload();
    bhttp::write(socket_, req);
    bhttp::response<bhttp::string_body> res;
    bhttp::read(socket_, buffer_, res);
    return res;
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

class StoreOffLoopTest : public SessionTestFixture {
 protected:
  void start(std::chrono::milliseconds store_delay, BlockingPoolOptions pool_options) {
    for (int i = 0; i < kTenants; ++i) {
      ASSERT_TRUE(store_.create_tenant({"tenant" + std::to_string(i), store::TenantTokens::hash_token(token_of(i)), 0}).ok());
    }
    slow_ = std::make_unique<store::SlowSessionStore>(store_, store_delay);
    pool_ = std::make_unique<BlockingPool>(pool_options);
    calls_ = std::make_unique<store::AsyncSessionStore>(*slow_, *pool_);
    tokens_ = std::make_unique<store::TenantTokenCache>(store::StoreAccessOptions{}, clock_);
    last_used_ = std::make_unique<store::LastUsedBatcher>(*slow_, store::StoreAccessOptions{}, nullptr);
    SessionRoutesOptions route_options;
    route_options.admin_token = "admin-secret";
    routes_ = std::make_unique<SessionRoutes>(manager(), RouteStore{*calls_, *tokens_, *last_used_}, nullptr, nullptr,
                                              route_options);
    http::add_standard_routes(router_, readiness_, registry_);
    routes_->add_to(router_);
    http::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    options.max_connections = 512;
    server_ = std::make_unique<http::Server>(options, router_, http::ServerTelemetry{&registry_, &logger_, &tracer_, nullptr});
    ASSERT_TRUE(server_->start().ok());
  }
  void TearDown() override {
    if (server_) server_->shutdown();
    if (pool_) pool_->stop();
  }

  // `total` GET /v1/sessions, tenant i's token for the i-th, over `connections` keep-alive connections
  // driven by one client thread; returns the status codes.
  std::vector<int> tenant_requests(int total, int connections) {
    asio::io_context client;
    std::vector<int> codes;
    std::atomic<int> next{0};
    const std::uint16_t port = server_->port();
    for (int c = 0; c < connections; ++c) {
      asio::co_spawn(client, [&codes, &next, total, port]() -> asio::awaitable<void> {
        tcp::socket socket(co_await asio::this_coro::executor);
        tcp::endpoint server(asio::ip::make_address("127.0.0.1"), port);
        co_await socket.async_connect(server, asio::use_awaitable);
        beast::flat_buffer buffer;
        for (int i = next++; i < total; i = next++) {
          bhttp::request<bhttp::string_body> req(bhttp::verb::get, "/v1/sessions", 11);
          req.set(bhttp::field::host, "127.0.0.1");
          req.set(bhttp::field::authorization, "Bearer " + token_of(i % kTenants));
          co_await bhttp::async_write(socket, req, asio::use_awaitable);
          bhttp::response<bhttp::string_body> res;
          co_await bhttp::async_read(socket, buffer, res, asio::use_awaitable);
          codes.push_back(res.result_int());
        }
      }, asio::detached);
    }
    client.run();
    return codes;
  }

  std::unique_ptr<store::SlowSessionStore> slow_;
  std::unique_ptr<BlockingPool> pool_;
  std::unique_ptr<store::AsyncSessionStore> calls_;
  std::unique_ptr<store::TenantTokenCache> tokens_;
  std::unique_ptr<store::LastUsedBatcher> last_used_;
  std::unique_ptr<SessionRoutes> routes_;
  http::Router router_;
  http::ReadinessChecks readiness_;
  std::unique_ptr<http::Server> server_;
};

// The probe's p99 bound. Under ThreadSanitizer (make test-tsan) every memory access is checked and the
// other test binaries run beside this one on 2 cores: an idle loop answers in tens of milliseconds there.
// A store called on the loop would still fail it: each probe would queue behind 50 ms store calls on
// both io threads, with a thousand of them waiting.
#if defined(__SANITIZE_THREAD__)
constexpr double kHealthzP99BoundMs = 250.0;
#else
constexpr double kHealthzP99BoundMs = 10.0;
#endif

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const std::size_t rank = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(rank, v.size() - 1)];
}

TEST_F(StoreOffLoopTest, HealthzStaysFastWhileAThousandTenantRequestsWaitOnASlowStore) {
  start(50ms, {"store", 16, 1024});
  std::atomic<bool> load_done{false};
  std::vector<double> probe_ms;
  std::thread probe([&] {
    BlockingClient c(server_->port());
    while (!load_done.load()) {
      const auto t0 = std::chrono::steady_clock::now();
      auto res = c.request(bhttp::verb::get, "/healthz");
      probe_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      EXPECT_EQ(res.result_int(), 200);
      std::this_thread::sleep_for(2ms);  // the probe's pace, not a synchronisation
    }
  });
  std::vector<int> codes = tenant_requests(kTenants, 200);
  load_done = true;
  probe.join();

  ASSERT_EQ(codes.size(), static_cast<std::size_t>(kTenants));
  EXPECT_EQ(std::count(codes.begin(), codes.end(), 200), kTenants);
  EXPECT_GE(slow_->calls(), static_cast<std::uint64_t>(kTenants));  // every request needed the slow store
  ASSERT_FALSE(probe_ms.empty());
  const double p99 = percentile(probe_ms, 0.99);
  std::printf("healthz under load: %zu probes, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", probe_ms.size(),
              percentile(probe_ms, 0.5), p99, percentile(probe_ms, 1.0));
  EXPECT_GE(probe_ms.size(), 100u);  // ~3 s of load at one probe per ~2 ms: a p99 worth its name
  RecordProperty("healthz_p99_ms", std::to_string(p99));
  EXPECT_LE(p99, kHealthzP99BoundMs);
}

TEST_F(StoreOffLoopTest, AFullStorePoolAnswers503WithRetryAfterAndIsCounted) {
  start(300ms, {"store", 1, 1});
  std::promise<int> first_code;
  std::thread first([&] { first_code.set_value(BlockingClient(server_->port()).request(bhttp::verb::get, "/v1/sessions", token_of(1)).result_int()); });
  // The first request's store call is admitted before it sleeps 300 ms (state polled, bounded at 5 s).
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (pool_->admitted() < 1 && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
  ASSERT_EQ(pool_->admitted(), 1u);  // the first request's store call holds the only slot
  BlockingClient second(server_->port());
  auto refused = second.request(bhttp::verb::get, "/v1/sessions", token_of(2));
  EXPECT_EQ(refused.result_int(), 503);
  EXPECT_EQ(refused[bhttp::field::retry_after], "1");
  EXPECT_NE(refused.body().find("\"unavailable\""), std::string::npos) << refused.body();
  first.join();
  EXPECT_EQ(first_code.get_future().get(), 200);
  EXPECT_EQ(pool_->rejected(), 1u);
}

TEST_F(StoreOffLoopTest, ACachedTokenStopsWorkingWhenItsTenantIsDeleted) {
  start(0ms, {"store", 2, 64});
  BlockingClient c(server_->port());
  EXPECT_EQ(c.request(bhttp::verb::get, "/v1/sessions", token_of(7)).result_int(), 200);
  const std::uint64_t calls = slow_->calls();
  EXPECT_EQ(c.request(bhttp::verb::get, "/v1/sessions", token_of(7)).result_int(), 200);
  EXPECT_EQ(slow_->calls(), calls);  // answered from the cache
  EXPECT_EQ(c.request(bhttp::verb::delete_, "/v1/tenants/tenant7", "admin-secret").result_int(), 200);
  EXPECT_EQ(c.request(bhttp::verb::get, "/v1/sessions", token_of(7)).result_int(), 401);
  EXPECT_EQ(c.request(bhttp::verb::get, "/v1/sessions", token_of(8)).result_int(), 200);
}

}  // namespace
}  // namespace tgpulse::session
