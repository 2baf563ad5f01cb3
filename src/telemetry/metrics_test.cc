#include "telemetry/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <thread>

#include "telemetry/exposition.h"
#include "telemetry/exposition_test_parser.h"
#include "telemetry/metrics_test_writers.h"

namespace tgpulse::telemetry {
namespace {

using ::testing::HasSubstr;
using testing::parse_exposition;
using testing::CounterAndHistogram;
using testing::WriterThreads;

// Expects `fn` to throw std::invalid_argument whose message names `offender`.
void expect_rejected(const std::function<void()>& fn, const std::string& offender) {
  try {
    fn();
    ADD_FAILURE() << "expected std::invalid_argument naming '" << offender << "'";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr(offender));
  }
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

SpanContext span(std::uint8_t trace_byte, std::uint8_t span_byte) {
  SpanContext ctx;
  ctx.trace_id.fill(trace_byte);
  ctx.span_id.fill(span_byte);
  ctx.flags = 1;
  return ctx;
}

TEST(RegistryValidation, RejectsBadMetricNames) {
  Registry r;
  expect_rejected([&] { r.gauge("1starts_with_digit", "h"); }, "1starts_with_digit");
  expect_rejected([&] { r.gauge("has-dash", "h"); }, "has-dash");
  expect_rejected([&] { r.gauge("has space", "h"); }, "has space");
  expect_rejected([&] { r.gauge("", "h"); }, "''");
  expect_rejected([&] { r.counter("requests", "h"); }, "requests");  // counters end in _total
  expect_rejected([&] { r.counter("_total", "h"); }, "_total");
  EXPECT_NO_THROW(r.gauge("ns:ok_name_1", "h"));
}

TEST(RegistryValidation, RejectsBadLabelNames) {
  Registry r;
  expect_rejected([&] { r.gauge("g1", "h", {"__reserved"}); }, "__reserved");
  expect_rejected([&] { r.gauge("g2", "h", {"9lives"}); }, "9lives");
  expect_rejected([&] { r.gauge("g3", "h", {"a:b"}); }, "a:b");
  expect_rejected([&] { r.gauge("g4", "h", {"dup", "dup"}); }, "dup");
  expect_rejected([&] { r.histogram("h1", "h", {1}, {"le"}); }, "le");
  EXPECT_NO_THROW(r.gauge("g5", "h", {"le"}));  // only histograms reserve "le"
}

TEST(RegistryValidation, RejectsBadBuckets) {
  Registry r;
  expect_rejected([&] { r.histogram("not_increasing", "h", {1, 1}); }, "not_increasing");
  expect_rejected([&] { r.histogram("decreasing", "h", {2, 1}); }, "decreasing");
  expect_rejected([&] { r.histogram("explicit_inf", "h", {1, HUGE_VAL}); }, "explicit_inf");
  expect_rejected([&] { r.histogram("nan_bound", "h", {std::nan("")}); }, "nan_bound");
  EXPECT_NO_THROW(r.histogram("only_inf", "h", {}));
}

TEST(RegistryValidation, SameRegistrationReturnsTheFamilyOtherwiseThrows) {
  Registry r;
  auto& a = r.counter("x_total", "help", {"l"});
  EXPECT_EQ(&a, &r.counter("x_total", "help", {"l"}));
  expect_rejected([&] { r.counter("x_total", "help", {"other"}); }, "x_total");
  expect_rejected([&] { r.counter("x_total", "other help", {"l"}); }, "x_total");
  expect_rejected([&] { r.gauge("x_total", "help", {"l"}); }, "x_total");
  auto& h = r.histogram("lat_seconds", "help", {1, 2});
  EXPECT_EQ(&h, &r.histogram("lat_seconds", "help", {1, 2}));
  expect_rejected([&] { r.histogram("lat_seconds", "help", {1, 3}); }, "lat_seconds");
}

TEST(RegistryValidation, RejectsNamesThatCollideOnTheWire) {
  Registry r;
  r.histogram("lat_seconds", "help", {1});
  expect_rejected([&] { r.gauge("lat_seconds_count", "help"); }, "lat_seconds_count");
  expect_rejected([&] { r.counter("lat_seconds_bucket_total", "h"); }, "lat_seconds_bucket_total");
  r.counter("jobs_total", "help");
  expect_rejected([&] { r.gauge("jobs", "help"); }, "jobs");  // OpenMetrics family name of jobs_total
  expect_rejected([&] { r.gauge("jobs_created", "help"); }, "jobs_created");
}

TEST(RegistryValidation, WrongNumberOfLabelValuesThrowsNamingTheMetric) {
  Registry r;
  auto& f = r.counter("pairs_total", "h", {"a", "b"});
  expect_rejected([&] { f.labels({"only-one"}); }, "pairs_total");
  expect_rejected([&] { f.labels(std::vector<std::string>{"1", "2", "3"}); }, "pairs_total");
  expect_rejected([&] { f.get(); }, "pairs_total");
}

TEST(Family, SameLabelValuesReturnTheSameChild) {
  Registry r;
  auto& f = r.counter("c_total", "h", {"a", "b"});
  Counter& one = f.labels({"x", "y"});
  EXPECT_EQ(&one, &f.labels(std::vector<std::string>{"x", "y"}));
  EXPECT_NE(&one, &f.labels({"x", "z"}));
  // Values that only differ once escaped are different children.
  EXPECT_NE(&f.labels({"a\"", "b"}), &f.labels({"a", "\"b"}));
}

TEST(Counter, CountsWholeAndFractionalIncrementsAndIgnoresNegatives) {
  Registry r;
  Counter& c = r.counter("c_total", "h").get();
  c.inc();
  c.inc(2);
  c.inc(0.25);
  c.inc(-5);
  c.inc(std::nan(""));
  EXPECT_DOUBLE_EQ(c.value(), 3.25);
}

TEST(Gauge, SetIncDec) {
  Registry r;
  Gauge& g = r.gauge("g", "h").get();
  g.set(10);
  g.inc();
  g.dec(2.5);
  EXPECT_DOUBLE_EQ(g.value(), 8.5);
  g.set(-3);
  EXPECT_DOUBLE_EQ(g.value(), -3);
}

TEST(Concurrency, CounterIncrementsFromManyThreadsSumExactly) {
  Registry r;
  Counter& c = r.counter("c_total", "h").get();
  Gauge& g = r.gauge("g", "h").get();
  constexpr int kThreads = 6;  // more threads than shards
  constexpr int kPerThread = 200000;
  WriterThreads(kThreads, kPerThread, [&](int i) {
    c.inc();
    if (i % 4 == 0) c.inc(0.5);
    g.inc();
  }).join();
  EXPECT_EQ(c.value(), kThreads * (kPerThread + kPerThread / 4 * 0.5));
  EXPECT_EQ(g.value(), kThreads * kPerThread);
}

TEST(Concurrency, HistogramObservationsFromManyThreadsAreAllCounted) {
  Registry r;
  Histogram& h = r.histogram("h_seconds", "h", {1, 2}).get();
  constexpr int kThreads = 6;
  constexpr int kPerThread = 100000;
  WriterThreads writers(kThreads, kPerThread, [&](int i) { h.observe(i % 2 == 0 ? 0.5 : 1.5); });
  // Scrape while writers run: every snapshot must be internally consistent.
  for (int i = 0; i < 20; ++i) {
    auto parsed = parse_exposition(r.expose(ExpositionFormat::prometheus_text_004));
    EXPECT_EQ(parsed.value("h_seconds_bucket", {{"le", "+Inf"}}), parsed.value("h_seconds_count"));
    EXPECT_LE(*parsed.value("h_seconds_bucket", {{"le", "1"}}), *parsed.value("h_seconds_bucket", {{"le", "2"}}));
  }
  writers.join();
  EXPECT_EQ(h.count(), static_cast<std::uint64_t>(kThreads) * kPerThread);
  EXPECT_EQ(h.sum(), kThreads * kPerThread / 2 * (0.5 + 1.5));
}

TEST(Concurrency, ExemplarsAreNeverTornWhileScraped) {
  CounterAndHistogram m("ex");
  constexpr int kThreads = 3;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread's trace and span ids repeat one byte; a torn copy would mix two threads' bytes.
      const SpanContext ctx = span(static_cast<std::uint8_t>(0x11 * (t + 1)), static_cast<std::uint8_t>(0x11 * (t + 1)));
      for (int i = 0; i < kPerThread; ++i) {
        m.counter.inc(1, ctx);
        m.histogram.observe(0.5 + t, ctx);
      }
    });
  }
  auto check = [](const std::string& exemplar) {
    if (exemplar.empty()) return;
    const std::string trace = exemplar.substr(exemplar.find("trace_id=\"") + 10, 32);
    const std::string span_id = exemplar.substr(exemplar.find("span_id=\"") + 9, 16);
    EXPECT_EQ(trace, std::string(32, trace[0])) << exemplar;
    EXPECT_EQ(span_id, std::string(16, trace[0])) << exemplar;
  };
  for (int i = 0; i < 50; ++i) {
    auto p = parse_exposition(m.registry.expose(ExpositionFormat::openmetrics_100));
    for (const auto& s : p.samples) check(s.exemplar);
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(m.counter.value(), kThreads * kPerThread);
  EXPECT_EQ(m.histogram.count(), static_cast<std::uint64_t>(kThreads) * kPerThread);
  auto last = parse_exposition(m.registry.expose(ExpositionFormat::openmetrics_100));
  ASSERT_NE(last.find("ex_total"), nullptr);
  EXPECT_NE(last.find("ex_total")->exemplar, "");
  check(last.find("ex_total")->exemplar);
}

