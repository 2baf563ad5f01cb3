#include "throttle/flood_ledger.h"

#include <algorithm>

namespace tgpulse::throttle {
namespace {
constexpr char kSeparator = '\x1f';  // cannot occur in a session id or a TDLib method name
}  // namespace

std::string FloodLedger::key(std::string_view session_id, std::string_view method) {
  std::string k;
  k.reserve(session_id.size() + method.size() + 1);
  k.append(session_id).push_back(kSeparator);
  k.append(method);
  return k;
}

void FloodLedger::record(std::string_view session_id, std::string_view method, Clock::TimePoint until) {
  const auto now = clock_.now();
  std::lock_guard lock(mu_);
  if (blocked_.size() >= sweep_at_size_) {
    std::erase_if(blocked_, [&](const auto& kv) { return kv.second <= now; });
    sweep_at_size_ = std::max<std::size_t>(1024, 2 * blocked_.size());
  }
  auto [it, inserted] = blocked_.try_emplace(key(session_id, method), until);
  if (!inserted) it->second = std::max(it->second, until);
}

std::optional<Clock::TimePoint> FloodLedger::blocked_until(std::string_view session_id, std::string_view method) {
  const auto now = clock_.now();
  std::lock_guard lock(mu_);
  auto it = blocked_.find(key(session_id, method));
  if (it == blocked_.end()) return std::nullopt;
  if (it->second <= now) {
    blocked_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void FloodLedger::forget_session(std::string_view session_id) {
  std::string prefix(session_id);
  prefix.push_back(kSeparator);
  std::lock_guard lock(mu_);
  std::erase_if(blocked_, [&](const auto& kv) { return kv.first.starts_with(prefix); });
}

std::size_t FloodLedger::sweep() {
  const auto now = clock_.now();
  std::lock_guard lock(mu_);
  return std::erase_if(blocked_, [&](const auto& kv) { return kv.second <= now; });
}

std::size_t FloodLedger::size() const {
  std::lock_guard lock(mu_);
  return blocked_.size();
}

std::size_t FloodLedger::active() const {
  const auto now = clock_.now();
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(std::count_if(blocked_.begin(), blocked_.end(),
                                                [&](const auto& kv) { return kv.second > now; }));
}

}  // namespace tgpulse::throttle
