#include "tdsim/event_scheduler.h"

namespace tgpulse::tdsim {

EventScheduler::EventScheduler() : thread_([this] { run(); }) {}

EventScheduler::~EventScheduler() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void EventScheduler::at(TimePoint when, std::function<void()> callback) {
  bool earliest = false;
  {
    std::lock_guard lock(mutex_);
    earliest = events_.empty() || when < events_.top().when;
    events_.push(Event{when, next_sequence_++, std::move(callback)});
  }
  if (earliest) wake_.notify_one();
}

std::size_t EventScheduler::pending() const {
  std::lock_guard lock(mutex_);
  return events_.size();
}

void EventScheduler::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (events_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const auto due = events_.top().when;
    if (std::chrono::steady_clock::now() < due) {
      wake_.wait_until(lock, due);
      continue;
    }
    auto callback = std::move(const_cast<Event&>(events_.top()).callback);  // top() is const; we pop next
    events_.pop();
    lock.unlock();
    callback();
    lock.lock();
  }
}

}  // namespace tgpulse::tdsim
