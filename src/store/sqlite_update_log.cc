#include "store/sqlite_update_log.h"

#include "store/sealed_values.h"

#include <sqlite3.h>

#include <algorithm>
#include <utility>

namespace tgpulse::store {

// One use of a kept prepared statement: reset and unbound when it goes out of scope.
class SqliteUpdateLog::Query {
 public:
  Query(SqliteUpdateLog& log, const char* sql) : stmt_(log.statement(sql)) {}
  ~Query() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  bool prepared() const { return stmt_ != nullptr; }
  void bind(int i, std::string_view v) {  // an empty view binds '' (a null data() would bind NULL)
    sqlite3_bind_text(stmt_, i, v.empty() ? "" : v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  // Binds without a copy: `v` must outlive this Query (its destructor resets and clears the bindings).
  void bind_static(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.empty() ? "" : v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  int step() { return sqlite3_step(stmt_); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }

 private:
  sqlite3_stmt* stmt_;
};

Result<std::unique_ptr<SqliteUpdateLog>> SqliteUpdateLog::open(const SqliteUpdateLogOptions& options) {
  if (options.path.empty()) return Error(Errc::invalid_argument, "open update log: path is empty");
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(options.path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Error(Errc::store_error, "open update log: " + options.path + ": " + msg);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  std::unique_ptr<SqliteUpdateLog> log(new SqliteUpdateLog(db, options.master_key, std::max(1, options.checkpoint_pages)));
  const std::string size_limit = "PRAGMA journal_size_limit = " + std::to_string(options.journal_size_limit_bytes);
  const char* synchronous = options.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
  {
    std::lock_guard lock(log->mu_);
    for (const char* pragma : {"PRAGMA foreign_keys = ON", "PRAGMA secure_delete = ON", synchronous, size_limit.c_str()}) {
      if (auto s = log->exec(pragma, "open update log: pragma"); !s) return s.error();
    }
    if (log->statement("SELECT update_id FROM update_log LIMIT 0") == nullptr) {
      return Error(Errc::store_error, "open update log: " + options.path +
                                          " has no update tables (open the session store on it first)");
    }
  }
  // The checkpoint connection: it syncs as the writer's setting says (a checkpoint syncs the WAL before
  // copying it, and the database after), and never commits anything itself.
  const int crc = sqlite3_open_v2(options.path.c_str(), &log->checkpoint_db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                  nullptr);
  if (crc != SQLITE_OK) {
    return Error(Errc::store_error, "open update log: checkpoint connection: " +
                                        std::string(log->checkpoint_db_ ? sqlite3_errmsg(log->checkpoint_db_)
                                                                        : sqlite3_errstr(crc)));
  }
  for (const char* pragma : {synchronous, size_limit.c_str()}) {
    if (sqlite3_exec(log->checkpoint_db_, pragma, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Error(Errc::store_error,
                   std::string("open update log: checkpoint connection: ") + sqlite3_errmsg(log->checkpoint_db_));
    }
  }
  sqlite3_wal_autocheckpoint(log->checkpoint_db_, 0);
  // Replaces the writer's automatic checkpoint (sqlite3_wal_hook and sqlite3_wal_autocheckpoint are the
  // same slot): a commit only notes the WAL's size.
  sqlite3_wal_hook(db, &SqliteUpdateLog::on_wal_commit, log.get());
  log->checkpoint_thread_ = std::thread([self = log.get()] { self->run_checkpoints(); });
  return log;
}

SqliteUpdateLog::~SqliteUpdateLog() {
  if (checkpoint_thread_.joinable()) {
    {
      std::lock_guard lock(checkpoint_mu_);
      checkpoint_stop_ = true;
    }
    checkpoint_wake_.notify_one();
    checkpoint_thread_.join();
  }
  sqlite3_close_v2(checkpoint_db_);  // a null handle is a no-op
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

int SqliteUpdateLog::on_wal_commit(void* self, sqlite3* db, const char* schema, int wal_pages) {
  auto* log = static_cast<SqliteUpdateLog*>(self);
  if (wal_pages < log->checkpoint_pages_) return SQLITE_OK;
  if (wal_pages >= kWriterCheckpointFactor * log->checkpoint_pages_) {
    // The background checkpoints did not catch up (a writer that never pauses adds frames while each
    // one runs, so none finishes the WAL and it never starts over): this commit waits for the one in
    // progress and checkpoints inline. FULL copies every frame; with the writer's mutex held nothing
    // else of the log writes, so the log's next transaction starts the WAL over.
    std::lock_guard one_at_a_time(log->checkpoint_run_mu_);  // SQLite would answer BUSY at once
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_FULL, nullptr, nullptr);
    return SQLITE_OK;
  }
  {
    std::lock_guard lock(log->checkpoint_mu_);
    log->checkpoint_due_ = true;
  }
  log->checkpoint_wake_.notify_one();
  return SQLITE_OK;
}

void SqliteUpdateLog::run_checkpoints() {
  std::unique_lock lock(checkpoint_mu_);
  for (;;) {
    checkpoint_wake_.wait(lock, [this] { return checkpoint_due_ || checkpoint_stop_; });
    if (checkpoint_stop_) return;
    checkpoint_due_ = false;
    lock.unlock();
    {
      std::lock_guard one_at_a_time(checkpoint_run_mu_);
      // PASSIVE: copies what no reader still needs, waits for nobody. A failure (SQLITE_BUSY while the
      // session store's connection checkpoints) is left to the next commit that finds the WAL large.
      sqlite3_wal_checkpoint_v2(checkpoint_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
    lock.lock();
  }
}

sqlite3_stmt* SqliteUpdateLog::statement(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return nullptr;
  }
  statements_.emplace(sql, stmt);
  return stmt;
}

Error SqliteUpdateLog::failure(const char* operation) const {
  return Error(Errc::store_error, std::string(operation) + ": " + sqlite3_errmsg(db_));
}

Status SqliteUpdateLog::exec(const char* sql, const char* operation) {
  Query q(*this, sql);
  if (!q.prepared()) return failure(operation);
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
  }
  if (rc != SQLITE_DONE) return failure(operation);
  return {};
}

Error SqliteUpdateLog::rollback(Error cause) {
  if (sqlite3_get_autocommit(db_) != 0) return cause;
  if (auto s = exec("ROLLBACK", "rollback"); !s) cause.message += " (and " + s.error().message + ")";
  return cause;
}

Result<std::optional<std::int64_t>> SqliteUpdateLog::last_id_locked(const std::string& tenant_id) {
  {
    Query ensure(*this,
                 "INSERT INTO update_tenants (tenant_id) SELECT tenant_id FROM tenants WHERE tenant_id = ?1 "
                 "ON CONFLICT (tenant_id) DO NOTHING");
    if (!ensure.prepared()) return failure("append updates");
    ensure.bind(1, tenant_id);
    if (ensure.step() != SQLITE_DONE) return failure("append updates");
  }
  Query q(*this, "SELECT last_update_id FROM update_tenants WHERE tenant_id = ?1");
  if (!q.prepared()) return failure("append updates");
  q.bind(1, tenant_id);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<std::int64_t>{};
  if (rc != SQLITE_ROW) return failure("append updates");
  return std::optional<std::int64_t>{q.int64(0)};
}

Result<std::vector<AppendedUpdate>> SqliteUpdateLog::append(const std::vector<NewUpdate>& batch) {
  std::vector<AppendedUpdate> out;
  if (batch.empty()) return out;
  std::lock_guard lock(mu_);
  if (auto s = exec("BEGIN IMMEDIATE", "append updates: begin"); !s) return s.error();
  std::map<std::string, std::optional<std::int64_t>, std::less<>> last;  // tenant → highest id (nullopt: gone)
  out.reserve(batch.size());
  for (const auto& u : batch) {
    auto it = last.find(u.tenant_id);
    if (it == last.end()) {
      auto found = last_id_locked(u.tenant_id);
      if (!found) return rollback(found.error());
      it = last.emplace(u.tenant_id, *found).first;
    }
    if (!it->second) continue;  // the tenant was deleted while its updates were queued
    const std::int64_t id = ++*it->second;
    Query ins(*this,
              "INSERT INTO update_log (tenant_id, update_id, session_id, received_at, payload) "
              "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!ins.prepared()) return rollback(failure("append updates"));
    ins.bind_static(1, u.tenant_id);  // the batch outlives the statement's use
    ins.bind(2, id);
    ins.bind_static(3, u.session_id);
    ins.bind(4, u.received_at_ms);
    ins.bind_static(5, u.payload);
    if (ins.step() != SQLITE_DONE) return rollback(failure("append updates"));
    out.push_back(AppendedUpdate{u.tenant_id, id});
  }
  for (const auto& [tenant_id, id] : last) {
    if (!id) continue;
    Query up(*this, "UPDATE update_tenants SET last_update_id = ?2 WHERE tenant_id = ?1");
    if (!up.prepared()) return rollback(failure("append updates"));
    up.bind(1, tenant_id);
    up.bind(2, *id);
    if (up.step() != SQLITE_DONE) return rollback(failure("append updates"));
  }
  if (auto s = exec("COMMIT", "append updates: commit"); !s) return rollback(s.error());
  return out;
}

Result<std::vector<StoredUpdate>> SqliteUpdateLog::read(std::string_view tenant_id, std::int64_t from_id,
                                                        std::size_t limit, std::string_view session_id) {
  if (auto valid = validate_update_read(from_id, limit); !valid) return valid.error();
  std::lock_guard lock(mu_);
  Query q(*this,
          "SELECT update_id, session_id, received_at, payload FROM update_log "
          "WHERE tenant_id = ?1 AND update_id >= ?2 AND (?3 = '' OR session_id = ?3) "
          "ORDER BY update_id LIMIT ?4");
  if (!q.prepared()) return failure("read updates");
  q.bind(1, tenant_id);
  q.bind(2, from_id);
  q.bind(3, session_id);
  q.bind(4, static_cast<std::int64_t>(limit));
  std::vector<StoredUpdate> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    out.push_back(StoredUpdate{std::string(tenant_id), q.int64(0), q.text(1), q.int64(2), q.text(3)});
  }
  if (rc != SQLITE_DONE) return failure("read updates");
  return out;
}

Result<std::int64_t> SqliteUpdateLog::acknowledge(std::string_view tenant_id, std::int64_t below_id) {
  std::lock_guard lock(mu_);
  Query d(*this, "DELETE FROM update_log WHERE tenant_id = ?1 AND update_id < ?2");
  if (!d.prepared()) return failure("acknowledge updates");
  d.bind(1, tenant_id);
  d.bind(2, below_id);
  if (d.step() != SQLITE_DONE) return failure("acknowledge updates");
  return static_cast<std::int64_t>(sqlite3_changes(db_));
}

Result<std::int64_t> SqliteUpdateLog::remove(std::string_view tenant_id, const std::vector<std::int64_t>& update_ids) {
  if (update_ids.size() > kMaxUpdateRemove) return Error(Errc::invalid_argument, "too many update ids to remove");
  if (update_ids.empty()) return std::int64_t{0};
  std::lock_guard lock(mu_);
  if (auto s = exec("BEGIN IMMEDIATE", "remove updates: begin"); !s) return s.error();
  std::int64_t removed = 0;
  for (std::int64_t id : update_ids) {
    Query d(*this, "DELETE FROM update_log WHERE tenant_id = ?1 AND update_id = ?2");
    if (!d.prepared()) return rollback(failure("remove updates"));
    d.bind(1, tenant_id);
    d.bind(2, id);
    if (d.step() != SQLITE_DONE) return rollback(failure("remove updates"));
    removed += sqlite3_changes(db_);
  }
  if (auto s = exec("COMMIT", "remove updates: commit"); !s) return rollback(s.error());
  return removed;
}

Result<std::int64_t> SqliteUpdateLog::scalar_locked(const char* sql, std::string_view tenant_id,
                                                    const char* operation) {
  Query q(*this, sql);
  if (!q.prepared()) return failure(operation);
  q.bind(1, tenant_id);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return std::int64_t{0};
  if (rc != SQLITE_ROW) return failure(operation);
  return q.int64(0);
}

Result<std::int64_t> SqliteUpdateLog::count_pending(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  return scalar_locked("SELECT count(*) FROM update_log WHERE tenant_id = ?1", tenant_id, "count updates");
}

Result<std::int64_t> SqliteUpdateLog::last_update_id(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  return scalar_locked("SELECT last_update_id FROM update_tenants WHERE tenant_id = ?1", tenant_id,
                       "last update id");
}

Result<TrimmedUpdates> SqliteUpdateLog::trim(std::string_view tenant_id, std::int64_t max_pending,
                                             std::int64_t min_received_at_ms) {
  if (max_pending < 0) return Error(Errc::invalid_argument, "max_pending must not be negative");
  std::lock_guard lock(mu_);
  if (auto s = exec("BEGIN IMMEDIATE", "trim updates: begin"); !s) return s.error();
  TrimmedUpdates out;
  // The log's ends (index seeks).
  std::optional<UpdateIdRange> span;
  {
    Query q(*this, "SELECT min(update_id), max(update_id) FROM update_log WHERE tenant_id = ?1");
    if (!q.prepared()) return rollback(failure("trim updates"));
    q.bind(1, tenant_id);
    if (q.step() != SQLITE_ROW) return rollback(failure("trim updates"));
    if (!q.is_null(0)) span = UpdateIdRange{q.int64(0), q.int64(1)};
  }
  if (!span) {  // nothing stored
    if (auto s = exec("COMMIT", "trim updates: commit"); !s) return rollback(s.error());
    return out;
  }
  // By age: everything below the first update young enough (all of them when none is). The oldest is
  // looked at first: when it is young enough, nothing is old (the usual case, one seek).
  std::int64_t age_cut = span->first;
  {
    Query oldest(*this, "SELECT received_at FROM update_log WHERE tenant_id = ?1 AND update_id = ?2");
    if (!oldest.prepared()) return rollback(failure("trim updates"));
    oldest.bind(1, tenant_id);
    oldest.bind(2, span->first);
    if (oldest.step() != SQLITE_ROW) return rollback(failure("trim updates"));
    if (oldest.int64(0) < min_received_at_ms) {
      Query q(*this, "SELECT min(update_id) FROM update_log WHERE tenant_id = ?1 AND received_at >= ?2");
      if (!q.prepared()) return rollback(failure("trim updates"));
      q.bind(1, tenant_id);
      q.bind(2, min_received_at_ms);
      if (q.step() != SQLITE_ROW) return rollback(failure("trim updates"));
      age_cut = q.is_null(0) ? span->last + 1 : q.int64(0);
    }
  }
  // By count: keep the newest max_pending. Without a webhook the ids from age_cut to the end are all
  // there (arithmetic); a webhook removes delivered ids from the middle, so its tenant's rows are
  // counted from the top (an index walk of max_pending entries, only when over the limit).
  std::int64_t count_cut = std::max(age_cut, span->last - max_pending + 1);
  if (count_cut > age_cut) {
    Query hooked(*this, "SELECT 1 FROM update_webhooks WHERE tenant_id = ?1");
    if (!hooked.prepared()) return rollback(failure("trim updates"));
    hooked.bind(1, tenant_id);
    const int rc = hooked.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rollback(failure("trim updates"));
    if (rc == SQLITE_ROW) {
      Query q(*this,
              "SELECT update_id FROM update_log WHERE tenant_id = ?1 AND update_id >= ?2 "
              "ORDER BY update_id DESC LIMIT 1 OFFSET ?3");
      if (!q.prepared()) return rollback(failure("trim updates"));
      q.bind(1, tenant_id);
      q.bind(2, age_cut);
      q.bind(3, max_pending);
      const int found = q.step();
      if (found != SQLITE_ROW && found != SQLITE_DONE) return rollback(failure("trim updates"));
      count_cut = found == SQLITE_ROW ? q.int64(0) + 1 : age_cut;
    }
  }
  if (age_cut > span->first) out.by_age = UpdateIdRange{span->first, age_cut - 1};
  if (count_cut > age_cut) out.by_count = UpdateIdRange{age_cut, count_cut - 1};
  if (count_cut > span->first) {
    Query d(*this, "DELETE FROM update_log WHERE tenant_id = ?1 AND update_id < ?2");
    if (!d.prepared()) return rollback(failure("trim updates"));
    d.bind(1, tenant_id);
    d.bind(2, count_cut);
    if (d.step() != SQLITE_DONE) return rollback(failure("trim updates"));
  }
  if (auto s = exec("COMMIT", "trim updates: commit"); !s) return rollback(s.error());
  return out;
}

Result<std::optional<std::string>> SqliteUpdateLog::allowed_updates(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  Query q(*this, "SELECT allowed_updates FROM update_tenants WHERE tenant_id = ?1");
  if (!q.prepared()) return failure("read update settings");
  q.bind(1, tenant_id);
  const int rc = q.step();
  if (rc == SQLITE_DONE || (rc == SQLITE_ROW && q.is_null(0))) return std::optional<std::string>{};
  if (rc != SQLITE_ROW) return failure("read update settings");
  return std::optional<std::string>{q.text(0)};
}

Status SqliteUpdateLog::set_allowed_updates(std::string_view tenant_id, std::string_view json) {
  std::lock_guard lock(mu_);
  Query q(*this,
          "INSERT INTO update_tenants (tenant_id, allowed_updates) SELECT tenant_id, ?2 FROM tenants "
          "WHERE tenant_id = ?1 ON CONFLICT (tenant_id) DO UPDATE SET allowed_updates = excluded.allowed_updates");
  if (!q.prepared()) return failure("write update settings");
  q.bind(1, tenant_id);
  q.bind(2, json);
  if (q.step() != SQLITE_DONE) return failure("write update settings");
  if (sqlite3_changes(db_) == 0) return Error(Errc::not_found, "no such tenant");
  return {};
}

Result<std::string> SqliteUpdateLog::stored_secret(const std::string& secret, const std::string& tenant_id) const {
  return seal_webhook_secret(cipher_.get(), secret, tenant_id);
}

Result<std::string> SqliteUpdateLog::revealed_secret(const std::string& stored, const std::string& tenant_id) const {
  return reveal_webhook_secret(cipher_.get(), stored, tenant_id);
}

// url, secret, max_connections, updated_at from `first_column` on.
Result<WebhookRecord> SqliteUpdateLog::webhook_row(Query& q, int first_column, std::string tenant_id) const {
  auto secret = revealed_secret(q.text(first_column + 1), tenant_id);
  if (!secret) return secret.error();
  return WebhookRecord{std::move(tenant_id), q.text(first_column), std::move(*secret), q.int64(first_column + 2),
                       q.int64(first_column + 3)};
}

Result<std::optional<WebhookRecord>> SqliteUpdateLog::webhook(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  Query q(*this, "SELECT url, secret, max_connections, updated_at FROM update_webhooks WHERE tenant_id = ?1");
  if (!q.prepared()) return failure("read webhook");
  q.bind(1, tenant_id);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<WebhookRecord>{};
  if (rc != SQLITE_ROW) return failure("read webhook");
  auto row = webhook_row(q, 0, std::string(tenant_id));
  if (!row) return row.error();
  return std::optional<WebhookRecord>{std::move(*row)};
}

Status SqliteUpdateLog::set_webhook(const WebhookRecord& webhook) {
  auto secret = stored_secret(webhook.secret, webhook.tenant_id);
  if (!secret) return secret.error();
  std::lock_guard lock(mu_);
  Query q(*this,
          "INSERT INTO update_webhooks (tenant_id, url, secret, max_connections, updated_at) "
          "SELECT tenant_id, ?2, ?3, ?4, ?5 FROM tenants WHERE tenant_id = ?1 "
          "ON CONFLICT (tenant_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, "
          "max_connections = excluded.max_connections, updated_at = excluded.updated_at");
  if (!q.prepared()) return failure("write webhook");
  q.bind(1, webhook.tenant_id);
  q.bind(2, webhook.url);
  q.bind(3, *secret);
  q.bind(4, webhook.max_connections);
  q.bind(5, webhook.updated_at_ms);
  if (q.step() != SQLITE_DONE) return failure("write webhook");
  if (sqlite3_changes(db_) == 0) return Error(Errc::not_found, "no such tenant");
  return {};
}

Result<bool> SqliteUpdateLog::delete_webhook(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  Query d(*this, "DELETE FROM update_webhooks WHERE tenant_id = ?1");
  if (!d.prepared()) return failure("delete webhook");
  d.bind(1, tenant_id);
  if (d.step() != SQLITE_DONE) return failure("delete webhook");
  return sqlite3_changes(db_) > 0;
}

Result<std::vector<WebhookRecord>> SqliteUpdateLog::webhooks() {
  std::lock_guard lock(mu_);
  Query q(*this,
          "SELECT tenant_id, url, secret, max_connections, updated_at FROM update_webhooks ORDER BY tenant_id");
  if (!q.prepared()) return failure("list webhooks");
  std::vector<WebhookRecord> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    auto row = webhook_row(q, 1, q.text(0));
    if (!row) return row.error();
    out.push_back(std::move(*row));
  }
  if (rc != SQLITE_DONE) return failure("list webhooks");
  return out;
}

Status SqliteUpdateLog::delete_tenant(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  if (auto s = exec("BEGIN IMMEDIATE", "delete tenant updates: begin"); !s) return s;
  for (const char* sql : {"DELETE FROM update_log WHERE tenant_id = ?1", "DELETE FROM update_tenants WHERE tenant_id = ?1",
                          "DELETE FROM update_webhooks WHERE tenant_id = ?1"}) {
    Query d(*this, sql);
    if (!d.prepared()) return rollback(failure("delete tenant updates"));
    d.bind(1, tenant_id);
    if (d.step() != SQLITE_DONE) return rollback(failure("delete tenant updates"));
  }
  if (auto s = exec("COMMIT", "delete tenant updates: commit"); !s) return rollback(s.error());
  return {};
}

}  // namespace tgpulse::store
