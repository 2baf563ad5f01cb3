#include "store/sealed_values.h"

#include <set>

namespace tgpulse::store {

Result<std::string> seal_session_key(const KeyCipher* cipher, std::string_view plain, std::string_view session_id) {
  if (cipher == nullptr) return std::string(plain);
  auto sealed = cipher->seal(plain, session_id);
  if (!sealed) return Error(Errc::store_error, "store session key: " + sealed.error().message);
  return sealed;
}

Status reveal_session_key(const KeyCipher* cipher, SessionRecord& record) {
  switch (KeyCipher::kind_of(record.db_key)) {
    case StoredKeyKind::plain:
      return {};  // a legacy value (sealed at the next open when a master key is configured)
    case StoredKeyKind::unknown:
      return Error(Errc::store_error, "session " + record.session_id + ": its stored key is in an unknown format");
    case StoredKeyKind::sealed:
      break;
  }
  if (cipher == nullptr) {
    return Error(Errc::store_error, "session " + record.session_id + ": its stored key is encrypted with master key " +
                                        KeyCipher::key_id_of(record.db_key).value_or("?") +
                                        " and no master key is configured");
  }
  auto plain = cipher->open(record.db_key, record.session_id);
  if (!plain) {
    return Error(Errc::store_error, "session " + record.session_id + ": its stored key cannot be decrypted: " +
                                        plain.error().message);
  }
  record.db_key = std::move(*plain);
  return {};
}

std::string webhook_secret_context(std::string_view tenant_id) { return "webhook:" + std::string(tenant_id); }

Result<std::string> seal_webhook_secret(const KeyCipher* cipher, const std::string& secret, const std::string& tenant_id) {
  if (cipher == nullptr) return secret;
  auto sealed = cipher->seal(secret, webhook_secret_context(tenant_id));
  if (!sealed) return Error(Errc::store_error, "store webhook secret: " + sealed.error().message);
  return sealed;
}

Result<std::string> reveal_webhook_secret(const KeyCipher* cipher, const std::string& stored,
                                          const std::string& tenant_id) {
  switch (KeyCipher::kind_of(stored)) {
    case StoredKeyKind::plain:
      return stored;  // stored before a master key was configured: sealed at its next PUT
    case StoredKeyKind::unknown:
      return Error(Errc::store_error, "tenant " + tenant_id + ": its webhook secret is in an unknown format");
    case StoredKeyKind::sealed:
      break;
  }
  if (cipher == nullptr) {
    return Error(Errc::store_error, "tenant " + tenant_id + ": its webhook secret is encrypted with master key " +
                                        KeyCipher::key_id_of(stored).value_or("?") + " and no master key is configured");
  }
  auto plain = cipher->open(stored, webhook_secret_context(tenant_id));
  if (!plain) {
    return Error(Errc::store_error,
                 "tenant " + tenant_id + ": its webhook secret cannot be decrypted: " + plain.error().message);
  }
  return plain;
}

Result<std::string> seal_tenant_proxy(const KeyCipher* cipher, const std::string& json_text, const std::string& tenant_id) {
  if (cipher != nullptr) {
    auto sealed = cipher->seal(json_text, "proxy:" + tenant_id);
    if (!sealed) return Error(Errc::store_error, "store the default proxy of tenant " + tenant_id + ": " + sealed.error().message);
    return sealed;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(json_text.size() * 2);
  for (unsigned char c : json_text) {
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
  }
  return hex;
}

Result<std::string> reveal_tenant_proxy(const KeyCipher* cipher, const std::string& stored, const std::string& tenant_id) {
  const std::string what = "tenant " + tenant_id + ": its default proxy ";
  switch (KeyCipher::kind_of(stored)) {
    case StoredKeyKind::plain: {
      auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
      };
      if (stored.size() % 2 != 0) return Error(Errc::store_error, what + "is in an unknown format");
      std::string out;
      out.reserve(stored.size() / 2);
      for (std::size_t i = 0; i < stored.size(); i += 2) {
        const int hi = nibble(stored[i]);
        const int lo = nibble(stored[i + 1]);
        if (hi < 0 || lo < 0) return Error(Errc::store_error, what + "is in an unknown format");
        out += static_cast<char>(hi * 16 + lo);
      }
      return out;
    }
    case StoredKeyKind::unknown:
      return Error(Errc::store_error, what + "is in an unknown format");
    case StoredKeyKind::sealed:
      break;
  }
  if (cipher == nullptr) {
    return Error(Errc::store_error, what + "is encrypted with master key " + KeyCipher::key_id_of(stored).value_or("?") +
                                        " and no master key is configured");
  }
  auto plain = cipher->open(stored, "proxy:" + tenant_id);
  if (!plain) return Error(Errc::store_error, what + "cannot be decrypted: " + plain.error().message);
  return plain;
}

namespace {

std::string join_ids(const std::set<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ", ") + id;
  return out;
}

}  // namespace

Result<std::vector<std::size_t>> check_stored_session_keys(const std::vector<StoredSessionKey>& keys,
                                                           const KeyCipher* cipher, const std::string& where) {
  std::set<std::string> foreign_ids;
  std::size_t foreign = 0;
  std::vector<std::size_t> plain;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const StoredSessionKey& k = keys[i];
    switch (KeyCipher::kind_of(k.value)) {
      case StoredKeyKind::plain:
        plain.push_back(i);
        break;
      case StoredKeyKind::unknown:
        return Error(Errc::store_error, "session " + k.session_id +
                                            ": its stored key is in an unknown format (written by a newer "
                                            "tgpulse, or damaged); nothing was changed");
      case StoredKeyKind::sealed: {
        const std::string id = KeyCipher::key_id_of(k.value).value_or("?");
        if (cipher == nullptr || id != cipher->key_id()) {
          foreign_ids.insert(id);
          ++foreign;
          break;
        }
        if (auto opened = cipher->open(k.value, k.session_id); !opened) {
          return Error(Errc::store_error, "session " + k.session_id + ": its stored key does not decrypt with "
                                              "master key " + id + " (" + opened.error().message +
                                              "); nothing was changed");
        }
        break;
      }
    }
  }
  if (foreign == 0) return plain;
  const std::string what = std::to_string(foreign) + " of " + std::to_string(keys.size()) + " session keys in " +
                           where + " are encrypted with master key " + join_ids(foreign_ids);
  if (cipher == nullptr) {
    return Error(Errc::invalid_argument,
                 what + ", and no master key is configured: set TGPULSE_MASTER_KEY or store.master_key_file "
                        "to that key; nothing was changed");
  }
  return Error(Errc::invalid_argument, what + ", not with the configured master key " + cipher->key_id() +
                                           ": configure that key (or rotate to a new one with "
                                           "`tgpulse keys rotate`); nothing was changed");
}

}  // namespace tgpulse::store
