#include "core/error.h"

#include <gtest/gtest.h>

#include "core/clock.h"
#include "core/result.h"

namespace tgpulse {
namespace {

TEST(ErrorTest, CodesHaveStableNamesAndCategory) {
  std::error_code ec = Errc::flood_wait;
  EXPECT_EQ(ec.category().name(), std::string("tgpulse"));
  EXPECT_EQ(ec.message(), "flood_wait");
  EXPECT_STREQ(errc_name(Errc::not_found), "not_found");
}

TEST(ErrorTest, FloodCarriesRetryAfter) {
  Error e = Error::flood(42, "getChats");
  EXPECT_EQ(e.code, Errc::flood_wait);
  EXPECT_EQ(e.retry_after_s, 42);
  EXPECT_EQ(e.td_code, 429);
  EXPECT_EQ(e.to_string(), "flood_wait: getChats");
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> ok = 7;
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 7);
  Result<int> bad(Errc::not_found, "no session s1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::not_found);
  Status s;
  EXPECT_TRUE(s.ok());
  Status f = Error(Errc::timeout, "deadline");
  EXPECT_FALSE(f.ok());
}

TEST(FakeClockTest, MovesOnlyWhenAdvanced) {
  FakeClock c;
  auto t0 = c.now();
  EXPECT_EQ(c.now(), t0);
  c.advance(std::chrono::seconds(3));
  EXPECT_EQ(c.now() - t0, std::chrono::seconds(3));
}

}  // namespace
}  // namespace tgpulse
