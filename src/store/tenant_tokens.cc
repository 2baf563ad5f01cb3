#include "store/tenant_tokens.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <cstdint>

namespace tgpulse::store {
namespace {

constexpr char kBase64Std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::size_t kSecretBytes = 32;
constexpr std::size_t kSessionIdChars = 22;

bool random_bytes(unsigned char* out, std::size_t n) {
  return RAND_bytes(out, static_cast<int>(n)) == 1;
}

std::string base64(const unsigned char* data, std::size_t n, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  const std::size_t rest = n - i;
  if (rest == 1) {
    const std::uint32_t v = std::uint32_t{data[i]} << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

Result<std::string> random_base64(const char* alphabet, bool pad, const char* what) {
  std::array<unsigned char, kSecretBytes> bytes{};
  if (!random_bytes(bytes.data(), bytes.size())) {
    return Error(Errc::store_error, std::string("generate ") + what + ": the random generator failed");
  }
  std::string out = base64(bytes.data(), bytes.size(), alphabet, pad);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return out;
}

bool is_base62(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

}  // namespace

Result<std::string> TenantTokens::generate_token() {
  auto body = random_base64(kBase64Url, false, "tenant token");
  if (!body) return std::move(body).error();
  return "tgp_" + *body;
}

Result<std::string> TenantTokens::generate_page_key() { return random_base64(kBase64Url, false, "page key"); }

Result<std::string> TenantTokens::generate_db_key() { return random_base64(kBase64Std, true, "database key"); }

Result<std::string> TenantTokens::generate_session_id() {
  std::string id = "s_";
  id.reserve(2 + kSessionIdChars);
  // Rejection sampling keeps every base62 char equally likely: bytes >= 248 (4 * 62) are skipped.
  std::array<unsigned char, 32> pool{};
  while (id.size() < 2 + kSessionIdChars) {
    if (!random_bytes(pool.data(), pool.size())) {
      return Error(Errc::store_error, "generate session id: the random generator failed");
    }
    for (unsigned char b : pool) {
      if (b >= 248) continue;
      id += kBase62[b % 62];
      if (id.size() == 2 + kSessionIdChars) break;
    }
  }
  return id;
}

std::string TenantTokens::hash_token(std::string_view secret) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), digest.data());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(digest.size() * 2);
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

bool TenantTokens::constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool TenantTokens::verify(std::string_view secret, std::string_view expected_hash) {
  return constant_time_equal(hash_token(secret), expected_hash);
}

bool TenantTokens::is_valid_session_id(std::string_view session_id) noexcept {
  if (session_id.size() != 2 + kSessionIdChars || session_id.substr(0, 2) != "s_") return false;
  for (char c : session_id.substr(2)) {
    if (!is_base62(c)) return false;
  }
  return true;
}

bool TenantTokens::is_valid_hash(std::string_view hash) noexcept {
  if (hash.size() != 2 * SHA256_DIGEST_LENGTH) return false;
  for (char c : hash) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace tgpulse::store
