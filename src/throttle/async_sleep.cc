#include "throttle/async_sleep.h"

#include <string>

#include "core/cancellable_sleep.h"

namespace tgpulse::throttle {

boost::asio::awaitable<bool> async_sleep(Clock::Duration duration) {
  const bool slept = co_await cancellable_sleep(duration);
  co_return slept;
}

Error wait_cancelled(std::string_view what) {
  Error e(Errc::unavailable, std::string(what) + " cancelled: the service is shutting down; retry");
  e.retry_after_s = 1;
  return e;
}

}  // namespace tgpulse::throttle
