#include "store/postgres_session_store.h"

#include <array>
#include <chrono>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "store/postgres_update_log.h"
#include "store/tenant_tokens.h"

namespace tgpulse::store {
namespace {

// Schema migrations, in order; migration i takes the schema from version i to i + 1. Never edit one
// that has shipped: append a new one. Identifiers compare and sort bytewise (COLLATE "C"), as in SQLite.
constexpr std::array<const char*, 3> kMigrations = {
    // 1: tenants, sessions, the update log with its per-tenant highest id and settings, webhooks.
    "CREATE TABLE tenants ("
    "  tenant_id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  token_hash TEXT NOT NULL UNIQUE,"
    "  created_at BIGINT NOT NULL);"
    "CREATE TABLE sessions ("
    "  session_id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  tenant_id TEXT COLLATE \"C\" NOT NULL REFERENCES tenants (tenant_id),"
    "  state TEXT NOT NULL CHECK (state IN ('qr_pending','phone_pending','password_required','authorized',"
    "                                      'cleanup_pending','cleanup_closing','cleanup_removing')),"
    "  cleanup_trigger TEXT NOT NULL DEFAULT '',"
    "  cleanup_logout BOOLEAN NOT NULL DEFAULT false,"
    "  created_at BIGINT NOT NULL,"
    "  authorized_at BIGINT,"
    "  last_used_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  engine_dir TEXT NOT NULL,"
    "  db_key TEXT NOT NULL,"
    "  page_key_hash TEXT NOT NULL,"
    "  user_id BIGINT);"
    "CREATE INDEX sessions_by_tenant ON sessions (tenant_id, created_at, session_id);"
    "CREATE INDEX sessions_by_state ON sessions (state, created_at, session_id);"
    "CREATE TABLE update_log ("
    "  tenant_id TEXT COLLATE \"C\" NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,"
    "  update_id BIGINT NOT NULL,"
    "  session_id TEXT NOT NULL,"
    "  received_at BIGINT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  PRIMARY KEY (tenant_id, update_id));"
    "CREATE TABLE update_tenants ("
    "  tenant_id TEXT COLLATE \"C\" PRIMARY KEY REFERENCES tenants (tenant_id) ON DELETE CASCADE,"
    "  last_update_id BIGINT NOT NULL DEFAULT 0,"
    "  allowed_updates TEXT);"
    "CREATE TABLE update_webhooks ("
    "  tenant_id TEXT COLLATE \"C\" PRIMARY KEY REFERENCES tenants (tenant_id) ON DELETE CASCADE,"
    "  url TEXT NOT NULL,"
    "  secret TEXT NOT NULL,"
    "  max_connections BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL);",
    // 2: each tenant's default proxy (PUT /v1/proxy), sealed like a session key (sealed_values.h).
    "CREATE TABLE tenant_proxies ("
    "  tenant_id TEXT COLLATE \"C\" PRIMARY KEY REFERENCES tenants (tenant_id) ON DELETE CASCADE,"
    "  proxy TEXT NOT NULL);",
    // 3: the cluster (docs/scaling.md): nodes with their heartbeat, and one lease per session with its
    // owner and fencing epoch. Lease times are the database's clock, so nodes' clocks need not agree.
    "CREATE TABLE cluster_nodes ("
    "  node_id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  incarnation BIGINT NOT NULL,"
    "  url TEXT NOT NULL,"
    "  started_at TIMESTAMPTZ NOT NULL,"
    "  heartbeat_at TIMESTAMPTZ NOT NULL,"
    "  sessions INTEGER NOT NULL DEFAULT 0,"
    "  leaving BOOLEAN NOT NULL DEFAULT false);"
    "CREATE TABLE session_leases ("
    "  session_id TEXT COLLATE \"C\" PRIMARY KEY REFERENCES sessions (session_id) ON DELETE CASCADE,"
    "  owner_node TEXT COLLATE \"C\" NOT NULL,"
    "  lease_until TIMESTAMPTZ NOT NULL,"
    "  epoch BIGINT NOT NULL,"
    "  released BOOLEAN NOT NULL DEFAULT false,"
    "  previous_owner TEXT NOT NULL DEFAULT '',"
    "  orphaned_at TIMESTAMPTZ);"
    "CREATE INDEX session_leases_by_owner ON session_leases (owner_node);"
    "CREATE INDEX session_leases_by_until ON session_leases (lease_until);",
};

// Taken (transaction-scoped) around the migrations, so nodes starting at once migrate one at a time.
constexpr std::int64_t kMigrationLock = 0x7467'7075'6c73'6501;  // "tgpulse" + 1

#define SESSION_COLUMNS                                                                                  \
  "session_id, tenant_id, state, cleanup_trigger, cleanup_logout, created_at, authorized_at, last_used_at, " \
  "updated_at, engine_dir, db_key, page_key_hash, user_id"
#define SESSION_ORDER " ORDER BY created_at, session_id"
// The fencing condition of a session write (session_fence.h): no fence (node NULL), or the session's
// lease names this node with this epoch — checked in the write's own statement, so no takeover can
// slip between a check and the write.
#define FENCED(id, node, epoch)                                                                  \
  "(" node "::text IS NULL OR EXISTS (SELECT 1 FROM session_leases l WHERE l.session_id = " id \
  " AND l.owner_node = " node " AND l.epoch = " epoch "))"

std::vector<PreparedSql> session_statements() {
  return {
      {"tenant_create",
       "INSERT INTO tenants (tenant_id, token_hash, created_at) VALUES ($1, $2, $3) "
       "ON CONFLICT (tenant_id) DO NOTHING RETURNING 1"},
      {"tenant_get", "SELECT tenant_id, token_hash, created_at FROM tenants WHERE tenant_id = $1"},
      {"tenant_list", "SELECT tenant_id, token_hash, created_at FROM tenants ORDER BY tenant_id"},
      {"tenant_proxy_get",
       "SELECT p.proxy FROM tenants t LEFT JOIN tenant_proxies p ON p.tenant_id = t.tenant_id WHERE t.tenant_id = $1"},
      // One statement: the row count tells whether the tenant exists (the INSERT ... SELECT finds it).
      {"tenant_proxy_set",
       "INSERT INTO tenant_proxies (tenant_id, proxy) SELECT tenant_id, $2 FROM tenants WHERE tenant_id = $1 "
       "ON CONFLICT (tenant_id) DO UPDATE SET proxy = excluded.proxy"},
      {"tenant_proxy_delete",
       "WITH gone AS (DELETE FROM tenant_proxies WHERE tenant_id = $1) SELECT 1 FROM tenants WHERE tenant_id = $1"},
      {"tenant_by_token", "SELECT tenant_id, token_hash, created_at FROM tenants WHERE token_hash = $1"},
      {"tenant_lock_count",
       "SELECT (SELECT count(*) FROM sessions WHERE tenant_id = t.tenant_id) FROM tenants t "
       "WHERE t.tenant_id = $1 FOR UPDATE"},
      {"tenant_delete_sessions", "DELETE FROM sessions WHERE tenant_id = $1"},
      {"tenant_delete", "DELETE FROM tenants WHERE tenant_id = $1"},
      {"session_create",
       "INSERT INTO sessions (" SESSION_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
       "ON CONFLICT (session_id) DO NOTHING RETURNING 1"},
      {"session_get", "SELECT " SESSION_COLUMNS " FROM sessions WHERE session_id = $1"},
      {"session_list_tenant", "SELECT " SESSION_COLUMNS " FROM sessions WHERE tenant_id = $1" SESSION_ORDER},
      {"session_list_state", "SELECT " SESSION_COLUMNS " FROM sessions WHERE state = $1" SESSION_ORDER},
      {"session_list_all", "SELECT " SESSION_COLUMNS " FROM sessions" SESSION_ORDER},
      {"session_update_state",
       "UPDATE sessions SET state = $1, cleanup_trigger = COALESCE($2, cleanup_trigger),"
       " cleanup_logout = COALESCE($3, cleanup_logout), authorized_at = COALESCE($4, authorized_at),"
       " user_id = COALESCE($5, user_id), updated_at = $6"
       " WHERE session_id = $7 AND ($8::text IS NULL OR state = $8) AND " FENCED("$7", "$9", "$10")
       " RETURNING " SESSION_COLUMNS},
      {"session_lease_holder", "SELECT owner_node, epoch FROM session_leases WHERE session_id = $1"},
      {"session_state", "SELECT state FROM sessions WHERE session_id = $1"},
      {"session_touch",
       "UPDATE sessions SET last_used_at = GREATEST(last_used_at, $1), updated_at = $2 WHERE session_id = $3 AND "
       FENCED("$3", "$4", "$5")},
      {"session_delete", "DELETE FROM sessions WHERE session_id = $1 AND " FENCED("$1", "$2", "$3")},
      {"session_keys", "SELECT session_id, db_key FROM sessions ORDER BY session_id"},
      {"session_set_key", "UPDATE sessions SET db_key = $1 WHERE session_id = $2"},
      {"probe", "SELECT 1"},
  };
}

#undef SESSION_COLUMNS
#undef SESSION_ORDER
#undef FENCED

Error no_session() { return Error(Errc::not_found, "no such session"); }
Error no_tenant() { return Error(Errc::not_found, "no such tenant"); }

TenantRecord tenant_row(const pqxx::row& r) {
  return TenantRecord{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::int64_t>()};
}

Result<SessionRecord> session_row(const pqxx::row& r, const KeyCipher* cipher) {
  SessionRecord s;
  s.session_id = r[0].as<std::string>();
  s.tenant_id = r[1].as<std::string>();
  const std::string state = r[2].as<std::string>();
  auto parsed = parse_session_state(state);
  if (!parsed) return Error(Errc::store_error, "session " + s.session_id + ": unknown state " + state);
  s.state = *parsed;
  s.cleanup_trigger = r[3].as<std::string>();
  s.cleanup_logout = r[4].as<bool>();
  s.created_at_ms = r[5].as<std::int64_t>();
  if (!r[6].is_null()) s.authorized_at_ms = r[6].as<std::int64_t>();
  s.last_used_at_ms = r[7].as<std::int64_t>();
  s.updated_at_ms = r[8].as<std::int64_t>();
  s.engine_dir = r[9].as<std::string>();
  s.db_key = r[10].as<std::string>();
  s.page_key_hash = r[11].as<std::string>();
  if (!r[12].is_null()) s.user_id = r[12].as<std::int64_t>();
  if (auto revealed = reveal_session_key(cipher, s); !revealed) return revealed.error();
  return s;
}

}  // namespace

PostgresSessionStore::PostgresSessionStore(std::shared_ptr<PostgresConnectionPool> pool,
                                           std::shared_ptr<const KeyCipher> cipher, const Clock& clock)
    : pool_(std::move(pool)), cipher_(std::move(cipher)), clock_(clock) {}

PostgresSessionStore::~PostgresSessionStore() = default;

int PostgresSessionStore::latest_schema_version() noexcept { return static_cast<int>(kMigrations.size()); }

Result<std::unique_ptr<PostgresSessionStore>> PostgresSessionStore::open(const PostgresOptions& options,
                                                                         std::shared_ptr<const KeyCipher> master_key,
                                                                         const Clock& clock) {
  // Migrate on a connection of its own first: the pool's connections prepare statements on tables
  // that must exist.
  {
    PostgresOptions one = options;
    one.pool_size = 1;
    auto migrator = PostgresConnectionPool::open(one, {});
    if (!migrator) return Error(migrator.error().code, "open store: " + migrator.error().message);
    PostgresSessionStore bootstrap(std::move(*migrator), nullptr, clock);
    if (auto s = bootstrap.migrate(); !s) return s.error();
  }
  std::vector<PreparedSql> statements = session_statements();
  for (PreparedSql& s : PostgresUpdateLog::statements()) statements.push_back(std::move(s));
  auto pool = PostgresConnectionPool::open(options, std::move(statements));
  if (!pool) return Error(pool.error().code, "open store: " + pool.error().message);
  std::unique_ptr<PostgresSessionStore> store(new PostgresSessionStore(std::move(*pool), std::move(master_key), clock));
  if (auto s = store->prepare_keys(); !s) return s.error();
  return store;
}

Status PostgresSessionStore::migrate() {
  return pool_->call<void>("migrate", [](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) + ")");
    tx.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    pqxx::result r = tx.exec("SELECT version FROM schema_version");
    const int version = r.empty() ? 0 : r[0][0].as<int>();
    if (version > latest_schema_version()) {
      return Error(Errc::store_error, "migrate: the database has schema version " + std::to_string(version) +
                                          ", newer than this build's " + std::to_string(latest_schema_version()));
    }
    for (int v = version; v < latest_schema_version(); ++v) tx.exec(kMigrations[static_cast<std::size_t>(v)]);
    if (r.empty()) {
      tx.exec("INSERT INTO schema_version VALUES (" + std::to_string(latest_schema_version()) + ")");
    } else if (version != latest_schema_version()) {
      tx.exec("UPDATE schema_version SET version = " + std::to_string(latest_schema_version()));
    }
    tx.commit();
    return {};
  });
}

