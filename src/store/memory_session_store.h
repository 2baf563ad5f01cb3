// MemorySessionStore: the SessionStore test double — everything in memory, the same semantics as
// SqliteSessionStore (validation, not_found for another tenant's session, compare-and-set, ordering,
// updated_at stamping), so tests of the session layer need no files.
//
// Thread-safety: thread-safe (one mutex).
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "store/session_store.h"

namespace tgpulse::store {

class MemorySessionStore final : public SessionStore {
 public:
  explicit MemorySessionStore(const Clock& clock) : clock_(clock) {}

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

 private:
  template <typename Pred>
  std::vector<SessionRecord> select_locked(Pred pred) const;
  std::int64_t now_ms() const;

  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, TenantRecord, std::less<>> tenants_;    // by tenant_id; guarded by mu_
  std::map<std::string, SessionRecord, std::less<>> sessions_;  // by session_id; guarded by mu_
  std::map<std::string, std::string, std::less<>> proxies_;      // tenant_id → default proxy; guarded by mu_
};

}  // namespace tgpulse::store
