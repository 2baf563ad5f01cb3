#include "throttle/flood_ledger.h"

#include <gtest/gtest.h>

#include <chrono>

namespace tgpulse::throttle {
namespace {

using namespace std::chrono_literals;

TEST(FloodLedger, BlocksThatMethodOnThatSessionUntilTheTime) {
  FakeClock clock;
  FloodLedger ledger(clock);
  const auto until = clock.now() + 30s;
  ledger.record("s1", "getChats", until);
  EXPECT_EQ(ledger.blocked_until("s1", "getChats"), until);
  EXPECT_FALSE(ledger.blocked_until("s1", "getMe"));      // another method
  EXPECT_FALSE(ledger.blocked_until("s2", "getChats"));   // another session
  clock.advance(29s);
  EXPECT_EQ(ledger.blocked_until("s1", "getChats"), until);
  clock.advance(1s);
  EXPECT_FALSE(ledger.blocked_until("s1", "getChats"));
  EXPECT_EQ(ledger.size(), 0u);  // removed when found expired
}

TEST(FloodLedger, AnEarlierTimeNeverShortensARunningBlock) {
  FakeClock clock;
  FloodLedger ledger(clock);
  ledger.record("s", "m", clock.now() + 60s);
  ledger.record("s", "m", clock.now() + 5s);
  EXPECT_EQ(ledger.blocked_until("s", "m"), clock.now() + 60s);
  ledger.record("s", "m", clock.now() + 90s);
  EXPECT_EQ(ledger.blocked_until("s", "m"), clock.now() + 90s);
}

TEST(FloodLedger, SessionIdsThatArePrefixesDoNotCollide) {
  FakeClock clock;
  FloodLedger ledger(clock);
  ledger.record("s1", "getChats", clock.now() + 10s);
  ledger.record("s10", "getChats", clock.now() + 10s);
  ledger.forget_session("s1");
  EXPECT_FALSE(ledger.blocked_until("s1", "getChats"));
  EXPECT_TRUE(ledger.blocked_until("s10", "getChats"));
}

TEST(FloodLedger, SweepRemovesOnlyExpiredEntries) {
  FakeClock clock;
  FloodLedger ledger(clock);
  ledger.record("a", "m", clock.now() + 1s);
  ledger.record("b", "m", clock.now() + 10s);
  clock.advance(2s);
  EXPECT_EQ(ledger.sweep(), 1u);
  EXPECT_EQ(ledger.size(), 1u);
  EXPECT_TRUE(ledger.blocked_until("b", "m"));
}

TEST(FloodLedger, ExpiredEntriesAreDroppedOnTheirOwnAsTheLedgerGrows) {
  FakeClock clock;
  FloodLedger ledger(clock);
  for (int i = 0; i < 10000; ++i) {
    ledger.record("s" + std::to_string(i), "m", clock.now() + 1s);
    clock.advance(2s);  // every block has ended before the next one is recorded
  }
  EXPECT_LE(ledger.size(), 1024u);
}

}  // namespace
}  // namespace tgpulse::throttle
