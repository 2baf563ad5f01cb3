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
// - Unknown tokens are remembered too, apart from the known ones (their own table, bounded by the same
//   token_cache_entries, expiring after unknown_token_ttl): a token repeated by a misconfigured client
//   or an attacker costs one store lookup per TTL, not one per request, and a flood of unknown tokens
//   can only push out other unknown tokens — never a tenant's entry. forget_unknown() drops one at
//   once when a tenant is created with that token; unknown_generation() guards that drop as
//   generation() guards forget_tenant(). (Distinct random tokens miss this table every time: the
//   AuthFailureLimiter in front of the store bounds those per client.)
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

  // Whether the store said, within unknown_token_ttl, that no tenant has the token whose hash this is.
  bool known_unknown(std::string_view token_hash);
  // Read before asking the store; passed to store_unknown() with an `unauthorized` answer.
  std::uint64_t unknown_generation() const;
  // Remembers that no tenant has the token, unless forget_unknown() ran since `seen_generation` was
  // read or the table is off (unknown_token_ttl or token_cache_entries 0).
  void store_unknown(std::string token_hash, std::uint64_t seen_generation);
  // A tenant was created with this token hash: it is not unknown any more.
  void forget_unknown(std::string_view token_hash);

  std::size_t size() const;
  std::size_t unknown_size() const;

 private:
  // Token hash → value, each entry expiring `ttl` after it was stored, at most `max_entries`; the
  // oldest (= the first to expire, as all share one TTL) goes first. Guarded by the cache's mu_.
  class Table {
   public:
    Table(std::size_t max_entries, std::chrono::milliseconds ttl) : max_entries_(max_entries), ttl_(ttl) {}
    bool enabled() const { return max_entries_ > 0 && ttl_.count() > 0; }
    // The fresh entry's value, or null (an expired entry is dropped).
    const std::string* find(std::string_view token_hash, Clock::TimePoint now);
    void insert(std::string token_hash, std::string value, Clock::TimePoint now);
    void erase(std::string_view token_hash);
    // Drops every entry whose value is `value`.
    void erase_value(std::string_view value);
    std::size_t size() const { return entries_.size(); }

   private:
    struct Entry {
      std::string value;
      Clock::TimePoint expires_at;
      std::list<std::string>::iterator order;  // its place in order_
    };
    void erase(std::unordered_map<std::string, Entry>::iterator it);

    const std::size_t max_entries_;
    const std::chrono::milliseconds ttl_;
    std::unordered_map<std::string, Entry> entries_;  // by token hash
    std::list<std::string> order_;                    // hashes, oldest first
  };

  const Clock& clock_;
  mutable std::mutex mu_;
  Table known_;                           // hash → tenant id; guarded by mu_
  Table unknown_;                         // hashes no tenant has (value ""); guarded by mu_
  std::uint64_t generation_ = 0;          // bumped by forget_tenant(); guarded by mu_
  std::uint64_t unknown_generation_ = 0;  // bumped by forget_unknown(); guarded by mu_
};

}  // namespace tgpulse::store
