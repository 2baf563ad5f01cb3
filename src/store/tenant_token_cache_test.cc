#include "store/tenant_token_cache.h"

#include <gtest/gtest.h>

#include "store/tenant_tokens.h"

namespace tgpulse::store {
namespace {

using namespace std::chrono_literals;

StoreAccessOptions cache_options(std::size_t entries, std::chrono::milliseconds ttl) {
  StoreAccessOptions o;
  o.token_cache_entries = entries;
  o.token_cache_ttl = ttl;
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

}  // namespace
}  // namespace tgpulse::store
