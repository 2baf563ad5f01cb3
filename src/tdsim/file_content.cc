#include "tdsim/file_content.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <cstring>
#include <vector>

namespace tgpulse::tdsim {

namespace {
std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}
}  // namespace

void FileContent::fill(std::uint64_t seed, std::int32_t file_id, std::int64_t offset, char* out, std::size_t n) {
  const std::uint64_t key = splitmix64(seed ^ (static_cast<std::uint64_t>(file_id) * 0x9E3779B97F4A7C15ULL));
  auto block = static_cast<std::uint64_t>(offset) / 8;
  std::size_t skip = static_cast<std::uint64_t>(offset) % 8;
  std::size_t written = 0;
  while (written < n) {
    const std::uint64_t v = splitmix64(key ^ block++);
    unsigned char bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(v >> (8 * i));
    const std::size_t take = std::min<std::size_t>(8 - skip, n - written);
    std::memcpy(out + written, bytes + skip, take);
    written += take;
    skip = 0;
  }
}

std::string FileContent::sha256(std::uint64_t seed, std::int32_t file_id, std::int64_t offset, std::int64_t size) {
  constexpr std::int64_t kPiece = 1 << 20;
  std::vector<char> buffer(static_cast<std::size_t>(std::min(kPiece, std::max<std::int64_t>(size, 1))));
  Sha256 hash;
  for (std::int64_t done = 0; done < size;) {
    const auto n = static_cast<std::size_t>(std::min<std::int64_t>(kPiece, size - done));
    fill(seed, file_id, offset + done, buffer.data(), n);
    hash.update(buffer.data(), n);
    done += static_cast<std::int64_t>(n);
  }
  return hash.hex_digest();
}

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  if (state_->ctx == nullptr || EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) != 1) {
    std::abort();  // OpenSSL without SHA-256: nothing a simulator can do about it
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(state_->ctx); }

void Sha256::update(const char* data, std::size_t n) {
  if (n > 0 && EVP_DigestUpdate(state_->ctx, data, n) != 1) std::abort();
}

std::string Sha256::hex_digest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(state_->ctx, digest, &length) != 1) std::abort();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

}  // namespace tgpulse::tdsim
