#include "telemetry/exposition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace tgpulse::telemetry {
namespace {

std::string go(double v) {
  std::string s;
  ExpositionWriter::append_go_float(s, v);
  return s;
}

std::string number(double v) {
  std::string s;
  ExpositionWriter::append_number(s, v);
  return s;
}

// Expected strings are Go's strconv.FormatFloat(v, 'g', -1, 64), the rendering Prometheus clients use.
TEST(ExpositionNumbers, GoShortestRendering) {
  EXPECT_EQ(go(0), "0");
  EXPECT_EQ(go(0.1), "0.1");
  EXPECT_EQ(go(0.25), "0.25");
  EXPECT_EQ(go(0.0001), "0.0001");
  EXPECT_EQ(go(0.00001), "1e-05");
  EXPECT_EQ(go(1.89e-7), "1.89e-07");
  EXPECT_EQ(go(100000), "100000");
  EXPECT_EQ(go(1e6), "1e+06");
  EXPECT_EQ(go(1234567), "1.234567e+06");
  EXPECT_EQ(go(1.1e23), "1.1e+23");
  EXPECT_EQ(go(-2.5), "-2.5");
  EXPECT_EQ(go(8903.123421), "8903.123421");
  EXPECT_EQ(go(HUGE_VAL), "+Inf");
  EXPECT_EQ(go(-HUGE_VAL), "-Inf");
  EXPECT_EQ(go(std::nan("")), "NaN");
}

TEST(ExpositionNumbers, WholeNumbersAsIntegers) {
  EXPECT_EQ(number(0), "0");
  EXPECT_EQ(number(17), "17");
  EXPECT_EQ(number(-3), "-3");
  EXPECT_EQ(number(1e6), "1000000");
  EXPECT_EQ(number(0.5), "0.5");
  EXPECT_EQ(number(1e300), "1e+300");
}

// The OpenMetrics spec's canonical examples for "le" values.
TEST(ExpositionNumbers, CanonicalLeValues) {
  const auto om = ExpositionFormat::openmetrics_100;
  const auto text = ExpositionFormat::prometheus_text_004;
  for (auto [v, s] : std::initializer_list<std::pair<double, const char*>>{
           {0.0, "0.0"}, {0.001, "0.001"}, {0.01, "0.01"}, {0.9, "0.9"}, {0.95, "0.95"}, {0.999, "0.999"},
           {1.0, "1.0"}, {1.7, "1.7"}, {10.0, "10.0"}, {1e-10, "1e-10"}, {1e-9, "1e-09"}, {1e-5, "1e-05"},
           {0.0001, "0.0001"}, {100000.0, "100000.0"}, {1e6, "1e+06"}, {1e10, "1e+10"}}) {
    EXPECT_EQ(ExpositionWriter::le_value(v, om), s) << v;
  }
  EXPECT_EQ(ExpositionWriter::le_value(3, text), "3");
  EXPECT_EQ(ExpositionWriter::le_value(0.05, text), "0.05");
  EXPECT_EQ(ExpositionWriter::le_value(1e6, text), "1e+06");
}

TEST(ExpositionEscaping, LabelValuesAndHelp) {
  std::string label;
  ExpositionWriter::append_label_value(label, "a\\b\"c\nd");
  EXPECT_EQ(label, "a\\\\b\\\"c\\nd");
  std::string help;
  ExpositionWriter::append_help_text(help, "a\\b\"c\nd");
  EXPECT_EQ(help, "a\\\\b\"c\\nd");
}

TEST(ExpositionWriter, TimestampsHaveMilliseconds) {
  std::string out;
  ExpositionWriter w(out, ExpositionFormat::openmetrics_100);
  w.timestamp(1520430000.123);
  out.push_back(' ');
  w.timestamp(1520430000.0);
  out.push_back(' ');
  w.timestamp(1520430000.05);
  EXPECT_EQ(out, "1520430000.123 1520430000.000 1520430000.050");
}

TEST(ExpositionWriter, CounterFamilyNameDropsTotal) {
  EXPECT_EQ(ExpositionWriter::counter_family_name("telethon_floodwait_total"), "telethon_floodwait");
  EXPECT_EQ(ExpositionWriter::counter_family_name("plain"), "plain");
}

}  // namespace
}  // namespace tgpulse::telemetry
