// AsyncSessionStore: the SessionStore awaited from coroutines. Every call runs on a BlockingPool thread
// and resumes the caller on its own executor, so an event-loop thread never waits on the store's lock,
// SQLite's busy timeout, the disk or (later) a network database's round trip.
//
//   Result<SessionRecord> s = co_await async_store.find_session(id);
//
// Each call has the SessionStore semantics of the same name (session_store.h); in addition, a full pool
// answers Errc::unavailable with retry_after_s = 1 at once (503 with Retry-After to a client), without
// touching the store. Arguments are taken by value and moved into the job, so they live as long as it.
//
// The functions are not coroutines themselves: they hand the job to BlockingPool::run() and return its
// awaitable. Name the awaitable before awaiting it when an argument is a temporary (architecture.md,
// "Execution model", rule 2):
//   asio::awaitable<Result<TenantRecord>> lookup = async_store.find_tenant_by_token(std::string(token));
//   Result<TenantRecord> tenant = co_await std::move(lookup);
//
// Thread-safety: thread-safe. The store and the pool must outlive every awaiting coroutine.
#pragma once

#include <string>
#include <vector>

#include "core/blocking_pool.h"
#include "store/session_store.h"

namespace tgpulse::store {

class AsyncSessionStore {
 public:
  template <typename T>
  using Awaitable = boost::asio::awaitable<Result<T>>;

  AsyncSessionStore(SessionStore& store, BlockingPool& pool) : store_(store), pool_(pool) {}

  Awaitable<void> create_tenant(TenantRecord tenant);
  Awaitable<TenantRecord> get_tenant(std::string tenant_id);
  Awaitable<std::vector<TenantRecord>> list_tenants();
  Awaitable<void> delete_tenant(std::string tenant_id, TenantDeletion mode);
  Awaitable<TenantRecord> find_tenant_by_token(std::string token);
  Awaitable<std::optional<std::string>> tenant_proxy(std::string tenant_id);
  Awaitable<void> set_tenant_proxy(std::string tenant_id, std::optional<std::string> proxy);

  Awaitable<void> create_session(SessionRecord session);
  Awaitable<SessionRecord> get_session(std::string tenant_id, std::string session_id);
  Awaitable<SessionRecord> find_session(std::string session_id);
  Awaitable<std::vector<SessionRecord>> list_sessions(std::string tenant_id);
  Awaitable<std::vector<SessionRecord>> list_all_sessions();
  Awaitable<SessionRecord> update_state(std::string session_id, SessionStateChange change);
  Awaitable<void> delete_session(std::string session_id);

  // Any other blocking work on the same pool (a filesystem walk next to a store call, ...): `job`
  // returns Result<T> or Status.
  template <typename F>
  boost::asio::awaitable<std::invoke_result_t<F&>> run(F job) {
    return pool_.run(std::move(job));
  }

  SessionStore& blocking() noexcept { return store_; }  // for threads that may block (flushers, start-up)
  BlockingPool& pool() noexcept { return pool_; }

 private:
  SessionStore& store_;
  BlockingPool& pool_;
};

}  // namespace tgpulse::store
