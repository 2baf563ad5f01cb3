// TenantTokens: the secrets of tgpulse and their hashes — tenant bearer tokens, login page keys,
// session ids and per-session database keys, all drawn from OpenSSL's CSPRNG (RAND_bytes).
//
// A token is shown once and stored only as hash_token(token) (SHA-256, lowercase hex); verify()
// compares hashes in constant time (CRYPTO_memcmp). Nothing here logs, and error messages never
// contain a token or key.
//
// Thread-safety: stateless functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace tgpulse::store {

class TenantTokens {
 public:
  // A tenant bearer token: "tgp_" + 32 random bytes in unpadded base64url (47 chars).
  // store_error only if the CSPRNG fails.
  static Result<std::string> generate_token();
  // A login page key: 32 random bytes in unpadded base64url (43 chars; URL-safe as a query value).
  static Result<std::string> generate_page_key();
  // A session id: "s_" + 22 uniformly random base62 chars (~131 bits); unguessable.
  static Result<std::string> generate_session_id();
  // A TDLib database encryption key: 32 random bytes in standard padded base64 (44 chars).
  static Result<std::string> generate_db_key();

  // SHA-256 of the secret as 64 lowercase hex chars. Used for tenant tokens and page keys.
  static std::string hash_token(std::string_view secret);
  // True if hash_token(secret) equals expected_hash, compared in constant time.
  static bool verify(std::string_view secret, std::string_view expected_hash);
  // Constant-time equality of two strings of the same length (false when lengths differ).
  static bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

  // True for "s_" followed by exactly 22 chars of [0-9A-Za-z].
  static bool is_valid_session_id(std::string_view session_id) noexcept;
  // True for 64 lowercase hex chars (the shape of hash_token's output).
  static bool is_valid_hash(std::string_view hash) noexcept;
};

}  // namespace tgpulse::store
