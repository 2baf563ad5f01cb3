// Sealing of the secrets a store keeps at rest — each session's db_key and each tenant's webhook secret —
// with the master key (KeyCipher), shared by every store that keeps them (SQLite, PostgreSQL), so they
// seal, open and refuse the same way with the same words.
//
// A null cipher means "no master key configured": values are stored in the clear, and a sealed value read
// back is an error naming its key id. Plain (legacy) values always read back as they are. Messages name
// the session or tenant and the key ids, never a key, a secret or a sealed value.
//
// Thread-safety: pure functions (KeyCipher is immutable).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/key_cipher.h"
#include "store/store_records.h"

namespace tgpulse::store {

// The stored form of a session's plain db_key: sealed under the session id, or plain without a cipher.
Result<std::string> seal_session_key(const KeyCipher* cipher, std::string_view plain, std::string_view session_id);
// Turns record.db_key as stored back into the plain key; store_error naming the session otherwise.
Status reveal_session_key(const KeyCipher* cipher, SessionRecord& record);

// The associated data a tenant's webhook secret is sealed with: a sealed value moved to another
// tenant's row, or into a session's db_key, does not open.
std::string webhook_secret_context(std::string_view tenant_id);
Result<std::string> seal_webhook_secret(const KeyCipher* cipher, const std::string& secret, const std::string& tenant_id);
Result<std::string> reveal_webhook_secret(const KeyCipher* cipher, const std::string& stored,
                                          const std::string& tenant_id);

// A tenant's default proxy (TDLib's `proxy` object as JSON text, credentials included) as stored:
// sealed under "proxy:<tenant_id>" with a cipher, else hex-encoded (the stored forms tell a sealed value
// by its "tgk1:…:" shape, which JSON would imitate). reveal answers store_error naming the tenant, never
// the value.
Result<std::string> seal_tenant_proxy(const KeyCipher* cipher, const std::string& json_text, const std::string& tenant_id);
Result<std::string> reveal_tenant_proxy(const KeyCipher* cipher, const std::string& stored, const std::string& tenant_id);

// The state of the stored session keys, as a store's open (or the last rotation) left them.
struct StoredKeyStatus {
  bool encrypted = false;       // true when a master key is configured: every stored key is sealed with it
  std::string key_id;           // the configured master key's id; "" without one
  std::size_t sealed_at_open = 0;  // plain (legacy) keys that open() sealed
  std::size_t plain = 0;           // keys stored in the clear (only without a master key)
};

struct StoredSessionKey {
  std::string session_id;
  std::string value;  // as stored
};

// The checks a store makes on every stored session key when it opens, before it changes anything:
// a key in an unknown format, a key that does not decrypt with the configured master key, and keys
// sealed with another master key (or any sealed key without one) refuse the open with a message naming
// `where` (the database), the sessions or key ids, and the way out. Returns the indexes of the plain
// (legacy) keys, which the store seals when a cipher is configured.
Result<std::vector<std::size_t>> check_stored_session_keys(const std::vector<StoredSessionKey>& keys,
                                                           const KeyCipher* cipher, const std::string& where);

}  // namespace tgpulse::store
