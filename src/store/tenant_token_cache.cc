#include "store/tenant_token_cache.h"

namespace tgpulse::store {

TenantTokenCache::TenantTokenCache(const StoreAccessOptions& options, const Clock& clock)
    : max_entries_(options.token_cache_entries), ttl_(options.token_cache_ttl), clock_(clock) {}

std::optional<std::string> TenantTokenCache::find(std::string_view token_hash) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(token_hash));
  if (it == entries_.end()) return std::nullopt;
  if (clock_.now() >= it->second.expires_at) {
    erase_locked(it);
    return std::nullopt;
  }
  return it->second.tenant_id;
}

std::uint64_t TenantTokenCache::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

void TenantTokenCache::store(std::string token_hash, std::string tenant_id, std::uint64_t seen_generation) {
  if (max_entries_ == 0 || ttl_.count() <= 0) return;
  std::lock_guard lock(mu_);
  if (seen_generation != generation_) return;  // a tenant was forgotten while this answer was on its way
  const Clock::TimePoint now = clock_.now();
  if (auto old = entries_.find(token_hash); old != entries_.end()) erase_locked(old);
  // Entries share one TTL, so the oldest is the first to expire: drop expired ones from the front, then
  // the oldest while the cache is full.
  while (!order_.empty()) {
    auto front = entries_.find(order_.front());
    if (entries_.size() < max_entries_ && now < front->second.expires_at) break;
    erase_locked(front);
  }
  order_.push_back(token_hash);
  entries_.emplace(std::move(token_hash), Entry{std::move(tenant_id), now + ttl_, std::prev(order_.end())});
}

void TenantTokenCache::forget_tenant(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  ++generation_;
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (it->second.tenant_id == tenant_id) erase_locked(it);
    it = next;
  }
}

std::size_t TenantTokenCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void TenantTokenCache::erase_locked(std::unordered_map<std::string, Entry>::iterator it) {
  order_.erase(it->second.order);
  entries_.erase(it);
}

}  // namespace tgpulse::store
