#include "telemetry/telethon_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <unistd.h>

#include "telemetry/exposition_test_parser.h"

namespace tgpulse::telemetry {
namespace {

using ::testing::HasSubstr;
using testing::parse_exposition;
using Labels = std::map<std::string, std::string>;

// The seed's families: name -> (help, type, label names). Written out here, not taken from the code.
struct Expected {
  std::string help;
  std::string type;
  std::set<std::string> labels;
};
const std::map<std::string, Expected>& seed_catalog() {
  static const std::map<std::string, Expected> kCatalog = {
      {"telethon_floodwait_total", {"Total FloodWait events", "counter", {"reason", "seconds"}}},
      {"telethon_floodwait_duration_seconds", {"FloodWait wait duration", "histogram", {"reason"}}},
      {"telethon_session_cleanup_total", {"Total session cleanup operations", "counter", {"status"}}},
      {"telethon_session_cleanup_duration_seconds", {"Session cleanup duration", "histogram", {}}},
      {"telethon_qr_session_total", {"Total QR sessions", "counter", {"status"}}},
      {"telethon_qr_timeout_total", {"QR session timeouts", "counter", {}}},
      {"telethon_rate_limit_hits_total", {"Rate limit hits", "counter", {"endpoint"}}},
      {"telethon_throttling_delay_seconds", {"Request throttling delay", "histogram", {}}},
      {"telethon_requests_total", {"Total requests sent to Telegram", "counter", {"method", "status"}}},
  };
  return kCatalog;
}

std::string family_of(const std::string& sample, const testing::ParsedExposition& p) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (sample.ends_with(s)) {
      const std::string base = sample.substr(0, sample.size() - s.size());
      if (p.type.count(base) != 0 && p.type.at(base) == "histogram") return base;
    }
  }
  return sample;
}

TEST(TelethonMetrics, SeedNamesHelpTypesAndLabelsVerbatim) {
  Registry r;
  TelethonMetrics m(r);
  auto p = parse_exposition(r.expose(ExpositionFormat::prometheus_text_004));
  for (const auto& [name, e] : seed_catalog()) {
    SCOPED_TRACE(name);
    EXPECT_EQ(p.help[name], e.help);
    EXPECT_EQ(p.type[name], e.type);
  }
  EXPECT_EQ(p.help.size(), seed_catalog().size());
  std::set<std::string> seen;
  for (const auto& s : p.samples) {
    const std::string family = family_of(s.name, p);
    ASSERT_EQ(seed_catalog().count(family), 1u) << s.name;
    seen.insert(family);
    std::set<std::string> names;
    for (const auto& [k, v] : s.labels) {
      if (k != "le") names.insert(k);
    }
    EXPECT_EQ(names, seed_catalog().at(family).labels) << s.name;
  }
  EXPECT_EQ(seen.size(), seed_catalog().size());  // every family has pre-created series
}

TEST(TelethonMetrics, KnownLabelValuesArePreCreatedAtZero) {
  Registry r;
  TelethonMetrics m(r);
  auto p = parse_exposition(r.expose(ExpositionFormat::prometheus_text_004));
  for (const char* status : {"success", "failed"}) {
    EXPECT_EQ(p.value("telethon_session_cleanup_total", {{"status", status}}), 0) << status;
  }
  for (const char* status : {"created", "expired", "authorized", "failed", "cancelled", "declined", "interrupted"}) {
    EXPECT_EQ(p.value("telethon_qr_session_total", {{"status", status}}), 0) << status;
  }
  EXPECT_EQ(p.value("telethon_qr_timeout_total"), 0);
  EXPECT_EQ(p.value("telethon_session_cleanup_duration_seconds_count"), 0);
  EXPECT_EQ(p.value("telethon_throttling_delay_seconds_count"), 0);
  for (const char* method : {"getChats", "sendMessage", "logOut", "other", "engine"}) {
    SCOPED_TRACE(method);
    for (const char* status : {"success", "failed", "flood_wait"}) {
      EXPECT_EQ(p.value("telethon_requests_total", {{"method", method}, {"status", status}}), 0);
    }
    EXPECT_EQ(p.value("telethon_rate_limit_hits_total", {{"endpoint", method}}), 0);
    for (const char* seconds : {"1", "5", "15", "30", "60", "300", "900", "3600", "+Inf"}) {
      EXPECT_EQ(p.value("telethon_floodwait_total", {{"reason", method}, {"seconds", seconds}}), 0) << seconds;
    }
    EXPECT_EQ(p.value("telethon_floodwait_duration_seconds_count", {{"reason", method}}), 0);
  }
}

