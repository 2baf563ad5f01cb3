#include "core/task_group.h"

#include "core/io_threads_test_fixture.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace tgpulse {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// A task that sleeps until asked to stop: the shape of an idle loop or a connection waiting for input.
TaskGroup::Factory sleeper(std::shared_ptr<std::atomic<int>> ended) {
  return [ended](TaskGroup::Stop stop) -> asio::awaitable<void> {
    asio::steady_timer timer(co_await asio::this_coro::executor, 1h);
    auto guard = stop.on_stop(timer.get_executor(), [&timer] { timer.cancel(); });
    boost::system::error_code ec;
    while (!stop.requested()) {
      timer.expires_after(1h);
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    ended->fetch_add(1);
  };
}

// Tear-down stops the loop rather than waiting for a task a test deliberately left parked.
class TaskGroupTest : public IoThreadsTest {};

TEST_F(TaskGroupTest, StopWakesEverySleepingTaskAndWaitJoinsThem) {
  TaskGroup group("test");
  auto ended = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(group.spawn(asio::make_strand(io_), "sleeper", sleeper(ended)));
  }
  // Nothing ends by itself: the tasks sleep for an hour.
  EXPECT_EQ(group.wait_for(50ms).size(), 100u);
  group.request_stop("shutdown");
  EXPECT_TRUE(group.wait_for(10s).empty());
  EXPECT_EQ(ended->load(), 100);
  EXPECT_EQ(group.running(), 0u);
}

TEST_F(TaskGroupTest, ATaskThatIgnoresStopIsNamedWhenTheWaitRunsOut) {
  TaskGroup group("test");
  auto release = std::make_shared<asio::steady_timer>(io_, 1h);
  ASSERT_TRUE(group.spawn(io_.get_executor(), "stubborn", [release](TaskGroup::Stop) -> asio::awaitable<void> {
    boost::system::error_code ec;
    co_await release->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }));
  auto ended = std::make_shared<std::atomic<int>>(0);
  ASSERT_TRUE(group.spawn(asio::make_strand(io_), "polite", sleeper(ended)));
  group.request_stop("shutdown");
  const auto outlived = group.wait_for(200ms);
  ASSERT_EQ(outlived.size(), 1u);
  EXPECT_EQ(outlived[0], "stubborn");
  EXPECT_EQ(ended->load(), 1);
  // Moving the expiry to the past wakes the wait whether it has started yet or not (a cancel would not).
  asio::post(io_, [release] { release->expires_at(std::chrono::steady_clock::time_point::min()); });
  EXPECT_TRUE(group.wait_for(10s).empty());
}

TEST_F(TaskGroupTest, AStoppingGroupTakesNoNewWorkAndKeepsTheFirstReason) {
  TaskGroup group("test");
  group.request_stop("shutdown");
  group.request_stop("second");
  bool called = false;
  EXPECT_FALSE(group.spawn(io_.get_executor(), "late", [&called](TaskGroup::Stop) -> asio::awaitable<void> {
    called = true;
    co_return;
  }));
  EXPECT_FALSE(called);
  EXPECT_TRUE(group.stop_requested());
  auto reason = std::make_shared<std::string>();
  TaskGroup other("other");
  ASSERT_TRUE(other.spawn(asio::make_strand(io_), "reader", [reason](TaskGroup::Stop stop) -> asio::awaitable<void> {
    // A callback registered after stop was requested runs at once.
    asio::steady_timer timer(co_await asio::this_coro::executor, 1h);
    while (!stop.requested()) {
      auto guard = stop.on_stop(timer.get_executor(), [&timer] { timer.cancel(); });
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    *reason = stop.reason();
  }));
  other.request_stop("drain");
  EXPECT_TRUE(other.wait_for(10s).empty());
  EXPECT_EQ(*reason, "drain");
}

TEST_F(TaskGroupTest, AnExceptionEscapingATaskReachesTheHandlerWithItsName) {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> errors;
  TaskGroup group("test", [&](const std::string& task, const std::string& what) {
    std::lock_guard lock(mu);
    errors.emplace_back(task, what);
  });
  ASSERT_TRUE(group.spawn(io_.get_executor(), "thrower", [](TaskGroup::Stop) -> asio::awaitable<void> {
    throw std::runtime_error("store went away");
    co_return;
  }));
  EXPECT_TRUE(group.wait_for(10s).empty());
  std::lock_guard lock(mu);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].first, "thrower");
  EXPECT_EQ(errors[0].second, "store went away");
}

