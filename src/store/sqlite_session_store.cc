#include "store/sqlite_session_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

#include "store/sealed_values.h"
#include "store/sqlite_update_log.h"
#include "store/tenant_tokens.h"

namespace tgpulse::store {
namespace {

// Schema migrations, in order; migration i takes the schema from version i to i + 1. Never edit one
// that has shipped: append a new one.
constexpr std::array<const char*, 5> kMigrations = {
    // 1: tenants and sessions.
    "CREATE TABLE tenants ("
    "  tenant_id TEXT PRIMARY KEY NOT NULL,"
    "  token_hash TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE sessions ("
    "  session_id TEXT PRIMARY KEY NOT NULL,"
    "  tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE RESTRICT,"
    "  state TEXT NOT NULL CHECK (state IN ('qr_pending','password_required','authorized',"
    "                                      'cleanup_pending','cleanup_closing','cleanup_removing')),"
    "  cleanup_trigger TEXT NOT NULL DEFAULT '',"
    "  cleanup_logout INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  authorized_at INTEGER,"
    "  last_used_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  engine_dir TEXT NOT NULL,"
    "  db_key TEXT NOT NULL,"
    "  page_key_hash TEXT NOT NULL,"
    "  user_id INTEGER"
    ");"
    "CREATE INDEX sessions_by_tenant ON sessions (tenant_id, created_at, session_id);"
    "CREATE INDEX sessions_by_state ON sessions (state, created_at, session_id);",
    // 2: the update log (SqliteUpdateLog): each tenant's pending updates, its highest assigned
    // update_id (kept when everything below it is deleted, so no id is reused) and its settings.
    "CREATE TABLE update_log ("
    "  tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,"
    "  update_id INTEGER NOT NULL,"
    "  session_id TEXT NOT NULL,"
    "  received_at INTEGER NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  PRIMARY KEY (tenant_id, update_id)"
    ") WITHOUT ROWID;"
    "CREATE TABLE update_tenants ("
    "  tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,"
    "  last_update_id INTEGER NOT NULL DEFAULT 0,"
    "  allowed_updates TEXT"
    ") WITHOUT ROWID;",
    // 3: each tenant's webhook (SqliteUpdateLog; docs/api.md#webhooks). The secret signs the
    // deliveries; it is never returned by a route, and is sealed with the master key when one is set.
    "CREATE TABLE update_webhooks ("
    "  tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,"
    "  url TEXT NOT NULL,"
    "  secret TEXT NOT NULL,"
    "  max_connections INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ") WITHOUT ROWID;",
    // 4: phone-number logins. SQLite cannot widen a CHECK in place: the sessions table is rebuilt with
    // the state phone_pending (a phone login at any of its steps) and the same columns, rows and indexes.
    "CREATE TABLE sessions_v4 ("
    "  session_id TEXT PRIMARY KEY NOT NULL,"
    "  tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE RESTRICT,"
    "  state TEXT NOT NULL CHECK (state IN ('qr_pending','phone_pending','password_required','authorized',"
    "                                      'cleanup_pending','cleanup_closing','cleanup_removing')),"
    "  cleanup_trigger TEXT NOT NULL DEFAULT '',"
    "  cleanup_logout INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  authorized_at INTEGER,"
    "  last_used_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  engine_dir TEXT NOT NULL,"
    "  db_key TEXT NOT NULL,"
    "  page_key_hash TEXT NOT NULL,"
    "  user_id INTEGER"
    ");"
    "INSERT INTO sessions_v4 SELECT session_id, tenant_id, state, cleanup_trigger, cleanup_logout, created_at,"
    "  authorized_at, last_used_at, updated_at, engine_dir, db_key, page_key_hash, user_id FROM sessions;"
    "DROP TABLE sessions;"
    "ALTER TABLE sessions_v4 RENAME TO sessions;"
    "CREATE INDEX sessions_by_tenant ON sessions (tenant_id, created_at, session_id);"
    "CREATE INDEX sessions_by_state ON sessions (state, created_at, session_id);",
    // 5: each tenant's default proxy (PUT /v1/proxy), sealed like a session key (sealed_values.h).
    "CREATE TABLE tenant_proxies ("
    "  tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,"
    "  proxy TEXT NOT NULL"
    ") WITHOUT ROWID;",
};

constexpr const char* kSessionColumns =
    "session_id, tenant_id, state, cleanup_trigger, cleanup_logout, created_at, authorized_at, "
    "last_used_at, updated_at, engine_dir, db_key, page_key_hash, user_id";
constexpr const char* kOrder = " ORDER BY created_at, session_id";

Error no_session() { return Error(Errc::not_found, "no such session"); }
Error no_tenant() { return Error(Errc::not_found, "no such tenant"); }

// Creates the file if missing and sets its mode to 0600 (also when it existed with a wider mode).
Status make_private_file(const std::string& path, bool create) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
  if (fd < 0) {
    if (!create && errno == ENOENT) return {};
    return Error(Errc::store_error, "open store: cannot create " + path + ": " + std::strerror(errno));
  }
  const int rc = ::fchmod(fd, 0600);
  const int saved_errno = errno;
  ::close(fd);
  if (rc != 0) {
    return Error(Errc::store_error, "open store: cannot chmod 0600 " + path + ": " + std::strerror(saved_errno));
  }
  return {};
}

