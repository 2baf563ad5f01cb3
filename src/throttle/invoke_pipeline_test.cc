#include "throttle/invoke_pipeline.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <deque>

#include "telemetry/log_memory_sink.h"
#include "telemetry/span_memory_exporter.h"

namespace tgpulse::throttle {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Answers from a script (the last answer repeats) and records what was sent.
struct FakeSender {
  std::deque<Result<json>> answers;
  std::vector<json> sent;
  std::vector<std::chrono::milliseconds> timeouts;

  Sender sender() {
    return [this](json request, std::chrono::milliseconds timeout) -> asio::awaitable<Result<json>> {
      sent.push_back(std::move(request));
      timeouts.push_back(timeout);
      Result<json> r = answers.front();
      if (answers.size() > 1) answers.pop_front();
      co_return r;
    };
  }
};

Result<json> ok_answer() { return json{{"@type", "chats"}, {"total_count", 0}}; }
Result<json> flood(int seconds) { return Error::flood(seconds, "Too Many Requests: retry after " + std::to_string(seconds)); }

ThrottleOptions roomy() {
  ThrottleOptions o;
  o.session = LayerOptions{BucketLimit{1000, 100}, {}};
  o.process = LayerOptions{BucketLimit{0, 1}, {}};
  o.tenant = LayerOptions{BucketLimit{1000, 100}, {}};
  return o;
}

class InvokePipelineTest : public ::testing::Test {
 protected:
  explicit InvokePipelineTest(ThrottleOptions options = roomy())
      : throttle_(options, SystemClock::instance(), metrics_, registry_, telemetry::CatalogOptions{}.known_methods),
        pipeline_(throttle_, ledger_, options.flood, metrics_, logger_) {}

  Result<json> invoke(FakeSender& fake, json function, Clock::Duration budget = 10s,
                      FloodMode mode = FloodMode::wait, const std::string& session = "sess-1") {
    std::optional<Result<json>> out;
    asio::co_spawn(io_, [&]() -> asio::awaitable<void> {
      telemetry::Span span = tracer_.start_span("telethon_invoke");
      InvokeCall call{"tenant-a", session, std::move(function), SystemClock::instance().now() + budget, mode};
      Sender sender = fake.sender();
      out.emplace(co_await pipeline_.invoke(std::move(call), std::move(sender), span));
    }, asio::detached);
    io_.restart();
    io_.run();
    return std::move(*out);
  }

  std::vector<json> log_lines() {
    logger_.flush();
    std::vector<json> out;
    for (const auto& l : lines_->snapshot()) out.push_back(json::parse(l));
    return out;
  }
  std::vector<telemetry::SpanData> spans() {
    tracer_.force_flush(5s);
    return spans_->snapshot();
  }
  const telemetry::MethodMetrics& m(std::string_view method) { return metrics_.method(method); }
  double floodwaits(std::string_view method, std::size_t bucket) { return m(method).floodwait_by_bucket[bucket]->value(); }

