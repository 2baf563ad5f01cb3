#include "throttle/async_sleep.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tgpulse::throttle {

namespace asio = boost::asio;

asio::awaitable<bool> async_sleep(Clock::Duration duration) {
  if (duration <= Clock::Duration::zero()) co_return true;
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

}  // namespace tgpulse::throttle
