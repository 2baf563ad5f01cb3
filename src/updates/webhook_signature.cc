#include "updates/webhook_signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdlib>

namespace tgpulse::updates {

std::string webhook_signature(std::string_view secret, std::int64_t timestamp, std::string_view body) {
  std::string message = std::to_string(timestamp);
  message.reserve(message.size() + 1 + body.size());
  message += '.';
  message.append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_size) == nullptr) {
    std::abort();  // OpenSSL cannot compute SHA-256: nothing sensible to send
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256=";
  out.reserve(7 + 2 * mac_size);
  for (unsigned int i = 0; i < mac_size; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 0xf]);
  }
  return out;
}

Status validate_webhook_secret(std::string_view secret) {
  if (secret.size() < 16 || secret.size() > 256) {
    return Status(Errc::invalid_argument, "webhook secret must be 16 to 256 characters long");
  }
  const bool allowed = std::all_of(secret.begin(), secret.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  if (!allowed) return Status(Errc::invalid_argument, "webhook secret may hold only A-Z, a-z, 0-9, _ and -");
  return {};
}

Status verify_webhook_signature(std::string_view secret, std::string_view timestamp_header,
                                std::string_view signature_header, std::string_view body, std::int64_t now,
                                std::chrono::seconds window) {
  if (timestamp_header.empty() || timestamp_header.size() > 18 ||
      !std::all_of(timestamp_header.begin(), timestamp_header.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Status(Errc::unauthorized, "X-Tgpulse-Timestamp is not a unix time in seconds");
  }
  const std::int64_t timestamp = std::stoll(std::string(timestamp_header));
  if (timestamp < now - window.count() || timestamp > now + window.count()) {
    return Status(Errc::unauthorized, "X-Tgpulse-Timestamp is outside the replay window");
  }
  const std::string expected = webhook_signature(secret, timestamp, body);
  if (signature_header.size() != expected.size() ||
      CRYPTO_memcmp(signature_header.data(), expected.data(), expected.size()) != 0) {
    return Status(Errc::unauthorized, "X-Tgpulse-Signature does not match");
  }
  return {};
}

}  // namespace tgpulse::updates
