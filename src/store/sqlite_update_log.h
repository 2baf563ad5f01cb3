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
// Checkpoints are not done by the committing writer: the connection's automatic checkpoint is off, and
// a thread of the log's own runs a PASSIVE checkpoint on a second connection whenever a commit leaves
// the WAL at checkpoint_pages or more. A checkpoint copies WAL pages into the database and syncs both
// files; done inline it held the log's mutex (every append, read and acknowledge waited) for as long
// as the disk took. PASSIVE never waits for readers or writers and never blocks them. Should the WAL
// still reach kWriterCheckpointFactor × checkpoint_pages (a writer that never pauses), the committing
// writer checkpoints inline as before, so the WAL is bounded either way; the WAL file is truncated to
// journal_size_limit_bytes when it restarts, so it also shrinks back after a burst.
//
// Thread-safety: thread-safe. One connection for the operations, guarded by a mutex; the checkpoint
// connection is used only by the checkpoint thread (started by open(), joined by the destructor).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "store/key_cipher.h"
#include "store/sealed_values.h"  // webhook_secret_context
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
  int checkpoint_pages = 1000;    // WAL size (pages) that starts a background checkpoint (SQLite's default)
  std::int64_t journal_size_limit_bytes = 64 << 20;  // the WAL is truncated to this when it restarts
};

class SqliteUpdateLog final : public UpdateLog {
 public:
  static constexpr int kWriterCheckpointFactor = 8;

  // Opens the file (it must exist and carry the update tables). store_error names what failed.
  static Result<std::unique_ptr<SqliteUpdateLog>> open(const SqliteUpdateLogOptions& options);
  ~SqliteUpdateLog() override;
  SqliteUpdateLog(const SqliteUpdateLog&) = delete;
  SqliteUpdateLog& operator=(const SqliteUpdateLog&) = delete;

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
  class Query;
  SqliteUpdateLog(sqlite3* db, std::shared_ptr<const KeyCipher> cipher, int checkpoint_pages)
      : db_(db), cipher_(std::move(cipher)), checkpoint_pages_(checkpoint_pages) {}
  // The stored form of a secret, and back (see SqliteUpdateLogOptions::master_key).
  Result<std::string> stored_secret(const std::string& secret, const std::string& tenant_id) const;
  Result<std::string> revealed_secret(const std::string& stored, const std::string& tenant_id) const;
  Result<WebhookRecord> webhook_row(Query& q, int first_column, std::string tenant_id) const;
  // Called by SQLite after each commit of db_ with the WAL's size in pages: wakes the checkpoint thread.
  static int on_wal_commit(void* self, sqlite3* db, const char* schema, int wal_pages);
  void run_checkpoints();  // the checkpoint thread
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

  const int checkpoint_pages_;
  sqlite3* checkpoint_db_ = nullptr;  // owned; used only by checkpoint_thread_
  std::mutex checkpoint_run_mu_;  // held while either side checkpoints (SQLite runs one at a time)
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_wake_;
  bool checkpoint_due_ = false;   // guarded by checkpoint_mu_
  bool checkpoint_stop_ = false;  // guarded by checkpoint_mu_
  std::thread checkpoint_thread_;
};

}  // namespace tgpulse::store
