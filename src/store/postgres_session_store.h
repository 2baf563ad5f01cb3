// PostgresSessionStore: the SessionStore on a PostgreSQL database (store.url), for a service whose
// records must live outside its own machine. Same contract as SqliteSessionStore (the typed test suite
// runs against both): the same Errc codes and messages, the same ordering, the same key sealing.
//
// open() connects the pool (PostgresOptions::pool_size connections, each with every statement of this
// store and of PostgresUpdateLog prepared), applies the missing schema migrations in one transaction
// under an advisory lock (several nodes may start at once), and refuses a database whose schema is newer
// than this build. Then it checks every stored session key exactly as the SQLite store does (sealed with
// another master key, or with none configured: refused, nothing changed) and seals plain ones when a
// master key is configured.
//
// Round trips: every call on the request path is one prepared statement in autocommit — inserts use
// ON CONFLICT / RETURNING to tell "exists" from "created", update_state is an UPDATE ... RETURNING whose
// compare-and-set is in its WHERE (a second query runs only when it matched nothing, to say why), and
// touch_last_used keeps the later time with GREATEST. delete_tenant is a short transaction.
//
// Thread-safety: thread-safe; each call takes one connection from the pool for its duration. Calls block
// (a network round trip; a pool connection): call them on the blocking pool.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"
#include "store/key_cipher.h"
#include "store/postgres_connection_pool.h"
#include "store/postgres_options.h"
#include <pqxx/transaction_base>
#include "store/sealed_values.h"
#include "store/session_fence.h"
#include "store/session_store.h"

namespace tgpulse::store {

class PostgresSessionStore final : public SessionStore {
 public:
  // Connects, migrates and checks the stored keys. invalid_argument: a bad URL (or one with a password),
  // keys sealed with another master key; store_error: the server, the login or a statement failed (the
  // message names the server as postgresql://user@host:port/db, never the password).
  static Result<std::unique_ptr<PostgresSessionStore>> open(const PostgresOptions& options,
                                                            std::shared_ptr<const KeyCipher> master_key,
                                                            const Clock& clock);
  ~PostgresSessionStore() override;
  PostgresSessionStore(const PostgresSessionStore&) = delete;
  PostgresSessionStore& operator=(const PostgresSessionStore&) = delete;

  // The schema version this build writes.
  static int latest_schema_version() noexcept;
  Result<int> schema_version();
  // The server, for logs: "postgresql://user@host:port/db".
  const std::string& description() const noexcept { return pool_->description(); }
  // The pool, shared with PostgresUpdateLog (same connections, same prepared statements).
  std::shared_ptr<PostgresConnectionPool> pool() const noexcept { return pool_; }
  // Readiness probe: a pool connection answers SELECT 1 (store_error naming what failed).
  Status probe();
  StoredKeyStatus key_status();

  // Makes every session write conditional on this node's lease (session_fence.h); null = no fencing (a
  // single node). Set at start-up, before the first session write.
  void set_fence(std::shared_ptr<const SessionFence> fence);

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
  PostgresSessionStore(std::shared_ptr<PostgresConnectionPool> pool, std::shared_ptr<const KeyCipher> cipher,
                       const Clock& clock);
  Status migrate();
  Status prepare_keys();
  Result<std::vector<SessionRecord>> query_sessions(const char* statement, const std::string* arg,
                                                    const char* operation);
  std::int64_t now_ms() const;
  // The fencing parameters of a write of `session_id`: both null without a fence.
  struct Fence {
    std::optional<std::string> node;
    std::optional<std::int64_t> epoch;
  };
  Fence fence_of(const std::string& session_id) const;
  // After a fenced write matched nothing: the lease_lost conflict when the lease is not this node's at
  // this epoch, nullopt otherwise (the write failed for another reason).
  static std::optional<Error> lease_lost(pqxx::transaction_base& tx, const std::string& session_id, const Fence& fence);

  const std::shared_ptr<PostgresConnectionPool> pool_;
  const std::shared_ptr<const KeyCipher> cipher_;  // null = keys stored in the clear
  const Clock& clock_;
  mutable std::mutex mu_;
  StoredKeyStatus key_status_;  // guarded by mu_
  std::shared_ptr<const SessionFence> fence_;  // guarded by mu_
};

}  // namespace tgpulse::store
