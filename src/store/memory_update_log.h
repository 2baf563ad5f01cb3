// MemoryUpdateLog: the UpdateLog test double — everything in memory, the same semantics as
// SqliteUpdateLog (id assignment, deletions, validation), so the update hub and the routes can
// be tested without files. Given a SessionStore, it stores nothing for a tenant that store does not
// know (as the SQLite log's foreign key does); without one it takes every tenant.
//
// Thread-safety: thread-safe (one mutex).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "store/session_store.h"
#include "store/update_log.h"

namespace tgpulse::store {

class MemoryUpdateLog final : public UpdateLog {
 public:
  explicit MemoryUpdateLog(SessionStore* tenants = nullptr) : tenants_(tenants) {}

  Result<std::vector<AppendedUpdate>> append(const std::vector<NewUpdate>& batch) override;
  Result<std::vector<StoredUpdate>> read(std::string_view tenant_id, std::int64_t from_id, std::size_t limit,
                                         std::string_view session_id = {}) override;
  Result<std::int64_t> acknowledge(std::string_view tenant_id, std::int64_t below_id) override;
  Result<std::int64_t> remove(std::string_view tenant_id, const std::vector<std::int64_t>& update_ids) override;
  Result<std::int64_t> count_pending(std::string_view tenant_id) override;
  Result<std::int64_t> last_update_id(std::string_view tenant_id) override;
  Result<TrimmedUpdates> trim(std::string_view tenant_id, std::int64_t max_pending,
                              std::int64_t min_received_at_ms) override;
  Result<std::optional<std::string>> allowed_updates(std::string_view tenant_id) override;
  Status set_allowed_updates(std::string_view tenant_id, std::string_view json) override;
  Result<std::optional<WebhookRecord>> webhook(std::string_view tenant_id) override;
  Status set_webhook(const WebhookRecord& webhook) override;
  Result<bool> delete_webhook(std::string_view tenant_id) override;
  Result<std::vector<WebhookRecord>> webhooks() override;
  Status delete_tenant(std::string_view tenant_id) override;

 private:
  struct TenantLog {
    std::int64_t last_id = 0;
    std::map<std::int64_t, StoredUpdate> updates;  // by update_id
    std::optional<std::string> allowed_updates;
    std::optional<WebhookRecord> webhook;
  };
  bool tenant_exists(const std::string& tenant_id);

  SessionStore* tenants_;  // not owned; may be null
  std::mutex mu_;
  std::map<std::string, TenantLog, std::less<>> logs_;  // guarded by mu_
};

}  // namespace tgpulse::store