Result<int> PostgresSessionStore::schema_version() {
  return pool_->call<int>("schema_version", [](pqxx::connection& c) -> Result<int> {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec("SELECT version FROM schema_version");
    if (r.empty()) return Error(Errc::store_error, "schema_version: no version recorded");
    return r[0][0].as<int>();
  });
}

Status PostgresSessionStore::prepare_keys() {
  return pool_->call<void>("check session keys", [this](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec("LOCK TABLE sessions IN SHARE ROW EXCLUSIVE MODE");  // no session written while keys are checked
    std::vector<StoredSessionKey> keys;
    for (const pqxx::row& r : tx.exec_prepared("session_keys")) {
      keys.push_back({r[0].as<std::string>(), r[1].as<std::string>()});
    }
    // Every check before any change: a refused open leaves the database as it was.
    auto plain = check_stored_session_keys(keys, cipher_.get(), pool_->description());
    if (!plain) return plain.error();
    StoredKeyStatus status;
    if (!cipher_) {
      status.plain = plain->size();
    } else {
      status.encrypted = true;
      status.key_id = cipher_->key_id();
      for (std::size_t i : *plain) {
        auto sealed = seal_session_key(cipher_.get(), keys[i].value, keys[i].session_id);
        if (!sealed) return sealed.error();
        tx.exec_prepared("session_set_key", *sealed, keys[i].session_id);
      }
      status.sealed_at_open = plain->size();
    }
    tx.commit();
    std::lock_guard lock(mu_);
    key_status_ = status;
    return {};
  });
}

