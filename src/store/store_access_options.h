// StoreAccessOptions: how the service reaches its session store without blocking an event-loop thread —
// the blocking pool the store calls run on, the cache of tenant tokens, and the batching of
// last_used_at writes (docs/store.md, "Calling the store"). Keys store.pool_threads,
// store.pool_max_queued, store.token_cache_ttl, store.token_cache_entries, store.unknown_token_ttl,
// store.last_used_flush.
//
// Thread-safety: a value type.
#pragma once

#include <chrono>
#include <cstddef>

namespace tgpulse::store {

struct StoreAccessOptions {
  // Threads running store and filesystem calls. Default 4: SQLite serialises on one connection, so more
  // only wait on its lock; a network database would want one per connection it may hold.
  std::size_t pool_threads = 4;
  // Calls admitted at once (queued + running); one more is answered 503 unavailable with Retry-After: 1.
  // Default 1024: at ~50 µs a call, a full queue drains in about 50 ms.
  std::size_t pool_max_queued = 1024;
  // How long a resolved tenant token is trusted without asking the store again. Bounds how long a token
  // deleted or rotated by another node keeps working here. Default 10 s; 0 = no cache (every request
  // asks the store).
  std::chrono::milliseconds token_cache_ttl{std::chrono::seconds(10)};
  // Tokens cached at most (the oldest goes first). Default 10,000 (about 1.5 MB). The same bound holds
  // again, separately, for the unknown tokens remembered (unknown_token_ttl).
  std::size_t token_cache_entries = 10'000;
  // How long a token the store did not know is answered 401 without asking it again. Creating a tenant
  // through this process forgets its token's entry at once; a tenant created on another node gets its
  // token refused here for at most this long only if that exact token was tried here just before (a
  // token is random and shown once, so only by someone who already had it). Default 30 s; 0 = off.
  std::chrono::milliseconds unknown_token_ttl{std::chrono::seconds(30)};
  // How often the last_used_at times of invoked sessions are written, in one batch. Default 5 s. A
  // graceful stop writes what is pending; a crash loses at most this much of last_used_at.
  std::chrono::milliseconds last_used_flush{std::chrono::seconds(5)};

  bool operator==(const StoreAccessOptions&) const = default;
};

}  // namespace tgpulse::store
