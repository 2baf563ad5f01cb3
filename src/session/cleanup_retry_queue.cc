#include "session/cleanup_retry_queue.h"

#include <algorithm>

namespace tgpulse::session {

CleanupRetryQueue::CleanupRetryQueue(const Clock& clock, std::chrono::milliseconds initial,
                                     std::chrono::milliseconds max, int stuck_after)
    : clock_(clock), initial_(initial), max_(std::max(max, initial)), stuck_after_(std::max(stuck_after, 1)) {}

std::chrono::milliseconds CleanupRetryQueue::delay_after(int failures) const {
  std::chrono::milliseconds d = initial_;
  for (int i = 1; i < failures && d < max_; ++i) d *= 2;
  return std::min(d, max_);
}

void CleanupRetryQueue::failed(const std::string& session_id, const std::string& trigger, bool logout) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[session_id];
  if (e.session_id.empty()) {
    e.session_id = session_id;
    e.trigger = trigger;
    e.logout = logout;
  }
  ++e.attempts;
  e.next_at = clock_.now() + delay_after(e.attempts);
}

std::vector<CleanupRetryQueue::Entry> CleanupRetryQueue::due() const {
  const auto now = clock_.now();
  std::vector<Entry> out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : entries_) {
      if (e.next_at <= now) out.push_back(e);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.next_at < b.next_at; });
  return out;
}

void CleanupRetryQueue::succeeded(const std::string& session_id) {
  std::lock_guard lock(mu_);
  entries_.erase(session_id);
}

Clock::TimePoint CleanupRetryQueue::next_due() const {
  std::lock_guard lock(mu_);
  Clock::TimePoint out = Clock::TimePoint::max();
  for (const auto& [id, e] : entries_) out = std::min(out, e.next_at);
  return out;
}

CleanupRetryQueue::Summary CleanupRetryQueue::summary() const {
  std::lock_guard lock(mu_);
  Summary s;
  s.pending = static_cast<int>(entries_.size());
  for (const auto& [id, e] : entries_) {
    if (e.attempts >= stuck_after_) ++s.stuck;
  }
  return s;
}

}  // namespace tgpulse::session
