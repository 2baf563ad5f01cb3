// EventScheduler: runs callbacks at steady-clock time points on one background thread (tdsim's
// "network": late answers, QR token expiry, the simulated phone's scans). Callbacks run without any
// scheduler lock held and may schedule more events.
//
// Thread-safety: thread-safe. The destructor stops the thread; events not yet due are dropped.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace tgpulse::tdsim {

class EventScheduler {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  EventScheduler();
  ~EventScheduler();
  EventScheduler(const EventScheduler&) = delete;
  EventScheduler& operator=(const EventScheduler&) = delete;

  void at(TimePoint when, std::function<void()> callback);
  std::size_t pending() const;

 private:
  struct Event {
    TimePoint when;
    std::uint64_t sequence;  // FIFO among events due at the same time
    std::function<void()> callback;
    bool operator>(const Event& o) const { return when != o.when ? when > o.when : sequence > o.sequence; }
  };
  void run();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;  // guarded by mutex_
  std::uint64_t next_sequence_ = 0;                                        // guarded by mutex_
  bool stopping_ = false;                                                  // guarded by mutex_
  std::thread thread_;
};

}  // namespace tgpulse::tdsim
