// LastUsedBatcher: the sessions' last_used_at, kept in memory and written to the store in batches, so an
// invoke never waits for a store write.
//
// mark(id, used_at_ms) notes that a session was used at that time (a map update under a mutex; the
// latest time of each session is kept). A thread of its own writes the noted sessions every
// `last_used_flush` (StoreAccessOptions) with SessionStore::touch_last_used and the time of the last
// use — not the time of the flush — so a stored last_used_at is the last invoke's time, whenever it is
// written (the store never moves it back). stop() writes what is pending before it returns, so a
// graceful stop loses nothing; a crash loses the marks of at most one interval (the idle TTL then
// counts from the previous write). A session deleted meanwhile is skipped (not_found); other failures
// are handed to `on_failure` once per flush with the number of sessions that failed, and those sessions
// are tried again at the next flush (with the latest of their failed and newer times).
//
// The pending map holds one entry per session id at most, so it is bounded by the number of sessions.
//
// Thread-safety: mark() and flush() from any thread; start() and stop() from the owner's thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "core/error.h"
#include "store/session_store.h"
#include "store/store_access_options.h"

namespace tgpulse::store {

class LastUsedBatcher {
 public:
  // Called on the flushing thread: the first error of a flush and how many sessions failed.
  using FailureHandler = std::function<void(const Error& first, std::size_t failed)>;

  LastUsedBatcher(SessionStore& store, const StoreAccessOptions& options, FailureHandler on_failure);
  ~LastUsedBatcher();  // stop()
  LastUsedBatcher(const LastUsedBatcher&) = delete;
  LastUsedBatcher& operator=(const LastUsedBatcher&) = delete;

  // `used_at_ms`: Unix ms of the use (the caller's clock).
  void mark(std::string session_id, std::int64_t used_at_ms);
  // Writes what is pending now, on the calling thread (it blocks); returns how many were written.
  std::size_t flush();
  void start();
  // Ends the thread and writes what is still pending. Idempotent.
  void stop();

  std::size_t pending() const;

 private:
  void loop();
  // Adds (id, used_at_ms) to pending_, keeping the later time. Call with mu_ held.
  void note_locked(std::string id, std::int64_t used_at_ms);

  SessionStore& store_;
  const std::chrono::milliseconds interval_;
  FailureHandler on_failure_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::unordered_map<std::string, std::int64_t> pending_;  // id → latest use (Unix ms); guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::mutex flush_mu_;                      // one flush at a time (keeps retried ids in order)
  std::thread thread_;
};

}  // namespace tgpulse::store
