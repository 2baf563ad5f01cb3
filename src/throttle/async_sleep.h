// async_sleep: waits on an asio steady_timer from a coroutine — never blocks a thread, so thousands of
// callers can wait at once. Returns false when the wait was cancelled (timer cancelled or the executor
// shutting down) instead of throwing.
//
// Thread-safety: a free function; each call owns its timer.
#pragma once

#include <utility>  // before Boost.Asio 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>

#include "core/clock.h"

namespace tgpulse::throttle {

boost::asio::awaitable<bool> async_sleep(Clock::Duration duration);

}  // namespace tgpulse::throttle
