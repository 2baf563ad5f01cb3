// SlowSessionStore: a test double that makes another SessionStore slow on purpose — every call sleeps
// `delay` on the calling thread, then forwards. It stands in for a database under load (SQLite waiting
// out its busy timeout, a network database's round trip) in tests that prove such a store cannot stall
// an event loop. Test support only: it lives in the tgpulse_store_testing library, which no production
// target links.
//
// A gate makes "a call is stuck in the store right now" a handshake instead of a sleep: hold_next(n)
// makes the next n calls wait on their own thread until release() (or, so that a test of code that
// wrongly calls the store on its loop thread fails instead of hanging, kGateLimit); wait_held(n) blocks
// the test until n calls are waiting.
//
// Thread-safety: as thread-safe as the wrapped store; calls(), the gate and its queries are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "store/session_store.h"

namespace tgpulse::store {

class SlowSessionStore : public SessionStore {
 public:
  // The longest a call waits at the gate before it goes on by itself.
  static constexpr std::chrono::seconds kGateLimit{10};

  SlowSessionStore(SessionStore& inner, std::chrono::milliseconds delay) : inner_(inner), delay_(delay) {}

  Status create_tenant(const TenantRecord& tenant) override;
  Result<TenantRecord> get_tenant(std::string_view tenant_id) override;
  Result<std::optional<std::string>> tenant_proxy(std::string_view tenant_id) override;
  Status set_tenant_proxy(std::string_view tenant_id, const std::optional<std::string>& proxy) override;
  Result<std::vector<TenantRecord>> list_tenants() override;
  Status delete_tenant(std::string_view tenant_id, TenantDeletion mode) override;
  Result<TenantRecord> find_tenant_by_token(std::string_view token) override;
  Status create_session(const SessionRecord& session) override;
  Result<SessionRecord> get_session(std::string_view tenant_id, std::string_view session_id) override;
  Result<SessionRecord> find_session(std::string_view session_id) override;
  Result<std::vector<SessionRecord>> list_sessions(std::string_view tenant_id) override;
  Result<std::vector<SessionRecord>> list_sessions_by_state(SessionState state) override;
  Result<std::vector<SessionRecord>> list_all_sessions() override;
  Result<SessionRecord> update_state(std::string_view session_id, const SessionStateChange& change) override;
  Status touch_last_used(std::string_view session_id, std::int64_t used_at_ms) override;
  Status delete_session(std::string_view session_id) override;

  // Calls made so far (each one slept).
  std::uint64_t calls() const noexcept { return calls_.load(std::memory_order_relaxed); }

  // The next `calls` calls wait at the gate until release().
  void hold_next(std::size_t calls);
  // Lets every waiting call go on and stops holding new ones.
  void release();
  // Calls waiting at the gate now.
  std::size_t held() const;
  // Blocks until `calls` calls wait at the gate; false after `limit`.
  bool wait_held(std::size_t calls, std::chrono::milliseconds limit = std::chrono::seconds(5)) const;

 private:
  void stall();

  SessionStore& inner_;
  const std::chrono::milliseconds delay_;
  std::atomic<std::uint64_t> calls_{0};
  mutable std::mutex gate_mu_;
  mutable std::condition_variable gate_cv_;
  std::size_t to_hold_ = 0;    // guarded by gate_mu_
  std::size_t held_ = 0;       // guarded by gate_mu_
  std::uint64_t releases_ = 0;  // guarded by gate_mu_; bumped by release()
};

}  // namespace tgpulse::store
