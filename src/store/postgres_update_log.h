// PostgresUpdateLog: the UpdateLog in the PostgreSQL database of PostgresSessionStore (the tables of its
// migration 1), on the store's connection pool. Same contract as SqliteUpdateLog (the typed test suite
// runs against both), webhook secrets sealed with the master key the same way.
//
// Round trips: append() is one statement however many tenants the batch has — the batch travels as
// arrays, each tenant's highest id is raised by its count with INSERT ... ON CONFLICT DO UPDATE (the row
// lock orders concurrent appends of a tenant), and the rows are numbered and inserted in the same
// statement. read, acknowledge, remove (ids as one array), the settings and the webhooks are one
// statement each; trim is a short transaction that locks the tenant's id row first, so an append of the
// same tenant waits for it.
//
// Thread-safety: thread-safe (each call takes a pool connection). Calls block: call them on the
// blocking pool.
#pragma once

#include <memory>
#include <vector>

#include "store/key_cipher.h"
#include "store/postgres_connection_pool.h"
#include "store/update_log.h"

namespace tgpulse::store {

class PostgresUpdateLog final : public UpdateLog {
 public:
  // The statements this log runs; every connection of the pool prepares them (PostgresSessionStore::open).
  static std::vector<PreparedSql> statements();

  // On the pool of an open PostgresSessionStore (PostgresSessionStore::pool()). master_key as
  // SqliteUpdateLogOptions::master_key; null = secrets in the clear.
  PostgresUpdateLog(std::shared_ptr<PostgresConnectionPool> pool, std::shared_ptr<const KeyCipher> master_key)
      : pool_(std::move(pool)), cipher_(std::move(master_key)) {}

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
  // The first column of a one-row statement as int64; 0 when it returned no row.
  Result<std::int64_t> first_int(const char* statement, const char* operation, std::string_view tenant_id);

  const std::shared_ptr<PostgresConnectionPool> pool_;
  const std::shared_ptr<const KeyCipher> cipher_;
};

}  // namespace tgpulse::store
