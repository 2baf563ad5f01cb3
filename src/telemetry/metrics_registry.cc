// Registry: registration with validation, collect hooks, exposition and content negotiation.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include "telemetry/exposition.h"
#include "telemetry/metrics.h"

namespace tgpulse::telemetry {
namespace {

bool is_metric_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

bool is_label_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

void validate(const detail::FamilyInfo& info) {
  const std::string& name = info.name;
  if (!is_metric_name(name)) {
    throw std::invalid_argument("invalid metric name '" + name +
                                "': must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  }
  if (info.type == detail::MetricType::counter && (!ends_with(name, "_total") || name == "_total")) {
    throw std::invalid_argument("invalid counter name '" + name + "': counter names end in _total");
  }
  for (std::size_t i = 0; i < info.label_names.size(); ++i) {
    const std::string& label = info.label_names[i];
    if (!is_label_name(label) || label.starts_with("__")) {
      throw std::invalid_argument("metric '" + name + "': invalid label name '" + label +
                                  "': must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __");
    }
    if (info.type == detail::MetricType::histogram && label == "le") {
      throw std::invalid_argument("metric '" + name + "': label name 'le' is reserved for histogram buckets");
    }
    if (std::find(info.label_names.begin(), info.label_names.begin() + static_cast<std::ptrdiff_t>(i),
                  label) != info.label_names.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw std::invalid_argument("metric '" + name + "': duplicate label name '" + label + "'");
    }
  }
  for (std::size_t i = 0; i < info.buckets.size(); ++i) {
    const double b = info.buckets[i];
    if (!std::isfinite(b)) {
      throw std::invalid_argument("histogram '" + name +
                                  "': bucket bounds must be finite (+Inf is implicit)");
    }
    if (i > 0 && !(info.buckets[i - 1] < b)) {
      throw std::invalid_argument("histogram '" + name + "': bucket bounds must be strictly increasing");
    }
  }
}

// Every name a family puts on the wire in either format (sample names and the OpenMetrics family name).
std::vector<std::string> wire_names(const detail::FamilyInfo& info) {
  const std::string& n = info.name;
  switch (info.type) {
    case detail::MetricType::counter: {
      const std::string base(ExpositionWriter::counter_family_name(n));
      return {n, base, base + "_created"};
    }
    case detail::MetricType::gauge:
      return {n};
    case detail::MetricType::histogram:
      return {n, n + "_bucket", n + "_sum", n + "_count", n + "_created"};
  }
  return {n};
}

const char* type_name(detail::MetricType t) {
  switch (t) {
    case detail::MetricType::counter:
      return "counter";
    case detail::MetricType::gauge:
      return "gauge";
    case detail::MetricType::histogram:
      return "histogram";
  }
  return "?";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

Registry::Registry() = default;
Registry::~Registry() = default;

template <typename F>
F& Registry::add(detail::FamilyInfo info) {
  validate(info);
  std::lock_guard lock(mutex_);
  if (auto it = by_name_.find(info.name); it != by_name_.end()) {
    const detail::FamilyInfo& existing = it->second->info();
    if (existing.type != info.type || existing.label_names != info.label_names ||
        existing.buckets != info.buckets || existing.help != info.help) {
      throw std::invalid_argument("metric '" + info.name + "' is already registered as a " +
                                  type_name(existing.type) + " with other help, labels or buckets");
    }
    return static_cast<F&>(*it->second);
  }
  const std::vector<std::string> names = wire_names(info);
  for (const std::string& n : names) {
    if (auto it = claimed_names_.find(n); it != claimed_names_.end()) {
      throw std::invalid_argument("metric '" + info.name + "' collides with metric '" + it->second +
                                  "' (both expose '" + n + "')");
    }
  }
  auto family = std::make_unique<F>(std::move(info));
  F& ref = *family;
  for (const std::string& n : names) claimed_names_.emplace(n, ref.info().name);
  by_name_.emplace(ref.info().name, &ref);
  families_.push_back(std::move(family));
  return ref;
}

CounterFamily& Registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  return add<CounterFamily>({detail::MetricType::counter, std::move(name), std::move(help),
                             std::move(label_names), {}});
}

GaugeFamily& Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  return add<GaugeFamily>({detail::MetricType::gauge, std::move(name), std::move(help),
                           std::move(label_names), {}});
}

HistogramFamily& Registry::histogram(std::string name, std::string help, std::vector<double> buckets,
                                     std::vector<std::string> label_names) {
  return add<HistogramFamily>({detail::MetricType::histogram, std::move(name), std::move(help),
                               std::move(label_names), std::move(buckets)});
}

void Registry::add_collect_hook(std::function<void()> hook) {
  if (!hook) throw std::invalid_argument("add_collect_hook: empty hook");
  std::lock_guard lock(mutex_);
  hooks_.push_back(std::move(hook));
}

std::string Registry::expose(ExpositionFormat format) const {
  std::vector<std::function<void()>> hooks;
  std::vector<const detail::FamilyBase*> families;
  {
    std::lock_guard lock(mutex_);
    hooks = hooks_;
  }
  for (const auto& hook : hooks) hook();
  {
    std::lock_guard lock(mutex_);
    families.reserve(families_.size());
    for (const auto& f : families_) families.push_back(f.get());
  }
  std::string out;
  out.reserve(last_exposition_size_.load(std::memory_order_relaxed) + 1024);
  for (const detail::FamilyBase* f : families) f->expose(out, format);
  ExpositionWriter(out, format).finish();
  last_exposition_size_.store(out.size(), std::memory_order_relaxed);
  return out;
}

ExpositionFormat Registry::negotiate(std::string_view accept_header, std::string* content_type) {
  double best_openmetrics = -1;
  double best_text = -1;
  std::string_view rest = accept_header;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string_view range = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);

    const std::size_t semi = range.find(';');
    const std::string_view media = trim(range.substr(0, semi));
    double q = 1.0;
    bool supported_version = true;
    std::string_view params = semi == std::string_view::npos ? std::string_view{} : range.substr(semi + 1);
    while (!params.empty()) {
      const std::size_t next = params.find(';');
      const std::string_view param = params.substr(0, next);
      params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
      const std::size_t eq = param.find('=');
      if (eq == std::string_view::npos) continue;
      const std::string_view key = trim(param.substr(0, eq));
      std::string_view value = trim(param.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      if (iequals(key, "q")) {
        double parsed = 0;
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
        q = (ec == std::errc() && ptr == value.data() + value.size() && parsed >= 0 && parsed <= 1) ? parsed : 0;
      } else if (iequals(key, "version") && iequals(media, "application/openmetrics-text")) {
        // 1.x is what we write; 0.0.1 is the draft Prometheus also asks for and parses the same way.
        supported_version = value.starts_with("1.") || value == "0.0.1";
      }
    }
    if (iequals(media, "application/openmetrics-text")) {
      if (supported_version) best_openmetrics = std::max(best_openmetrics, q);
    } else if (iequals(media, "text/plain") || iequals(media, "text/*") || iequals(media, "*/*")) {
      best_text = std::max(best_text, q);
    }
  }
  const bool openmetrics = best_openmetrics > 0 && best_openmetrics >= best_text;
  if (content_type != nullptr) {
    *content_type = openmetrics ? kOpenMetricsContentType : kTextContentType;
  }
  return openmetrics ? ExpositionFormat::openmetrics_100 : ExpositionFormat::prometheus_text_004;
}

}  // namespace tgpulse::telemetry
