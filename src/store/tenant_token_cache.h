// TenantTokenCache: which tenant a bearer token belongs to, remembered for a short time so a request
// does not ask the store (a pool job, a lock, a round trip) every time.
//
// - Keyed by the token's hash (TenantTokens::hash_token), never by the token: the cache holds nothing
//   a memory dump could replay.
// - Bounded by count (StoreAccessOptions::token_cache_entries): inserting into a full cache drops the
//   entries that expired, then the oldest.
// - Every entry expires token_cache_ttl after it was stored, so a token deleted or rotated elsewhere
//   (another node, the `tgpulse` CLI) stops working here within that time.
// - forget_tenant() drops a tenant's entries at once (tenant deleted or token rotated in this process).
//   A lookup that was already asking the store when forget_tenant() ran cannot put its (now stale)
//   answer back: store() takes the generation() read before the lookup and ignores a stale one.
// - Only hits are cached; an unknown token always reaches the store.
//
// Thread-safety: thread-safe (one mutex held for a hash-map operation, never across I/O).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.h"
#include "store/store_access_options.h"

namespace tgpulse::store {

class TenantTokenCache {
 public:
  TenantTokenCache(const StoreAccessOptions& options, const Clock& clock);

  // The tenant of the token whose hash this is, while its entry is fresh.
  std::optional<std::string> find(std::string_view token_hash);
  // Read before asking the store; passed to store() with the answer.
  std::uint64_t generation() const;
  // Remembers token_hash → tenant_id, unless forget_tenant() ran since `seen_generation` was read or
  // the cache is off (ttl or entries 0).
  void store(std::string token_hash, std::string tenant_id, std::uint64_t seen_generation);
  // Drops every entry of the tenant.
  void forget_tenant(std::string_view tenant_id);

  std::size_t size() const;

 private:
  struct Entry {
    std::string tenant_id;
    Clock::TimePoint expires_at;
    std::list<std::string>::iterator order;  // its place in order_
  };
  void erase_locked(std::unordered_map<std::string, Entry>::iterator it);

  const std::size_t max_entries_;
  const std::chrono::milliseconds ttl_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // by token hash; guarded by mu_
  std::list<std::string> order_;                    // hashes, oldest first (= expiring first); guarded by mu_
  std::uint64_t generation_ = 0;                    // bumped by forget_tenant(); guarded by mu_
};

}  // namespace tgpulse::store
