#include "loadgen/sample_quantiles.h"

#include <gtest/gtest.h>

namespace tgpulse::loadgen {
namespace {

TEST(SampleQuantiles, NearestRank) {
  SampleQuantiles q;
  for (int v : {5, 1, 4, 2, 3, 10, 9, 8, 7, 6}) q.add(v);  // 1..10, unordered
  EXPECT_EQ(q.count(), 10u);
  EXPECT_EQ(q.quantile(0.5), 5);
  EXPECT_EQ(q.quantile(0.9), 9);
  EXPECT_EQ(q.quantile(0.99), 10);
  EXPECT_EQ(q.quantile(0.0), 1);
  EXPECT_EQ(q.quantile(1.0), 10);
  EXPECT_EQ(q.max(), 10);
  EXPECT_DOUBLE_EQ(q.mean(), 5.5);
}

TEST(SampleQuantiles, AddingAfterAQuantileStillCounts) {
  SampleQuantiles q;
  q.add(1);
  EXPECT_EQ(q.quantile(0.5), 1);
  q.add(100);
  q.add(50);
  EXPECT_EQ(q.quantile(0.5), 50);
  EXPECT_EQ(q.max(), 100);
}

TEST(SampleQuantiles, EmptyIsZero) {
  SampleQuantiles q;
  EXPECT_EQ(q.quantile(0.5), 0);
  EXPECT_EQ(q.max(), 0);
  EXPECT_EQ(q.mean(), 0);
}

}  // namespace
}  // namespace tgpulse::loadgen