// Errc::store_error when `path` exists, is not empty and does not start with SQLite's header; ok when
// it is missing, empty or an SQLite database. Reads at most 16 bytes; changes nothing.
Status refuse_foreign_file(const std::string& path) {
  static constexpr char kHeader[16] = {'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f', 'o', 'r', 'm', 'a', 't', ' ', '3', '\0'};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return {};
    return Error(Errc::store_error, "open store: cannot read " + path + ": " + std::strerror(errno));
  }
  char head[16] = {};
  const ssize_t n = ::read(fd, head, sizeof head);
  ::close(fd);
  if (n == 0) return {};
  if (n != static_cast<ssize_t>(sizeof head) || std::memcmp(head, kHeader, sizeof head) != 0) {
    return Error(Errc::store_error,
                 "open store: " + path + " is not an SQLite database (it does not start with the SQLite header); "
                 "it was left untouched. Check store.data_dir, or move that file away to start a new store");
  }
  return {};
}

}  // namespace

// One use of a cached prepared statement (SqliteSessionStore::cached_statement); reset and unbound
// when it goes out of scope, ready for the next use. Used only under the store's mutex.
class SqliteSessionStore::Statement {
 public:
  Statement(SqliteSessionStore& store, std::string_view sql) : stmt_(store.cached_statement(sql)) {}
  ~Statement() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool prepared() const { return stmt_ != nullptr; }
  void bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void bind(int i, const std::optional<std::int64_t>& v) {
    if (v) {
      sqlite3_bind_int64(stmt_, i, *v);
    } else {
      sqlite3_bind_null(stmt_, i);
    }
  }
  void bind_null(int i) { sqlite3_bind_null(stmt_, i); }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(stmt_); }

  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::optional<std::int64_t> optional_int64(int col) const {
    if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_int64(stmt_, col);
  }

  // The session record in the current row (columns in kSessionColumns order).
  SessionRecord session() const {
    SessionRecord s;
    s.session_id = text(0);
    s.tenant_id = text(1);
    // The schema's CHECK constraint admits only known names; were one unknown anyway, cleaning the
    // session up is the safe reading.
    s.state = parse_session_state(text(2)).value_or(SessionState::cleanup_pending);
    s.cleanup_trigger = text(3);
    s.cleanup_logout = int64(4) != 0;
    s.created_at_ms = int64(5);
    s.authorized_at_ms = optional_int64(6);
    s.last_used_at_ms = int64(7);
    s.updated_at_ms = int64(8);
    s.engine_dir = text(9);
    s.db_key = text(10);
    s.page_key_hash = text(11);
    s.user_id = optional_int64(12);
    return s;
  }
  TenantRecord tenant() const { return TenantRecord{text(0), text(1), int64(2)}; }

 private:
  sqlite3_stmt* stmt_ = nullptr;  // owned by the store's cache
};