StoredKeyStatus PostgresSessionStore::key_status() {
  std::lock_guard lock(mu_);
  return key_status_;
}

Status PostgresSessionStore::probe() {
  return pool_->call<void>("probe", [](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    tx.exec_prepared("probe");
    return {};
  });
}

std::int64_t PostgresSessionStore::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall().time_since_epoch()).count();
}

// --- tenants ---

Status PostgresSessionStore::create_tenant(const TenantRecord& tenant) {
  if (auto valid = validate_tenant_record(tenant); !valid) return valid;
  return pool_->call<void>("create tenant", [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    try {
      if (tx.exec_prepared("tenant_create", tenant.tenant_id, tenant.token_hash, tenant.created_at_ms).empty()) {
        return Error(Errc::conflict, "tenant already exists");
      }
    } catch (const pqxx::unique_violation&) {  // the only other unique key: token_hash
      return Error(Errc::conflict, "token hash already in use");
    }
    return {};
  });
}

Result<TenantRecord> PostgresSessionStore::get_tenant(std::string_view tenant_id) {
  return pool_->call<TenantRecord>("get tenant", [&](pqxx::connection& c) -> Result<TenantRecord> {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_prepared("tenant_get", std::string(tenant_id));
    if (r.empty()) return no_tenant();
    return tenant_row(r[0]);
  });
}

