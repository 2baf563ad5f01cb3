#include "store/async_session_store.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <latch>
#include <optional>
#include <thread>

#include "store/memory_session_store.h"
#include "store/slow_session_store.h"
#include "store/tenant_tokens.h"

namespace tgpulse::store {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class AsyncSessionStoreTest : public ::testing::Test {
 protected:
  AsyncSessionStoreTest() {
    EXPECT_TRUE(memory_.create_tenant({"acme", TenantTokens::hash_token("tgp_acme"), 0}).ok());
    loop_ = std::thread([this] { io_.run(); });
  }
  ~AsyncSessionStoreTest() override {
    work_.reset();
    loop_.join();
  }
  // Result has no default constructor, which use_future needs: the answer travels in an optional.
  template <typename T>
  static asio::awaitable<std::optional<T>> optional_of(asio::awaitable<T> a) {
    co_return co_await std::move(a);
  }
  template <typename T>
  T await(asio::awaitable<T> a) {
    auto f = asio::co_spawn(io_, optional_of(std::move(a)), asio::use_future);
    EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
    return std::move(*f.get());
  }

  FakeClock clock_;
  MemorySessionStore memory_{clock_};
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread loop_;
};

TEST_F(AsyncSessionStoreTest, ASlowCallDoesNotHoldTheLoopThread) {
  SlowSessionStore slow(memory_, 200ms);
  BlockingPool pool({"store", 1, 8});
  AsyncSessionStore store(slow, pool);
  std::latch started(1);
  auto lookup = asio::co_spawn(io_, [&]() -> asio::awaitable<std::optional<Result<TenantRecord>>> {
    asio::awaitable<Result<TenantRecord>> pending = store.find_tenant_by_token("tgp_acme");
    started.count_down();
    co_return co_await std::move(pending);
  }, asio::use_future);
  started.wait();
  // While the store sleeps, the loop answers at once.
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(await([]() -> asio::awaitable<bool> { co_return true; }()));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms);
  ASSERT_EQ(lookup.wait_for(10s), std::future_status::ready);
  Result<TenantRecord> tenant = std::move(*lookup.get());
  ASSERT_TRUE(tenant.ok());
  EXPECT_EQ(tenant->tenant_id, "acme");
}

TEST_F(AsyncSessionStoreTest, AFullPoolAnswersUnavailableWithoutTouchingTheStore) {
  SlowSessionStore counted(memory_, 0ms);
  BlockingPool pool({"store", 1, 1});
  AsyncSessionStore store(counted, pool);
  std::latch entered(1);
  std::latch gate(1);
  auto held = asio::co_spawn(io_, store.run([&entered, &gate] {
    entered.count_down();  // admitted and running: the pool's only slot is taken
    gate.wait();
    return Status();
  }), asio::use_future);
  entered.wait();
  ASSERT_EQ(pool.admitted(), 1u);
  Result<std::vector<TenantRecord>> refused = await(store.list_tenants());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::unavailable);
  EXPECT_EQ(refused.error().retry_after_s, 1);
  EXPECT_EQ(counted.calls(), 0u);
  gate.count_down();
  ASSERT_EQ(held.wait_for(10s), std::future_status::ready);
  Result<std::vector<TenantRecord>> listed = await(store.list_tenants());
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);
}

}  // namespace
}  // namespace tgpulse::store
