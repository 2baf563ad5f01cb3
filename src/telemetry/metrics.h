// The metrics core: Counter, Gauge and Histogram families in a Registry, exposed in the Prometheus text
// format 0.0.4 and in OpenMetrics 1.0 (with exemplars).
//
// Usage: resolve a labelled child once, at start-up, and keep the handle:
//   auto& fam = registry.counter("telethon_requests_total", "Total requests", {"method", "status"});
//   Counter& ok = fam.labels({"getChats", "success"});   // takes a lock; do it once
//   ok.inc();                                             // hot path: lock-free, no allocation
//
// Names and label names are validated at registration (Prometheus data model); an invalid name or a
// duplicate family with a different type/labels throws std::invalid_argument naming it. Values are
// never validated on the hot path.
//
// Registration rules (each violation throws std::invalid_argument with the offending name):
//   - metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and do not start
//     with "__"; label names are unique within a family; a histogram may not use the label "le".
//   - counter names end in "_total" (the OpenMetrics family name is the name without it).
//   - histogram buckets are finite and strictly increasing (+Inf is implicit; an empty list leaves
//     only the +Inf bucket).
//   - registering the same name again with the same type, help, label names (and buckets) returns the
//     existing family; anything else under that name throws. Names that would collide in either
//     exposition format (e.g. a gauge "x_count" beside a histogram "x") are rejected too.
//
// Hot path (Counter::inc, Histogram::observe; inline, no lock, no read-modify-write):
//   - Each writing thread has its own slot in each child it writes (metrics_slots.h): a counter's slot
//     holds the sum of its whole-number increments (integer) and of the others (double); a histogram's
//     its bucket counts and its sum. Only that thread writes the slot, so an update is a relaxed load
//     and a relaxed store to a cache line no other thread writes: about as cheap as an add to a local
//     variable. A single writer's fractional increments and histogram sum are therefore exactly the
//     sequential double sum, as before.
//   - A scrape sums, under the child's mutex, the slots of the live threads, a shared slot and a
//     "retired" accumulator. When a thread exits, its slots are folded into the accumulators of the
//     children it wrote under the same mutex, so each count is summed exactly once, even while a
//     scrape runs. A child may be destroyed while threads that wrote it still live and vice versa.
//   - Memory: per child 8 bytes per possible thread (detail::kMaxThreads = 64, so 512 bytes), plus per
//     thread that wrote it one slot of whole cache lines (64 bytes for a counter, 128 for a histogram
//     with 7 to 14 buckets). Threads beyond the first 63 alive at once that write metrics share one
//     slot per child, updated with atomic read-modify-writes (still exact, slower when contended).
//   - Negative, zero and NaN counter increments are ignored (counters only go up).
//   - Exemplars: each Counter/Histogram child keeps its latest exemplar behind a tiny spinlock that is
//     only taken by updates that pass an exemplar (and briefly by exposition). Updates without an
//     exemplar never touch it.
//   - A scrape reads the slots without stopping writers: a histogram's _count is the sum of its bucket
//     counts of that read (so +Inf == _count always holds); _sum may lag a concurrent observation.
//
// Exposition details: values of whole numbers are written as integers, other values as Go's shortest
// %g rendering; "+Inf", "-Inf", "NaN". OpenMetrics "le" values follow its canonical numbers ("1.0",
// "0.25", "1e+06"), the 0.0.4 text uses Go's plain rendering ("1", "0.25", "1e+06") — Prometheus 2.x
// stores whatever the scraped format says, so a scrape in OpenMetrics yields le="3.0". `_created`
// (unix seconds with milliseconds) is written for counters and histograms in OpenMetrics only.
//
// Thread-safety: everything is thread-safe. Handles (Counter&, Gauge&, Histogram&) stay valid for the
// Registry's lifetime; updates to them are lock-free (a thread's first update of a child takes a global
// lock once to create its slot). Child creation and exposition take the family's mutex (exposition only
// while copying the child list, never while formatting values); exposition takes each child's mutex
// while summing its slots, which writers never take.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "telemetry/metrics_slots.h"
#include "telemetry/trace_context.h"

namespace tgpulse::telemetry {

template <typename Child>
class Family;
class Registry;
enum class ExpositionFormat { prometheus_text_004, openmetrics_100 };

namespace detail {

// One exemplar: the span it came from, the observed value and when (unix seconds).
struct Exemplar {
  TraceId trace_id{};
  SpanId span_id{};
  double value = 0;
  double unix_seconds = 0;
};

// The latest exemplar of one child. store() and load() take a spinlock held for a copy of ~50 bytes.
class ExemplarSlot {
 public:
  void store(const SpanContext& ctx, double value) noexcept;
  // False when no exemplar was ever stored.
  bool load(Exemplar* out) const noexcept;

