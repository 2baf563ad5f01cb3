// SqliteUpdateLog: the UpdateLog in the service's SQLite database (the tables of schema migrations 2 and 3,
// created by SqliteSessionStore::open, which must have run first on the same file).
//
// It keeps a connection of its own, so the update hub's batched writes and the readers' pages never
// wait on the session store's mutex (SQLite's WAL lets one writer and many readers proceed; writers
// of both connections take turns within busy_timeout). An append is one transaction: per tenant of the
// batch one read of its highest id, then the rows, then the new highest id. PRAGMA synchronous follows
// the session store's option (NORMAL: durable across a process crash; a power loss may drop the last
// commits).
//
// Thread-safety: thread-safe. One connection, guarded by a mutex.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "store/key_cipher.h"
#include "store/update_log.h"

struct sqlite3;
struct sqlite3_stmt;

namespace tgpulse::store {

struct SqliteUpdateLogOptions {
  std::string path;              // the database file (SqliteSessionStore::path()). Required.
  int busy_timeout_ms = 5000;    // as SqliteStoreOptions::busy_timeout_ms
  bool synchronous_full = false;  // as SqliteStoreOptions::synchronous_full
  // As SqliteStoreOptions::master_key: webhook secrets are stored sealed with it (the tenant id as
  // associated data, webhook_secret_context()), in the clear without one. A sealed secret read without
  // the key that sealed it is a store_error naming the key id, never the secret.
  std::shared_ptr<const KeyCipher> master_key;
};

// The associated data a tenant's webhook secret is sealed with: a sealed value moved to another
// tenant's row, or into a session's db_key, does not open.
std::string webhook_secret_context(std::string_view tenant_id);

class SqliteUpdateLog final : public UpdateLog {
 public:
  // Opens the file (it must exist and carry the update tables). store_error names what failed.
  static Result<std::unique_ptr<SqliteUpdateLog>> open(const SqliteUpdateLogOptions& options);
  ~SqliteUpdateLog() override;
  SqliteUpdateLog(const SqliteUpdateLog&) = delete;
  SqliteUpdateLog& operator=(const SqliteUpdateLog&) = delete;

  Result<std::vector<StoredUpdate>> append(const std::vector<NewUpdate>& batch) override;
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
  class Query;
  SqliteUpdateLog(sqlite3* db, std::shared_ptr<const KeyCipher> cipher) : db_(db), cipher_(std::move(cipher)) {}
  // The stored form of a secret, and back (see SqliteUpdateLogOptions::master_key).
  Result<std::string> stored_secret(const std::string& secret, const std::string& tenant_id) const;
  Result<std::string> revealed_secret(const std::string& stored, const std::string& tenant_id) const;
  Result<WebhookRecord> webhook_row(Query& q, int first_column, std::string tenant_id) const;
  sqlite3_stmt* statement(const char* sql);  // prepared once and kept; nullptr on failure. Holds mu_.
  Error failure(const char* operation) const;
  Status exec(const char* sql, const char* operation);
  Error rollback(Error cause);
  // The tenant's highest id, creating its row; nullopt when the tenant does not exist. Holds mu_.
  Result<std::optional<std::int64_t>> last_id_locked(const std::string& tenant_id);
  Result<std::int64_t> scalar_locked(const char* sql, std::string_view tenant_id, const char* operation);

  std::mutex mu_;
  sqlite3* db_;  // owned; used only under mu_
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;  // owned, by SQL text; guarded by mu_
  const std::shared_ptr<const KeyCipher> cipher_;  // null: secrets in the clear
};

}  // namespace tgpulse::store
