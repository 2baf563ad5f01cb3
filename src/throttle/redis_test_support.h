// Test helpers for the Redis client and the shared quota: an io_context on a thread of its own and a
// way to run a coroutine on it from the test thread.
//
// Thread-safety: the test thread calls; the io thread runs the coroutines.
#pragma once

#include <utility>  // before Boost.Asio 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <future>
#include <optional>
#include <thread>
#include <vector>

namespace tgpulse::throttle {

class IoThreads {
 public:
  explicit IoThreads(int n = 1) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~IoThreads() {
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }
  boost::asio::io_context& io() { return io_; }
  boost::asio::any_io_executor executor() { return io_.get_executor(); }
  // Starts `task` on the io_context (use_future needs a default-constructible result: hence optional).
  template <typename T>
  std::future<std::optional<T>> spawn(boost::asio::awaitable<T> task) {
    return boost::asio::co_spawn(io_, optional_of(std::move(task)), boost::asio::use_future);
  }
  // Runs `task` on the io_context and waits for its result.
  template <typename T>
  T run(boost::asio::awaitable<T> task) {
    return std::move(*spawn(std::move(task)).get());
  }

 private:
  template <typename T>
  static boost::asio::awaitable<std::optional<T>> optional_of(boost::asio::awaitable<T> task) {
    T r = co_await std::move(task);
    co_return std::optional<T>(std::move(r));
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::vector<std::thread> threads_;
};

}  // namespace tgpulse::throttle
