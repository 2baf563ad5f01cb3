#include "core/cancellable_sleep.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace tgpulse {

namespace asio = boost::asio;

namespace {

// The sleeps of one execution context. An Asio service: created on first use, destroyed with the context.
class SleepRegistry : public asio::execution_context::service {
 public:
  static asio::execution_context::id id;  // NOLINT: Asio's service identification

  explicit SleepRegistry(asio::execution_context& context) : asio::execution_context::service(context) {}

  // Registers a sleep; 0 when sleeps on this context are cancelled already.
  std::uint64_t add(asio::any_io_executor ex, std::weak_ptr<asio::steady_timer> timer) {
    std::lock_guard lock(mu_);
    if (cancelled_) return 0;
    const std::uint64_t key = next_++;
    sleeps_.emplace(key, Entry{std::move(ex), std::move(timer)});
    return key;
  }

  void remove(std::uint64_t key) {
    std::lock_guard lock(mu_);
    sleeps_.erase(key);
  }

  bool cancelled() const {
    std::lock_guard lock(mu_);
    return cancelled_;
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return sleeps_.size();
  }

  void cancel_all() {
    std::vector<Entry> wake;
    {
      std::lock_guard lock(mu_);
      cancelled_ = true;
      wake.reserve(sleeps_.size());
      for (auto& [key, e] : sleeps_) wake.push_back(e);
    }
    for (Entry& e : wake) {
      asio::post(e.ex, [timer = std::move(e.timer)] {
        if (auto t = timer.lock()) t->cancel();
      });
    }
  }

 private:
  struct Entry {
    asio::any_io_executor ex;
    std::weak_ptr<asio::steady_timer> timer;
  };

  void shutdown() override {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    sleeps_.clear();
  }

  mutable std::mutex mu_;
  bool cancelled_ = false;
  std::uint64_t next_ = 1;
  std::map<std::uint64_t, Entry> sleeps_;
};

asio::execution_context::id SleepRegistry::id;

}  // namespace

asio::awaitable<bool> cancellable_sleep(std::chrono::nanoseconds duration) {
  if (duration <= std::chrono::nanoseconds::zero()) co_return true;
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  asio::execution_context& context = asio::query(ex, asio::execution::context);
  SleepRegistry& registry = asio::use_service<SleepRegistry>(context);
  auto timer = std::make_shared<asio::steady_timer>(ex, duration);
  const std::uint64_t key = registry.add(ex, timer);
  if (key == 0) co_return false;
  boost::system::error_code ec;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  registry.remove(key);
  co_return !ec && !registry.cancelled();
}

void cancel_sleeps(asio::execution_context& context) { asio::use_service<SleepRegistry>(context).cancel_all(); }

std::size_t pending_sleeps(asio::execution_context& context) {
  return asio::use_service<SleepRegistry>(context).size();
}

}  // namespace tgpulse