Result<std::unique_ptr<SqliteSessionStore>> SqliteSessionStore::open(const SqliteStoreOptions& options,
                                                                     const Clock& clock) {
  namespace fs = std::filesystem;
  if (options.data_dir.empty()) return Error(Errc::invalid_argument, "open store: data_dir is empty");
  if (options.file_name.empty() || options.file_name.find('/') != std::string::npos) {
    return Error(Errc::invalid_argument, "open store: file_name must be a plain file name");
  }
  if (options.busy_timeout_ms < 0) return Error(Errc::invalid_argument, "open store: busy_timeout_ms is negative");
  std::error_code ec;
  const fs::path dir = fs::absolute(options.data_dir, ec);
  if (ec) return Error(Errc::store_error, "open store: bad data_dir: " + ec.message());
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return Error(Errc::store_error, "open store: cannot create " + dir.string() + ": " + ec.message());
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) return Error(Errc::store_error, "open store: cannot chmod " + dir.string() + ": " + ec.message());
  }
  const std::string path = (dir / options.file_name).string();
  if (auto foreign = refuse_foreign_file(path); !foreign) return foreign.error();
  if (auto made = make_private_file(path, true); !made) return made.error();
  for (const char* suffix : {"-wal", "-shm"}) {
    if (auto narrowed = make_private_file(path + suffix, false); !narrowed) return narrowed.error();
  }

  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Error(Errc::store_error, "open store: " + path + ": " + msg);
  }
  sqlite3_extended_result_codes(db, 1);
  std::unique_ptr<SqliteSessionStore> store(new SqliteSessionStore(db, path, clock));
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    store->file_device_ = static_cast<std::uint64_t>(st.st_dev);
    store->file_inode_ = static_cast<std::uint64_t>(st.st_ino);
  }
  store->cipher_ = options.master_key;
  if (auto s = store->lock_file(path + ".lock"); !s) return s.error();
  if (auto s = store->configure(options); !s) return s.error();
  if (auto s = store->prepare_keys(); !s) return s.error();
  return store;
}

SqliteSessionStore::SqliteSessionStore(sqlite3* db, std::string path, const Clock& clock)
    : db_(db), path_(std::move(path)), clock_(clock) {}

Status SqliteSessionStore::probe(int busy_timeout_ms) const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    return Error(Errc::store_error, "the database file " + path_ + " is gone: " + std::strerror(errno));
  }
  if (static_cast<std::uint64_t>(st.st_dev) != file_device_ || static_cast<std::uint64_t>(st.st_ino) != file_inode_) {
    return Error(Errc::store_error, "the database file " + path_ + " was replaced after start-up");
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::string failure;
  if (rc != SQLITE_OK) {
    failure = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  } else {
    sqlite3_busy_timeout(db, busy_timeout_ms);
    char* err = nullptr;
    rc = sqlite3_exec(db, "BEGIN IMMEDIATE; SELECT count(*) FROM sessions;", nullptr, nullptr, &err);
    if (rc != SQLITE_OK) failure = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    sqlite3_exec(db, "ROLLBACK;", nullptr, nullptr, nullptr);  // fails harmlessly when BEGIN did
  }
  sqlite3_close_v2(db);
  if (!failure.empty()) return Error(Errc::store_error, "probe of " + path_ + ": " + failure);
  return {};
}

SqliteSessionStore::~SqliteSessionStore() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

sqlite3_stmt* SqliteSessionStore::cached_statement(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                         nullptr) != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return nullptr;
  }
  statements_.emplace(std::string(sql), stmt);
  return stmt;
}

Status SqliteSessionStore::configure(const SqliteStoreOptions& options) {
  std::lock_guard lock(mu_);
  sqlite3_busy_timeout(db_, options.busy_timeout_ms);
  if (auto s = exec("PRAGMA foreign_keys = ON", "open store: foreign_keys"); !s) return s;
  // Deleted and overwritten content is zeroed, not left in free space: a session key replaced by its
  // encrypted form, or the record of a deleted session, leaves nothing readable in the file.
  if (auto s = exec("PRAGMA secure_delete = ON", "open store: secure_delete"); !s) return s;
  {
    Statement wal(*this, "PRAGMA journal_mode = WAL");
    if (!wal.prepared() || wal.step() != SQLITE_ROW) return sqlite_error("open store: journal_mode");
    if (wal.text(0) != "wal") return Error(Errc::store_error, "open store: WAL mode refused (" + wal.text(0) + ")");
  }
  const char* sync = options.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
  if (auto s = exec(sync, "open store: synchronous"); !s) return s;
  return migrate();
}

int SqliteSessionStore::latest_schema_version() noexcept { return static_cast<int>(kMigrations.size()); }

Error SqliteSessionStore::sqlite_error(const char* operation) const {
  return Error(Errc::store_error, std::string(operation) + ": " + sqlite3_errmsg(db_));
}

Status SqliteSessionStore::exec(const char* sql, const char* operation) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Error(Errc::store_error, std::string(operation) + ": " + msg);
  }
  return {};
}

Status SqliteSessionStore::step_once(std::string_view sql, const char* operation) {
  Statement q(*this, sql);
  if (!q.prepared() || q.step() != SQLITE_DONE) return sqlite_error(operation);
  return {};
}