TEST(Histogram, BucketsAreCumulativeAndUpperBoundsInclusive) {
  Registry r;
  Histogram& h = r.histogram("d_seconds", "Duration", {0.5, 1, 2.5}).get();
  for (double v : {0.1, 0.5, 0.75, 1.0, 2.0, 3.0, 100.0}) h.observe(v);
  EXPECT_EQ(h.count(), 7u);
  EXPECT_DOUBLE_EQ(h.sum(), 107.35);
  auto p = parse_exposition(r.expose(ExpositionFormat::prometheus_text_004));
  EXPECT_EQ(p.type["d_seconds"], "histogram");
  EXPECT_EQ(p.value("d_seconds_bucket", {{"le", "0.5"}}), 2);
  EXPECT_EQ(p.value("d_seconds_bucket", {{"le", "1"}}), 4);
  EXPECT_EQ(p.value("d_seconds_bucket", {{"le", "2.5"}}), 5);
  EXPECT_EQ(p.value("d_seconds_bucket", {{"le", "+Inf"}}), 7);
  EXPECT_EQ(p.value("d_seconds_count"), 7);
  EXPECT_DOUBLE_EQ(*p.value("d_seconds_sum"), 107.35);
}

TEST(Histogram, ManyBucketsUseTheSameInclusiveRule) {
  Registry r;
  std::vector<double> bounds;
  for (int i = 1; i <= 40; ++i) bounds.push_back(i);
  Histogram& h = r.histogram("wide", "h", bounds).get();
  h.observe(17);
  h.observe(17.5);
  h.observe(std::nan(""));
  auto p = parse_exposition(r.expose(ExpositionFormat::prometheus_text_004));
  EXPECT_EQ(p.value("wide_bucket", {{"le", "16"}}), 0);
  EXPECT_EQ(p.value("wide_bucket", {{"le", "17"}}), 1);
  EXPECT_EQ(p.value("wide_bucket", {{"le", "18"}}), 2);
  EXPECT_EQ(p.value("wide_bucket", {{"le", "40"}}), 2);
  EXPECT_EQ(p.value("wide_bucket", {{"le", "+Inf"}}), 3);  // NaN lands in +Inf only
}

