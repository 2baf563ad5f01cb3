// Throttle benchmarks (Google Benchmark). See docs/PERFORMANCE.md for the figures.
#include <benchmark/benchmark.h>

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>
#include <vector>

#include "telemetry/log_memory_sink.h"
#include "throttle/flood_ledger.h"
#include "throttle/invoke_pipeline.h"
#include "throttle/throttle.h"
#include "throttle/throttle_layers.h"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using tgpulse::SystemClock;
using namespace tgpulse::throttle;

ThrottleOptions never_waits() {
  ThrottleOptions o;
  o.session = LayerOptions{BucketLimit{1e9, 1e9}, {}};
  o.process = LayerOptions{BucketLimit{1e9, 1e9}, {}};
  o.tenant = LayerOptions{BucketLimit{1e9, 1e9}, {}};
  return o;
}

std::vector<std::string> ids(const char* prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

// One reservation in the session and process layers (no wait), over `range(0)` sessions.
void BM_ReserveCall(benchmark::State& state) {
  ThrottleLayers layers(never_waits(), SystemClock::instance());
  const auto sessions = ids("session-", static_cast<int>(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    Grant g = layers.reserve_call(sessions[i++ % sessions.size()], "getChats", 1s);
    benchmark::DoNotOptimize(g);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReserveCall)->Arg(1)->Arg(10000);

// What a scrape costs the throttle: the summary behind tgpulse_throttle_rate / _slowed_sessions /
// _buckets, over range(0) sessions with 3 methods each (one in ten slowed). It holds the throttle's
// lock for this long.
void BM_SummarizeForScrape(benchmark::State& state) {
  // 1 call/s with a burst of 5: a bucket that gave a token is not full, so no sweep drops it.
  ThrottleOptions o = never_waits();
  o.session = LayerOptions{BucketLimit{1, 5}, {}};
  ThrottleLayers layers(o, SystemClock::instance());
  const auto sessions = ids("session-", static_cast<int>(state.range(0)));
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    for (const char* m : {"getChats", "getMe", "sendMessage"}) layers.reserve_call(sessions[i], m, 1s);
    if (i % 10 == 0) layers.on_flood_wait(sessions[i], "getChats");
  }
  std::size_t buckets = 0;
  for (auto _ : state) {
    auto summary = layers.summarize();
    buckets = summary.session_buckets;
    benchmark::DoNotOptimize(summary);
  }
  state.counters["session_buckets"] = static_cast<double>(buckets);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(buckets));
}
BENCHMARK(BM_SummarizeForScrape)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

void BM_FloodLedgerLookup(benchmark::State& state) {
  FloodLedger ledger(SystemClock::instance());
  const auto sessions = ids("session-", 10000);
  for (std::size_t i = 0; i < sessions.size(); i += 10) ledger.record(sessions[i], "getChats", SystemClock::instance().now() + 1h);
  std::size_t i = 0;
  for (auto _ : state) {
    auto blocked = ledger.blocked_until(sessions[i++ % sessions.size()], "getChats");
    benchmark::DoNotOptimize(blocked);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FloodLedgerLookup);

struct Telemetry {
  tgpulse::telemetry::Registry registry;
  tgpulse::telemetry::TelethonMetrics metrics{registry};
};

// 10,000 calls of one session wait in the throttle at once (10,000/s, burst 1: the last waits ~1 s)
// on one thread, while a 1 ms ticker measures how late it runs — what a /healthz handler on the same
// io_context would see. Counters: max_tick_lag_ms, peak_waiting.
void BM_TenThousandWaiting(benchmark::State& state) {
  constexpr int kCalls = 10000;
  Telemetry t;
  ThrottleOptions o = never_waits();
  o.session = LayerOptions{BucketLimit{10000, 1}, {}};
  double max_lag_ms = 0;
  int peak_waiting = 0;
  for (auto _ : state) {
    Throttle throttle(o, SystemClock::instance(), t.metrics, t.registry, {});
    asio::io_context io;
    int waiting = 0;
    int done = 0;
    for (int i = 0; i < kCalls; ++i) {
      asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        ++waiting;
        peak_waiting = std::max(peak_waiting, waiting);
        std::string session = "s";
        std::string method = "getChats";
        tgpulse::Status s = co_await throttle.acquire(session, method, SystemClock::instance().now() + 10s);
        benchmark::DoNotOptimize(s);
        --waiting;
        ++done;
      }, asio::detached);
    }
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      asio::steady_timer timer(io);
      while (done < kCalls) {
        const auto due = std::chrono::steady_clock::now() + 1ms;
        timer.expires_at(due);
        co_await timer.async_wait(asio::use_awaitable);
        const double lag = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - due).count();
        max_lag_ms = std::max(max_lag_ms, lag);
      }
    }, asio::detached);
    io.run();
  }
  state.counters["max_tick_lag_ms"] = max_lag_ms;
  state.counters["peak_waiting"] = peak_waiting;
  state.SetItemsProcessed(state.iterations() * kCalls);
}
BENCHMARK(BM_TenThousandWaiting)->Unit(benchmark::kMillisecond)->Iterations(3);

// A whole invoke through the pipeline (tenant quota, ledger, throttle, send) with a sender that
// answers at once: the pipeline's own cost per call.
void BM_InvokePipelineSuccess(benchmark::State& state) {
  Telemetry t;
  auto lines = std::make_shared<tgpulse::telemetry::LogMemorySink::Lines>();
  tgpulse::telemetry::Logger logger(tgpulse::telemetry::LoggerOptions{},
                                    std::make_unique<tgpulse::telemetry::LogMemorySink>(lines));
  ThrottleOptions o = never_waits();
  Throttle throttle(o, SystemClock::instance(), t.metrics, t.registry, {});
  FloodLedger ledger(SystemClock::instance());
  InvokePipeline pipeline(throttle, ledger, o.flood, t.metrics, logger);
  Sender sender = [](nlohmann::json, std::chrono::milliseconds) -> asio::awaitable<tgpulse::Result<nlohmann::json>> {
    co_return nlohmann::json{{"@type", "ok"}};
  };
  const nlohmann::json function = {{"@type", "getChats"}, {"limit", 20}};
  asio::io_context io;
  for (auto _ : state) {
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      tgpulse::telemetry::Span span;
      InvokeCall call{"tenant", "session", function, SystemClock::instance().now() + 10s, FloodMode::wait};
      Sender s = sender;
      auto r = co_await pipeline.invoke(std::move(call), std::move(s), span);
      benchmark::DoNotOptimize(r);
    }, asio::detached);
    io.restart();
    io.run();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InvokePipelineSuccess);

}  // namespace

BENCHMARK_MAIN();