Error SqliteSessionStore::rollback(Error cause) {
  if (sqlite3_get_autocommit(db_) != 0) return cause;  // SQLite already rolled the transaction back
  if (auto s = step_once("ROLLBACK", "rollback"); !s) cause.message += " (and " + s.error().message + ")";
  return cause;
}

std::int64_t SqliteSessionStore::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall().time_since_epoch()).count();
}

Status SqliteSessionStore::migrate() {
  if (auto s = exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
                    "migrate: schema_version");
      !s) {
    return s;
  }
  if (auto s = exec("BEGIN IMMEDIATE", "migrate: begin"); !s) return s;
  auto fail = [this](Error e) -> Status { return rollback(std::move(e)); };
  int version = 0;
  bool has_row = false;
  {
    Statement q(*this, "SELECT version FROM schema_version");
    if (!q.prepared()) return fail(sqlite_error("migrate: read version"));
    if (q.step() == SQLITE_ROW) {
      version = static_cast<int>(q.int64(0));
      has_row = true;
    }
  }
  if (version > latest_schema_version()) {
    return fail(Error(Errc::store_error, "migrate: the database has schema version " + std::to_string(version) +
                                             ", newer than this build's " +
                                             std::to_string(latest_schema_version())));
  }
  for (int v = version; v < latest_schema_version(); ++v) {
    if (auto s = exec(kMigrations[static_cast<std::size_t>(v)], "migrate: apply"); !s) return fail(s.error());
  }
  if (version != latest_schema_version() || !has_row) {
    Statement w(*this, has_row ? "UPDATE schema_version SET version = ?1" : "INSERT INTO schema_version VALUES (?1)");
    w.bind(1, std::int64_t{latest_schema_version()});
    if (!w.prepared() || w.step() != SQLITE_DONE) return fail(sqlite_error("migrate: write version"));
  }
  return exec("COMMIT", "migrate: commit");
}

Result<int> SqliteSessionStore::schema_version() {
  std::lock_guard lock(mu_);
  Statement q(*this, "SELECT version FROM schema_version");
  if (!q.prepared() || q.step() != SQLITE_ROW) return sqlite_error("schema_version");
  return static_cast<int>(q.int64(0));
}

Result<std::string> SqliteSessionStore::journal_mode() {
  std::lock_guard lock(mu_);
  Statement q(*this, "PRAGMA journal_mode");
  if (!q.prepared() || q.step() != SQLITE_ROW) return sqlite_error("journal_mode");
  return q.text(0);
}

// --- tenants ---

Status SqliteSessionStore::create_tenant(const TenantRecord& tenant) {
  if (auto valid = validate_tenant_record(tenant); !valid) return valid;
  std::lock_guard lock(mu_);
  Statement q(*this, "INSERT INTO tenants (tenant_id, token_hash, created_at) VALUES (?1, ?2, ?3)");
  if (!q.prepared()) return sqlite_error("create tenant");
  q.bind(1, tenant.tenant_id);
  q.bind(2, tenant.token_hash);
  q.bind(3, tenant.created_at_ms);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return {};
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) return Error(Errc::conflict, "tenant already exists");
  if (rc == SQLITE_CONSTRAINT_UNIQUE) return Error(Errc::conflict, "token hash already in use");
  return sqlite_error("create tenant");
}

Result<TenantRecord> SqliteSessionStore::get_tenant(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  Statement q(*this, "SELECT tenant_id, token_hash, created_at FROM tenants WHERE tenant_id = ?1");
  if (!q.prepared()) return sqlite_error("get tenant");
  q.bind(1, tenant_id);
  const int rc = q.step();
  if (rc == SQLITE_ROW) return q.tenant();
  if (rc == SQLITE_DONE) return no_tenant();
  return sqlite_error("get tenant");
}

Result<std::optional<std::string>> SqliteSessionStore::tenant_proxy(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  Statement q(*this,
              "SELECT p.proxy, t.tenant_id FROM tenants t LEFT JOIN tenant_proxies p ON p.tenant_id = t.tenant_id "
              "WHERE t.tenant_id = ?1");
  if (!q.prepared()) return sqlite_error("tenant proxy");
  q.bind(1, tenant_id);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return no_tenant();
  if (rc != SQLITE_ROW) return sqlite_error("tenant proxy");
  if (q.is_null(0)) return std::optional<std::string>();
  Result<std::string> plain = reveal_tenant_proxy(cipher_.get(), q.text(0), std::string(tenant_id));
  if (!plain) return plain.error();
  return std::optional<std::string>(std::move(*plain));
}

