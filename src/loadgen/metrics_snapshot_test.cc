#include "loadgen/metrics_snapshot.h"

#include <gtest/gtest.h>

#include <cmath>

namespace tgpulse::loadgen {
namespace {

constexpr const char* kBefore = R"(# HELP telethon_requests_total Total requests
# TYPE telethon_requests_total counter
telethon_requests_total{method="getMe",status="success"} 10
telethon_requests_total{method="getChats",status="flood_wait"} 2
telethon_floodwait_total{reason="getChats",seconds="5"} 2
# TYPE telethon_throttling_delay_seconds histogram
telethon_throttling_delay_seconds_bucket{le="0.1"} 10
telethon_throttling_delay_seconds_bucket{le="1"} 12
telethon_throttling_delay_seconds_bucket{le="+Inf"} 12
telethon_throttling_delay_seconds_sum 1.5
telethon_throttling_delay_seconds_count 12
)";

constexpr const char* kAfter = R"(telethon_requests_total{method="getMe",status="success"} 110
telethon_requests_total{method="getChats",status="flood_wait"} 2
telethon_floodwait_total{reason="getChats",seconds="5"} 3 1700000000000
telethon_throttling_delay_seconds_bucket{le="0.1"} 60
telethon_throttling_delay_seconds_bucket{le="1"} 112
telethon_throttling_delay_seconds_bucket{le="+Inf"} 112
malformed line
)";

TEST(MetricsSnapshot, SumsACounterOverItsSeries) {
  const auto before = MetricsSnapshot::parse(kBefore);
  const auto after = MetricsSnapshot::parse(kAfter);
  EXPECT_EQ(before.sum("telethon_requests_total"), 12);
  EXPECT_EQ(after.sum("telethon_requests_total") - before.sum("telethon_requests_total"), 100);
  EXPECT_EQ(after.sum("telethon_floodwait_total"), 3);  // the timestamp is not the value
  EXPECT_EQ(after.sum("telethon_requests"), 0);         // exact names only
}

TEST(MetricsSnapshot, HistogramQuantileOfTheIncreaseInterpolatesInsideABucket) {
  const auto before = MetricsSnapshot::parse(kBefore).buckets("telethon_throttling_delay_seconds");
  const auto after = MetricsSnapshot::parse(kAfter).buckets("telethon_throttling_delay_seconds");
  ASSERT_EQ(after.size(), 3u);
  EXPECT_TRUE(std::isinf(after.rbegin()->first));
  // Increase: 50 in (0, 0.1], 50 in (0.1, 1]. The median is the top of the first bucket ...
  EXPECT_DOUBLE_EQ(MetricsSnapshot::histogram_quantile(0.5, before, after), 0.1);
  // ... and p90 is 80% of the way through the second: 0.1 + 0.9 × 0.8.
  EXPECT_NEAR(MetricsSnapshot::histogram_quantile(0.9, before, after), 0.82, 1e-9);
  EXPECT_EQ(MetricsSnapshot::histogram_quantile(0.5, after, after), 0);  // nothing observed
}

TEST(MetricsSnapshot, QuantileInTheInfBucketIsTheHighestFiniteBound) {
  const std::map<double, double> none;
  const std::map<double, double> after{{1, 1}, {INFINITY, 10}};
  EXPECT_EQ(MetricsSnapshot::histogram_quantile(0.99, none, after), 1);
}

}  // namespace
}  // namespace tgpulse::loadgen
