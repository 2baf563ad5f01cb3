// metrics_bench: tgpulse's metrics core ("Ours") beside prometheus-cpp ("PromCpp") in one binary:
// counter increment and histogram observe from 1 and 2 threads on one shared child, observe round-robin
// over 4 children, the floor of back-to-back observations of one child (the sum's chain), text exposition
// of 1,000 and 10,000 series, and (ours only) the exposition of 1,000 series each written by 1..63 live
// threads, which the scrape sums slot by slot. `make bench` runs it; docs/PERFORMANCE.md has the figures.
#include <benchmark/benchmark.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <future>
#include <latch>
#include <memory>
#include <thread>
#include <string>
#include <vector>

#include "telemetry/metrics.h"
#include "telemetry/telethon_metrics.h"

namespace {

using tgpulse::telemetry::ExpositionFormat;

// The seed's cleanup buckets; observations spread over them and beyond.
const std::vector<double>& bucket_bounds() { return tgpulse::telemetry::TelethonMetrics::cleanup_buckets(); }

const std::array<double, 16>& sample_values() {
  static const std::array<double, 16> kValues = {0.01, 0.07, 0.2,  0.3, 0.6, 0.9, 1.5, 2.2,
                                                 2.9,  3.5,  4.99, 7.0, 12,  25,  45,  90};
  return kValues;
}

// ---- counter increment (one child shared by all benchmark threads) ----

tgpulse::telemetry::Counter& our_counter() {
  static tgpulse::telemetry::Registry registry;
  static tgpulse::telemetry::Counter& c =
      registry.counter("bench_requests_total", "Requests", {"method", "status"}).labels({"getChats", "success"});
  return c;
}

prometheus::Counter& their_counter() {
  static auto registry = std::make_shared<prometheus::Registry>();
  static prometheus::Counter& c = prometheus::BuildCounter()
                                      .Name("bench_requests_total")
                                      .Help("Requests")
                                      .Register(*registry)
                                      .Add({{"method", "getChats"}, {"status", "success"}});
  return c;
}

void BM_CounterInc_Ours(benchmark::State& state) {
  auto& c = our_counter();
  for (auto _ : state) c.inc();
  benchmark::DoNotOptimize(c.value());
}
BENCHMARK(BM_CounterInc_Ours)->Threads(1)->Threads(2)->UseRealTime();

void BM_CounterInc_PromCpp(benchmark::State& state) {
  auto& c = their_counter();
  for (auto _ : state) c.Increment();
  benchmark::DoNotOptimize(c.Value());
}
BENCHMARK(BM_CounterInc_PromCpp)->Threads(1)->Threads(2)->UseRealTime();

// ---- histogram observe (one child shared by all benchmark threads) ----

tgpulse::telemetry::Histogram& our_histogram() {
  static tgpulse::telemetry::Registry registry;
  static tgpulse::telemetry::Histogram& h =
      registry.histogram("bench_duration_seconds", "Duration", bucket_bounds()).get();
  return h;
}

prometheus::Histogram& their_histogram() {
  static auto registry = std::make_shared<prometheus::Registry>();
  static prometheus::Histogram& h = prometheus::BuildHistogram()
                                        .Name("bench_duration_seconds")
                                        .Help("Duration")
                                        .Register(*registry)
                                        .Add({}, bucket_bounds());
  return h;
}

void BM_HistogramObserve_Ours(benchmark::State& state) {
  auto& h = our_histogram();
  const auto& values = sample_values();
  std::size_t i = static_cast<std::size_t>(state.thread_index());
  for (auto _ : state) h.observe(values[i++ & 15]);
  benchmark::DoNotOptimize(h.count());
}
BENCHMARK(BM_HistogramObserve_Ours)->Threads(1)->Threads(2)->UseRealTime();

void BM_HistogramObserve_PromCpp(benchmark::State& state) {
  auto& h = their_histogram();
  const auto& values = sample_values();
  std::size_t i = static_cast<std::size_t>(state.thread_index());
  for (auto _ : state) h.Observe(values[i++ & 15]);
}
BENCHMARK(BM_HistogramObserve_PromCpp)->Threads(1)->Threads(2)->UseRealTime();

// ---- histogram observe round-robin over 4 children (one thread) ----
// Back-to-back observations of one child each wait for the previous one's sum; over 4 children the
// sums are independent, so this shows what one observation costs in instructions.

template <typename Child, typename Observe>
void observe_round_robin(benchmark::State& state, const std::array<Child*, 4>& children, Observe observe) {
  const auto& values = sample_values();
  std::size_t i = 0;
  for (auto _ : state) {
    observe(*children[i & 3], values[i & 15]);
    ++i;
  }
}

void BM_HistogramObserve4Children_Ours(benchmark::State& state) {
  static tgpulse::telemetry::Registry registry;
  static auto& family = registry.histogram("bench_rr_seconds", "Duration", bucket_bounds(), {"child"});
  static const std::array<tgpulse::telemetry::Histogram*, 4> children = {
      &family.labels({"a"}), &family.labels({"b"}), &family.labels({"c"}), &family.labels({"d"})};
  observe_round_robin(state, children, [](tgpulse::telemetry::Histogram& h, double v) { h.observe(v); });
}
BENCHMARK(BM_HistogramObserve4Children_Ours)->UseRealTime();

void BM_HistogramObserve4Children_PromCpp(benchmark::State& state) {
  static auto registry = std::make_shared<prometheus::Registry>();
  static auto& family = prometheus::BuildHistogram().Name("bench_rr_seconds").Help("Duration").Register(*registry);
  static const std::array<prometheus::Histogram*, 4> children = {
      &family.Add({{"child", "a"}}, bucket_bounds()), &family.Add({{"child", "b"}}, bucket_bounds()),
      &family.Add({{"child", "c"}}, bucket_bounds()), &family.Add({{"child", "d"}}, bucket_bounds())};
  observe_round_robin(state, children, [](prometheus::Histogram& h, double v) { h.Observe(v); });
}
BENCHMARK(BM_HistogramObserve4Children_PromCpp)->UseRealTime();

// ---- the floor of one child's back-to-back observations ----
// Only the update of a histogram's sum, as observe() does it: a relaxed load, a double add and a
// relaxed store to a cell this thread owns. Each iteration waits for the previous one's store.

void BM_SumChainFloor(benchmark::State& state) {
  auto line = std::make_unique<tgpulse::telemetry::detail::CacheLine>();  // on the heap, like a slot
  const auto& values = sample_values();
  std::size_t i = 0;
  for (auto _ : state) tgpulse::telemetry::detail::add_double(line->cells[0], values[i++ & 15]);
  benchmark::DoNotOptimize(line->cells[0].load());
}
BENCHMARK(BM_SumChainFloor)->UseRealTime();

// ---- exposition of N counter series: 100 method label values x N/100 status values ----

std::string method_label(long i) { return "method" + std::to_string(i % 100); }
std::string status_label(long i) { return "status" + std::to_string(i / 100); }

// Exposes a registry holding state.range(0) counter series in `format`.
void expose_ours(benchmark::State& state, ExpositionFormat format) {
  tgpulse::telemetry::Registry registry;
  auto& family = registry.counter("bench_requests_total", "Requests", {"method", "status"});
  for (long i = 0; i < state.range(0); ++i) family.labels({method_label(i), status_label(i)}).inc(static_cast<double>(i));
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string text = registry.expose(format);
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_ExposeText_Ours(benchmark::State& state) { expose_ours(state, ExpositionFormat::prometheus_text_004); }
BENCHMARK(BM_ExposeText_Ours)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

void BM_ExposeOpenMetrics_Ours(benchmark::State& state) { expose_ours(state, ExpositionFormat::openmetrics_100); }
BENCHMARK(BM_ExposeOpenMetrics_Ours)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

void BM_ExposeText_PromCpp(benchmark::State& state) {
  prometheus::Registry registry;
  auto& family = prometheus::BuildCounter().Name("bench_requests_total").Help("Requests").Register(registry);
  for (long i = 0; i < state.range(0); ++i) {
    family.Add({{"method", method_label(i)}, {"status", status_label(i)}}).Increment(static_cast<double>(i));
  }
  const prometheus::TextSerializer serializer;
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string text = serializer.Serialize(registry.Collect());
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ExposeText_PromCpp)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

// ---- exposition of 1,000 counter series, each written by state.range(0) threads alive meanwhile ----

void BM_ExposeThreadSlots_Ours(benchmark::State& state) {
  constexpr long kSeries = 1000;
  tgpulse::telemetry::Registry registry;
  auto& family = registry.counter("bench_requests_total", "Requests", {"method", "status"});
  std::vector<tgpulse::telemetry::Counter*> children;
  for (long i = 0; i < kSeries; ++i) children.push_back(&family.labels({method_label(i), status_label(i)}));
  const auto writers = static_cast<std::ptrdiff_t>(state.range(0));
  std::latch wrote(writers);
  std::promise<void> finish;
  std::shared_future<void> finished = finish.get_future().share();
  std::vector<std::thread> threads;
  for (std::ptrdiff_t t = 0; t < writers; ++t) {
    threads.emplace_back([&children, &wrote, finished] {
      for (auto* c : children) c->inc();  // one slot per child in this thread, kept until it exits
      wrote.count_down();
      finished.wait();
    });
  }
  wrote.wait();
  for (auto _ : state) {
    std::string text = registry.expose(ExpositionFormat::prometheus_text_004);
    benchmark::DoNotOptimize(text.data());
  }
  finish.set_value();
  for (auto& t : threads) t.join();
  state.SetItemsProcessed(state.iterations() * kSeries);
}
BENCHMARK(BM_ExposeThreadSlots_Ours)->Arg(1)->Arg(8)->Arg(63)->Unit(benchmark::kMicrosecond);

// ---- the whole seed catalog (about 400 series), as /metrics serves it ----

void BM_ExposeSeedCatalog_Ours(benchmark::State& state) {
  tgpulse::telemetry::Registry registry;
  tgpulse::telemetry::TelethonMetrics metrics(registry);
  const auto format = state.range(0) == 0 ? ExpositionFormat::prometheus_text_004 : ExpositionFormat::openmetrics_100;
  for (auto _ : state) {
    std::string text = registry.expose(format);
    benchmark::DoNotOptimize(text.data());
  }
}
BENCHMARK(BM_ExposeSeedCatalog_Ours)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