Status SqliteSessionStore::set_tenant_proxy(std::string_view tenant_id, const std::optional<std::string>& proxy) {
  std::lock_guard lock(mu_);
  {
    Statement t(*this, "SELECT 1 FROM tenants WHERE tenant_id = ?1");
    if (!t.prepared()) return sqlite_error("set tenant proxy");
    t.bind(1, tenant_id);
    const int rc = t.step();
    if (rc == SQLITE_DONE) return no_tenant();
    if (rc != SQLITE_ROW) return sqlite_error("set tenant proxy");
  }
  if (!proxy) {
    Statement d(*this, "DELETE FROM tenant_proxies WHERE tenant_id = ?1");
    if (!d.prepared()) return sqlite_error("set tenant proxy");
    d.bind(1, tenant_id);
    if (d.step() != SQLITE_DONE) return sqlite_error("set tenant proxy");
    return {};
  }
  Result<std::string> stored = seal_tenant_proxy(cipher_.get(), *proxy, std::string(tenant_id));
  if (!stored) return stored.error();
  Statement w(*this,
              "INSERT INTO tenant_proxies (tenant_id, proxy) VALUES (?1, ?2) "
              "ON CONFLICT (tenant_id) DO UPDATE SET proxy = excluded.proxy");
  if (!w.prepared()) return sqlite_error("set tenant proxy");
  w.bind(1, tenant_id);
  w.bind(2, *stored);
  if (w.step() != SQLITE_DONE) return sqlite_error("set tenant proxy");
  return {};
}

Result<std::vector<TenantRecord>> SqliteSessionStore::list_tenants() {
  std::lock_guard lock(mu_);
  Statement q(*this, "SELECT tenant_id, token_hash, created_at FROM tenants ORDER BY tenant_id");
  if (!q.prepared()) return sqlite_error("list tenants");
  std::vector<TenantRecord> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) out.push_back(q.tenant());
  if (rc != SQLITE_DONE) return sqlite_error("list tenants");
  return out;
}

Status SqliteSessionStore::delete_tenant(std::string_view tenant_id, TenantDeletion mode) {
  std::lock_guard lock(mu_);
  if (auto s = step_once("BEGIN IMMEDIATE", "delete tenant"); !s) return s;
  auto finish = [this](Status result) -> Status {
    if (!result) return rollback(std::move(result).error());
    return step_once("COMMIT", "delete tenant: commit");
  };
  {
    Statement q(*this, "SELECT (SELECT COUNT(*) FROM tenants WHERE tenant_id = ?1),"
                     "       (SELECT COUNT(*) FROM sessions WHERE tenant_id = ?1)");
    if (!q.prepared()) return finish(sqlite_error("delete tenant"));
    q.bind(1, tenant_id);
    if (q.step() != SQLITE_ROW) return finish(sqlite_error("delete tenant"));
    if (q.int64(0) == 0) return finish(no_tenant());
    if (q.int64(1) > 0 && mode == TenantDeletion::only_if_empty) {
      return finish(Error(Errc::conflict, "tenant still has sessions"));
    }
  }
  for (const char* sql : {"DELETE FROM sessions WHERE tenant_id = ?1", "DELETE FROM tenants WHERE tenant_id = ?1"}) {
    Statement d(*this, sql);
    if (!d.prepared()) return finish(sqlite_error("delete tenant"));
    d.bind(1, tenant_id);
    if (d.step() != SQLITE_DONE) return finish(sqlite_error("delete tenant"));
  }
  return finish({});
}

Result<TenantRecord> SqliteSessionStore::find_tenant_by_token(std::string_view token) {
  const std::string hash = TenantTokens::hash_token(token);
  std::lock_guard lock(mu_);
  Statement q(*this, "SELECT tenant_id, token_hash, created_at FROM tenants WHERE token_hash = ?1");
  if (!q.prepared()) return sqlite_error("find tenant by token");
  q.bind(1, hash);
  const int rc = q.step();
  if (rc == SQLITE_ROW) {
    TenantRecord t = q.tenant();
    if (TenantTokens::constant_time_equal(t.token_hash, hash)) return t;
  } else if (rc != SQLITE_DONE) {
    return sqlite_error("find tenant by token");
  }
  return Error(Errc::unauthorized, "no tenant has this token");
}

// --- sessions ---

