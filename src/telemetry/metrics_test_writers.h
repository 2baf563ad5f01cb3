// What the metrics tests write from several threads, and the threads that write it. Header-only; test
// code only.
//   - CounterAndHistogram: a registry with one counter "<name>_total" and one histogram
//     "<name>_seconds" (buckets `bounds`, by default 1 and 2).
//   - WriterThreads: starts `threads` threads at once, each calling `write(i)` for i = 0 .. per_thread - 1
//     and then `after()` (say, to wait at a latch while it still holds its slots), and joins them in
//     join() or at destruction.
//
// Thread-safety: the metrics are thread-safe (metrics.h); `write` and `after` run on every thread at
// once; a WriterThreads itself is used by the thread that made it.
#pragma once

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "telemetry/metrics.h"

namespace tgpulse::telemetry::testing {

struct CounterAndHistogram {
  explicit CounterAndHistogram(const std::string& name, std::vector<double> bounds = {1, 2})
      : counter(registry.counter(name + "_total", "h").get()),
        histogram(registry.histogram(name + "_seconds", "h", std::move(bounds)).get()) {}

  Registry registry;
  Counter& counter;
  Histogram& histogram;
};

class WriterThreads {
 public:
  template <typename Write, typename After>
  WriterThreads(int threads, int per_thread, Write write, After after) {
    threads_.reserve(static_cast<std::size_t>(threads));
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([per_thread, write, after] {
        for (int i = 0; i < per_thread; ++i) write(i);
        after();
      });
    }
  }
  template <typename Write>
  WriterThreads(int threads, int per_thread, Write write) : WriterThreads(threads, per_thread, write, [] {}) {}
  WriterThreads(const WriterThreads&) = delete;
  WriterThreads& operator=(const WriterThreads&) = delete;
  ~WriterThreads() { join(); }

  // Waits until every thread has written and exited (folding its slots).
  void join() {
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  std::vector<std::thread> threads_;
};

}  // namespace tgpulse::telemetry::testing
