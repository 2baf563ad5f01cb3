// TaskGroup: the owner of every coroutine a component spawns. Nothing is spawned detached: each task is
// registered under a name, can be asked to stop with a reason, and is joined within a bounded time; the
// names of tasks that outlive the wait are returned so the caller can log them.
//
// Usage:
//   TaskGroup tasks("session_manager", on_task_error);
//   tasks.spawn(strand, "idle_loop", [self](TaskGroup::Stop stop) -> asio::awaitable<void> {
//     asio::steady_timer timer(co_await asio::this_coro::executor);
//     auto guard = stop.on_stop(timer.get_executor(), [&timer] { timer.cancel(); });
//     while (!stop.requested()) { ... co_await timer.async_wait(...); }
//   });
//   ...
//   tasks.request_stop("shutdown");
//   auto outlived = tasks.wait_for(drain_timeout);   // or: co_await tasks.join(drain_timeout)
//
// Boost 1.74's Asio has no per-operation cancellation slots, so stopping is cooperative: a task checks
// Stop::requested() and registers, with Stop::on_stop, what wakes it (cancel a timer, close a socket).
// Each callback runs once, posted to the executor it was registered with, so it touches its objects on
// the thread that owns them. Register with the executor the task itself runs on, and run tasks that
// register callbacks on an executor that runs one handler at a time (a strand, or an io_context with
// one thread): the callback then runs only while the task is suspended, so a task that checks
// requested() after registering and before it waits never misses its wake-up. The guard on_stop returns unregisters the callback when the task leaves the
// scope of the objects it names; if the callback is running on another thread at that moment (a
// multi-threaded executor), the guard's destructor waits for it to return, as std::stop_callback does.
//
// A task's coroutine is created by the factory inside spawn(); the factory's captures are moved into the
// coroutine frame's owner, so capture by value (shared_ptr to the object, never a raw `this` that may die
// first). An exception escaping a task is caught and handed to the error handler with the task's name.
//
// Thread-safety: thread-safe. The group's state is shared with its tasks, so a task that ends after the
// TaskGroup object is destroyed touches no freed memory; destroy the group only after joining it.
#pragma once

#include <utility>  // before Asio 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tgpulse {

class TaskGroup {
  struct State;

 public:
  // Called when a task ends with an exception: (task name, what()).
  using ErrorHandler = std::function<void(const std::string& task, const std::string& what)>;

  // Unregisters a stop callback when destroyed (or moved-from target reassigned). Default: empty.
  class StopGuard {
   public:
    StopGuard() = default;
    StopGuard(std::shared_ptr<State> state, std::uint64_t id) : state_(std::move(state)), id_(id) {}
    StopGuard(StopGuard&& other) noexcept : state_(std::move(other.state_)), id_(std::exchange(other.id_, 0)) {}
    StopGuard& operator=(StopGuard&& other) noexcept;
    StopGuard(const StopGuard&) = delete;
    StopGuard& operator=(const StopGuard&) = delete;
    ~StopGuard() { reset(); }
    void reset() noexcept;

   private:
    std::shared_ptr<State> state_;
    std::uint64_t id_ = 0;
  };

  // A task's view of its group: whether it is asked to stop and why. Cheap to copy.
  class Stop {
   public:
    explicit Stop(std::shared_ptr<State> state) : state_(std::move(state)) {}
    bool requested() const noexcept;
    std::string reason() const;  // empty until requested()
    // Runs `fn` once, posted to `ex`, when stop is requested (at once if it already was).
    [[nodiscard]] StopGuard on_stop(boost::asio::any_io_executor ex, std::function<void()> fn) const;

   private:
    std::shared_ptr<State> state_;
  };

  using Factory = std::function<boost::asio::awaitable<void>(Stop)>;

  // What a shutdown left of a group: the tasks it ever started and the names of those still running
  // when the owner gave up waiting (empty: every task joined). For the "Shutdown complete" log line.
  struct Report {
    std::string group;
    std::uint64_t spawned = 0;
    std::vector<std::string> outlived;
  };

  explicit TaskGroup(std::string name, ErrorHandler on_error = {});
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;
  ~TaskGroup();

  // Starts `make_task(stop)` on `ex` as a task named `name`. Returns false, without calling the factory,
  // once request_stop() was called: a stopping group takes no new work.
  bool spawn(const boost::asio::any_io_executor& ex, std::string name, Factory make_task);

  // Asks every task to stop: runs the registered stop callbacks. Idempotent; the first reason stays.
  void request_stop(std::string reason);
  bool stop_requested() const noexcept;

  // Blocks until every task has ended or `timeout` passed; returns the names of the tasks still running
  // (empty: all joined). Must not be called from a thread that runs one of the tasks' executors.
  std::vector<std::string> wait_for(std::chrono::steady_clock::duration timeout);

  // The same, awaited: completes on the caller's executor without blocking its thread.
  boost::asio::awaitable<std::vector<std::string>> join(std::chrono::steady_clock::duration timeout);

  std::size_t running() const;
  // Tasks ever started in this group (for the shutdown report: joined = spawned() - outlived).
  std::uint64_t spawned() const;
  const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
  std::shared_ptr<State> state_;
};

}  // namespace tgpulse