Status SqliteSessionStore::create_session(const SessionRecord& session) {
  if (auto valid = validate_session_record(session); !valid) return valid;
  std::lock_guard lock(mu_);
  auto db_key = stored_key(session.db_key, session.session_id);
  if (!db_key) return std::move(db_key).error();
  Statement q(*this, std::string("INSERT INTO sessions (") + kSessionColumns +
                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
  if (!q.prepared()) return sqlite_error("create session");
  q.bind(1, session.session_id);
  q.bind(2, session.tenant_id);
  q.bind(3, std::string_view(session_state_name(session.state)));
  q.bind(4, session.cleanup_trigger);
  q.bind(5, std::int64_t{session.cleanup_logout ? 1 : 0});
  q.bind(6, session.created_at_ms);
  q.bind(7, session.authorized_at_ms);
  q.bind(8, session.last_used_at_ms);
  q.bind(9, now_ms());
  q.bind(10, session.engine_dir);
  q.bind(11, *db_key);
  q.bind(12, session.page_key_hash);
  q.bind(13, session.user_id);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return {};
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) return Error(Errc::conflict, "session already exists");
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return no_tenant();
  return sqlite_error("create session");
}

Result<SessionRecord> SqliteSessionStore::find_session_locked(std::string_view session_id) {
  Statement q(*this, std::string("SELECT ") + kSessionColumns + " FROM sessions WHERE session_id = ?1");
  if (!q.prepared()) return sqlite_error("get session");
  q.bind(1, session_id);
  const int rc = q.step();
  if (rc == SQLITE_ROW) {
    SessionRecord record = q.session();
    if (auto revealed = reveal_key(record); !revealed) return revealed.error();
    return record;
  }
  if (rc == SQLITE_DONE) return no_session();
  return sqlite_error("get session");
}

Result<SessionRecord> SqliteSessionStore::get_session(std::string_view tenant_id, std::string_view session_id) {
  std::lock_guard lock(mu_);
  auto found = find_session_locked(session_id);
  if (found && found->tenant_id != tenant_id) return no_session();
  return found;
}

Result<SessionRecord> SqliteSessionStore::find_session(std::string_view session_id) {
  std::lock_guard lock(mu_);
  return find_session_locked(session_id);
}

Result<std::vector<SessionRecord>> SqliteSessionStore::query_sessions(const char* where, std::string_view arg,
                                                                      const char* operation) {
  std::lock_guard lock(mu_);
  Statement q(*this, std::string("SELECT ") + kSessionColumns + " FROM sessions" + where + kOrder);
  if (!q.prepared()) return sqlite_error(operation);
  if (!arg.empty()) q.bind(1, arg);
  std::vector<SessionRecord> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    out.push_back(q.session());
    if (auto revealed = reveal_key(out.back()); !revealed) return revealed.error();
  }
  if (rc != SQLITE_DONE) return sqlite_error(operation);
  return out;
}

Result<std::vector<SessionRecord>> SqliteSessionStore::list_sessions(std::string_view tenant_id) {
  if (tenant_id.empty()) return std::vector<SessionRecord>{};
  return query_sessions(" WHERE tenant_id = ?1", tenant_id, "list sessions");
}

Result<std::vector<SessionRecord>> SqliteSessionStore::list_sessions_by_state(SessionState state) {
  return query_sessions(" WHERE state = ?1", session_state_name(state), "list sessions by state");
}

Result<std::vector<SessionRecord>> SqliteSessionStore::list_all_sessions() {
  return query_sessions("", {}, "list all sessions");
}

Result<SessionRecord> SqliteSessionStore::update_state(std::string_view session_id,
                                                       const SessionStateChange& change) {
  std::lock_guard lock(mu_);
  if (auto s = step_once("BEGIN IMMEDIATE", "update session state"); !s) return s.error();
  auto fail = [this](Error e) -> Error { return rollback(std::move(e)); };
  auto current = find_session_locked(session_id);
  if (!current) return fail(std::move(current).error());
  if (change.expected_from && current->state != *change.expected_from) {
    return fail(Error(Errc::conflict, std::string("session is ") + session_state_name(current->state) + ", not " +
                                          session_state_name(*change.expected_from)));
  }
  Statement q(*this,
              "UPDATE sessions SET state = ?1, cleanup_trigger = COALESCE(?2, cleanup_trigger),"
              " cleanup_logout = COALESCE(?3, cleanup_logout), authorized_at = COALESCE(?4, authorized_at),"
              " user_id = COALESCE(?5, user_id), updated_at = ?6 WHERE session_id = ?7");
  if (!q.prepared()) return fail(sqlite_error("update session state"));
  q.bind(1, std::string_view(session_state_name(change.to)));
  if (change.cleanup_trigger) {
    q.bind(2, *change.cleanup_trigger);
  } else {
    q.bind_null(2);
  }
  q.bind(3, change.cleanup_logout ? std::optional<std::int64_t>(*change.cleanup_logout ? 1 : 0) : std::nullopt);
  q.bind(4, change.authorized_at_ms);
  q.bind(5, change.user_id);
  q.bind(6, now_ms());
  q.bind(7, session_id);
  if (q.step() != SQLITE_DONE) return fail(sqlite_error("update session state"));
  auto updated = find_session_locked(session_id);
  if (!updated) return fail(std::move(updated).error());
  if (auto s = step_once("COMMIT", "update session state: commit"); !s) return fail(s.error());
  return updated;
}

