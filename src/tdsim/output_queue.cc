#include "tdsim/output_queue.h"

#include <chrono>

namespace tgpulse::tdsim {

void OutputQueue::push(std::string line) {
  {
    std::lock_guard lock(mutex_);
    lines_.push_back(std::move(line));
  }
  ready_.notify_one();
}

const char* OutputQueue::pop(double timeout_seconds) {
  std::unique_lock lock(mutex_);
  if (lines_.empty() && timeout_seconds > 0) {
    ready_.wait_for(lock, std::chrono::duration<double>(timeout_seconds), [this] { return !lines_.empty(); });
  }
  if (lines_.empty()) return nullptr;
  current_ = std::move(lines_.front());
  lines_.pop_front();
  return current_.c_str();
}

std::size_t OutputQueue::size() const {
  std::lock_guard lock(mutex_);
  return lines_.size();
}

}  // namespace tgpulse::tdsim