TEST(TelethonMetrics, CleanupBucketsIncludeExactlyThreeAndFiveSeconds) {
  Registry r;
  TelethonMetrics m(r);
  m.session_cleanup_duration.observe(3.0);
  m.session_cleanup_duration.observe(4.0);
  m.session_cleanup_duration.observe(5.0);
  auto p = parse_exposition(r.expose(ExpositionFormat::prometheus_text_004));
  EXPECT_EQ(p.value("telethon_session_cleanup_duration_seconds_bucket", {{"le", "2"}}), 0);
  EXPECT_EQ(p.value("telethon_session_cleanup_duration_seconds_bucket", {{"le", "3"}}), 1);
  EXPECT_EQ(p.value("telethon_session_cleanup_duration_seconds_bucket", {{"le", "5"}}), 3);
  auto om = parse_exposition(r.expose(ExpositionFormat::openmetrics_100));
  EXPECT_EQ(om.value("telethon_session_cleanup_duration_seconds_bucket", {{"le", "3.0"}}), 1);
  EXPECT_EQ(om.value("telethon_session_cleanup_duration_seconds_bucket", {{"le", "5.0"}}), 3);
}

TEST(TelethonMetrics, FloodWaitBucketLabel) {
  EXPECT_EQ(floodwait_bucket_label(0), "1");  // FLOOD_WAIT_0 counts as 1 s
  EXPECT_EQ(floodwait_bucket_label(1), "1");
  EXPECT_EQ(floodwait_bucket_label(1.5), "5");
  EXPECT_EQ(floodwait_bucket_label(5), "5");
  EXPECT_EQ(floodwait_bucket_label(15), "15");
  EXPECT_EQ(floodwait_bucket_label(29), "30");
  EXPECT_EQ(floodwait_bucket_label(60), "60");
  EXPECT_EQ(floodwait_bucket_label(61), "300");
  EXPECT_EQ(floodwait_bucket_label(900), "900");
  EXPECT_EQ(floodwait_bucket_label(3600), "3600");
  EXPECT_EQ(floodwait_bucket_label(4000), "+Inf");
}

TEST(TelethonMetrics, MethodLookupKnownOtherAndEngine) {
  Registry r;
  TelethonMetrics m(r);
  EXPECT_EQ(m.method("getChats").name, "getChats");
  EXPECT_EQ(m.method(std::string_view("sendMessage")).name, "sendMessage");
  EXPECT_EQ(m.method("someNewFunction").name, "other");
  EXPECT_EQ(&m.method("someNewFunction"), &m.method("anotherOne"));
  EXPECT_EQ(m.engine().name, "engine");
  m.method("getChats").requests_success->inc();
  m.method("someNewFunction").requests_failed->inc();
  m.method("getChats").rate_limit_hits->inc();
  auto p = parse_exposition(r.expose(ExpositionFormat::prometheus_text_004));
  EXPECT_EQ(p.value("telethon_requests_total", {{"method", "getChats"}, {"status", "success"}}), 1);
  EXPECT_EQ(p.value("telethon_requests_total", {{"method", "other"}, {"status", "failed"}}), 1);
  EXPECT_EQ(p.value("telethon_rate_limit_hits_total", {{"endpoint", "getChats"}}), 1);
}

// A valid span context: trace 5a5a..., span 3c3c..., sampled or not.
SpanContext span_context(bool sampled) {
  SpanContext ctx;
  ctx.trace_id.fill(0x5a);
  ctx.span_id.fill(0x3c);
  ctx.flags = sampled ? 0x01 : 0x00;
  return ctx;
}

TEST(TelethonMetrics, FloodWaitCountsBucketLabelObservesServedWaitAndKeepsExemplar) {
  Registry r;
  TelethonMetrics m(r);
  const SpanContext ctx = span_context(true);
  m.floodwait(m.method("getChats"), 42, 42, &ctx);
  m.floodwait(m.method("getChats"), 400, -1);  // failed fast: counted, not observed
  m.floodwait(m.engine(), 0, 1);
  auto p = parse_exposition(r.expose(ExpositionFormat::openmetrics_100));
  const auto* at60 = p.find("telethon_floodwait_total", {{"reason", "getChats"}, {"seconds", "60"}});
  ASSERT_NE(at60, nullptr);
  EXPECT_EQ(at60->value, 1);
  EXPECT_THAT(at60->exemplar, HasSubstr("trace_id=\"5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a\""));
  EXPECT_EQ(p.value("telethon_floodwait_total", {{"reason", "getChats"}, {"seconds", "300"}}), 0);
  EXPECT_EQ(p.value("telethon_floodwait_total", {{"reason", "getChats"}, {"seconds", "900"}}), 1);
  EXPECT_EQ(p.value("telethon_floodwait_total", {{"reason", "engine"}, {"seconds", "1"}}), 1);
  EXPECT_EQ(p.value("telethon_floodwait_duration_seconds_count", {{"reason", "getChats"}}), 1);
  EXPECT_EQ(p.value("telethon_floodwait_duration_seconds_sum", {{"reason", "getChats"}}), 42);
  EXPECT_THAT(p.find("telethon_floodwait_duration_seconds_bucket", {{"reason", "getChats"}, {"le", "60.0"}})->exemplar,
              HasSubstr("span_id=\"3c3c3c3c3c3c3c3c\"} 42 "));
  EXPECT_EQ(p.value("telethon_floodwait_duration_seconds_count", {{"reason", "engine"}}), 1);
}