Status SqliteSessionStore::touch_last_used(std::string_view session_id, std::int64_t used_at_ms) {
  std::lock_guard lock(mu_);
  Statement q(*this, "UPDATE sessions SET last_used_at = MAX(last_used_at, ?1), updated_at = ?2 WHERE session_id = ?3");
  if (!q.prepared()) return sqlite_error("touch session");
  q.bind(1, used_at_ms);
  q.bind(2, now_ms());
  q.bind(3, session_id);
  if (q.step() != SQLITE_DONE) return sqlite_error("touch session");
  if (sqlite3_changes(db_) == 0) return no_session();
  return {};
}

Status SqliteSessionStore::delete_session(std::string_view session_id) {
  std::lock_guard lock(mu_);
  Statement q(*this, "DELETE FROM sessions WHERE session_id = ?1");
  if (!q.prepared()) return sqlite_error("delete session");
  q.bind(1, session_id);
  if (q.step() != SQLITE_DONE) return sqlite_error("delete session");
  if (sqlite3_changes(db_) == 0) return no_session();
  return {};
}

// --- session keys at rest ---

Status SqliteSessionStore::lock_file(const std::string& path) {
  lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) {
    return Error(Errc::store_error, "open store: cannot create " + path + ": " + std::strerror(errno));
  }
  if (::flock(lock_fd_, LOCK_SH | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Error(Errc::conflict, "open store: " + path_ + " is being re-encrypted by `tgpulse keys rotate`; "
                                   "start again when it has finished");
    }
    return Error(Errc::store_error, "open store: cannot lock " + path + ": " + std::strerror(errno));
  }
  return {};
}

Result<std::string> SqliteSessionStore::stored_key(std::string_view plain, std::string_view session_id) const {
  return seal_session_key(cipher_.get(), plain, session_id);
}

Status SqliteSessionStore::reveal_key(SessionRecord& record) const { return reveal_session_key(cipher_.get(), record); }

Status SqliteSessionStore::prepare_keys() {
  std::lock_guard lock(mu_);
  if (auto s = step_once("BEGIN IMMEDIATE", "check session keys"); !s) return s;
  auto fail = [this](Error e) -> Status { return rollback(std::move(e)); };
  std::vector<StoredSessionKey> keys;
  {
    Statement q(*this, "SELECT session_id, db_key FROM sessions ORDER BY session_id");
    if (!q.prepared()) return fail(sqlite_error("check session keys"));
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) keys.push_back({q.text(0), q.text(1)});
    if (rc != SQLITE_DONE) return fail(sqlite_error("check session keys"));
  }
  // Every check before any change: a refused open leaves the file as it was.
  auto checked = check_stored_session_keys(keys, cipher_.get(), path_);
  if (!checked) return fail(std::move(checked).error());
  const std::vector<std::size_t>& plain = *checked;
  key_status_ = StoredKeyStatus{};
  if (!cipher_) {
    key_status_.plain = plain.size();
    return step_once("COMMIT", "check session keys: commit");
  }
  key_status_.encrypted = true;
  key_status_.key_id = cipher_->key_id();
  for (std::size_t i : plain) {
    auto sealed = stored_key(keys[i].value, keys[i].session_id);
    if (!sealed) return fail(std::move(sealed).error());
    Statement u(*this, "UPDATE sessions SET db_key = ?1 WHERE session_id = ?2");
    if (!u.prepared()) return fail(sqlite_error("encrypt session keys"));
    u.bind(1, *sealed);
    u.bind(2, keys[i].session_id);
    if (u.step() != SQLITE_DONE) return fail(sqlite_error("encrypt session keys"));
  }
  if (auto s = step_once("COMMIT", "encrypt session keys: commit"); !s) return fail(s.error());
  key_status_.sealed_at_open = plain.size();
  return {};
}