  telemetry::Registry registry_;
  telemetry::TelethonMetrics metrics_{registry_};
  std::shared_ptr<telemetry::LogMemorySink::Lines> lines_ = std::make_shared<telemetry::LogMemorySink::Lines>();
  telemetry::Logger logger_{telemetry::LoggerOptions{}, std::make_unique<telemetry::LogMemorySink>(lines_)};
  std::shared_ptr<telemetry::SpanMemoryExporter::Spans> spans_ = std::make_shared<telemetry::SpanMemoryExporter::Spans>();
  telemetry::Tracer tracer_{telemetry::TracerOptions{}, std::make_unique<telemetry::SpanMemoryExporter>(spans_)};
  FloodLedger ledger_{SystemClock::instance()};
  Throttle throttle_;
  InvokePipeline pipeline_;
  asio::io_context io_;
};

const json kGetChats = {{"@type", "getChats"}, {"limit", 20}};

TEST_F(InvokePipelineTest, SuccessReturnsTheAnswerAndObservesTheThrottleDelay) {
  FakeSender fake{{ok_answer()}};
  Result<json> r = invoke(fake, kGetChats, 3s);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ((*r)["@type"], "chats");
  ASSERT_EQ(fake.sent.size(), 1u);
  EXPECT_EQ(fake.sent[0], kGetChats);
  EXPECT_LE(fake.timeouts[0], 3000ms);
  EXPECT_GT(fake.timeouts[0], 2500ms);
  EXPECT_EQ(metrics_.throttling_delay.count(), 1u);
  EXPECT_EQ(floodwaits("getChats", 0), 0);
}

TEST_F(InvokePipelineTest, FloodWaitWithinTheThresholdIsSleptThenRetriedAndReported) {
  FakeSender fake{{flood(1), ok_answer()}};
  const auto t0 = SteadyClock::now();
  Result<json> r = invoke(fake, kGetChats);
  const auto elapsed = SteadyClock::now() - t0;
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(fake.sent.size(), 2u);
  EXPECT_GE(elapsed, 990ms);
  EXPECT_LT(elapsed, 2s);
  // Metrics: one event in the "1" bucket, the wait Telegram asked for observed.
  EXPECT_EQ(floodwaits("getChats", 0), 1);
  EXPECT_EQ(m("getChats").floodwait_duration->count(), 1u);
  EXPECT_EQ(m("getChats").floodwait_duration->sum(), 1.0);
  // The seed's log line, with the seed's fields plus session and trace ids.
  std::vector<json> lines = log_lines();
  ASSERT_EQ(lines.size(), 1u);
  const json& line = lines[0];
  EXPECT_EQ(line["message"], "FloodWait detected");
  EXPECT_EQ(line["log.level"], "warn");
  EXPECT_EQ(line["seconds"], 1);
  EXPECT_EQ(line["delay"], 1.0);
  EXPECT_EQ(line["tenant_id"], "tenant-a");
  EXPECT_EQ(line["operation"], "invoke");
  EXPECT_EQ(line["td.method"], "getChats");
  EXPECT_EQ(line["session_id"], "sess-1");
  ASSERT_TRUE(line.contains("trace.id"));
  // The span: the attribute and a "floodwait" event, in the same trace as the log line.
  std::vector<telemetry::SpanData> s = spans();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].context.trace_id_hex(), line["trace.id"]);
  bool has_attr = false;
  for (const auto& a : s[0].attributes) {
    if (a.key == "telethon.floodwait_seconds") has_attr = std::get<std::int64_t>(a.value) == 1;
  }
  EXPECT_TRUE(has_attr);
  ASSERT_EQ(s[0].events.size(), 1u);
  EXPECT_EQ(s[0].events[0].name, "floodwait");
}

TEST_F(InvokePipelineTest, FloodWaitZeroCountsAsOneSecond) {
  FakeSender fake{{flood(0), ok_answer()}};
  const auto t0 = SteadyClock::now();
  ASSERT_TRUE(invoke(fake, kGetChats).ok());
  EXPECT_GE(SteadyClock::now() - t0, 990ms);
  EXPECT_EQ(floodwaits("getChats", 0), 1);  // seconds="1"
  EXPECT_EQ(log_lines().at(0)["seconds"], 1);
}

TEST_F(InvokePipelineTest, FloodWaitBeyondTheThresholdFailsFastAndTheLedgerBlocksTheNextCall) {
  FakeSender fake{{flood(120)}};
  const auto t0 = SteadyClock::now();
  Result<json> r = invoke(fake, kGetChats);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::flood_wait);
  EXPECT_EQ(r.error().retry_after_s, 120);
  EXPECT_EQ(fake.sent.size(), 1u);
  EXPECT_EQ(floodwaits("getChats", 5), 1);  // seconds="300"
  // The wait Telegram asked for is observed although the call failed fast.
  EXPECT_EQ(m("getChats").floodwait_duration->count(), 1u);
  EXPECT_EQ(m("getChats").floodwait_duration->sum(), 120.0);
  EXPECT_EQ(log_lines().at(0)["delay"], 0.0);

  // A second call of the method on the session is not sent: it fails fast with the time left.
  Result<json> second = invoke(fake, kGetChats);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, Errc::flood_wait);
  EXPECT_GE(second.error().retry_after_s, 119);
  EXPECT_LE(second.error().retry_after_s, 120);
  EXPECT_EQ(fake.sent.size(), 1u);
  EXPECT_EQ(m("getChats").rate_limit_hits->value(), 1);
  EXPECT_EQ(floodwaits("getChats", 5), 1);  // no new FloodWait: Telegram was not asked
  EXPECT_LT(SteadyClock::now() - t0, 1s);

  // Another method, or another session, is not blocked.
  fake.answers = {ok_answer()};
  EXPECT_TRUE(invoke(fake, json{{"@type", "getMe"}}).ok());
  EXPECT_TRUE(invoke(fake, kGetChats, 10s, FloodMode::wait, "sess-2").ok());
}

TEST_F(InvokePipelineTest, SecondCallWaitsForTheLedgerThenGoes) {
  FakeSender fake{{flood(1), ok_answer()}};
  ASSERT_FALSE(invoke(fake, kGetChats, 10s, FloodMode::fail_fast).ok());  // records a 1 s block
  const auto t0 = SteadyClock::now();
  Result<json> r = invoke(fake, kGetChats, 10s, FloodMode::wait);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_GE(SteadyClock::now() - t0, 900ms);
  EXPECT_EQ(fake.sent.size(), 2u);  // the waiting call was sent once, after the block
  EXPECT_EQ(m("getChats").rate_limit_hits->value(), 1);
}