TEST(Histogram, EveryBucketCountAgreesWithTheInclusiveRuleWhateverTheNumberOfBounds) {
  // Every count modulo 4 (the scan pads to fours), the last scanned count and the first searched one.
  for (int n : {0, 1, 2, 3, 4, 5, 6, 7, 31, 32, 33}) {
    Registry r;
    std::vector<double> bounds;
    for (int i = 0; i < n; ++i) bounds.push_back(0.5 * i - 3);
    Histogram& h = r.histogram("b" + std::to_string(n), "h", bounds).get();
    std::vector<double> values = {-HUGE_VAL, HUGE_VAL, std::nan(""), -1e300, 1e300};
    for (int i = -10; i < 2 * n + 10; ++i) values.push_back(0.25 * i - 3);
    for (double v : values) h.observe(v);
    auto p = parse_exposition(r.expose(ExpositionFormat::prometheus_text_004));
    for (std::size_t k = 0; k <= bounds.size(); ++k) {
      std::size_t expected = 0;  // values v <= bound (all but NaN for +Inf)
      for (double v : values) expected += k == bounds.size() ? 1 : (v <= bounds[k] ? 1 : 0);
      std::string le = k == bounds.size() ? "+Inf" : ExpositionWriter::le_value(bounds[k], ExpositionFormat::prometheus_text_004);
      EXPECT_EQ(p.value("b" + std::to_string(n) + "_bucket", {{"le", le}}), static_cast<double>(expected))
          << n << " bounds, le=" << le;
    }
  }
}

