#include "tdsim/file_lock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>

namespace tgpulse::tdsim {

namespace fs = std::filesystem;

namespace {

// Paths this process holds, and the descriptor that carries each lock.
struct Registry {
  std::mutex mutex;
  std::map<std::string, int> held;  // guarded by mutex
};

Registry& registry() {
  // Intentionally leaked: locks may be released by objects destroyed during process exit.
  static Registry* r = new Registry();
  return *r;
}

// An exclusive OFD lock on the whole file: 0, or the errno of the failure (EAGAIN/EACCES: held).
int lock_descriptor(int fd) {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  return ::fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : errno;
}

bool is_held_error(int e) { return e == EAGAIN || e == EACCES; }

// True when `fd` is still the file named `path` (it was not replaced or removed after open).
bool names_file(int fd, const fs::path& path) {
  struct stat by_fd {}, by_name {};
  if (::fstat(fd, &by_fd) != 0 || ::stat(path.c_str(), &by_name) != 0) return false;
  return by_fd.st_dev == by_name.st_dev && by_fd.st_ino == by_name.st_ino;
}

}  // namespace

FileLock::Attempt FileLock::try_lock(const fs::path& path) {
  Registry& r = registry();
  std::lock_guard guard(r.mutex);
  Attempt attempt;
  if (r.held.count(path.string()) != 0) {
    attempt.outcome = Outcome::held_by_this_process;
    return attempt;
  }
  // A holder may replace or remove the file between our open and our lock: then the lock we got is on a
  // file that no longer has the name, and we try again with the file that has it.
  for (int tries = 0; tries < 8; ++tries) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      attempt.error = std::string("can't open ") + path.string() + ": " + std::strerror(errno);
      return attempt;
    }
    if (const int e = lock_descriptor(fd); e != 0) {
      ::close(fd);
      if (is_held_error(e)) {
        attempt.outcome = Outcome::held_by_another_process;
      } else {
        attempt.error = std::string("can't lock ") + path.string() + ": " + std::strerror(e);
      }
      return attempt;
    }
    if (names_file(fd, path)) {
      r.held[path.string()] = fd;
      attempt.outcome = Outcome::locked;
      attempt.lock = FileLock(path);
      return attempt;
    }
    ::close(fd);
  }
  attempt.outcome = Outcome::held_by_another_process;
  return attempt;
}

bool FileLock::replace(const fs::path& temporary, const fs::path& target) {
  Registry& r = registry();
  std::lock_guard guard(r.mutex);
  std::error_code ec;
  if (auto it = r.held.find(target.string()); it != r.held.end()) {
    const int fd = ::open(temporary.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0 || lock_descriptor(fd) != 0) {
      if (fd >= 0) ::close(fd);
      fs::remove(temporary, ec);
      return false;
    }
    fs::rename(temporary, target, ec);
    if (ec) {
      ::close(fd);
      fs::remove(temporary, ec);
      return false;
    }
    ::close(it->second);  // the old file, no longer named: its lock goes with it
    it->second = fd;
    return true;
  }
  // Not ours: replace it only when nobody holds it, holding it ourselves meanwhile.
  const int fd = ::open(target.c_str(), O_RDWR | O_CLOEXEC);
  if (fd >= 0 && lock_descriptor(fd) != 0) {
    ::close(fd);
    fs::remove(temporary, ec);
    return false;
  }
  fs::rename(temporary, target, ec);
  const bool renamed = !ec;
  if (fd >= 0) ::close(fd);
  if (!renamed) fs::remove(temporary, ec);
  return renamed;
}

bool FileLock::held_here(const fs::path& path) {
  Registry& r = registry();
  std::lock_guard guard(r.mutex);
  return r.held.count(path.string()) != 0;
}

FileLock::~FileLock() { release(); }

FileLock::FileLock(FileLock&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

void FileLock::release() {
  if (path_.empty()) return;
  Registry& r = registry();
  std::lock_guard guard(r.mutex);
  if (auto it = r.held.find(path_.string()); it != r.held.end()) {
    ::close(it->second);
    r.held.erase(it);
  }
  path_.clear();
}

}  // namespace tgpulse::tdsim