TEST_F(InvokePipelineTest, FailFastModeNeverSleeps) {
  FakeSender fake{{flood(1), ok_answer()}};
  const auto t0 = SteadyClock::now();
  Result<json> r = invoke(fake, kGetChats, 10s, FloodMode::fail_fast);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().retry_after_s, 1);
  EXPECT_LT(SteadyClock::now() - t0, 500ms);
}

TEST_F(InvokePipelineTest, AFloodWaitLongerThanTheDeadlineFailsFast) {
  FakeSender fake{{flood(5), ok_answer()}};
  const auto t0 = SteadyClock::now();
  Result<json> r = invoke(fake, kGetChats, 2s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::flood_wait);
  EXPECT_EQ(r.error().retry_after_s, 5);
  EXPECT_LT(SteadyClock::now() - t0, 500ms);
}

TEST_F(InvokePipelineTest, FloodWaitSlowsTheSessionBucketAndSuccessRecoversIt) {
  FakeSender fake{{flood(1), ok_answer()}};
  ASSERT_TRUE(invoke(fake, kGetChats).ok());
  // Halved by the FloodWait (1000 → 500), then one recovery step (+5% of 1000) for the success.
  EXPECT_DOUBLE_EQ(throttle_.layers().current_rate("sess-1", "getChats"), 550);
}

TEST_F(InvokePipelineTest, OtherErrorsPassThroughUntouched) {
  FakeSender fake{{Result<json>(Error(Errc::engine_error, "Chat not found"))}};
  Result<json> r = invoke(fake, kGetChats);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::engine_error);
  EXPECT_EQ(fake.sent.size(), 1u);
  EXPECT_TRUE(log_lines().empty());
}

TEST_F(InvokePipelineTest, AFunctionWithoutTypeIsRejectedBeforeAnything) {
  FakeSender fake{{ok_answer()}};
  Result<json> r = invoke(fake, json{{"limit", 20}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_TRUE(fake.sent.empty());
}

class InvokePipelineRetriesTest : public InvokePipelineTest {
 protected:
  static ThrottleOptions one_retry() {
    ThrottleOptions o = roomy();
    o.flood.request_retries = 1;
    return o;
  }
  InvokePipelineRetriesTest() : InvokePipelineTest(one_retry()) {}
};

TEST_F(InvokePipelineRetriesTest, RetriesStopAtRequestRetries) {
  FakeSender fake{{flood(1)}};
  Result<json> r = invoke(fake, kGetChats);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::flood_wait);
  EXPECT_EQ(fake.sent.size(), 2u);  // the first send and one retry
  EXPECT_EQ(floodwaits("getChats", 0), 2);
  EXPECT_EQ(m("getChats").floodwait_duration->count(), 2u);  // both waits Telegram asked for
}

class InvokePipelineQuotaTest : public InvokePipelineTest {
 protected:
  static ThrottleOptions tight() {
    ThrottleOptions o = roomy();
    o.tenant = LayerOptions{BucketLimit{0, 1}, {{"getChats", {0.5, 1}}}};
    o.session = LayerOptions{BucketLimit{1, 1}, {{"getChats", {1000, 100}}}};
    return o;
  }
  InvokePipelineQuotaTest() : InvokePipelineTest(tight()) {}
};

TEST_F(InvokePipelineQuotaTest, TenantQuotaRefusesWithoutSending) {
  FakeSender fake{{ok_answer()}};
  ASSERT_TRUE(invoke(fake, kGetChats).ok());
  Result<json> r = invoke(fake, kGetChats);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::throttled);
  EXPECT_EQ(r.error().retry_after_s, 2);
  EXPECT_EQ(fake.sent.size(), 1u);
}

TEST_F(InvokePipelineQuotaTest, ThrottleWaitPastTheDeadlineIsRefusedWithoutSending) {
  FakeSender fake{{ok_answer()}};
  const json get_me = {{"@type", "getMe"}};
  ASSERT_TRUE(invoke(fake, get_me).ok());
  Result<json> r = invoke(fake, get_me, 100ms);  // 1/s: the next token is 1 s away
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::throttled);
  EXPECT_EQ(r.error().retry_after_s, 1);
  EXPECT_EQ(fake.sent.size(), 1u);
  EXPECT_EQ(m("getMe").rate_limit_hits->value(), 1);
  const auto t0 = SteadyClock::now();
  EXPECT_TRUE(invoke(fake, get_me, 2s).ok());  // within the deadline: waits for its token
  EXPECT_GE(SteadyClock::now() - t0, 800ms);
  EXPECT_EQ(m("getMe").rate_limit_hits->value(), 2);
}

}  // namespace
}  // namespace tgpulse::throttle
