// cancellable_sleep: a timer wait from a coroutine that shutdown can end early. Every sleep is
// registered with the execution context (io_context) it runs on; cancel_sleeps(context) wakes them all
// at once and makes later ones return at once, so requests that wait — in the throttle, for a FloodWait —
// are answered "shutting down, retry" instead of holding the drain until their timers fire.
//
//   if (!co_await cancellable_sleep(delay)) co_return Error(Errc::unavailable, "shutting down");
//
// Boost 1.74's Asio has no per-operation cancellation slots, hence a registry per execution context
// (an Asio service, so it lives and dies with the io_context; no global state).
//
// Thread-safety: thread-safe. The wake-up (a timer cancel) is posted to the executor the sleeping
// coroutine runs on; run sleeping coroutines on a strand or a one-thread io_context, so the wake-up
// runs only while the coroutine is suspended: a sleep registers and starts its wait in one step, and
// one that registers after cancel_sleeps() returns at once.
#pragma once

#include <utility>  // before Asio 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution_context.hpp>

#include <chrono>

namespace tgpulse {

// Waits `duration` on the calling coroutine's executor. True when the time passed; false when the wait
// was cancelled by cancel_sleeps() (or the executor is shutting down).
boost::asio::awaitable<bool> cancellable_sleep(std::chrono::nanoseconds duration);

// Wakes every cancellable_sleep() on `context` (they return false) and refuses later ones. Idempotent.
void cancel_sleeps(boost::asio::execution_context& context);

// How many sleeps are registered on `context` now (tests, shutdown reports).
std::size_t pending_sleeps(boost::asio::execution_context& context);

}  // namespace tgpulse
