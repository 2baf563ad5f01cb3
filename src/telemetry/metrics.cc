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

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

double unix_now() noexcept {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(since_epoch).count();
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

Counter::Counter() : created_unix_seconds_(detail::unix_now()) {}

void Counter::add(double v, detail::CacheLine* mine) noexcept {
  if (!(v > 0)) return;  // negative, zero, NaN: counters only go up
  const bool whole = v < detail::kMaxExactInteger && v == std::floor(v);
  if (mine == nullptr) mine = slots_.claim();
  if (mine != nullptr) {
    if (whole) {
      detail::bump(detail::cell(mine, kWhole), static_cast<std::uint64_t>(v));
    } else {
      detail::add_double(detail::cell(mine, kFraction), v);
    }
    return;
  }
  detail::CacheLine* shared = slots_.shared();
  if (whole) {
    detail::cell(shared, kWhole).fetch_add(static_cast<std::uint64_t>(v), std::memory_order_relaxed);
  } else {
    detail::add_double_shared(detail::cell(shared, kFraction), v);
  }
}

void Counter::inc(double v, const SpanContext& exemplar) noexcept {
  if (!(v > 0)) return;
  inc(v);
  exemplar_.store(exemplar, v);
}

double Counter::value(std::vector<std::uint64_t>* scratch) const {
  double fraction = 0;
  slots_.snapshot(scratch, &fraction);
  return static_cast<double>((*scratch)[kWhole]) + fraction;
}

double Counter::value() const {
  std::vector<std::uint64_t> scratch;
  return value(&scratch);
}

// ---- Gauge ----

void Gauge::set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
void Gauge::inc(double v) noexcept { value_.fetch_add(v, std::memory_order_relaxed); }
void Gauge::dec(double v) noexcept { value_.fetch_sub(v, std::memory_order_relaxed); }
double Gauge::value() const noexcept { return value_.load(std::memory_order_relaxed); }

// ---- Histogram ----

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds),
      bound_count_(bounds.size()),
      padded_count_(bounds.size() <= kMaxScannedBounds ? (bounds.size() + 3) & ~std::size_t{3} : 0),
      scan_bounds_(std::make_unique<double[]>(padded_count_)),
      slots_(bounds.size() + 2),  // buckets + +Inf + sum
      created_unix_seconds_(detail::unix_now()) {
  if (padded_count_ == 0) return;  // none, or searched
  std::copy(bounds.begin(), bounds.end(), scan_bounds_.get());
  std::fill(scan_bounds_.get() + bound_count_, scan_bounds_.get() + padded_count_, HUGE_VAL);
}

std::size_t Histogram::bucket_index_by_search(double v) const noexcept {
  if (std::isnan(v)) return bound_count_;
  return static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
}

void Histogram::observe_unowned(double v) noexcept {
  if (detail::CacheLine* mine = slots_.claim()) {
    record(mine, v);
    return;
  }
  detail::CacheLine* shared = slots_.shared();
  detail::cell(shared, bucket_index(v)).fetch_add(1, std::memory_order_relaxed);
  detail::add_double_shared(detail::cell(shared, bound_count_ + 1), v);
}

void Histogram::observe(double v, const SpanContext& exemplar) noexcept {
  observe(v);
  exemplar_.store(exemplar, v);
}

void Histogram::snapshot(std::vector<std::uint64_t>* buckets, double* sum) const {
  slots_.snapshot(buckets, sum);
}

std::uint64_t Histogram::count() const {
  std::vector<std::uint64_t> buckets;
  double sum = 0;
  snapshot(&buckets, &sum);
  std::uint64_t total = 0;
  for (std::uint64_t b : buckets) total += b;
  return total;
}

double Histogram::sum() const {
  std::vector<std::uint64_t> buckets;
  double sum = 0;
  snapshot(&buckets, &sum);
  return sum;
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
    std::vector<std::uint64_t> scratch;
    for (const Entry* e : entries) {
      w.sample_start(name, {}, e->label_pairs);
      w.value(e->child.value(&scratch));
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
