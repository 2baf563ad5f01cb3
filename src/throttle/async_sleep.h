// async_sleep: waits on an asio steady_timer from a coroutine — never blocks a thread, so thousands of
// callers can wait at once. Returns false when the wait was cancelled — shutdown called
// cancel_sleeps() on the executor's io_context (core/cancellable_sleep.h), or the executor is shutting
// down — instead of throwing.
//
// Thread-safety: a free function; each call owns its timer.
#pragma once

#include <utility>  // before Boost.Asio 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>

#include <string_view>

#include "core/clock.h"
#include "core/error.h"

namespace tgpulse::throttle {

boost::asio::awaitable<bool> async_sleep(Clock::Duration duration);

// The answer to a caller whose wait (`what`: "throttle wait", "flood wait") shutdown cancelled:
// unavailable (503) with Retry-After 1 — the call never reached Telegram, so retrying it elsewhere or
// after the restart is safe.
Error wait_cancelled(std::string_view what);

}  // namespace tgpulse::throttle
