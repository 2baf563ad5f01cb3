#include "telemetry/metrics.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "telemetry/exposition.h"

namespace tgpulse::telemetry {
namespace detail {
namespace {

constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53
constexpr unsigned kUnassignedShard = ~0u;

std::atomic<unsigned> next_shard{0};
thread_local unsigned this_thread_shard_index = kUnassignedShard;

inline std::size_t this_thread_shard() noexcept {
  unsigned s = this_thread_shard_index;
  if (s == kUnassignedShard) [[unlikely]] {
    s = next_shard.fetch_add(1, std::memory_order_relaxed) & (kShardCount - 1);
    this_thread_shard_index = s;
  }
  return s;
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

double unix_now() noexcept {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(since_epoch).count();
}

inline void add_to_double_bits(std::atomic<std::uint64_t>& cell, double v) noexcept {
  std::uint64_t old = cell.load(std::memory_order_relaxed);
  while (!cell.compare_exchange_weak(old, std::bit_cast<std::uint64_t>(std::bit_cast<double>(old) + v),
                                     std::memory_order_relaxed)) {
  }
}

}  // namespace

void ExemplarSlot::store(const SpanContext& ctx, double value) noexcept {
  if (!ctx.valid()) return;
  const double now = unix_now();
  while (locked_.exchange(true, std::memory_order_acquire)) {
    while (locked_.load(std::memory_order_relaxed)) cpu_relax();
  }
  data_.trace_id = ctx.trace_id;
  data_.span_id = ctx.span_id;
  data_.value = value;
  data_.unix_seconds = now;
  present_ = true;
  locked_.store(false, std::memory_order_release);
}

bool ExemplarSlot::load(Exemplar* out) const noexcept {
  while (locked_.exchange(true, std::memory_order_acquire)) {
    while (locked_.load(std::memory_order_relaxed)) cpu_relax();
  }
  const bool present = present_;
  if (present) *out = data_;
  locked_.store(false, std::memory_order_release);
  return present;
}

FamilyBase::FamilyBase(FamilyInfo info) : info_(std::move(info)) {}
FamilyBase::~FamilyBase() = default;

template <typename Values>
std::string FamilyBase::render_label_pairs(const Values& values) const {
  if (values.size() != info_.label_names.size()) {
    throw std::invalid_argument("metric '" + info_.name + "' has " +
                                std::to_string(info_.label_names.size()) + " label name(s) but " +
                                std::to_string(values.size()) + " label value(s) were given");
  }
  std::string pairs;
  std::size_t i = 0;
  for (const auto& value : values) {
    if (i != 0) pairs.push_back(',');
    pairs += info_.label_names[i];
    pairs += "=\"";
    ExpositionWriter::append_label_value(pairs, value);
    pairs.push_back('"');
    ++i;
  }
  return pairs;
}

}  // namespace detail

// ---- Counter ----

Counter::Counter() noexcept : created_unix_seconds_(detail::unix_now()) {}

void Counter::inc(double v) noexcept {
  auto& shard = shards_[detail::this_thread_shard()];
  if (v == 1.0) [[likely]] {
    shard.whole.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!(v > 0)) return;  // negative, zero, NaN: counters only go up
  if (v < detail::kMaxExactInteger && v == std::floor(v)) {
    shard.whole.fetch_add(static_cast<std::uint64_t>(v), std::memory_order_relaxed);
  } else {
    shard.fraction.fetch_add(v, std::memory_order_relaxed);
  }
}

void Counter::inc(double v, const SpanContext& exemplar) noexcept {
  if (!(v > 0)) return;
  inc(v);
  exemplar_.store(exemplar, v);
}

double Counter::value() const noexcept {
  std::uint64_t whole = 0;
  double fraction = 0;
  for (const auto& shard : shards_) {
    whole += shard.whole.load(std::memory_order_relaxed);
    fraction += shard.fraction.load(std::memory_order_relaxed);
  }
  return static_cast<double>(whole) + fraction;
}

// ---- Gauge ----

void Gauge::set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
void Gauge::inc(double v) noexcept { value_.fetch_add(v, std::memory_order_relaxed); }
void Gauge::dec(double v) noexcept { value_.fetch_sub(v, std::memory_order_relaxed); }
double Gauge::value() const noexcept { return value_.load(std::memory_order_relaxed); }

// ---- Histogram ----

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds),
      lines_per_shard_((bounds.size() + 2 + 7) / 8),  // buckets + +Inf + sum
      lines_(std::make_unique<detail::CacheLine[]>(detail::kShardCount * lines_per_shard_)),
      created_unix_seconds_(detail::unix_now()) {}

std::atomic<std::uint64_t>& Histogram::cell(std::size_t shard, std::size_t index) const noexcept {
  return lines_[shard * lines_per_shard_ + index / 8].cells[index % 8];
}

std::size_t Histogram::bucket_index(double v) const noexcept {
  const std::size_t n = bounds_.size();
  if (n <= 32) {
    // Branch-free: the number of bounds below v is its bucket (bounds are increasing); a NaN is below
    // none of them, so `!(v <= b)` sends it to +Inf.
    const double* b = bounds_.data();
    std::size_t i = 0;
    for (std::size_t k = 0; k < n; ++k) i += static_cast<std::size_t>(!(v <= b[k]));
    return i;
  }
  if (std::isnan(v)) return n;
  return static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
}

void Histogram::observe(double v) noexcept {
  const std::size_t shard = detail::this_thread_shard();
  cell(shard, bucket_index(v)).fetch_add(1, std::memory_order_relaxed);
  detail::add_to_double_bits(cell(shard, bounds_.size() + 1), v);
}

void Histogram::observe(double v, const SpanContext& exemplar) noexcept {
  observe(v);
  exemplar_.store(exemplar, v);
}

void Histogram::snapshot(std::vector<std::uint64_t>* buckets, double* sum) const {
  const std::size_t n = bounds_.size() + 1;
  buckets->assign(n, 0);
  double total = 0;
  for (std::size_t s = 0; s < detail::kShardCount; ++s) {
    for (std::size_t i = 0; i < n; ++i) (*buckets)[i] += cell(s, i).load(std::memory_order_relaxed);
    total += std::bit_cast<double>(cell(s, n).load(std::memory_order_relaxed));
  }
  *sum = total;
}

std::uint64_t Histogram::count() const noexcept {
  std::uint64_t total = 0;
  for (std::size_t s = 0; s < detail::kShardCount; ++s) {
    for (std::size_t i = 0; i <= bounds_.size(); ++i) total += cell(s, i).load(std::memory_order_relaxed);
  }
  return total;
}

double Histogram::sum() const noexcept {
  double total = 0;
  for (std::size_t s = 0; s < detail::kShardCount; ++s) {
    total += std::bit_cast<double>(cell(s, bounds_.size() + 1).load(std::memory_order_relaxed));
  }
  return total;
}

// ---- Family ----

template <typename Child>
Family<Child>::Family(detail::FamilyInfo info) : detail::FamilyBase(std::move(info)) {
  if constexpr (std::is_same_v<Child, Histogram>) {
    for (double bound : info_.buckets) {
      le_text_.push_back("le=\"" + ExpositionWriter::le_value(bound, ExpositionFormat::prometheus_text_004) +
                         "\"");
      le_openmetrics_.push_back("le=\"" + ExpositionWriter::le_value(bound, ExpositionFormat::openmetrics_100) +
                                "\"");
    }
    le_text_.emplace_back("le=\"+Inf\"");
    le_openmetrics_.emplace_back("le=\"+Inf\"");
  }
}

template <typename Child>
Family<Child>::~Family() = default;

template <typename Child>
Child& Family<Child>::labels(std::initializer_list<std::string_view> values) {
  return find_or_create(render_label_pairs(values));
}

template <typename Child>
Child& Family<Child>::labels(const std::vector<std::string>& values) {
  return find_or_create(render_label_pairs(values));
}

template <typename Child>
Child& Family<Child>::find_or_create(std::string label_pairs) {
  std::lock_guard lock(mutex_);
  if (auto it = by_label_pairs_.find(label_pairs); it != by_label_pairs_.end()) return it->second->child;
  Entry* entry = nullptr;
  if constexpr (std::is_same_v<Child, Histogram>) {
    entry = &entries_.emplace_back(std::move(label_pairs), info_.buckets);
  } else {
    entry = &entries_.emplace_back(std::move(label_pairs));
  }
  order_.push_back(entry);
  by_label_pairs_.emplace(entry->label_pairs, entry);
  return entry->child;
}

template <typename Child>
void Family<Child>::expose(std::string& out, ExpositionFormat format) const {
  std::vector<const Entry*> entries;
  {
    std::lock_guard lock(mutex_);
    entries = order_;
  }
  ExpositionWriter w(out, format);
  const std::string& name = info_.name;
  w.metadata(name, info_.help, info_.type);
  const bool om = w.openmetrics();
  detail::Exemplar exemplar;

  if constexpr (std::is_same_v<Child, Counter>) {
    const std::string_view base = ExpositionWriter::counter_family_name(name);
    for (const Entry* e : entries) {
      w.sample_start(name, {}, e->label_pairs);
      w.value(e->child.value());
      if (om && e->child.exemplar_.load(&exemplar)) w.exemplar(exemplar);
      w.end_line();
      if (om) {
        w.sample_start(base, "_created", e->label_pairs);
        w.timestamp(e->child.created_unix_seconds_);
        w.end_line();
      }
    }
  } else if constexpr (std::is_same_v<Child, Gauge>) {
    for (const Entry* e : entries) {
      w.sample_start(name, {}, e->label_pairs);
      w.value(e->child.value());
      w.end_line();
    }
  } else {
    const std::vector<std::string>& le = om ? le_openmetrics_ : le_text_;
    std::vector<std::uint64_t> buckets;
    double sum = 0;
    for (const Entry* e : entries) {
      const Histogram& h = e->child;
      h.snapshot(&buckets, &sum);
      std::size_t exemplar_bucket = buckets.size();
      if (om && h.exemplar_.load(&exemplar)) exemplar_bucket = h.bucket_index(exemplar.value);
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < buckets.size(); ++i) {
        cumulative += buckets[i];
        w.sample_start(name, "_bucket", e->label_pairs, le[i]);
        w.value(cumulative);
        if (i == exemplar_bucket) w.exemplar(exemplar);
        w.end_line();
      }
      w.sample_start(name, "_sum", e->label_pairs);
      w.value(sum);
      w.end_line();
      w.sample_start(name, "_count", e->label_pairs);
      w.value(cumulative);
      w.end_line();
      if (om) {
        w.sample_start(name, "_created", e->label_pairs);
        w.timestamp(h.created_unix_seconds_);
        w.end_line();
      }
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

}  // namespace tgpulse::telemetry
