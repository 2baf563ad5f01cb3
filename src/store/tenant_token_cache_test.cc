#include "store/tenant_token_cache.h"

#include <gtest/gtest.h>

#include "store/tenant_tokens.h"

namespace tgpulse::store {
namespace {

using namespace std::chrono_literals;

StoreAccessOptions cache_options(std::size_t entries, std::chrono::milliseconds ttl,
                                 std::chrono::milliseconds unknown_ttl = 30s) {
  StoreAccessOptions o;
  o.token_cache_entries = entries;
  o.token_cache_ttl = ttl;
  o.unknown_token_ttl = unknown_ttl;
  return o;
}

TEST(TenantTokenCacheTest, AnEntryAnswersUntilItsTtlThenTheStoreIsAskedAgain) {
  FakeClock clock;
  TenantTokenCache cache(cache_options(10, 10s), clock);
  const std::string h = TenantTokens::hash_token("tgp_acme");
  EXPECT_FALSE(cache.find(h));
  cache.store(h, "acme", cache.generation());
  EXPECT_EQ(cache.find(h), std::optional<std::string>("acme"));
  clock.advance(9s);
  EXPECT_EQ(cache.find(h), std::optional<std::string>("acme"));
  clock.advance(1s);  // a token deleted on another node stops working here after the TTL
  EXPECT_FALSE(cache.find(h));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(TenantTokenCacheTest, ForgettingATenantDropsItsTokensAtOnce) {
  FakeClock clock;
  TenantTokenCache cache(cache_options(10, 10s), clock);
  cache.store("h1", "acme", cache.generation());
  cache.store("h2", "acme", cache.generation());
  cache.store("h3", "other", cache.generation());
  cache.forget_tenant("acme");
  EXPECT_FALSE(cache.find("h1"));
  EXPECT_FALSE(cache.find("h2"));
  EXPECT_EQ(cache.find("h3"), std::optional<std::string>("other"));
}

TEST(TenantTokenCacheTest, AnAnswerReadBeforeATenantWasForgottenIsNotCached) {
  FakeClock clock;
  TenantTokenCache cache(cache_options(10, 10s), clock);
  const std::uint64_t seen = cache.generation();  // a lookup starts, asks the store...
  cache.forget_tenant("acme");                     // ...the tenant is deleted meanwhile...
  cache.store("h1", "acme", seen);                 // ...and the store's (stale) answer comes back
  EXPECT_FALSE(cache.find("h1"));
}

TEST(TenantTokenCacheTest, AFullCacheDropsTheOldestEntry) {
  FakeClock clock;
  TenantTokenCache cache(cache_options(3, 10s), clock);
  for (std::string h : {"h1", "h2", "h3", "h4"}) {
    cache.store(h, "t_" + h, cache.generation());
    clock.advance(1ms);
  }
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.find("h1"));
  EXPECT_TRUE(cache.find("h2"));
  EXPECT_TRUE(cache.find("h4"));
}

TEST(TenantTokenCacheTest, ATtlOfZeroTurnsTheCacheOff) {
  FakeClock clock;
  TenantTokenCache cache(cache_options(10, 0ms), clock);
  cache.store("h1", "acme", cache.generation());
  EXPECT_FALSE(cache.find("h1"));
}

// Unknown tokens: remembered for unknown_token_ttl, apart from the known ones.
TEST(TenantTokenCacheTest, AnUnknownTokenIsRememberedForItsTtl) {
  FakeClock clock;
  TenantTokenCache cache(cache_options(10, 10s, 30s), clock);
  EXPECT_FALSE(cache.known_unknown("bad"));
  cache.store_unknown("bad", cache.unknown_generation());
  EXPECT_TRUE(cache.known_unknown("bad"));
  EXPECT_FALSE(cache.find("bad"));  // never an answer for the known side
  clock.advance(30s);
  EXPECT_FALSE(cache.known_unknown("bad"));
  EXPECT_EQ(cache.unknown_size(), 0u);
}

// The attacker's view: a flood of distinct unknown tokens fills only the unknown table (bounded), and
// never pushes a tenant's entry out of the known one.
TEST(TenantTokenCacheTest, AFloodOfUnknownTokensNeverEvictsATenantsEntry) {
  FakeClock clock;
  TenantTokenCache cache(cache_options(100, 10s), clock);
  cache.store("h_acme", "acme", cache.generation());
  for (int i = 0; i < 10'000; ++i) cache.store_unknown("bad" + std::to_string(i), cache.unknown_generation());
  EXPECT_EQ(cache.unknown_size(), 100u);  // bounded by token_cache_entries
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find("h_acme"), std::optional<std::string>("acme"));
  EXPECT_TRUE(cache.known_unknown("bad9999"));  // the newest stay, the oldest went
  EXPECT_FALSE(cache.known_unknown("bad0"));
}

// A tenant created with a token that was tried before: known at once, and a lookup that was already
// on its way with "unknown" cannot bring the refusal back.
TEST(TenantTokenCacheTest, CreatingATenantForgetsItsTokenAsUnknown) {
  FakeClock clock;
  TenantTokenCache cache(cache_options(10, 10s), clock);
  cache.store_unknown("h_new", cache.unknown_generation());
  const std::uint64_t seen = cache.unknown_generation();  // a second lookup starts...
  cache.forget_unknown("h_new");                          // ...the tenant is created...
  EXPECT_FALSE(cache.known_unknown("h_new"));
  cache.store_unknown("h_new", seen);                     // ...the stale "unknown" comes back
  EXPECT_FALSE(cache.known_unknown("h_new"));
}

TEST(TenantTokenCacheTest, AnUnknownTtlOfZeroTurnsTheUnknownTableOff) {
  FakeClock clock;
  TenantTokenCache cache(cache_options(10, 10s, 0ms), clock);
  cache.store_unknown("bad", cache.unknown_generation());
  EXPECT_FALSE(cache.known_unknown("bad"));
}

}  // namespace
}  // namespace tgpulse::store