 private:
  mutable std::atomic<bool> locked_{false};
  bool present_ = false;  // guarded by locked_
  Exemplar data_;         // guarded by locked_
};

enum class MetricType { counter, gauge, histogram };

// What a family was registered with.
struct FamilyInfo {
  MetricType type = MetricType::counter;
  std::string name;
  std::string help;
  std::vector<std::string> label_names;
  std::vector<double> buckets;  // histograms only
};

// The type-independent part of a family, as the Registry sees it.
class FamilyBase {
 public:
  explicit FamilyBase(FamilyInfo info);
  virtual ~FamilyBase();
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const FamilyInfo& info() const noexcept { return info_; }
  // Appends this family (metadata and every child) in `format`.
  virtual void expose(std::string& out, ExpositionFormat format) const = 0;

 protected:
  // `a="x",b="y"` with values escaped; throws std::invalid_argument on a wrong number of values.
  template <typename Values>
  std::string render_label_pairs(const Values& values) const;

  FamilyInfo info_;
};

}  // namespace detail

class Counter {
 public:
  Counter();
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void inc(double v = 1.0) noexcept {
    detail::CacheLine* mine = slots_.mine();
    if (mine != nullptr && v == 1.0) [[likely]] {
      detail::bump(detail::cell(mine, kWhole), 1);
      return;
    }
    add(v, mine);
  }
  // Also records an exemplar (OpenMetrics) carrying the trace and span id; an invalid `exemplar`
  // context records none.
  void inc(double v, const SpanContext& exemplar) noexcept;
  double value() const;

 private:
  template <typename>
  friend class Family;

  static constexpr std::size_t kWhole = 0;     // sum of whole-number increments (integer cell)
  static constexpr std::size_t kFraction = 1;  // sum of the other increments (double cell)

  void add(double v, detail::CacheLine* mine) noexcept;
  double value(std::vector<std::uint64_t>* scratch) const;

  detail::ThreadSlots slots_{2};
  detail::ExemplarSlot exemplar_;
  double created_unix_seconds_;
};

class Gauge {
 public:
  Gauge() noexcept = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void set(double v) noexcept;
  void inc(double v = 1.0) noexcept;
  void dec(double v = 1.0) noexcept;
  double value() const noexcept;

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `bounds`: the family's bucket upper bounds (finite, increasing); must outlive the histogram.
  explicit Histogram(const std::vector<double>& bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void observe(double v) noexcept {
    detail::CacheLine* mine = slots_.mine();
    if (mine == nullptr) [[unlikely]] {
      observe_unowned(v);
      return;
    }
    record(mine, v);
  }
  // Also records an exemplar, shown on the bucket `v` falls in; an invalid context records none.
  void observe(double v, const SpanContext& exemplar) noexcept;
  // Snapshot helpers for tests.
  std::uint64_t count() const;
  double sum() const;

 private:
  template <typename>
  friend class Family;

  // Bucket of `v`: the number of bounds below it; NaN lands in +Inf.
  std::size_t bucket_index(double v) const noexcept {
    if (bound_count_ > kMaxScannedBounds || std::isnan(v)) [[unlikely]] return bucket_index_by_search(v);
    // Branch-free, four bounds per step in two independent vector compares: `b < v` is -1 in each lane
    // where the bound is below v, so subtracting the masks counts them; the padding (+Inf) is below no
    // number. `b < v` lets each compare overwrite the bounds it just loaded instead of a copy of v (3
    // instructions per pair of bounds). A NaN is below no bound but belongs in +Inf: it is searched.
    using Pair = double __attribute__((vector_size(16)));
    using Mask = long long __attribute__((vector_size(16)));
    const Pair x = {v, v};
    Mask below_lo = {0, 0};
    Mask below_hi = {0, 0};
    const double* bounds = scan_bounds_.get();
    for (std::size_t k = 0; k < padded_count_; k += 4) {
      Pair lo;
      Pair hi;
      __builtin_memcpy(&lo, bounds + k, sizeof lo);
      __builtin_memcpy(&hi, bounds + k + 2, sizeof hi);
      below_lo -= lo < x;
      below_hi -= hi < x;
    }
    const Mask below = below_lo + below_hi;
    return static_cast<std::size_t>(below[0] + below[1]);
  }
  std::size_t bucket_index_by_search(double v) const noexcept;
  // One observation into this thread's own slot. The sum's cell is located before the bucket's store,
  // so the compiler need not reload bound_count_ after it.
  void record(detail::CacheLine* mine, double v) noexcept {
    std::atomic<std::uint64_t>& sum = detail::cell(mine, bound_count_ + 1);
    detail::bump(detail::cell(mine, bucket_index(v)), 1);
    detail::add_double(sum, v);
  }
  // A thread without its own slot yet: claims one, or counts in the shared slot.
  void observe_unowned(double v) noexcept;
  // Non-cumulative per-bucket counts (bounds.size() + 1 entries, the last one +Inf) and the sum.
  void snapshot(std::vector<std::uint64_t>* buckets, double* sum) const;

  // Bounds scanned linearly (above, and for NaN: binary search).
  static constexpr std::size_t kMaxScannedBounds = 32;

  const std::vector<double>& bounds_;
  std::size_t bound_count_;
  std::size_t padded_count_;                 // bound_count_ rounded up to a multiple of 4
  std::unique_ptr<double[]> scan_bounds_;    // the bounds, then +Inf up to padded_count_
  detail::ThreadSlots slots_;  // cells: one per bucket (+Inf last), then the sum
  detail::ExemplarSlot exemplar_;
  double created_unix_seconds_;
};

template <typename Child>
class Family final : public detail::FamilyBase {
 public:
  // Created by Registry only.
  explicit Family(detail::FamilyInfo info);
  ~Family() override;

