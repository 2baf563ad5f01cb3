#include "store/last_used_batcher.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

namespace tgpulse::store {

LastUsedBatcher::LastUsedBatcher(SessionStore& store, const StoreAccessOptions& options, FailureHandler on_failure)
    : store_(store), interval_(options.last_used_flush), on_failure_(std::move(on_failure)) {}

LastUsedBatcher::~LastUsedBatcher() { stop(); }

void LastUsedBatcher::mark(std::string session_id, std::int64_t used_at_ms) {
  std::lock_guard lock(mu_);
  note_locked(std::move(session_id), used_at_ms);
}

void LastUsedBatcher::note_locked(std::string id, std::int64_t used_at_ms) {
  auto [it, inserted] = pending_.try_emplace(std::move(id), used_at_ms);
  if (!inserted) it->second = std::max(it->second, used_at_ms);
}

std::size_t LastUsedBatcher::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

std::size_t LastUsedBatcher::flush() {
  std::lock_guard one_at_a_time(flush_mu_);
  std::unordered_map<std::string, std::int64_t> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
  }
  std::size_t written = 0;
  std::size_t failed = 0;
  std::optional<Error> first;
  std::vector<std::pair<std::string, std::int64_t>> retry;
  for (const auto& [id, used_at_ms] : batch) {
    Status st = store_.touch_last_used(id, used_at_ms);
    if (st.ok()) {
      ++written;
    } else if (st.error().code != Errc::not_found) {  // not_found: the session went meanwhile
      if (!first) first = st.error();
      ++failed;
      retry.emplace_back(id, used_at_ms);
    }
  }
  if (!retry.empty()) {
    std::lock_guard lock(mu_);
    for (auto& [id, used_at_ms] : retry) note_locked(std::move(id), used_at_ms);
  }
  if (first && on_failure_) on_failure_(*first, failed);
  return written;
}

void LastUsedBatcher::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void LastUsedBatcher::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    flush();
    lock.lock();
  }
}

void LastUsedBatcher::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  flush();
}

}  // namespace tgpulse::store
