#include "core/blocking_pool.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <future>
#include <latch>
#include <stdexcept>
#include <thread>
#include <vector>

namespace tgpulse {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class BlockingPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    work_.reset();
    loop_.join();
  }
  template <typename T>
  T await(asio::awaitable<T> a) {
    auto f = asio::co_spawn(io_, std::move(a), asio::use_future);
    EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
    return f.get();
  }
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread loop_;
};

TEST_F(BlockingPoolTest, TheJobRunsOffTheLoopAndTheCallerResumesOnIt) {
  BlockingPool pool({"store", 2, 16});
  auto ids = await([&]() -> asio::awaitable<std::vector<std::thread::id>> {
    const auto before = std::this_thread::get_id();
    std::thread::id worker;
    auto job = [&worker] { worker = std::this_thread::get_id(); return Result<int>(42); };
    Result<int> r = co_await pool.run(std::move(job));
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(*r, 42);
    co_return std::vector<std::thread::id>{before, worker, std::this_thread::get_id()};
  }());
  EXPECT_EQ(ids[0], loop_.get_id());
  EXPECT_NE(ids[1], loop_.get_id());
  EXPECT_EQ(ids[2], loop_.get_id());
}

TEST_F(BlockingPoolTest, TheLoopKeepsServingWhileJobsBlock) {
  // Two jobs block on a latch the loop itself releases: were they run on the loop thread, the loop could
  // never reach the timer that releases them.
  BlockingPool pool({"store", 2, 16});
  std::latch gate(1);
  auto blocked = asio::co_spawn(io_, [&]() -> asio::awaitable<int> {
    auto job = [&] { gate.wait(); return Result<int>(1); };
    auto a = co_await pool.run(std::move(job));
    co_return a.ok() ? *a : -1;
  }, asio::use_future);
  auto released = await([&]() -> asio::awaitable<bool> {
    asio::steady_timer t(co_await asio::this_coro::executor, 1ms);
    co_await t.async_wait(asio::use_awaitable);
    gate.count_down();
    co_return true;
  }());
  EXPECT_TRUE(released);
  ASSERT_EQ(blocked.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(blocked.get(), 1);
}

// Waits (yielding) until `n` jobs are admitted; false after 10 s. Admission happens on the io threads,
// which a loaded machine (a sanitizer build beside other test binaries) may not run for a while.
bool admitted_within(const BlockingPool& pool, std::size_t n) {
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (pool.admitted() < n) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::yield();
  }
  return true;
}

// Opens a latch once, when asked or at the latest when the test leaves (a failed ASSERT included), so
// the pool's threads blocked on it can be joined instead of hanging the test.
class Gate {
 public:
  ~Gate() { open(); }
  void open() {
    if (!open_) {
      open_ = true;
      latch_.count_down();
    }
  }
  void wait() { latch_.wait(); }

 private:
  std::latch latch_{1};
  bool open_ = false;
};

TEST_F(BlockingPoolTest, PastItsBoundThePoolRefusesAtOnceNamingItself) {
  BlockingPool pool({"store", 1, 2});
  Gate gate;  // declared after the pool: opened before the pool's destructor joins its threads
  std::vector<std::future<Status>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(asio::co_spawn(io_, pool.run([&] { gate.wait(); return Status(); }), asio::use_future));
  }
  // Both admitted jobs are in the pool now (admission happens before the first suspension).
  ASSERT_TRUE(admitted_within(pool, 2));
  ASSERT_EQ(pool.admitted(), 2u);
  Status third = await(pool.run([] { return Status(); }));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, Errc::unavailable);
  EXPECT_NE(third.error().message.find("store pool is full"), std::string::npos) << third.error().message;
  EXPECT_EQ(third.error().retry_after_s, 1);  // the client is told when to come back (503 + Retry-After)
  EXPECT_EQ(pool.rejected(), 1u);
  gate.open();
  for (auto& f : held) {
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_TRUE(f.get().ok());
  }
  EXPECT_EQ(pool.admitted(), 0u);
  EXPECT_TRUE(await(pool.run([] { return Status(); })).ok());
}

TEST_F(BlockingPoolTest, AnExceptionInTheJobIsRethrownInTheCaller) {
  BlockingPool pool({"fs", 1, 4});
  auto caught = await([&]() -> asio::awaitable<std::string> {
    try {
      auto job = []() -> Status { throw std::runtime_error("disk gone"); };
      Status s = co_await pool.run(std::move(job));
      (void)s;
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "";
  }());
  EXPECT_EQ(caught, "disk gone");
  EXPECT_EQ(pool.admitted(), 0u);
}

TEST_F(BlockingPoolTest, StopFinishesAdmittedJobsThenRefuses) {
  BlockingPool pool({"store", 1, 8});
  std::atomic<int> done{0};
  std::vector<std::future<Status>> jobs;
  for (int i = 0; i < 4; ++i) {
    jobs.push_back(asio::co_spawn(io_, pool.run([&done] {
      std::this_thread::sleep_for(5ms);  // a blocking call, the pool's purpose
      done.fetch_add(1);
      return Status();
    }), asio::use_future));
  }
  ASSERT_TRUE(admitted_within(pool, 4));
  pool.stop();
  EXPECT_EQ(done.load(), 4);
  for (auto& f : jobs) {
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_TRUE(f.get().ok());
  }
  Status late = await(pool.run([] { return Status(); }));
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.error().message.find("stopped"), std::string::npos);
  EXPECT_EQ(pool.rejected(), 0u);  // a stopped pool is not a full one
}

}  // namespace
}  // namespace tgpulse
