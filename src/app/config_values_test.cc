#include "app/config_values.h"

#include <gtest/gtest.h>

namespace tgpulse::app {
namespace {

using namespace std::chrono_literals;

TEST(DurationTest, AcceptsUnitsAndCompounds) {
  EXPECT_EQ(parse_duration("120s"), 120s);
  EXPECT_EQ(parse_duration("2m"), 2min);
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("1h30m"), 90min);
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("1d"), 24h);
  EXPECT_EQ(parse_duration("0"), 0ms);
  EXPECT_EQ(parse_duration("0s"), 0ms);
}

TEST(DurationTest, RejectsMissingOrUnknownUnitsAndSigns) {
  for (const char* bad : {"", "120", "s", "10x", "-5s", "+5s", "5 s", "1.2.3s", "ms", "5sec", "1e3s", "5S"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

TEST(DurationTest, FormatsTheShortestExactSpelling) {
  EXPECT_EQ(format_duration(120s), "2m");
  EXPECT_EQ(format_duration(90s), "1m30s");
  EXPECT_EQ(format_duration(500ms), "500ms");
  EXPECT_EQ(format_duration(1500ms), "1s500ms");
  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(25h), "25h");
  EXPECT_EQ(parse_duration(format_duration(3723004ms)), 3723004ms);
}

TEST(ByteSizeTest, AcceptsBinaryAndDecimalUnits) {
  EXPECT_EQ(parse_byte_size("1048576"), 1048576u);
  EXPECT_EQ(parse_byte_size("1MiB"), 1048576u);
  EXPECT_EQ(parse_byte_size("16kib"), 16384u);
  EXPECT_EQ(parse_byte_size("2GiB"), 2147483648u);
  EXPECT_EQ(parse_byte_size("1MB"), 1000000u);
  EXPECT_EQ(parse_byte_size("10B"), 10u);
  for (const char* bad : {"", "MiB", "1.5MiB", "-1", "1 MiB", "1TiB", "99999999999999999999", "18446744073709551615GiB"}) {
    EXPECT_FALSE(parse_byte_size(bad).has_value()) << bad;
  }
  EXPECT_EQ(format_byte_size(1048576), "1MiB");
  EXPECT_EQ(format_byte_size(1000), "1000");
}

TEST(HostPortTest, AcceptsIpLiteralsAndLocalhost) {
  auto a = parse_host_port("127.0.0.1:8080");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  auto b = parse_host_port("[::1]:0");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  auto c = parse_host_port("localhost:9");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->host, "127.0.0.1");
  EXPECT_TRUE(parse_host_port("0.0.0.0:65535").has_value());
}

TEST(HostPortTest, RejectsMalformedAddresses) {
  for (const char* bad : {"abc", "127.0.0.1", ":8080", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                          "127.0.0.1:80x", "example.com:80", "::1:80", "[::1]80", "[zz]:80", "1.2.3:80"}) {
    EXPECT_FALSE(parse_host_port(bad).has_value()) << bad;
  }
}

TEST(ScalarTest, IntsNumbersAndBools) {
  EXPECT_EQ(parse_int("42"), 42);
  EXPECT_FALSE(parse_int("4.2").has_value());
  EXPECT_FALSE(parse_int("").has_value());
  EXPECT_EQ(parse_number("0.5"), 0.5);
  EXPECT_FALSE(parse_number("nan").has_value());
  EXPECT_EQ(parse_bool("Yes"), true);
  EXPECT_EQ(parse_bool("off"), false);
  EXPECT_FALSE(parse_bool("maybe").has_value());
}

}  // namespace
}  // namespace tgpulse::app
