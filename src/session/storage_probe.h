// StorageProbe: the readiness probes of what the session layer stores into — the session store and the
// data directory — run on the probe's own thread every `interval`, so GET /readyz only reads the last
// results and stays quick whatever the disk or the database does.
//
//   store:     the store's own check (SqliteSessionStore::probe: a write-locking query on a separate
//              connection; the database file still being the one opened at start-up).
//   data_dir:  a probe file is created, written, fsync'ed and removed in the data directory; the file
//              system's free space for this process (statvfs f_bavail * f_frsize) is at least
//              min_free_bytes (0 = no free-space check).
// A result older than 3 intervals + 2 s counts as failing ("stale"): a probe that hangs (a stuck disk,
// a lock held forever) fails readiness instead of freezing it.
//
// Thread-safety: thread-safe. start()/stop() from one thread; the status functions from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/result.h"

namespace tgpulse::session {

struct StorageProbeOptions {
  std::string data_dir;                       // store.data_dir
  std::uint64_t min_free_bytes = 0;           // store.min_free_bytes (DataSafetyOptions documents it)
  std::chrono::milliseconds interval{std::chrono::seconds(5)};  // store.probe_interval
};

class StorageProbe {
 public:
  using StoreCheck = std::function<Status()>;

  StorageProbe(StorageProbeOptions options, const Clock& clock, StoreCheck store_check);
  ~StorageProbe();  // stop()
  StorageProbe(const StorageProbe&) = delete;
  StorageProbe& operator=(const StorageProbe&) = delete;

  // Probes once on the calling thread, then every interval on the probe thread.
  void start();
  // Ends the probe thread (waits for a probe in progress). Idempotent.
  void stop();
  // Runs both probes now on the calling thread and records their results.
  void probe_once();

  // The last results; failing when none yet, when it failed, or when it is stale. Messages name the
  // directory and the numbers, never a secret.
  Status store_status() const;
  Status data_dir_status() const;

  // The data-directory probe itself: writable (create, write, fsync, remove) and enough free space.
  static Status check_data_dir(const std::string& dir, std::uint64_t min_free_bytes);

 private:
  struct Last {
    std::optional<Clock::TimePoint> at;
    Status status;
  };
  Status read(const Last& last, const char* what) const;

  const StorageProbeOptions options_;
  const Clock& clock_;
  StoreCheck store_check_;
  mutable std::mutex mu_;
  Last store_;     // guarded by mu_
  Last data_dir_;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace tgpulse::session
