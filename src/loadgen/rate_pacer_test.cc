#include "loadgen/rate_pacer.h"

#include <gtest/gtest.h>

namespace tgpulse::loadgen {
namespace {

using namespace std::chrono_literals;

TEST(RatePacer, SpacesRequestsEvenlyAtTheRate) {
  const Clock::TimePoint start{1s};
  RatePacer p(4, start, 0, 10s);
  EXPECT_EQ(p.due(0), start);
  EXPECT_EQ(p.due(1), start + 250ms);
  EXPECT_EQ(p.due(8), start + 2s);
}

TEST(RatePacer, DurationEndsTheRun) {
  const Clock::TimePoint start{1s};
  RatePacer p(10, start, 0, 2s);
  EXPECT_TRUE(p.includes(19));   // due at 1.9 s
  EXPECT_FALSE(p.includes(20));  // due at 2.0 s: after the end
}

TEST(RatePacer, CountEndsTheRunAndWhicheverComesFirstWins) {
  const Clock::TimePoint start{1s};
  RatePacer by_count(100, start, 5, 0s);
  EXPECT_TRUE(by_count.includes(4));
  EXPECT_FALSE(by_count.includes(5));
  RatePacer both(1, start, 100, 3s);
  EXPECT_TRUE(both.includes(2));
  EXPECT_FALSE(both.includes(3));
  RatePacer neither(1, start, 0, 0s);
  EXPECT_FALSE(neither.includes(0));
}

TEST(RatePacer, DueByCountsWhatShouldHaveLeft) {
  const Clock::TimePoint start{1s};
  RatePacer p(10, start, 25, 0s);
  EXPECT_EQ(p.due_by(start - 1ms), 0u);
  EXPECT_EQ(p.due_by(start), 1u);
  EXPECT_EQ(p.due_by(start + 1s), 11u);
  EXPECT_EQ(p.due_by(start + 1h), 25u);
}

}  // namespace
}  // namespace tgpulse::loadgen
