// FileContent: the bytes of the remote files tdsim serves — a pure function of (profile seed, file id,
// offset), so a test can recompute the SHA-256 of any range without the simulator storing a byte — and
// a streaming SHA-256 for them and for uploaded files.
//
// The byte at offset o is byte (o mod 8), little-endian, of splitmix64(key ^ (o / 8)), key =
// splitmix64(seed ^ (file_id * 0x9E3779B97F4A7C15)): counter mode, so any range is computed directly.
//
// Thread-safety: FileContent is stateless (static functions); a Sha256 is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace tgpulse::tdsim {

class FileContent {
 public:
  // Writes the `n` bytes of file `file_id` that start at `offset` into `out`.
  static void fill(std::uint64_t seed, std::int32_t file_id, std::int64_t offset, char* out, std::size_t n);
  // SHA-256 (lower-case hex) of the file's bytes [offset, offset + size), computed in 1 MiB pieces.
  static std::string sha256(std::uint64_t seed, std::int32_t file_id, std::int64_t offset, std::int64_t size);
};

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const char* data, std::size_t n);
  std::string hex_digest();  // once; the object is spent afterwards

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tgpulse::tdsim
