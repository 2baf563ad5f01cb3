// LastUsedBatcher: the sessions' last_used_at, kept in memory and written to the store in batches, so an
// invoke never waits for a store write.
//
// mark(id) notes that a session was used (a set insertion under a mutex). A thread of its own writes
// the noted sessions every `last_used_flush` (StoreAccessOptions) with SessionStore::touch_last_used,
// which stamps the store clock's time: a stored last_used_at is at most one flush interval later than
// the use. stop() writes what is pending before it returns, so a graceful stop loses nothing; a crash
// loses the marks of at most one interval (the idle TTL then counts from the previous write). A session
// deleted meanwhile is skipped (not_found); other failures are handed to `on_failure` once per flush
// with the number of sessions that failed, and those sessions are tried again at the next flush.
//
// The pending set holds one entry per session id at most, so it is bounded by the number of sessions.
//
// Thread-safety: mark() and flush() from any thread; start() and stop() from the owner's thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

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

  void mark(std::string session_id);
  // Writes what is pending now, on the calling thread (it blocks); returns how many were written.
  std::size_t flush();
  void start();
  // Ends the thread and writes what is still pending. Idempotent.
  void stop();

  std::size_t pending() const;

 private:
  void loop();

  SessionStore& store_;
  const std::chrono::milliseconds interval_;
  FailureHandler on_failure_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::unordered_set<std::string> pending_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::mutex flush_mu_;                      // one flush at a time (keeps retried ids in order)
  std::thread thread_;
};

}  // namespace tgpulse::store