Result<std::optional<std::string>> PostgresSessionStore::tenant_proxy(std::string_view tenant_id) {
  using Proxy = std::optional<std::string>;
  return pool_->call<Proxy>("tenant proxy", [&](pqxx::connection& c) -> Result<Proxy> {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_prepared("tenant_proxy_get", std::string(tenant_id));
    if (r.empty()) return no_tenant();
    if (r[0][0].is_null()) return Proxy();
    Result<std::string> plain = reveal_tenant_proxy(cipher_.get(), r[0][0].as<std::string>(), std::string(tenant_id));
    if (!plain) return plain.error();
    return Proxy(std::move(*plain));
  });
}

Status PostgresSessionStore::set_tenant_proxy(std::string_view tenant_id, const std::optional<std::string>& proxy) {
  std::optional<std::string> stored;
  if (proxy) {
    Result<std::string> sealed = seal_tenant_proxy(cipher_.get(), *proxy, std::string(tenant_id));
    if (!sealed) return sealed.error();
    stored = std::move(*sealed);
  }
  return pool_->call<void>("set tenant proxy", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    pqxx::result r = stored ? tx.exec_prepared("tenant_proxy_set", std::string(tenant_id), *stored)
                            : tx.exec_prepared("tenant_proxy_delete", std::string(tenant_id));
    const bool found = stored ? r.affected_rows() == 1 : !r.empty();
    if (!found) return no_tenant();
    tx.commit();
    return {};
  });
}

