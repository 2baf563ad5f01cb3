#include "tdsim/remote_files.h"

namespace tgpulse::tdsim {

namespace {
std::string base64url(const unsigned char* data, std::size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | data[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

// `n` little-endian bytes of each value.
std::string id_string(std::initializer_list<std::pair<std::uint64_t, int>> parts) {
  unsigned char bytes[32];
  std::size_t n = 0;
  for (auto [value, width] : parts) {
    for (int i = 0; i < width && n < sizeof bytes; ++i) bytes[n++] = static_cast<unsigned char>(value >> (8 * i));
  }
  return base64url(bytes, n);
}
}  // namespace

Result<void> RemoteFiles::check(std::int64_t size, const std::string& name) {
  if (size < 1 || size > kMaxSize) {
    return Error(Errc::invalid_argument, "size must be from 1 to " + std::to_string(kMaxSize) + " bytes");
  }
  if (name.empty() || name.size() > kMaxName || name == "." || name == "..") {
    return Error(Errc::invalid_argument, "name must be 1 to 255 bytes, not \".\" or \"..\"");
  }
  for (unsigned char c : name) {
    if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) {
      return Error(Errc::invalid_argument, "name must not hold '/', '\\' or control characters");
    }
  }
  return {};
}

Result<const RemoteFile*> RemoteFiles::add(std::uint64_t seed, std::int64_t size, std::string name,
                                           std::string sha256, bool uploaded) {
  if (files_.size() >= kMaxFiles) {
    return Error(Errc::conflict, "tdsim holds " + std::to_string(kMaxFiles) + " files already");
  }
  RemoteFile f;
  f.id = next_id_++;
  f.size = size;
  f.name = std::move(name);
  f.sha256 = std::move(sha256);
  f.uploaded = uploaded;
  // Shaped like TDLib's: a document's persistent id starts with its type bytes ("BQAC..."), the unique
  // id with "AgAD...".
  f.remote_id = id_string({{0x02000005, 4}, {seed, 8}, {static_cast<std::uint64_t>(f.id), 4}, {0x2a, 1}});
  f.unique_id = id_string({{0x0302, 2}, {static_cast<std::uint64_t>(f.id), 4}, {seed, 2}});
  auto [it, inserted] = files_.emplace(f.id, std::move(f));
  return &it->second;
}

const RemoteFile* RemoteFiles::find(std::int32_t id) const {
  auto it = files_.find(id);
  return it == files_.end() ? nullptr : &it->second;
}

RemoteFile* RemoteFiles::find(std::int32_t id) {
  auto it = files_.find(id);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace tgpulse::tdsim
