// SlowSessionStore: a test double that makes another SessionStore slow on purpose — every call sleeps
// `delay` on the calling thread, then forwards. It stands in for a database under load (SQLite waiting
// out its busy timeout, a network database's round trip) in tests that prove such a store cannot stall
// an event loop. Test support only: it lives in the tgpulse_store_testing library, which no production
// target links.
//
// Thread-safety: as thread-safe as the wrapped store; calls() is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "store/session_store.h"

namespace tgpulse::store {

class SlowSessionStore final : public SessionStore {
 public:
  SlowSessionStore(SessionStore& inner, std::chrono::milliseconds delay) : inner_(inner), delay_(delay) {}

  Status create_tenant(const TenantRecord& tenant) override;
  Result<TenantRecord> get_tenant(std::string_view tenant_id) override;
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
  Status touch_last_used(std::string_view session_id) override;
  Status delete_session(std::string_view session_id) override;

  // Calls made so far (each one slept).
  std::uint64_t calls() const noexcept { return calls_.load(std::memory_order_relaxed); }

 private:
  void stall();

  SessionStore& inner_;
  const std::chrono::milliseconds delay_;
  std::atomic<std::uint64_t> calls_{0};
};

}  // namespace tgpulse::store