Result<std::vector<TenantRecord>> PostgresSessionStore::list_tenants() {
  using Tenants = std::vector<TenantRecord>;
  return pool_->call<Tenants>("list tenants", [&](pqxx::connection& c) -> Result<Tenants> {
    pqxx::nontransaction tx(c);
    Tenants out;
    for (const pqxx::row& r : tx.exec_prepared("tenant_list")) out.push_back(tenant_row(r));
    return out;
  });
}

Status PostgresSessionStore::delete_tenant(std::string_view tenant_id, TenantDeletion mode) {
  return pool_->call<void>("delete tenant", [&](pqxx::connection& c) -> Status {
    const std::string id(tenant_id);
    pqxx::work tx(c);
    // Locks the tenant row: a session created meanwhile (its foreign key check) waits for this one.
    pqxx::result r = tx.exec_prepared("tenant_lock_count", id);
    if (r.empty()) return no_tenant();
    if (r[0][0].as<std::int64_t>() > 0 && mode == TenantDeletion::only_if_empty) {
      return Error(Errc::conflict, "tenant still has sessions");
    }
    tx.exec_prepared("tenant_delete_sessions", id);
    tx.exec_prepared("tenant_delete", id);  // its update log, settings and webhook go by cascade
    tx.commit();
    return {};
  });
}

Result<TenantRecord> PostgresSessionStore::find_tenant_by_token(std::string_view token) {
  const std::string hash = TenantTokens::hash_token(token);
  return pool_->call<TenantRecord>("find tenant by token", [&](pqxx::connection& c) -> Result<TenantRecord> {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_prepared("tenant_by_token", hash);
    if (!r.empty()) {
      TenantRecord t = tenant_row(r[0]);
      if (TenantTokens::constant_time_equal(t.token_hash, hash)) return t;
    }
    return Error(Errc::unauthorized, "no tenant has this token");
  });
}

// --- sessions ---

Status PostgresSessionStore::create_session(const SessionRecord& session) {
  if (auto valid = validate_session_record(session); !valid) return valid;
  auto db_key = seal_session_key(cipher_.get(), session.db_key, session.session_id);
  if (!db_key) return std::move(db_key).error();
  return pool_->call<void>("create session", [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    try {
      pqxx::result r = tx.exec_prepared(
          "session_create", session.session_id, session.tenant_id, std::string(session_state_name(session.state)),
          session.cleanup_trigger, session.cleanup_logout, session.created_at_ms, session.authorized_at_ms,
          session.last_used_at_ms, now_ms(), session.engine_dir, *db_key, session.page_key_hash, session.user_id);
      if (r.empty()) return Error(Errc::conflict, "session already exists");
    } catch (const pqxx::foreign_key_violation&) {
      return no_tenant();
    }
    return {};
  });
}

Result<SessionRecord> PostgresSessionStore::find_session(std::string_view session_id) {
  return pool_->call<SessionRecord>("get session", [&](pqxx::connection& c) -> Result<SessionRecord> {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_prepared("session_get", std::string(session_id));
    if (r.empty()) return no_session();
    return session_row(r[0], cipher_.get());
  });
}

Result<SessionRecord> PostgresSessionStore::get_session(std::string_view tenant_id, std::string_view session_id) {
  auto found = find_session(session_id);
  if (found && found->tenant_id != tenant_id) return no_session();
  return found;
}

Result<std::vector<SessionRecord>> PostgresSessionStore::query_sessions(const char* statement, const std::string* arg,
                                                                        const char* operation) {
  using Sessions = std::vector<SessionRecord>;
  return pool_->call<Sessions>(operation, [&](pqxx::connection& c) -> Result<Sessions> {
    pqxx::nontransaction tx(c);
    pqxx::result rows = arg != nullptr ? tx.exec_prepared(statement, *arg) : tx.exec_prepared(statement);
    Sessions out;
    out.reserve(rows.size());
    for (const pqxx::row& r : rows) {
      auto s = session_row(r, cipher_.get());
      if (!s) return s.error();
      out.push_back(std::move(*s));
    }
    return out;
  });
}

