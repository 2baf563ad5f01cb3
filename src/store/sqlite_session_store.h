// SqliteSessionStore: the SessionStore on an embedded SQLite database under the data directory.
//
// open() creates the data directory (0700) if missing and the database file with mode 0600 (an
// existing file is narrowed to 0600; SQLite gives its -wal and -shm files the database file's mode),
// then sets WAL journaling, busy_timeout and foreign keys, and applies the schema migrations that are
// missing — each in one transaction, recorded in the `schema_version` table. A database written by a
// newer tgpulse (a schema version this build does not know) is refused. An existing non-empty file
// that is not an SQLite database (its first 16 bytes are not "SQLite format 3\0") is refused before
// anything touches it (content, mode and journal files stay as they were). An empty file is a new
// database (SQLite's own reading); the session layer refuses to start on it when session directories
// exist (SessionCleanup::check_store_accounts_for_data).
//
// Thread-safety: thread-safe. One connection, guarded by a mutex; every call is one short indexed
// statement or one small transaction, so callers on io threads wait at most a few hundred microseconds
// (busy_timeout bounds the wait for another process holding the write lock).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"
#include "store/session_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace tgpulse::store {

struct SqliteStoreOptions {
  // Directory of the database; created (mode 0700) if missing. Required: no default.
  std::string data_dir;
  // File name inside data_dir. Default "tgpulse.db".
  std::string file_name = "tgpulse.db";
  // How long a statement waits for another connection's lock before failing with store_error.
  // Default 5000 ms: long enough for a checkpoint, short enough to answer a request. Must be >= 0.
  int busy_timeout_ms = 5000;
  // PRAGMA synchronous=FULL (true) or NORMAL (false). NORMAL is durable across process crashes in WAL
  // mode (only a power loss may drop the last commits) and much faster. Default false (NORMAL).
  bool synchronous_full = false;
};

class SqliteSessionStore final : public SessionStore {
 public:
  // Opens (or creates) the database and migrates it. store_error names what failed.
  static Result<std::unique_ptr<SqliteSessionStore>> open(const SqliteStoreOptions& options, const Clock& clock);
  ~SqliteSessionStore() override;
  SqliteSessionStore(const SqliteSessionStore&) = delete;
  SqliteSessionStore& operator=(const SqliteSessionStore&) = delete;

  // The schema version this build writes (the number of migrations it knows).
  static int latest_schema_version() noexcept;
  // The database file's absolute path.
  const std::string& path() const noexcept { return path_; }
  // The schema version stored in the database (after open: latest_schema_version()).
  Result<int> schema_version();
  // The journal mode SQLite reports ("wal" after open).
  Result<std::string> journal_mode();
  // Readiness probe, on a connection of its own (never waits for this store's mutex): the file at
  // path() is still the one opened (not deleted or replaced), and a write lock can be taken within
  // `busy_timeout_ms` and a query answered (BEGIN IMMEDIATE; SELECT count(*) FROM sessions; ROLLBACK).
  // Errc::store_error names what failed. Blocks up to busy_timeout_ms: call it off the event loop.
  Status probe(int busy_timeout_ms = 1000) const;

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

 private:
  class Statement;
  SqliteSessionStore(sqlite3* db, std::string path, const Clock& clock);
  // The prepared statement for sql, prepared on first use and kept; nullptr if it does not prepare
  // (sqlite3_errmsg tells why). Caller holds mu_.
  sqlite3_stmt* cached_statement(std::string_view sql);
  Status configure(const SqliteStoreOptions& options);  // pragmas, then migrate()
  Status migrate();
  Status exec(const char* sql, const char* operation);          // one-off SQL, may hold several statements
  Status step_once(std::string_view sql, const char* operation);  // one cached statement without rows
  Error sqlite_error(const char* operation) const;
  // Ends the open transaction without its changes; returns cause (noting a failed rollback in it).
  Error rollback(Error cause);
  Result<SessionRecord> find_session_locked(std::string_view session_id);
  Result<std::vector<SessionRecord>> query_sessions(const char* where, std::string_view arg, const char* operation);
  std::int64_t now_ms() const;

  std::mutex mu_;
  sqlite3* db_;  // owned; closed in the destructor; used only under mu_
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;  // owned, by SQL text; guarded by mu_
  std::string path_;
  std::uint64_t file_device_ = 0;  // st_dev and st_ino of path_ when opened (probe() compares them)
  std::uint64_t file_inode_ = 0;
  const Clock& clock_;
};

}  // namespace tgpulse::store
