// BlockingPool: a fixed set of threads for work that blocks — store calls, filesystem walks, key
// derivation — awaited from coroutines, so no event-loop thread waits on a lock, a network database or
// the disk.
//
// Usage (from a coroutine on any executor; the job is named first — no lambda temporary inside a
// co_await expression, docs/architecture.md):
//   auto find = [&store, id] { return store.find_session(id); };
//   Result<Session> s = co_await pool.run(std::move(find));
// The job runs on a pool thread; the coroutine resumes on its own executor with the job's value.
//
// Bounded: `threads` workers and at most `max_queued` jobs admitted (queued or running). Past that, run()
// answers Errc::unavailable at once, naming the pool, with retry_after_s = 1, instead of queueing without
// bound; the HTTP layer maps it to 503 with Retry-After: 1. Refusals are counted (rejected()). A job must return Result<T> or Status so the refusal has a place to go.
// An exception escaping a job is rethrown in the awaiting coroutine.
//
// Lifetime: destroy the pool (or call stop()) after the coroutines that await it are joined; stop()
// finishes the admitted jobs, then joins the threads; run() after stop() answers unavailable.
//
// Thread-safety: thread-safe.
#pragma once

#include <utility>  // before Asio 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>

#include "core/result.h"

namespace tgpulse {

struct BlockingPoolOptions {
  std::string name = "blocking";  // names the pool in errors and logs
  std::size_t threads = 4;        // workers; each blocked job holds one
  std::size_t max_queued = 4096;  // jobs admitted at once (queued + running); more are refused

  bool operator==(const BlockingPoolOptions&) const = default;
};

class BlockingPool {
 public:
  explicit BlockingPool(BlockingPoolOptions options);
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;
  ~BlockingPool();

  // Runs `job()` on a pool thread and resumes the caller on its executor with the value.
  template <typename F>
  boost::asio::awaitable<std::invoke_result_t<F&>> run(F job);

  // Finishes the admitted jobs and joins the threads. Idempotent.
  void stop();

  // Jobs admitted now (queued + running): the pool's queue depth.
  std::size_t admitted() const noexcept { return admitted_.load(std::memory_order_relaxed); }
  // Jobs refused because the pool was full, since construction.
  std::uint64_t rejected() const noexcept { return rejected_.load(std::memory_order_relaxed); }
  const BlockingPoolOptions& options() const noexcept { return options_; }

 private:
  bool admit() noexcept;
  void release() noexcept { admitted_.fetch_sub(1, std::memory_order_acq_rel); }
  Error refusal();

  BlockingPoolOptions options_;
  boost::asio::thread_pool pool_;
  std::atomic<std::size_t> admitted_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<bool> stopped_{false};
};

template <typename F>
boost::asio::awaitable<std::invoke_result_t<F&>> BlockingPool::run(F job) {
  namespace asio = boost::asio;
  using R = std::invoke_result_t<F&>;
  static_assert(std::is_constructible_v<R, Error>, "a BlockingPool job returns Result<T> or Status");
  if (!admit()) co_return R(refusal());
  // The caller's executor is kept busy (tracked work) until the answer is posted back, so its
  // io_context does not run out of work while the job runs.
  auto home = asio::prefer(co_await asio::this_coro::executor, asio::execution::outstanding_work.tracked);
  auto initiate = [this, home](auto handler, F fn) mutable {
    asio::post(pool_, [this, home, handler = std::move(handler), fn = std::move(fn)]() mutable {
      std::exception_ptr error;
      std::optional<R> out;
      try {
        out.emplace(fn());
      } catch (...) {
        error = std::current_exception();
      }
      release();
      asio::post(home, [handler = std::move(handler), error, out = std::move(out)]() mutable {
        std::move(handler)(error, std::move(out));
      });
    });
  };
  std::optional<R> out = co_await asio::async_initiate<const asio::use_awaitable_t<>&,
                                                       void(std::exception_ptr, std::optional<R>)>(
      initiate, asio::use_awaitable, std::move(job));
  co_return std::move(*out);
}

}  // namespace tgpulse
