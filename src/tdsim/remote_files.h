// RemoteFiles: the files on tdsim's Telegram — those the control route POST /file creates (their bytes
// are FileContent's, never stored) and those clients uploaded (their size and SHA-256 recorded). Ids are
// int32 > 0, shared by all clients, as if every client had seen every file.
//
// Thread-safety: none; owned by the Simulator and touched under its lock.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/result.h"

namespace tgpulse::tdsim {

struct RemoteFile {
  std::int32_t id = 0;
  std::int64_t size = 0;
  std::string name;       // file name of a download: <files_directory>/documents/<name>
  std::string sha256;     // of all its bytes (lower-case hex)
  std::string remote_id;  // remoteFile.id, a base64url string as TDLib's
  std::string unique_id;  // remoteFile.unique_id
  bool uploaded = false;  // a client's upload: no FileContent bytes to download
};

class RemoteFiles {
 public:
  static constexpr std::int64_t kMaxSize = std::int64_t{1} << 30;  // POST /file: 1 GiB
  static constexpr std::size_t kMaxFiles = 100000;
  static constexpr std::size_t kMaxName = 255;

  // Errors: invalid_argument (size outside 1..kMaxSize, a name empty, too long, ".", "..", or holding
  // '/', '\\' or a control character), conflict (kMaxFiles reached).
  static Result<void> check(std::int64_t size, const std::string& name);
  Result<const RemoteFile*> add(std::uint64_t seed, std::int64_t size, std::string name, std::string sha256,
                                bool uploaded);
  const RemoteFile* find(std::int32_t id) const;
  RemoteFile* find(std::int32_t id);

 private:
  std::map<std::int32_t, RemoteFile> files_;
  std::int32_t next_id_ = 1;
};

}  // namespace tgpulse::tdsim
