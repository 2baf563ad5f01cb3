#include "store/key_cipher.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

namespace tgpulse::store {
namespace {

constexpr std::string_view kPrefix = "v1:";
constexpr std::size_t kKeyIdChars = 8;
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// A TDLib database key is 44 chars; anything far larger is not one of ours.
constexpr std::size_t kMaxPlain = 4096;

std::string base64_encode(const unsigned char* data, std::size_t n) {
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (std::size_t i = 0; i < n; i += 3) {
    std::uint32_t v = std::uint32_t{data[i]} << 16;
    if (i + 1 < n) v |= std::uint32_t{data[i + 1]} << 8;
    if (i + 2 < n) v |= data[i + 2];
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += i + 1 < n ? kBase64[(v >> 6) & 63] : '=';
    out += i + 2 < n ? kBase64[v & 63] : '=';
  }
  return out;
}

int base64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict standard base64; padding optional. nullopt on any other character or a dangling bit group.
std::optional<std::vector<unsigned char>> base64_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::vector<unsigned char> out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = base64_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<unsigned char>((acc >> bits) & 0xff));
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical trailing bits
  return out;
}

std::string key_id_for(const std::array<unsigned char, KeyCipher::kKeyBytes>& key) {
  static constexpr char kLabel[] = "tgpulse master key id";  // with its NUL: domain separation
  std::array<unsigned char, sizeof(kLabel) + KeyCipher::kKeyBytes> input{};
  std::copy(std::begin(kLabel), std::end(kLabel), input.begin());
  std::copy(key.begin(), key.end(), input.begin() + sizeof(kLabel));
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(input.data(), input.size(), digest.data());
  OPENSSL_cleanse(input.data(), input.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (std::size_t i = 0; i < kKeyIdChars / 2; ++i) {
    id += kHex[digest[i] >> 4];
    id += kHex[digest[i] & 15];
  }
  return id;
}

bool is_key_id(std::string_view s) noexcept {
  if (s.size() != kKeyIdChars) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

const unsigned char* bytes(std::string_view s) noexcept { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

KeyCipher::~KeyCipher() { OPENSSL_cleanse(key_.data(), key_.size()); }

Result<KeyCipher> KeyCipher::from_base64(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n' || text.front() == '\r')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  if (text.empty()) return Error(Errc::invalid_argument, "the master key is empty");
  auto decoded = base64_decode(text);
  if (!decoded) {
    return Error(Errc::invalid_argument, "the master key is not base64 (expected 32 random bytes in base64, e.g. "
                                         "from `tgpulse keys generate`)");
  }
  if (decoded->size() != kKeyBytes) {
    const std::size_t n = decoded->size();
    OPENSSL_cleanse(decoded->data(), decoded->size());
    return Error(Errc::invalid_argument, "the master key decodes to " + std::to_string(n) +
                                             " bytes, not 32 (generate one with `tgpulse keys generate`)");
  }
  KeyCipher cipher;
  std::copy(decoded->begin(), decoded->end(), cipher.key_.begin());
  OPENSSL_cleanse(decoded->data(), decoded->size());
  cipher.key_id_ = key_id_for(cipher.key_);
  return cipher;
}

Result<std::string> KeyCipher::generate_base64() {
  std::array<unsigned char, kKeyBytes> key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    return Error(Errc::internal, "generate master key: the random generator failed");
  }
  std::string out = base64_encode(key.data(), key.size());
  OPENSSL_cleanse(key.data(), key.size());
  return out;
}

StoredKeyKind KeyCipher::kind_of(std::string_view stored) noexcept {
  if (stored.find(':') == std::string_view::npos) return StoredKeyKind::plain;
  if (stored.substr(0, kPrefix.size()) != kPrefix) return StoredKeyKind::unknown;
  const std::string_view rest = stored.substr(kPrefix.size());
  const auto colon = rest.find(':');
  if (colon == std::string_view::npos || !is_key_id(rest.substr(0, colon))) return StoredKeyKind::unknown;
  return StoredKeyKind::sealed;
}

std::optional<std::string> KeyCipher::key_id_of(std::string_view stored) {
  if (kind_of(stored) != StoredKeyKind::sealed) return std::nullopt;
  return std::string(stored.substr(kPrefix.size(), kKeyIdChars));
}

Result<std::string> KeyCipher::seal(std::string_view plain, std::string_view session_id) const {
  if (plain.empty() || plain.size() > kMaxPlain) {
    return Error(Errc::invalid_argument, "seal: the value must be 1 to 4096 bytes");
  }
  std::vector<unsigned char> buf(kNonceBytes + plain.size() + kTagBytes);
  unsigned char* nonce = buf.data();
  unsigned char* ct = nonce + kNonceBytes;
  unsigned char* tag = ct + plain.size();
  if (RAND_bytes(nonce, static_cast<int>(kNonceBytes)) != 1) {
    return Error(Errc::store_error, "seal: the random generator failed");
  }
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  const bool ok =
      ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) == 1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) == 1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(session_id), static_cast<int>(session_id.size())) == 1 &&
      EVP_EncryptUpdate(ctx.get(), ct, &len, bytes(plain), static_cast<int>(plain.size())) == 1 &&
      static_cast<std::size_t>(len) == plain.size() && EVP_EncryptFinal_ex(ctx.get(), ct + len, &len) == 1 &&
      len == 0 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes), tag) == 1;
  if (!ok) return Error(Errc::store_error, "seal: AES-256-GCM encryption failed");
  return std::string(kPrefix) + key_id_ + ":" + base64_encode(buf.data(), buf.size());
}

Result<std::string> KeyCipher::open(std::string_view stored, std::string_view session_id) const {
  switch (kind_of(stored)) {
    case StoredKeyKind::plain:
      return Error(Errc::invalid_argument, "the value is not encrypted (a plain legacy value)");
    case StoredKeyKind::unknown:
      return Error(Errc::invalid_argument,
                   "the value is not in a known encrypted format (expected \"v1:<key id>:<base64>\")");
    case StoredKeyKind::sealed:
      break;
  }
  const std::string_view id = stored.substr(kPrefix.size(), kKeyIdChars);
  if (id != key_id_) {
    return Error(Errc::unauthorized, "the value was encrypted with master key " + std::string(id) +
                                         ", not with the configured master key " + key_id_);
  }
  auto decoded = base64_decode(stored.substr(kPrefix.size() + kKeyIdChars + 1));
  if (!decoded) return Error(Errc::invalid_argument, "the encrypted value is not base64");
  if (decoded->size() <= kNonceBytes + kTagBytes) {
    return Error(Errc::invalid_argument, "the encrypted value is too short to hold a nonce, a ciphertext and a tag");
  }
  const unsigned char* nonce = decoded->data();
  const unsigned char* ct = nonce + kNonceBytes;
  const std::size_t ct_len = decoded->size() - kNonceBytes - kTagBytes;
  std::vector<unsigned char> tag(ct + ct_len, ct + ct_len + kTagBytes);
  std::string plain(ct_len, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  const bool setup =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(session_id), static_cast<int>(session_id.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), out, &len, ct, static_cast<int>(ct_len)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), tag.data()) == 1;
  if (!setup) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return Error(Errc::store_error, "open: AES-256-GCM decryption failed");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out + len, &final_len) != 1) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return Error(Errc::unauthorized,
                 "the encrypted value does not authenticate (altered, or copied from another session's record)");
  }
  return plain;
}

}  // namespace tgpulse::store
