// KeyCipher: encrypts the secrets the store keeps at rest — each session's TDLib database key — with the
// operator's master key (store.master_key / store.master_key_file), so the SQLite file alone (a backup,
// a copied volume) does not open the TDLib databases beside it.
//
// AES-256-GCM (OpenSSL EVP), a fresh random 96-bit nonce per seal, the session id as associated data
// (a sealed value copied into another session's record does not open). A sealed value describes itself:
//
//   v1:<key id>:<base64(nonce[12] | ciphertext | tag[16])>
//
// The key id is the first 4 bytes (8 lowercase hex chars) of SHA-256("tgpulse master key id\0" + key):
// it tells which master key sealed a value without revealing anything usable about the key. A stored
// value without ':' is a legacy plain key (base64 has no ':'), so plain and sealed values never mix up.
//
// Errors never contain the master key, the plain value or the sealed value: they name what is wrong
// ("the tag does not match", "not base64").
//
// Thread-safety: immutable after construction; seal() and open() may run on any thread at once.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace tgpulse::store {

// What a stored db_key value is.
enum class StoredKeyKind {
  plain,    // a legacy value kept in the clear (no ':')
  sealed,   // "v1:<key id>:<payload>"
  unknown,  // contains ':' but is not a v1 sealed value (a newer format, or damage)
};

class KeyCipher {
 public:
  static constexpr std::size_t kKeyBytes = 32;
  static constexpr std::size_t kNonceBytes = 12;
  static constexpr std::size_t kTagBytes = 16;

  // The master key from its text form: standard base64 of exactly 32 bytes (padding optional, spaces and
  // newlines around it ignored). invalid_argument says what is wrong, never the text.
  static Result<KeyCipher> from_base64(std::string_view text);
  // A fresh master key from OpenSSL's CSPRNG, in the text form from_base64 reads.
  static Result<std::string> generate_base64();

  KeyCipher(const KeyCipher& other) = default;
  KeyCipher& operator=(const KeyCipher& other) = default;
  ~KeyCipher();  // wipes the key bytes

  // 8 lowercase hex chars naming this key (see above); safe to log.
  const std::string& key_id() const noexcept { return key_id_; }

  // Seals `plain` for the record of `session_id`. store_error only if OpenSSL fails.
  Result<std::string> seal(std::string_view plain, std::string_view session_id) const;
  // Opens a value seal() made for `session_id`. invalid_argument when it is not a v1 sealed value or is
  // malformed; unauthorized when another master key sealed it (the message names both key ids) or it
  // does not authenticate (tampered, or moved from another record).
  Result<std::string> open(std::string_view stored, std::string_view session_id) const;

  static StoredKeyKind kind_of(std::string_view stored) noexcept;
  // The key id of a sealed value; nullopt when `stored` is not one.
  static std::optional<std::string> key_id_of(std::string_view stored);

 private:
  KeyCipher() = default;
  std::array<unsigned char, kKeyBytes> key_{};
  std::string key_id_;
};

}  // namespace tgpulse::store
