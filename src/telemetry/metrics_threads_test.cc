// The metrics core's per-thread slots: counts from concurrent writers, scrapes and exiting threads are
// summed exactly once; registries and threads may end in either order. Also run under ThreadSanitizer
// (make test-tsan).
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

#include "telemetry/metrics.h"
#include "telemetry/metrics_test_writers.h"

namespace tgpulse::telemetry {
namespace {

using testing::CounterAndHistogram;
using testing::WriterThreads;

// Scrapes `metrics` until `done`, checking that the counter and the histogram count never go down and never
// exceed what the writers will have written in total (a count folded twice would, for a while).
struct Scraper {
  const CounterAndHistogram& metrics;
  double max_counter;
  std::uint64_t max_count;
  std::atomic<bool> done{false};
  int scrapes = 0;

  void run() {
    double last_counter = 0;
    std::uint64_t last_count = 0;
    while (!done.load(std::memory_order_acquire)) {
      const double c = metrics.counter.value();
      const std::uint64_t n = metrics.histogram.count();
      EXPECT_GE(c, last_counter);
      EXPECT_LE(c, max_counter);
      EXPECT_GE(n, last_count);
      EXPECT_LE(n, max_count);
      last_counter = c;
      last_count = n;
      ++scrapes;
    }
  }
};

TEST(MetricsThreads, ConcurrentWritersAndScrapesSumExactlyOnceJoined) {
  CounterAndHistogram m("w");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50000;
  Scraper scraper{m, kThreads * (kPerThread + kPerThread / 4 * 0.5), kThreads * std::uint64_t{kPerThread}};
  std::thread scraping([&] { scraper.run(); });
  WriterThreads(kThreads, kPerThread, [&](int i) {
    m.counter.inc();
    if (i % 4 == 0) m.counter.inc(0.5);
    m.histogram.observe(i % 2 == 0 ? 0.5 : 1.5);
  }).join();
  scraper.done = true;
  scraping.join();
  EXPECT_EQ(m.counter.value(), kThreads * (kPerThread + kPerThread / 4 * 0.5));
  EXPECT_EQ(m.histogram.count(), kThreads * std::uint64_t{kPerThread});
  EXPECT_EQ(m.histogram.sum(), kThreads * (kPerThread / 2) * (0.5 + 1.5));
  auto text = m.registry.expose(ExpositionFormat::prometheus_text_004);
  EXPECT_NE(text.find("w_total 450000\n"), std::string::npos) << text;
}

TEST(MetricsThreads, ThreadsExitingDuringScrapesLoseAndDoubleNothing) {
  CounterAndHistogram m("exit", {1});
  constexpr int kWaves = 40;
  constexpr int kThreadsPerWave = 6;
  constexpr int kPerThread = 1000;
  constexpr int kThreads = kWaves * kThreadsPerWave;
  Scraper scraper{m, double{kThreads} * kPerThread, std::uint64_t{kThreads} * kPerThread};
  std::thread scraping([&] { scraper.run(); });
  for (int wave = 0; wave < kWaves; ++wave) {
    // Each writer exits (folding its slots) while the scraper runs.
    WriterThreads(kThreadsPerWave, kPerThread, [&](int) {
      m.counter.inc();
      m.histogram.observe(0.5);
    }).join();
  }
  scraper.done = true;
  scraping.join();
  EXPECT_GT(scraper.scrapes, 0);
  EXPECT_EQ(m.counter.value(), double{kThreads} * kPerThread);
  EXPECT_EQ(m.histogram.count(), std::uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(m.histogram.sum(), kThreads * kPerThread * 0.5);
}

TEST(MetricsThreads, FractionalIncrementsAndSumsAreExactForOneWriterAlsoAfterItExits) {
  CounterAndHistogram m("frac", {1});
  double expected = 0;
  for (int i = 0; i < 1000; ++i) expected += 0.1;
  std::promise<void> wrote;
  std::promise<void> checked;
  std::thread writer([&] {
    for (int i = 0; i < 1000; ++i) {
      m.counter.inc(0.1);
      m.histogram.observe(0.1);
    }
    wrote.set_value();
    checked.get_future().wait();
  });
  wrote.get_future().wait();
  EXPECT_EQ(m.counter.value(), expected);  // read from the live thread's slot
  EXPECT_EQ(m.histogram.sum(), expected);
  checked.set_value();
  writer.join();
  EXPECT_EQ(m.counter.value(), expected);  // read from the retired accumulator
  EXPECT_EQ(m.histogram.sum(), expected);
}

TEST(MetricsThreads, RegistryDestroyedWhileItsWritersLive) {
  auto doomed = std::make_unique<Registry>();
  Counter* c = &doomed->counter("doomed_total", "h").get();
  Histogram* h = &doomed->histogram("doomed_seconds", "h", {1}).get();
  Registry survivor;
  Counter& s = survivor.counter("survivor_total", "h").get();
  std::promise<void> wrote;
  std::promise<void> destroyed;
  std::thread writer([&] {
    c->inc();
    h->observe(2);
    s.inc();
    wrote.set_value();
    destroyed.get_future().wait();
    s.inc();  // still has its slot in the survivor; exits after the doomed registry is gone
  });
  wrote.get_future().wait();
  EXPECT_EQ(c->value(), 1);
  doomed.reset();
  destroyed.set_value();
  writer.join();
  EXPECT_EQ(s.value(), 2);
}

TEST(MetricsThreads, RegistryDestroyedAfterItsWritersExited) {
  auto r = std::make_unique<Registry>();
  Counter& c = r->counter("after_total", "h").get();
  std::thread([&] { c.inc(3); }).join();
  std::thread([&] { c.inc(4); }).join();
  EXPECT_EQ(c.value(), 7);
  r.reset();  // frees nothing twice: the threads' slots were already folded and freed
  Registry again;
  Counter& d = again.counter("after_total", "h").get();
  std::thread([&] { d.inc(); }).join();
  EXPECT_EQ(d.value(), 1);
}

TEST(MetricsThreads, ThreadsBeyondTheSlotCapShareOneSlotAndAreCounted) {
  CounterAndHistogram m("many", {1});
  constexpr int kThreads = static_cast<int>(detail::kMaxThreads) + 16;
  constexpr int kPerThread = 200;
  std::latch all_wrote(kThreads);  // every thread holds its slot (or lacks one) until all wrote
  std::atomic<int> without_slot{0};
  WriterThreads(
      kThreads, kPerThread,
      [&](int) {
        m.counter.inc();
        m.counter.inc(0.5);
        m.histogram.observe(2);
      },
      [&] {
        if (detail::tls_slot_index == 0) without_slot.fetch_add(1);
        all_wrote.arrive_and_wait();
      })
      .join();
  EXPECT_GE(without_slot.load(), kThreads - static_cast<int>(detail::kMaxThreads) + 1);
  EXPECT_EQ(m.counter.value(), kThreads * kPerThread * 1.5);
  EXPECT_EQ(m.histogram.count(), std::uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(m.histogram.sum(), kThreads * kPerThread * 2.0);
}

TEST(MetricsThreads, ThreadIndexesAreReusedAfterThreadsExit) {
  Registry r;
  Counter& c = r.counter("reuse_total", "h").get();
  for (int t = 0; t < 3 * static_cast<int>(detail::kMaxThreads); ++t) {
    bool had_slot = false;
    std::thread([&] {
      c.inc();
      had_slot = detail::tls_slot_index != 0;
    }).join();
    ASSERT_TRUE(had_slot) << "thread " << t << " found no free index";
  }
  EXPECT_EQ(c.value(), 3 * detail::kMaxThreads);
}

// Increments a counter from its destructor, which runs after the thread's metrics state is gone when
// it was constructed before the thread's first metric write.
struct IncrementsOnExit {
  Counter* counter = nullptr;
  ~IncrementsOnExit() {
    if (counter != nullptr) counter->inc();
  }
};

TEST(MetricsThreads, WritesFromLaterThreadLocalDestructorsAreCounted) {
  Registry r;
  Counter& c = r.counter("late_total", "h").get();
  std::thread([&] {
    static thread_local IncrementsOnExit late;
    late.counter = &c;  // constructed first, so destroyed after the metrics state
    c.inc();
  }).join();
  EXPECT_EQ(c.value(), 2);
}

}  // namespace
}  // namespace tgpulse::telemetry
