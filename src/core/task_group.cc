#include "core/task_group.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace tgpulse {

namespace asio = boost::asio;

struct TaskGroup::State {
  struct Callback {
    asio::any_io_executor ex;
    std::function<void()> fn;
  };
  struct Waiter {
    asio::any_io_executor ex;
    std::shared_ptr<asio::steady_timer> timer;
  };

  explicit State(ErrorHandler handler) : on_error(std::move(handler)) {}

  mutable std::mutex mu;
  std::condition_variable idle;
  std::atomic<bool> stop{false};
  std::string reason;                          // guarded by mu
  std::uint64_t next_id = 1;                   // guarded by mu
  std::uint64_t spawned = 0;                   // guarded by mu: tasks ever started
  std::map<std::uint64_t, std::string> tasks;  // guarded by mu: running tasks by id
  std::map<std::uint64_t, Callback> callbacks; // guarded by mu: stop callbacks not yet run or unregistered
  std::map<std::uint64_t, std::thread::id> running_callbacks;  // guarded by mu: callbacks being run now
  std::condition_variable callback_done;
  std::map<std::uint64_t, Waiter> waiters;     // guarded by mu: join() calls waiting for idle
  const ErrorHandler on_error;

  std::vector<std::string> names_locked() const {
    std::vector<std::string> out;
    out.reserve(tasks.size());
    for (const auto& [id, name] : tasks) out.push_back(name);
    return out;
  }

  // Runs callback `id` if it is still registered: its guard may have been destroyed (on the same
  // executor, before this job ran) together with the objects the callback names.
  // While it runs, the callback is marked running, so a guard destroyed on another thread (the task
  // woke for another reason on a multi-threaded executor) waits for it to finish before the objects it
  // names go away — the contract of std::stop_callback.
  void run_callback(std::uint64_t id) {
    std::function<void()> fn;
    {
      std::lock_guard lock(mu);
      auto it = callbacks.find(id);
      if (it == callbacks.end()) return;
      fn = std::move(it->second.fn);
      callbacks.erase(it);
      running_callbacks.emplace(id, std::this_thread::get_id());
    }
    if (fn) fn();
    {
      std::lock_guard lock(mu);
      running_callbacks.erase(id);
    }
    callback_done.notify_all();
  }

  // Unregisters callback `id`; if it is running on another thread, waits until it has returned.
  void unregister(std::uint64_t id) {
    std::unique_lock lock(mu);
    if (callbacks.erase(id) > 0) return;
    callback_done.wait(lock, [&] {
      auto it = running_callbacks.find(id);
      return it == running_callbacks.end() || it->second == std::this_thread::get_id();
    });
  }

  void post_callback(const asio::any_io_executor& ex, std::uint64_t id, const std::shared_ptr<State>& self) {
    asio::post(ex, [self, id] { self->run_callback(id); });
  }

  // The error handler runs before the task leaves the group, so whoever joins the group sees its report.
  void finish(std::uint64_t id, const std::exception_ptr& error) {
    if (error && on_error) {
      std::string name;
      {
        std::lock_guard lock(mu);
        auto it = tasks.find(id);
        if (it != tasks.end()) name = it->second;
      }
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        on_error(name, e.what());
      } catch (...) {
        on_error(name, "unknown exception");
      }
    }
    std::vector<Waiter> wake;
    {
      std::lock_guard lock(mu);
      tasks.erase(id);
      if (tasks.empty()) {
        for (auto& [wid, w] : waiters) wake.push_back(w);
      }
    }
    idle.notify_all();
    for (auto& w : wake) asio::post(w.ex, [timer = w.timer] { timer->cancel(); });
  }
};

TaskGroup::StopGuard& TaskGroup::StopGuard::operator=(StopGuard&& other) noexcept {
  if (this != &other) {
    reset();
    state_ = std::move(other.state_);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

void TaskGroup::StopGuard::reset() noexcept {
  if (state_ && id_ != 0) state_->unregister(id_);
  state_.reset();
  id_ = 0;
}

bool TaskGroup::Stop::requested() const noexcept { return state_->stop.load(std::memory_order_acquire); }

std::string TaskGroup::Stop::reason() const {
  std::lock_guard lock(state_->mu);
  return state_->reason;
}

TaskGroup::StopGuard TaskGroup::Stop::on_stop(asio::any_io_executor ex, std::function<void()> fn) const {
  std::uint64_t id = 0;
  bool already = false;
  {
    std::lock_guard lock(state_->mu);
    id = state_->next_id++;
    state_->callbacks.emplace(id, State::Callback{ex, std::move(fn)});
    already = state_->stop.load(std::memory_order_relaxed);
  }
  if (already) state_->post_callback(ex, id, state_);
  return StopGuard(state_, id);
}

TaskGroup::TaskGroup(std::string name, ErrorHandler on_error)
    : name_(std::move(name)), state_(std::make_shared<State>(std::move(on_error))) {}

TaskGroup::~TaskGroup() { request_stop("task group " + name_ + " destroyed"); }

namespace {

// The factory lives in this coroutine's frame for as long as the task runs: a lambda coroutine's
// captures live in the closure object, not in the frame it creates, so the closure must outlive it.
asio::awaitable<void> run_task(TaskGroup::Factory make_task, TaskGroup::Stop stop) {
  co_await make_task(std::move(stop));
}

}  // namespace

bool TaskGroup::spawn(const asio::any_io_executor& ex, std::string name, Factory make_task) {
  std::uint64_t id = 0;
  {
    std::lock_guard lock(state_->mu);
    if (state_->stop.load(std::memory_order_relaxed)) return false;
    id = state_->next_id++;
    ++state_->spawned;
    state_->tasks.emplace(id, std::move(name));
  }
  asio::co_spawn(ex, run_task(std::move(make_task), Stop(state_)),
                 [state = state_, id](std::exception_ptr error) { state->finish(id, error); });
  return true;
}

void TaskGroup::request_stop(std::string reason) {
  std::vector<std::pair<std::uint64_t, asio::any_io_executor>> run;
  {
    std::lock_guard lock(state_->mu);
    if (state_->stop.load(std::memory_order_relaxed)) return;
    state_->reason = std::move(reason);
    state_->stop.store(true, std::memory_order_release);
    for (const auto& [id, cb] : state_->callbacks) run.emplace_back(id, cb.ex);
  }
  for (const auto& [id, ex] : run) state_->post_callback(ex, id, state_);
}

bool TaskGroup::stop_requested() const noexcept { return state_->stop.load(std::memory_order_acquire); }

std::vector<std::string> TaskGroup::wait_for(std::chrono::steady_clock::duration timeout) {
  std::unique_lock lock(state_->mu);
  state_->idle.wait_for(lock, timeout, [&] { return state_->tasks.empty(); });
  return state_->names_locked();
}

asio::awaitable<std::vector<std::string>> TaskGroup::join(std::chrono::steady_clock::duration timeout) {
  auto ex = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(ex, timeout);
  std::uint64_t wid = 0;
  {
    std::lock_guard lock(state_->mu);
    if (state_->tasks.empty()) co_return std::vector<std::string>{};
    wid = state_->next_id++;
    state_->waiters.emplace(wid, State::Waiter{ex, timer});
  }
  boost::system::error_code ec;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  std::lock_guard lock(state_->mu);
  state_->waiters.erase(wid);
  co_return state_->names_locked();
}

std::uint64_t TaskGroup::spawned() const {
  std::lock_guard lock(state_->mu);
  return state_->spawned;
}

std::size_t TaskGroup::running() const {
  std::lock_guard lock(state_->mu);
  return state_->tasks.size();
}

}  // namespace tgpulse
