// blocking_call(): runs blocking work of the session layer (a store call, a directory removal) on the
// BlockingPool it was wired with, so a session's loop thread never waits on the store or the disk.
// Without a pool (unit tests wired with the in-memory store) the job runs inline.
//
// The job returns Result<T> or Status; a full pool answers Errc::unavailable (see blocking_pool.h).
// Runs on the caller's executor; the job on a pool thread.
#pragma once

#include <type_traits>
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "core/blocking_pool.h"

namespace tgpulse::session {

template <typename F>
boost::asio::awaitable<std::invoke_result_t<F&>> blocking_call(BlockingPool* pool, F job) {
  if (pool == nullptr) co_return job();
  boost::asio::awaitable<std::invoke_result_t<F&>> pending = pool->run(std::move(job));
  co_return co_await std::move(pending);
}

}  // namespace tgpulse::session
