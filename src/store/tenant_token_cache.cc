#include "store/tenant_token_cache.h"

namespace tgpulse::store {

TenantTokenCache::TenantTokenCache(const StoreAccessOptions& options, const Clock& clock)
    : clock_(clock),
      known_(options.token_cache_entries, options.token_cache_ttl),
      unknown_(options.token_cache_entries, options.unknown_token_ttl) {}

std::optional<std::string> TenantTokenCache::find(std::string_view token_hash) {
  std::lock_guard lock(mu_);
  const std::string* tenant_id = known_.find(token_hash, clock_.now());
  if (tenant_id == nullptr) return std::nullopt;
  return *tenant_id;
}

std::uint64_t TenantTokenCache::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

void TenantTokenCache::store(std::string token_hash, std::string tenant_id, std::uint64_t seen_generation) {
  std::lock_guard lock(mu_);
  if (seen_generation != generation_) return;  // a tenant was forgotten while this answer was on its way
  known_.insert(std::move(token_hash), std::move(tenant_id), clock_.now());
}

void TenantTokenCache::forget_tenant(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  ++generation_;
  known_.erase_value(tenant_id);
}

bool TenantTokenCache::known_unknown(std::string_view token_hash) {
  std::lock_guard lock(mu_);
  return unknown_.find(token_hash, clock_.now()) != nullptr;
}

std::uint64_t TenantTokenCache::unknown_generation() const {
  std::lock_guard lock(mu_);
  return unknown_generation_;
}

void TenantTokenCache::store_unknown(std::string token_hash, std::uint64_t seen_generation) {
  std::lock_guard lock(mu_);
  if (seen_generation != unknown_generation_) return;  // a tenant was created while this answer was on its way
  unknown_.insert(std::move(token_hash), std::string(), clock_.now());
}

void TenantTokenCache::forget_unknown(std::string_view token_hash) {
  std::lock_guard lock(mu_);
  ++unknown_generation_;
  unknown_.erase(token_hash);
}

std::size_t TenantTokenCache::size() const {
  std::lock_guard lock(mu_);
  return known_.size();
}

std::size_t TenantTokenCache::unknown_size() const {
  std::lock_guard lock(mu_);
  return unknown_.size();
}

// --- Table ---

const std::string* TenantTokenCache::Table::find(std::string_view token_hash, Clock::TimePoint now) {
  auto it = entries_.find(std::string(token_hash));
  if (it == entries_.end()) return nullptr;
  if (now >= it->second.expires_at) {
    erase(it);
    return nullptr;
  }
  return &it->second.value;
}

void TenantTokenCache::Table::insert(std::string token_hash, std::string value, Clock::TimePoint now) {
  if (!enabled()) return;
  if (auto old = entries_.find(token_hash); old != entries_.end()) erase(old);
  // Entries share one TTL, so the oldest is the first to expire: drop expired ones from the front, then
  // the oldest while the table is full.
  while (!order_.empty()) {
    auto front = entries_.find(order_.front());
    if (entries_.size() < max_entries_ && now < front->second.expires_at) break;
    erase(front);
  }
  order_.push_back(token_hash);
  entries_.emplace(std::move(token_hash), Entry{std::move(value), now + ttl_, std::prev(order_.end())});
}

void TenantTokenCache::Table::erase(std::string_view token_hash) {
  if (auto it = entries_.find(std::string(token_hash)); it != entries_.end()) erase(it);
}

void TenantTokenCache::Table::erase_value(std::string_view value) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (it->second.value == value) erase(it);
    it = next;
  }
}

void TenantTokenCache::Table::erase(std::unordered_map<std::string, Entry>::iterator it) {
  order_.erase(it->second.order);
  entries_.erase(it);
}

}  // namespace tgpulse::store