// An exemplar points at a trace; an unsampled span's trace was never recorded, so it makes none.
TEST(TelethonMetrics, FloodWaitOfAnUnsampledSpanHasNoExemplar) {
  Registry r;
  TelethonMetrics m(r);
  const SpanContext unsampled = span_context(false);
  ASSERT_TRUE(unsampled.valid());
  m.floodwait(m.method("getChats"), 42, 42, &unsampled);
  auto p = parse_exposition(r.expose(ExpositionFormat::openmetrics_100));
  EXPECT_EQ(p.value("telethon_floodwait_total", {{"reason", "getChats"}, {"seconds", "60"}}), 1);
  EXPECT_EQ(p.find("telethon_floodwait_total", {{"reason", "getChats"}, {"seconds", "60"}})->exemplar, "");
  EXPECT_EQ(p.find("telethon_floodwait_duration_seconds_bucket", {{"reason", "getChats"}, {"le", "60.0"}})->exemplar, "");
}

TEST(TelethonMetrics, NamespaceIsConfigurableAndValidated) {
  Registry r;
  CatalogOptions options;
  options.ns = "acme";
  options.known_methods = {"getMe"};
  TelethonMetrics m(r, options);
  m.qr_created.inc();
  auto p = parse_exposition(r.expose(ExpositionFormat::prometheus_text_004));
  EXPECT_EQ(p.value("acme_qr_session_total", {{"status", "created"}}), 1);
  EXPECT_EQ(p.help["acme_floodwait_total"], "Total FloodWait events");
  EXPECT_EQ(p.type.count("telethon_qr_session_total"), 0u);

  for (const char* bad : {"", "9lives", "has-dash", "a:b"}) {
    Registry fresh;
    CatalogOptions o;
    o.ns = bad;
    try {
      TelethonMetrics t(fresh, o);
      ADD_FAILURE() << "namespace '" << bad << "' accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_THAT(e.what(), HasSubstr("'" + std::string(bad) + "'"));
    }
  }
  for (const char* reserved : {"other", "engine", ""}) {
    Registry fresh;
    CatalogOptions o;
    o.known_methods = {"getMe", reserved};
    EXPECT_THROW(TelethonMetrics(fresh, o), std::invalid_argument) << reserved;
  }
  Registry fresh;
  CatalogOptions dup;
  dup.known_methods = {"getMe", "getMe"};
  EXPECT_THROW(TelethonMetrics(fresh, dup), std::invalid_argument);
}

TEST(TelethonMetrics, RegisteringTwiceOnOneRegistrySharesTheSeries) {
  Registry r;
  TelethonMetrics a(r);
  TelethonMetrics b(r);
  EXPECT_EQ(&a.qr_timeout, &b.qr_timeout);
  EXPECT_EQ(a.method("getChats").requests_success, b.method("getChats").requests_success);
}

// The real promtool (Debian's prometheus package) must accept the text exposition of the whole catalog.
TEST(TelethonMetrics, PromtoolCheckMetricsAcceptsTheCatalog) {
  const char* promtool = "/usr/bin/promtool";
  ASSERT_EQ(access(promtool, X_OK), 0) << promtool << " is missing (Debian package 'prometheus')";
  Registry r;
  TelethonMetrics m(r);
  m.method("getChats").requests_success->inc(3);
  m.floodwait(m.method("sendMessage"), 12, 12);
  m.session_cleanup_duration.observe(0.7);
  m.throttling_delay.observe(0.02);
  r.gauge("telethon_escaping_example", "A series with \"quotes\", a \\ and a\nnewline", {"v"})
      .labels({"x\"y\\z\nw"})
      .set(1.5);

  char path[] = "/tmp/tgpulse-promtool-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream out(path);
    out << r.expose(ExpositionFormat::prometheus_text_004);
  }
  const std::string command = std::string(promtool) + " check metrics < " + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) output += buf;
  const int status = pclose(pipe);
  std::remove(path);
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << output;
}

}  // namespace
}  // namespace tgpulse::telemetry