TEST(TextFormat, ParsesBackWithHelpTypeAndValues) {
  Registry r;
  r.counter("jobs_total", "Jobs done", {"queue"}).labels({"mail"}).inc(3);
  r.gauge("temperature", "Current temperature").get().set(-2.5);
  r.gauge("inf_gauge", "h").get().set(HUGE_VAL);
  r.gauge("nan_gauge", "h").get().set(std::nan(""));
  const std::string text = r.expose(ExpositionFormat::prometheus_text_004);
  auto p = parse_exposition(text);
  EXPECT_FALSE(p.eof);
  EXPECT_EQ(p.help["jobs_total"], "Jobs done");
  EXPECT_EQ(p.type["jobs_total"], "counter");
  EXPECT_EQ(p.type["temperature"], "gauge");
  EXPECT_EQ(p.value("jobs_total", {{"queue", "mail"}}), 3);
  EXPECT_EQ(p.value("temperature"), -2.5);
  EXPECT_EQ(p.value("inf_gauge"), HUGE_VAL);
  EXPECT_TRUE(std::isnan(*p.value("nan_gauge")));
  EXPECT_THAT(text, HasSubstr("inf_gauge +Inf\n"));
  EXPECT_THAT(text, HasSubstr("nan_gauge NaN\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("_created")));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("# EOF")));
}

TEST(TextFormat, EscapesHelpAndLabelValues) {
  Registry r;
  r.gauge("esc", "a \\ backslash, a \"quote\"\nand a newline", {"v"}).labels({"q\"b\\n\nl"}).set(1);
  const std::string text = r.expose(ExpositionFormat::prometheus_text_004);
  // 0.0.4: HELP escapes backslash and newline only; label values also escape the double quote.
  EXPECT_THAT(text, HasSubstr("# HELP esc a \\\\ backslash, a \"quote\"\\nand a newline\n"));
  EXPECT_THAT(text, HasSubstr("esc{v=\"q\\\"b\\\\n\\nl\"} 1\n"));
  auto p = parse_exposition(text);
  EXPECT_EQ(p.value("esc", {{"v", "q\"b\\n\nl"}}), 1);
}

TEST(OpenMetrics, CounterFamilyCreatedAndEof) {
  Registry r;
  const double before = std::floor(unix_now() * 1000) / 1000;
  r.counter("jobs_total", "Jobs \"done\"", {"queue"}).labels({"mail"}).inc(2);
  const double after = unix_now();
  const std::string text = r.expose(ExpositionFormat::openmetrics_100);
  EXPECT_TRUE(text.ends_with("# EOF\n"));
  auto p = parse_exposition(text);
  EXPECT_TRUE(p.eof);
  EXPECT_EQ(p.type["jobs"], "counter");
  EXPECT_EQ(p.type.count("jobs_total"), 0u);
  EXPECT_EQ(p.help["jobs"], "Jobs \"done\"");
  EXPECT_THAT(text, HasSubstr("# HELP jobs Jobs \\\"done\\\"\n"));  // OpenMetrics escapes quotes in HELP
  EXPECT_LT(text.find("# TYPE jobs"), text.find("# HELP jobs"));
  EXPECT_EQ(p.value("jobs_total", {{"queue", "mail"}}), 2);
  const auto created = p.value("jobs_created", {{"queue", "mail"}});
  ASSERT_TRUE(created.has_value());
  EXPECT_GE(*created, before);
  EXPECT_LE(*created, after);
}

TEST(OpenMetrics, HistogramCanonicalLeAndCreatedGaugesWithout) {
  Registry r;
  r.histogram("d_seconds", "h", {0.25, 1, 10, 1e6}).get().observe(0.3);
  r.gauge("g", "h").get().set(4);
  const std::string text = r.expose(ExpositionFormat::openmetrics_100);
  auto p = parse_exposition(text);
  EXPECT_EQ(p.value("d_seconds_bucket", {{"le", "0.25"}}), 0);
  EXPECT_EQ(p.value("d_seconds_bucket", {{"le", "1.0"}}), 1);
  EXPECT_EQ(p.value("d_seconds_bucket", {{"le", "10.0"}}), 1);
  EXPECT_EQ(p.value("d_seconds_bucket", {{"le", "1e+06"}}), 1);
  EXPECT_EQ(p.value("d_seconds_bucket", {{"le", "+Inf"}}), 1);
  EXPECT_EQ(p.value("d_seconds_count"), 1);
  EXPECT_TRUE(p.value("d_seconds_created").has_value());
  EXPECT_EQ(p.value("g"), 4);
  EXPECT_FALSE(p.value("g_created").has_value());
}

TEST(OpenMetrics, CounterExemplarCarriesTraceAndSpanIdValueAndTimestamp) {
  Registry r;
  Counter& c = r.counter("req_total", "h").get();
  c.inc(1, span(0xab, 0x01));
  const double before = unix_now() - 1;
  c.inc(2, span(0x0f, 0xcd));  // the latest one is kept
  auto p = parse_exposition(r.expose(ExpositionFormat::openmetrics_100));
  const auto* total = p.find("req_total");
  ASSERT_NE(total, nullptr);
  EXPECT_EQ(total->value, 3);
  const std::string expected_prefix =
      "{trace_id=\"0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f\",span_id=\"cdcdcdcdcdcdcdcd\"} 2 ";
  ASSERT_THAT(total->exemplar, ::testing::StartsWith(expected_prefix));
  const double ts = std::stod(total->exemplar.substr(expected_prefix.size()));
  EXPECT_GE(ts, before);
  EXPECT_LE(ts, unix_now());
  EXPECT_EQ(p.find("req_created")->exemplar, "");
  // The text format has no exemplars.
  EXPECT_THAT(r.expose(ExpositionFormat::prometheus_text_004), ::testing::Not(HasSubstr("trace_id")));
}

TEST(OpenMetrics, HistogramExemplarSitsOnTheBucketItsValueFallsIn) {
  Registry r;
  Histogram& h = r.histogram("d_seconds", "h", {1, 5, 10}).get();
  h.observe(0.5);
  h.observe(4.2, span(0x11, 0x22));
  auto p = parse_exposition(r.expose(ExpositionFormat::openmetrics_100));
  EXPECT_EQ(p.find("d_seconds_bucket", {{"le", "1.0"}})->exemplar, "");
  EXPECT_THAT(p.find("d_seconds_bucket", {{"le", "5.0"}})->exemplar,
              ::testing::StartsWith("{trace_id=\"11111111111111111111111111111111\",span_id=\"2222222222222222\"} 4.2 "));
  EXPECT_EQ(p.find("d_seconds_bucket", {{"le", "10.0"}})->exemplar, "");
  EXPECT_EQ(p.find("d_seconds_bucket", {{"le", "+Inf"}})->exemplar, "");
  EXPECT_EQ(p.find("d_seconds_count")->exemplar, "");
}

TEST(OpenMetrics, InvalidSpanContextRecordsNoExemplar) {
  Registry r;
  Counter& c = r.counter("req_total", "h").get();
  c.inc(1, SpanContext{});
  EXPECT_EQ(c.value(), 1);
  EXPECT_THAT(r.expose(ExpositionFormat::openmetrics_100), ::testing::Not(HasSubstr("trace_id")));
}

TEST(Negotiation, PicksOpenMetricsOnlyWhenAskedFor) {
  std::string ct;
  EXPECT_EQ(Registry::negotiate("", &ct), ExpositionFormat::prometheus_text_004);
  EXPECT_EQ(ct, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(Registry::negotiate("text/plain", &ct), ExpositionFormat::prometheus_text_004);
  EXPECT_EQ(Registry::negotiate("*/*", &ct), ExpositionFormat::prometheus_text_004);
  // What Prometheus 2.x sends.
  EXPECT_EQ(Registry::negotiate("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                                "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                                &ct),
            ExpositionFormat::openmetrics_100);
  EXPECT_EQ(ct, "application/openmetrics-text; version=1.0.0; charset=utf-8");
  EXPECT_EQ(Registry::negotiate("Application/OpenMetrics-Text", &ct), ExpositionFormat::openmetrics_100);
  EXPECT_EQ(Registry::negotiate("application/openmetrics-text; q=0", &ct), ExpositionFormat::prometheus_text_004);
  EXPECT_EQ(ct, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(Registry::negotiate("text/plain;q=0.9, application/openmetrics-text;q=0.5", nullptr),
            ExpositionFormat::prometheus_text_004);
  EXPECT_EQ(Registry::negotiate("text/plain;q=0.5, application/openmetrics-text;q=0.9", nullptr),
            ExpositionFormat::openmetrics_100);
  EXPECT_EQ(Registry::negotiate("application/openmetrics-text;version=9.9.9", nullptr),
            ExpositionFormat::prometheus_text_004);
  EXPECT_EQ(Registry::negotiate("application/json", nullptr), ExpositionFormat::prometheus_text_004);
}

TEST(CollectHooks, RunAtTheStartOfEveryExposition) {
  Registry r;
  Gauge& dropped = r.gauge("dropped_lines", "h").get();
  int calls = 0;
  r.add_collect_hook([&] { dropped.set(++calls * 10); });
  auto p1 = parse_exposition(r.expose(ExpositionFormat::prometheus_text_004));
  EXPECT_EQ(p1.value("dropped_lines"), 10);
  auto p2 = parse_exposition(r.expose(ExpositionFormat::openmetrics_100));
  EXPECT_EQ(p2.value("dropped_lines"), 20);
  EXPECT_THROW(r.add_collect_hook(nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace tgpulse::telemetry
