#include "loadgen/load_report.h"

#include <gtest/gtest.h>

namespace tgpulse::loadgen {
namespace {

LoadReport sample() {
  LoadReport r;
  r.duration_s = 10;
  r.target_rate = 20;
  r.sent = 200;
  r.answered = 199;
  r.ok = 180;
  r.flood_wait = 9;
  r.throttled = 6;
  r.errors = 4;
  r.transport_errors = 1;
  r.latency_s = Quantiles{0.002, 0.010, 0.050, 0.2, 0.004};
  return r;
}

TEST(LoadReport, JsonCarriesEveryFigure) {
  LoadReport r = sample();
  ServiceFigures f;
  f.requests_total = 190;
  f.floodwait_total = 19;
  f.rate_limit_hits_total = 30;
  f.throttle_delay_s = Quantiles{0, 0.1, 0.5, 0, 0};
  r.service = f;
  const auto j = r.to_json();
  EXPECT_EQ(j["sent"], 200);
  EXPECT_EQ(j["ok"], 180);
  EXPECT_EQ(j["flood_wait"], 9);
  EXPECT_EQ(j["throttled"], 6);
  EXPECT_EQ(j["errors"], 4);
  EXPECT_EQ(j["transport_errors"], 1);
  EXPECT_DOUBLE_EQ(j["goodput_rps"].get<double>(), 18.0);
  EXPECT_DOUBLE_EQ(j["latency_s"]["p99"].get<double>(), 0.050);
  EXPECT_DOUBLE_EQ(j["service"]["floodwait_ratio"].get<double>(), 0.1);
  EXPECT_DOUBLE_EQ(j["service"]["throttle_delay_s"]["p90"].get<double>(), 0.1);
  EXPECT_EQ(j["service"]["rate_limit_hits_total"], 30);
}

TEST(LoadReport, ServiceIsNullWithoutMetrics) {
  const auto j = sample().to_json();
  EXPECT_TRUE(j["service"].is_null());
  EXPECT_NE(sample().to_text().find("/metrics could not be read"), std::string::npos);
}

TEST(LoadReport, TextNamesGoodputAndQuantiles) {
  const std::string text = sample().to_text();
  EXPECT_NE(text.find("goodput       18.0 req/s"), std::string::npos) << text;
  EXPECT_NE(text.find("p99 50.0 ms"), std::string::npos) << text;
  EXPECT_NE(text.find("9 flood_wait (429)"), std::string::npos) << text;
}

TEST(ServiceFigures, RatioIsZeroWhenNothingWasSent) {
  ServiceFigures f;
  f.floodwait_total = 3;
  EXPECT_EQ(f.floodwait_ratio(), 0);
}

}  // namespace
}  // namespace tgpulse::loadgen
