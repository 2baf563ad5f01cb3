#include "core/cancellable_sleep.h"

#include "core/io_threads_test_fixture.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <future>
#include <thread>
#include <vector>

namespace tgpulse {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

asio::awaitable<bool> sleep_an_hour() {
  const bool slept = co_await cancellable_sleep(1h);
  co_return slept;
}

asio::awaitable<bool> sleep_briefly() {
  const bool slept = co_await cancellable_sleep(5ms);
  co_return slept;
}

class CancellableSleepTest : public IoThreadsTest {};

TEST_F(CancellableSleepTest, ASleepThatRunsOutSaysSo) {
  auto slept = asio::co_spawn(asio::make_strand(io_), sleep_briefly(), asio::use_future);
  EXPECT_TRUE(slept.get());
}

TEST_F(CancellableSleepTest, CancelSleepsWakesEveryWaitOnTheContextAtOnce) {
  std::vector<std::future<bool>> sleeps;
  for (int i = 0; i < 200; ++i) sleeps.push_back(asio::co_spawn(asio::make_strand(io_), sleep_an_hour(), asio::use_future));
  // Handshake: every sleep is registered before the cancellation, so none of them can start after it.
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (pending_sleeps(io_) < sleeps.size() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  ASSERT_EQ(pending_sleeps(io_), sleeps.size());
  cancel_sleeps(io_);
  for (auto& s : sleeps) {
    ASSERT_EQ(s.wait_for(10s), std::future_status::ready);
    EXPECT_FALSE(s.get());
  }
  EXPECT_EQ(pending_sleeps(io_), 0u);
}

TEST_F(CancellableSleepTest, ASleepStartedAfterTheCancellationReturnsAtOnce) {
  cancel_sleeps(io_);
  auto slept = asio::co_spawn(asio::make_strand(io_), sleep_an_hour(), asio::use_future);
  ASSERT_EQ(slept.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(slept.get());
}

TEST_F(CancellableSleepTest, AnotherContextsSleepsAreLeftAlone) {
  asio::io_context other;
  cancel_sleeps(other);
  auto slept = asio::co_spawn(asio::make_strand(io_), sleep_briefly(), asio::use_future);
  EXPECT_TRUE(slept.get());
}

}  // namespace
}  // namespace tgpulse
