// FileLock: an exclusive lock on one file, held against other processes and against other holders in
// this process, as TDLib locks a database directory's binlog (docs/tdsim.md#database-lock).
//
// Across processes it is an open file description lock (fcntl F_OFD_SETLK) on the file: the kernel drops
// it when the holder closes the file or dies, SIGKILL included. OFD locks conflict between two
// descriptions in one process too, but a lock alone cannot say whether the holder is this process —
// TDLib's two messages differ on that — so every path locked by this process is also in a process-wide
// registry (which models a process-wide fact: one registry per process, like TDLib's own).
//
// A lock follows its file when the file is replaced by rename (`replace`): the new file is locked before
// it takes the name, so an opener never finds the name unlocked while the holder lives.
//
// Thread-safety: the static functions are thread-safe; one FileLock object is used by one thread at a time.
#pragma once

#include <filesystem>
#include <string>

namespace tgpulse::tdsim {

class FileLock {
 public:
  enum class Outcome {
    locked,
    held_by_this_process,
    held_by_another_process,
    failed,  // the file could not be created or opened; `error` says why
  };
  struct Attempt;

  // One try to lock `path` (created empty when missing; its directory must exist).
  static Attempt try_lock(const std::filesystem::path& path);
  // Renames `temporary` over `target`. When this process holds `target`, the lock moves to the new file
  // first. When another holder (here or in another process) holds `target`, nothing is renamed and
  // false is returned: only the holder may replace a locked file.
  static bool replace(const std::filesystem::path& temporary, const std::filesystem::path& target);
  // True when this process holds `path`.
  static bool held_here(const std::filesystem::path& path);

  FileLock() = default;
  ~FileLock();
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  bool held() const { return !path_.empty(); }
  const std::filesystem::path& path() const { return path_; }
  void release();

 private:
  explicit FileLock(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;  // empty: holds nothing
};

struct FileLock::Attempt {
  Outcome outcome = Outcome::failed;
  FileLock lock;      // held when outcome == locked
  std::string error;  // when outcome == failed
};

}  // namespace tgpulse::tdsim
