#include "session/storage_probe.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace tgpulse::session {

StorageProbe::StorageProbe(StorageProbeOptions options, const Clock& clock, StoreCheck store_check)
    : options_(std::move(options)), clock_(clock), store_check_(std::move(store_check)) {}

StorageProbe::~StorageProbe() { stop(); }

void StorageProbe::start() {
  probe_once();
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      wake_.wait_for(lock, options_.interval, [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      probe_once();
      lock.lock();
    }
  });
}

void StorageProbe::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StorageProbe::probe_once() {
  Status store = store_check_ ? store_check_() : Status{};
  Status dir = check_data_dir(options_.data_dir, options_.min_free_bytes);
  const auto now = clock_.now();
  std::lock_guard lock(mu_);
  store_ = {now, std::move(store)};
  data_dir_ = {now, std::move(dir)};
}

Status StorageProbe::read(const Last& last, const char* what) const {
  if (!last.at) return Error(Errc::unavailable, std::string(what) + " not probed yet");
  const auto age = clock_.now() - *last.at;
  const auto stale_after = 3 * options_.interval + std::chrono::seconds(2);
  if (age > stale_after) {
    return Error(Errc::unavailable,
                 std::string("the last ") + what + " probe is " +
                     std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()) +
                     " s old (a probe is hanging?)");
  }
  return last.status;
}

Status StorageProbe::store_status() const {
  std::lock_guard lock(mu_);
  return read(store_, "store");
}

Status StorageProbe::data_dir_status() const {
  std::lock_guard lock(mu_);
  return read(data_dir_, "data_dir");
}

Status StorageProbe::check_data_dir(const std::string& dir, std::uint64_t min_free_bytes) {
  const std::string probe = (std::filesystem::path(dir) / ".tgpulse-readiness-probe").string();
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error(Errc::unavailable, "cannot create a file in " + dir + ": " + std::strerror(errno));
  const char byte = 'p';
  std::string failure;
  if (::write(fd, &byte, 1) != 1) {
    failure = std::string("cannot write a file in ") + dir + ": " + std::strerror(errno);
  } else if (::fsync(fd) != 0) {
    failure = std::string("cannot fsync a file in ") + dir + ": " + std::strerror(errno);
  }
  ::close(fd);
  if (::unlink(probe.c_str()) != 0 && failure.empty()) {
    failure = std::string("cannot remove a file in ") + dir + ": " + std::strerror(errno);
  }
  if (!failure.empty()) return Error(Errc::unavailable, failure);
  if (min_free_bytes == 0) return {};
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) != 0) {
    return Error(Errc::unavailable, "cannot read the free space of " + dir + ": " + std::strerror(errno));
  }
  const std::uint64_t free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * static_cast<std::uint64_t>(vfs.f_frsize);
  if (free_bytes < min_free_bytes) {
    return Error(Errc::unavailable, std::to_string(free_bytes) + " bytes free on the file system of " + dir +
                                        ", below store.min_free_bytes (" + std::to_string(min_free_bytes) + ")");
  }
  return {};
}

}  // namespace tgpulse::session