StoredKeyStatus SqliteSessionStore::key_status() {
  std::lock_guard lock(mu_);
  return key_status_;
}

Result<std::size_t> SqliteSessionStore::rotate_master_key(std::shared_ptr<const KeyCipher> new_key) {
  if (!new_key) return Error(Errc::invalid_argument, "rotate master key: no new key");
  std::lock_guard lock(mu_);
  if (cipher_ && cipher_->key_id() == new_key->key_id()) {
    return Error(Errc::conflict, "rotate master key: the new key is the key in use (" + new_key->key_id() + ")");
  }
  // Offline only: a running service would go on writing with the old key.
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    (void)::flock(lock_fd_, LOCK_SH | LOCK_NB);  // a failed conversion may have dropped the shared lock
    if (err == EWOULDBLOCK) {
      return Error(Errc::conflict, "rotate master key: another process has " + path_ +
                                       " open; stop tgpulse before rotating the master key");
    }
    return Error(Errc::store_error, std::string("rotate master key: cannot lock the store: ") + std::strerror(err));
  }
  struct Downgrade {
    int fd;
    ~Downgrade() { (void)::flock(fd, LOCK_SH | LOCK_NB); }
  } downgrade{lock_fd_};
  if (auto s = step_once("BEGIN IMMEDIATE", "rotate master key"); !s) return s.error();
  auto fail = [this](Error e) -> Error { return rollback(std::move(e)); };
  std::vector<SessionRecord> keys;
  {
    Statement q(*this, "SELECT session_id, db_key FROM sessions ORDER BY session_id");
    if (!q.prepared()) return fail(sqlite_error("rotate master key"));
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
      SessionRecord r;
      r.session_id = q.text(0);
      r.db_key = q.text(1);
      keys.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return fail(sqlite_error("rotate master key"));
  }
  for (auto& r : keys) {
    if (auto revealed = reveal_key(r); !revealed) return fail(std::move(revealed).error());
    auto sealed = new_key->seal(r.db_key, r.session_id);
    if (!sealed) return fail(Error(Errc::store_error, "rotate master key: " + sealed.error().message));
    Statement u(*this, "UPDATE sessions SET db_key = ?1 WHERE session_id = ?2");
    if (!u.prepared()) return fail(sqlite_error("rotate master key"));
    u.bind(1, *sealed);
    u.bind(2, r.session_id);
    if (u.step() != SQLITE_DONE) return fail(sqlite_error("rotate master key"));
  }
  // The tenants' webhook secrets (SqliteUpdateLog), sealed the same way under their tenant's context.
  std::vector<std::pair<std::string, std::string>> secrets;  // tenant id, stored secret
  {
    Statement q(*this, "SELECT tenant_id, secret FROM update_webhooks ORDER BY tenant_id");
    if (!q.prepared()) return fail(sqlite_error("rotate master key"));
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) secrets.emplace_back(q.text(0), q.text(1));
    if (rc != SQLITE_DONE) return fail(sqlite_error("rotate master key"));
  }
  for (auto& [tenant_id, stored] : secrets) {
    std::string plain = stored;
    if (KeyCipher::kind_of(stored) != StoredKeyKind::plain) {
      auto opened = cipher_ ? cipher_->open(stored, webhook_secret_context(tenant_id))
                            : Result<std::string>(Error(Errc::store_error, "no master key is configured"));
      if (!opened) {
        return fail(Error(Errc::store_error, "rotate master key: the webhook secret of tenant " + tenant_id +
                                                 " cannot be decrypted: " + opened.error().message));
      }
      plain = std::move(*opened);
    }
    auto sealed = new_key->seal(plain, webhook_secret_context(tenant_id));
    if (!sealed) return fail(Error(Errc::store_error, "rotate master key: " + sealed.error().message));
    Statement u(*this, "UPDATE update_webhooks SET secret = ?1 WHERE tenant_id = ?2");
    if (!u.prepared()) return fail(sqlite_error("rotate master key"));
    u.bind(1, *sealed);
    u.bind(2, tenant_id);
    if (u.step() != SQLITE_DONE) return fail(sqlite_error("rotate master key"));
  }
  if (auto s = step_once("COMMIT", "rotate master key: commit"); !s) return fail(s.error());
  cipher_ = std::move(new_key);
  key_status_ = StoredKeyStatus{true, cipher_->key_id(), 0, 0};
  return keys.size();
}

}  // namespace tgpulse::store
