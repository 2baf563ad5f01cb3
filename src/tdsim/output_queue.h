// OutputQueue: the objects tdsim has for td_receive, in delivery order. push() from any thread;
// pop() waits up to a timeout and is called by the single td_receive thread; the returned pointer stays
// valid until the next pop() (TDLib's td_receive contract).
//
// Thread-safety: push/size thread-safe; pop from one thread at a time.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>

namespace tgpulse::tdsim {

class OutputQueue {
 public:
  void push(std::string line);
  // Null when nothing arrives within `timeout_seconds`.
  const char* pop(double timeout_seconds);
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::string> lines_;  // guarded by mutex_
  std::string current_;            // owned by the receiving thread
};

}  // namespace tgpulse::tdsim