Result<std::vector<SessionRecord>> PostgresSessionStore::list_sessions(std::string_view tenant_id) {
  if (tenant_id.empty()) return std::vector<SessionRecord>{};
  const std::string id(tenant_id);
  return query_sessions("session_list_tenant", &id, "list sessions");
}

Result<std::vector<SessionRecord>> PostgresSessionStore::list_sessions_by_state(SessionState state) {
  const std::string name = session_state_name(state);
  return query_sessions("session_list_state", &name, "list sessions by state");
}

Result<std::vector<SessionRecord>> PostgresSessionStore::list_all_sessions() {
  return query_sessions("session_list_all", nullptr, "list all sessions");
}

Result<SessionRecord> PostgresSessionStore::update_state(std::string_view session_id,
                                                         const SessionStateChange& change) {
  return pool_->call<SessionRecord>("update session state", [&](pqxx::connection& c) -> Result<SessionRecord> {
    const std::string id(session_id);
    pqxx::nontransaction tx(c);
    std::optional<std::string> expected;
    if (change.expected_from) expected = session_state_name(*change.expected_from);
    const Fence fence = fence_of(id);
    pqxx::result r = tx.exec_prepared("session_update_state", std::string(session_state_name(change.to)),
                                      change.cleanup_trigger, change.cleanup_logout, change.authorized_at_ms,
                                      change.user_id, now_ms(), id, expected, fence.node, fence.epoch);
    if (!r.empty()) return session_row(r[0], cipher_.get());
    // Nothing matched: say why (a second round trip, only on this path).
    pqxx::result now = tx.exec_prepared("session_state", id);
    if (now.empty()) return no_session();
    if (auto lost = lease_lost(tx, id, fence)) return *lost;
    if (!expected) return no_session();
    return Error(Errc::conflict, "session is " + now[0][0].as<std::string>() + ", not " + *expected);
  });
}

void PostgresSessionStore::set_fence(std::shared_ptr<const SessionFence> fence) {
  std::lock_guard lock(mu_);
  fence_ = std::move(fence);
}

PostgresSessionStore::Fence PostgresSessionStore::fence_of(const std::string& session_id) const {
  std::shared_ptr<const SessionFence> fence;
  {
    std::lock_guard lock(mu_);
    fence = fence_;
  }
  if (!fence) return {};
  return Fence{fence->node_id(), fence->epoch_of(session_id).value_or(-1)};
}

std::optional<Error> PostgresSessionStore::lease_lost(pqxx::transaction_base& tx, const std::string& session_id,
                                                      const Fence& fence) {
  if (!fence.node) return std::nullopt;
  pqxx::result holder = tx.exec_prepared("session_lease_holder", session_id);
  if (!holder.empty() && holder[0][0].as<std::string>() == *fence.node && holder[0][1].as<std::int64_t>() == fence.epoch) {
    return std::nullopt;  // the lease is ours: the write failed for another reason
  }
  return Error(Errc::conflict, "lease lost: session " + session_id + " is owned by another node (or by none) now");
}

Status PostgresSessionStore::touch_last_used(std::string_view session_id, std::int64_t used_at_ms) {
  return pool_->call<void>("touch session", [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    const std::string id(session_id);
    const Fence fence = fence_of(id);
    if (tx.exec_prepared("session_touch", used_at_ms, now_ms(), id, fence.node, fence.epoch).affected_rows() == 0) {
      if (auto lost = lease_lost(tx, id, fence)) return *lost;
      return no_session();
    }
    return {};
  });
}

Status PostgresSessionStore::delete_session(std::string_view session_id) {
  return pool_->call<void>("delete session", [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    const std::string id(session_id);
    const Fence fence = fence_of(id);
    if (tx.exec_prepared("session_delete", id, fence.node, fence.epoch).affected_rows() == 0) {
      if (auto lost = lease_lost(tx, id, fence)) return *lost;
      return no_session();
    }
    return {};
  });
}

}  // namespace tgpulse::store
