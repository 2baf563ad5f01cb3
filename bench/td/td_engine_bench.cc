// Engine benchmarks: receive-loop throughput (objects routed from td_receive to a client's handler on
// its strand, per second) and request round trips through TdClient::send against an in-process tdsim
// with zero latency (sequential and with many requests in flight).
#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "td/engine.h"
#include "td/engine_test_support.h"
#include "tdsim/simulator.h"
#include "tdsim/simulator_td_library.h"

namespace tgpulse::td {
namespace {

using nlohmann::json;
namespace asio = boost::asio;

// A TdLibrary whose td_receive returns a prepared update as fast as it is called, `budget` times.
class ReplayLibrary final : public TdLibrary {
 public:
  explicit ReplayLibrary(std::string line) : line_(std::move(line)) {}
  int create_client_id() override { return 1; }
  void send(int, const char*) override {}
  const char* receive(double timeout) override {
    if (budget_.load(std::memory_order_acquire) > 0) {
      budget_.fetch_sub(1, std::memory_order_acq_rel);
      return line_.c_str();
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(std::min(timeout, 0.0005)));
    return nullptr;
  }
  const char* execute(const char*) override { return R"({"@type":"ok"})"; }
  void set_log_message_callback(int, LogMessageCallback) override {}
  const std::string& path() const override { return path_; }
  void allow(std::int64_t n) { budget_.fetch_add(n, std::memory_order_acq_rel); }

 private:
  std::string line_;
  std::string path_;
  std::atomic<std::int64_t> budget_{0};
};

void BM_ReceiveLoopUpdates(benchmark::State& state) {
  // A typical update (~200 bytes), as TDLib sends for chat activity.
  const std::string line =
      R"({"@type":"updateChatReadInbox","chat_id":-1001234567890,"last_read_inbox_message_id":1048576000,)"
      R"("unread_count":3,"@client_id":1,"padding":"................................................................"})";
  ReplayLibrary lib(line);
  EngineTestBed bed;
  Engine engine(bed.io, lib, bed.registry, bed.telethon, bed.logger, EngineOptions{.receive_timeout_seconds = 0.001});
  std::atomic<std::int64_t> handled{0};
  if (!engine.start().ok()) {
    state.SkipWithError("engine start failed");
    return;
  }
  auto client = engine.create_client([&](const json&) { handled.fetch_add(1, std::memory_order_relaxed); }).value();
  constexpr std::int64_t kBatch = 10000;
  std::int64_t target = 0;
  for (auto _ : state) {
    target += kBatch;
    lib.allow(kBatch);
    while (handled.load(std::memory_order_relaxed) < target) std::this_thread::yield();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["messages_per_second"] = benchmark::Counter(static_cast<double>(state.iterations() * kBatch),
                                                             benchmark::Counter::kIsRate);
  engine.stop();
}
BENCHMARK(BM_ReceiveLoopUpdates)->UseRealTime()->Unit(benchmark::kMillisecond);

// Round trips: `in_flight` coroutines each sending getOption in a loop against a zero-latency tdsim.
void BM_SendRoundTrip(benchmark::State& state) {
  const int in_flight = static_cast<int>(state.range(0));
  auto profile = tdsim::Profile::apply(tdsim::Profile::defaults(),
                                       json{{"latency_ms", {{"min", 0}, {"max", 0}}},
                                            {"flood", {{"default", {{"rate_per_second", 0}, {"burst", 0}}}}}});
  tdsim::Simulator sim(profile.value());
  tdsim::SimulatorTdLibrary lib(sim);
  EngineTestBed bed;
  Engine engine(bed.io, lib, bed.registry, bed.telethon, bed.logger, EngineOptions{.receive_timeout_seconds = 0.01});
  if (!engine.start().ok()) {
    state.SkipWithError("engine start failed");
    return;
  }
  auto client = engine.create_client().value();
  constexpr int kPerCoroutine = 200;
  for (auto _ : state) {
    std::atomic<int> done{0};
    for (int i = 0; i < in_flight; ++i) {
      asio::co_spawn(client->strand(), [&]() -> asio::awaitable<void> {
        const json request = {{"@type", "getOption"}, {"name", "version"}};
        for (int k = 0; k < kPerCoroutine; ++k) {
          auto r = co_await client->send(request, std::chrono::seconds(10));
          benchmark::DoNotOptimize(r.ok());
        }
        done.fetch_add(1);
      }, asio::detached);
    }
    while (done.load() < in_flight) std::this_thread::yield();
  }
  state.SetItemsProcessed(state.iterations() * in_flight * kPerCoroutine);
  engine.stop();
}
BENCHMARK(BM_SendRoundTrip)->Arg(1)->Arg(64)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tgpulse::td

BENCHMARK_MAIN();
