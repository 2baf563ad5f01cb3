// SessionStore: where tenants and sessions are kept (the I/O boundary of the session layer).
// SqliteSessionStore is the real one (sqlite_session_store.h); MemorySessionStore is the test double
// with the same semantics (memory_session_store.h). Both pass the same typed test suite.
//
// Semantics every implementation keeps:
// - Errors are Result values. Errc::invalid_argument for malformed input (a bad tenant id, an empty
//   engine_dir, ...), Errc::not_found for a missing tenant or session, Errc::conflict for a duplicate
//   id or a failed compare-and-set, Errc::unauthorized when no tenant has a token, Errc::store_error
//   when the storage itself fails (the message names the operation, never a token or key).
// - get_session(tenant_id, session_id) answers not_found for another tenant's session, exactly as for
//   a session that does not exist (no existence oracle). Mutations take only the session id: the
//   caller has checked ownership with get_session first.
// - updated_at_ms is stamped by the store from its Clock on every write of a session.
// - Lists are ordered: tenants by tenant_id, sessions by (created_at_ms, session_id).
//
// Thread-safety: every implementation is thread-safe. Calls are synchronous and may block (a lock,
// SQLite's busy timeout, the disk, a network round trip): code on an event-loop thread calls them
// through AsyncSessionStore (async_session_store.h), on the blocking pool, never directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/store_records.h"

namespace tgpulse::store {

// What delete_tenant does with a tenant that still has session records.
enum class TenantDeletion {
  only_if_empty,  // Errc::conflict if any session record remains (the session layer cleans them first)
  with_sessions,  // delete the tenant's session records too (their engine data must already be gone)
};

class SessionStore {
 public:
  virtual ~SessionStore() = default;

  // --- tenants ---
  // Adds a tenant. invalid_argument: bad tenant id or token_hash not 64 hex chars; conflict: the id
  // (or the token hash) already exists.
  virtual Status create_tenant(const TenantRecord& tenant) = 0;
  virtual Result<TenantRecord> get_tenant(std::string_view tenant_id) = 0;
  virtual Result<std::vector<TenantRecord>> list_tenants() = 0;
  virtual Status delete_tenant(std::string_view tenant_id, TenantDeletion mode) = 0;
  // The tenant whose token this is: hashes the token, looks the hash up, and compares in constant
  // time. Errc::unauthorized when no tenant has it.
  virtual Result<TenantRecord> find_tenant_by_token(std::string_view token) = 0;
  // The tenant's default proxy (PUT /v1/proxy): TDLib's `proxy` object as JSON text, credentials
  // included — sealed at rest with the master key when one is configured — or nullopt when none is
  // set. not_found: no such tenant. Deleting the tenant deletes it.
  virtual Result<std::optional<std::string>> tenant_proxy(std::string_view tenant_id) = 0;
  // Sets (a value) or removes (nullopt) the tenant's default proxy. not_found: no such tenant.
  virtual Status set_tenant_proxy(std::string_view tenant_id, const std::optional<std::string>& proxy) = 0;

  // --- sessions ---
  // Adds a session (updated_at_ms is stamped by the store). invalid_argument: malformed session id,
  // tenant id, or engine_dir not absolute; not_found: no such tenant; conflict: the id exists.
  virtual Status create_session(const SessionRecord& session) = 0;
  // The session if it belongs to tenant_id; not_found otherwise (also for another tenant's session).
  virtual Result<SessionRecord> get_session(std::string_view tenant_id, std::string_view session_id) = 0;
  // The session by id alone, for callers that authorize otherwise (the login page key, the start-up
  // sweep). not_found if absent.
  virtual Result<SessionRecord> find_session(std::string_view session_id) = 0;
  virtual Result<std::vector<SessionRecord>> list_sessions(std::string_view tenant_id) = 0;
  virtual Result<std::vector<SessionRecord>> list_sessions_by_state(SessionState state) = 0;
  virtual Result<std::vector<SessionRecord>> list_all_sessions() = 0;
  // Applies a state change atomically and returns the record as stored afterwards. not_found: no such
  // session; conflict: change.expected_from is set and differs from the stored state.
  virtual Result<SessionRecord> update_state(std::string_view session_id, const SessionStateChange& change) = 0;
  // Records a use of the session at `used_at_ms` (Unix ms, the time of the use, not of this write):
  // last_used_at_ms becomes max(stored, used_at_ms), so a late or repeated write never moves it back;
  // updated_at_ms is stamped as on every write. not_found if absent.
  virtual Status touch_last_used(std::string_view session_id, std::int64_t used_at_ms) = 0;
  // Removes the record (the end of a cleanup). not_found if absent.
  virtual Status delete_session(std::string_view session_id) = 0;
};

}  // namespace tgpulse::store
