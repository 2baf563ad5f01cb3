// The records the session store keeps — tenants and sessions — and the session states, with the
// validation rules for their identifiers.
//
// A session's `state` is where it is in its life: a QR login in progress (`qr_pending`,
// `password_required`), a usable session (`authorized`), or a cleanup under way. The three cleanup
// states make cleanup resumable after a crash: `cleanup_pending` (decided, nothing done yet),
// `cleanup_closing` (logOut/close sent to the engine), `cleanup_removing` (engine closed, database
// directory being removed). A finished cleanup deletes the record: there are no terminal records.
//
// Thread-safety: plain value types and pure functions; copy freely.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace tgpulse::store {

enum class SessionState {
  qr_pending,         // QR login started; waiting for a scan
  phone_pending,      // phone-number login at any of its steps (number, code, 2FA password): a restart
                      // that finds it counts it as an interrupted phone login
  password_required,  // scanned; the account has 2FA and waits for its password
  authorized,         // logged in; usable for invoke
  cleanup_pending,    // cleanup decided; nothing done at the engine yet
  cleanup_closing,    // logOut / close sent; waiting for authorizationStateClosed
  cleanup_removing,   // engine closed; removing the database directory, then the record
};

// The stored text of a state ("qr_pending", ...). Stable: it is in the database and in the HTTP API.
const char* session_state_name(SessionState s) noexcept;
// Parses a stored state name; nullopt if unknown.
std::optional<SessionState> parse_session_state(std::string_view name) noexcept;
// True for cleanup_pending, cleanup_closing and cleanup_removing.
bool is_cleanup_state(SessionState s) noexcept;
// True for qr_pending, phone_pending and password_required.
bool is_login_state(SessionState s) noexcept;

// A tenant id is 1-64 characters of [A-Za-z0-9_-].
bool is_valid_tenant_id(std::string_view tenant_id) noexcept;

struct TenantRecord {
  std::string tenant_id;      // 1-64 chars [A-Za-z0-9_-]
  std::string token_hash;     // TenantTokens::hash_token(token): 64 lowercase hex chars; never the token
  std::int64_t created_at_ms = 0;  // unix ms
};

struct SessionRecord {
  std::string session_id;        // "s_" + 22 base62 chars (TenantTokens::new_session_id)
  std::string tenant_id;         // owner; must exist
  SessionState state = SessionState::qr_pending;
  std::string cleanup_trigger;   // why cleanup started ("delete", "qr_expired", "idle", ...); "" before
  bool cleanup_logout = false;   // cleanup sends logOut (true) or only close + remove local data (false)
  std::int64_t created_at_ms = 0;                 // unix ms
  std::optional<std::int64_t> authorized_at_ms;   // unix ms; set when the login succeeded
  std::int64_t last_used_at_ms = 0;               // unix ms; last invoke (or creation)
  std::int64_t updated_at_ms = 0;                 // unix ms; stamped by the store on every write
  std::string engine_dir;        // absolute path of the TDLib database directory
  // TDLib database encryption key (base64), always plain here; a secret: never log it. The SQLite store
  // keeps it encrypted under the master key when one is configured (key_cipher.h).
  std::string db_key;
  std::string page_key_hash;     // TenantTokens::hash_token(page key) of the login page key
  std::optional<std::int64_t> user_id;  // Telegram user id once authorized
};

// A state change, applied atomically by SessionStore::update_state. Fields left empty keep their
// stored value.
struct SessionStateChange {
  SessionState to = SessionState::qr_pending;
  // Compare-and-set: when set, the change applies only if the stored state equals this one
  // (otherwise Errc::conflict and nothing changes).
  std::optional<SessionState> expected_from;
  std::optional<std::string> cleanup_trigger;
  std::optional<bool> cleanup_logout;
  std::optional<std::int64_t> authorized_at_ms;
  std::optional<std::int64_t> user_id;
};

// The checks every SessionStore applies before a write: Errc::invalid_argument naming the bad field.
// Tenant: valid tenant id, token_hash of 64 lowercase hex chars. Session: session id as
// TenantTokens::is_valid_session_id, valid tenant id, absolute engine_dir, non-empty db_key, page_key_hash
// of 64 lowercase hex chars.
Status validate_tenant_record(const TenantRecord& tenant);
Status validate_session_record(const SessionRecord& session);

}  // namespace tgpulse::store