  // Returns the child for these label values (in label-name order), creating it at zero if new.
  // Throws std::invalid_argument if the number of values differs from the number of label names.
  Child& labels(std::initializer_list<std::string_view> values);
  Child& labels(const std::vector<std::string>& values);
  // For a family without labels.
  Child& get() { return labels({}); }

  void expose(std::string& out, ExpositionFormat format) const override;

 private:
  struct Entry {
    template <typename... Args>
    explicit Entry(std::string pairs, Args&&... args)
        : label_pairs(std::move(pairs)), child(std::forward<Args>(args)...) {}
    std::string label_pairs;  // rendered once: a="x",b="y"
    Child child;
  };
  Child& find_or_create(std::string label_pairs);

  // Histograms: the le="..." pair of each bucket, per format (+Inf last).
  std::vector<std::string> le_text_;
  std::vector<std::string> le_openmetrics_;

  mutable std::mutex mutex_;
  std::deque<Entry> entries_;                                  // guarded by mutex_; stable addresses
  std::vector<const Entry*> order_;                            // guarded by mutex_; creation order
  std::unordered_map<std::string_view, Entry*> by_label_pairs_;  // guarded by mutex_
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  CounterFamily& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  // `buckets`: strictly increasing finite upper bounds; +Inf is implicit.
  HistogramFamily& histogram(std::string name, std::string help, std::vector<double> buckets,
                             std::vector<std::string> label_names = {});

  // Runs at the start of every expose(), in registration order, on the exposing thread, so an area can
  // pull a value it keeps elsewhere (e.g. dropped log lines) into its gauges/counters. A hook must not
  // call expose() or add_collect_hook(); an exception it throws propagates out of expose().
  void add_collect_hook(std::function<void()> hook);

  std::string expose(ExpositionFormat format) const;
  // Picks the format from an HTTP Accept header (OpenMetrics when it asks for
  // application/openmetrics-text) and returns the Content-Type to answer with.
  // OpenMetrics wins when its best q is > 0 and >= the best q of text/plain, text/* or */*.
  // `content_type` may be null.
  static ExpositionFormat negotiate(std::string_view accept_header, std::string* content_type);

  static constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";
  static constexpr std::string_view kOpenMetricsContentType =
      "application/openmetrics-text; version=1.0.0; charset=utf-8";

 private:
  template <typename F>
  F& add(detail::FamilyInfo info);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<detail::FamilyBase>> families_;       // guarded by mutex_
  std::unordered_map<std::string, detail::FamilyBase*> by_name_;     // guarded by mutex_
  std::unordered_map<std::string, std::string> claimed_names_;       // guarded by mutex_: name -> owner
  std::vector<std::function<void()>> hooks_;                          // guarded by mutex_
  mutable std::atomic<std::size_t> last_exposition_size_{0};
};

}  // namespace tgpulse::telemetry