TEST_F(TaskGroupTest, ACallbackWhoseGuardIsGoneDoesNotRun) {
  // The task leaves the scope of its timer (and unregisters) before stop is requested; the callback
  // would touch a destroyed timer if it still ran.
  TaskGroup group("test");
  auto fired = std::make_shared<std::atomic<int>>(0);
  auto done = std::make_shared<std::promise<void>>();
  auto registered = done->get_future();
  ASSERT_TRUE(group.spawn(asio::make_strand(io_), "short", [fired, done](TaskGroup::Stop stop) -> asio::awaitable<void> {
    {
      // The executor is fetched first: a co_await inside the argument list would hold the lambda
      // temporary across a suspension point (docs/architecture.md, rule 2).
      auto ex = co_await asio::this_coro::executor;
      auto guard = stop.on_stop(ex, [fired] { fired->fetch_add(1); });
    }
    done->set_value();
    asio::steady_timer timer(co_await asio::this_coro::executor, 1h);
    auto guard = stop.on_stop(timer.get_executor(), [&timer] { timer.cancel(); });
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }));
  registered.wait();
  group.request_stop("shutdown");
  EXPECT_TRUE(group.wait_for(10s).empty());
  EXPECT_EQ(fired->load(), 0);
}

TEST_F(TaskGroupTest, JoinAwaitsWithoutBlockingItsThread) {
  TaskGroup group("test");
  auto ended = std::make_shared<std::atomic<int>>(0);
  auto strand = asio::make_strand(io_);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(group.spawn(strand, "sleeper", sleeper(ended)));
  // The joiner runs on the same strand as the tasks: a blocking wait there would deadlock.
  auto joined = asio::co_spawn(strand, [&group]() -> asio::awaitable<std::vector<std::string>> {
    group.request_stop("shutdown");
    co_return co_await group.join(10s);
  }, asio::use_future);
  ASSERT_EQ(joined.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(joined.get().empty());
  EXPECT_EQ(ended->load(), 10);
}

TEST_F(TaskGroupTest, JoinReturnsTheOutlivingTasksWhenItsTimeRunsOut) {
  TaskGroup group("test");
  auto ended = std::make_shared<std::atomic<int>>(0);
  ASSERT_TRUE(group.spawn(asio::make_strand(io_), "sleeper", sleeper(ended)));
  auto joined = asio::co_spawn(io_, group.join(100ms), asio::use_future);
  ASSERT_EQ(joined.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(joined.get(), std::vector<std::string>{"sleeper"});
  group.request_stop("shutdown");
  EXPECT_TRUE(group.wait_for(10s).empty());
}

TEST_F(TaskGroupTest, ATaskMayOutliveItsGroupObjectWithoutTouchingFreedMemory) {
  auto release = std::make_shared<asio::steady_timer>(io_, 1h);
  auto saw_stop = std::make_shared<std::promise<bool>>();
  auto result = saw_stop->get_future();
  {
    TaskGroup group("short-lived");
    ASSERT_TRUE(group.spawn(io_.get_executor(), "late", [release, saw_stop](TaskGroup::Stop stop) -> asio::awaitable<void> {
      boost::system::error_code ec;
      co_await release->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      saw_stop->set_value(stop.requested());  // the destroyed group asked it to stop
    }));
  }
  // Moving the expiry to the past wakes the wait whether it has started yet or not (a cancel would not).
  asio::post(io_, [release] { release->expires_at(std::chrono::steady_clock::time_point::min()); });
  ASSERT_EQ(result.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(result.get());
}

}  // namespace
}  // namespace tgpulse
