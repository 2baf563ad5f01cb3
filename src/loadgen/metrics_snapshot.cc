#include "loadgen/metrics_snapshot.h"

#include <cmath>
#include <cstdlib>
#include <limits>

namespace tgpulse::loadgen {
namespace {

double parse_number(std::string_view s, bool* ok) {
  if (s == "+Inf" || s == "Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  std::string copy(s);
  char* end = nullptr;
  const double v = std::strtod(copy.c_str(), &end);
  *ok = end != copy.c_str() && *end == '\0';
  return v;
}

// The value of label `key` in `labels` (`a="x",le="0.5"`), without unescaping (bounds never need it).
std::string_view label_value(std::string_view labels, std::string_view key) {
  std::size_t pos = 0;
  while (pos < labels.size()) {
    const auto eq = labels.find("=\"", pos);
    if (eq == std::string_view::npos) break;
    const std::string_view name = labels.substr(pos, eq - pos);
    std::size_t end = eq + 2;
    while (end < labels.size() && labels[end] != '"') end += labels[end] == '\\' ? 2 : 1;
    if (name == key) return labels.substr(eq + 2, end - eq - 2);
    pos = end + 1;
    if (pos < labels.size() && labels[pos] == ',') ++pos;
  }
  return {};
}

}  // namespace

MetricsSnapshot MetricsSnapshot::parse(std::string_view text) {
  MetricsSnapshot snap;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    Sample s;
    std::size_t value_start = 0;
    if (const auto brace = line.find('{'); brace != std::string_view::npos) {
      const auto close = line.rfind('}');
      if (close == std::string_view::npos || close < brace) continue;
      s.name = std::string(line.substr(0, brace));
      s.labels = std::string(line.substr(brace + 1, close - brace - 1));
      value_start = close + 1;
    } else {
      const auto space = line.find(' ');
      if (space == std::string_view::npos) continue;
      s.name = std::string(line.substr(0, space));
      value_start = space;
    }
    std::string_view rest = line.substr(value_start);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    rest = rest.substr(0, rest.find(' '));  // drop a timestamp
    bool ok = true;
    s.value = parse_number(rest, &ok);
    if (ok) snap.samples_.push_back(std::move(s));
  }
  return snap;
}

double MetricsSnapshot::sum(std::string_view name) const {
  double total = 0;
  for (const Sample& s : samples_) {
    if (s.name == name) total += s.value;
  }
  return total;
}

std::map<double, double> MetricsSnapshot::buckets(std::string_view name) const {
  const std::string bucket_name = std::string(name) + "_bucket";
  std::map<double, double> out;
  for (const Sample& s : samples_) {
    if (s.name != bucket_name) continue;
    bool ok = true;
    const double le = parse_number(label_value(s.labels, "le"), &ok);
    if (ok) out[le] += s.value;
  }
  return out;
}

double MetricsSnapshot::histogram_quantile(double q, const std::map<double, double>& before,
                                           const std::map<double, double>& after) {
  std::vector<std::pair<double, double>> delta;  // (upper bound, cumulative count during the run)
  for (const auto& [le, count] : after) {
    auto it = before.find(le);
    delta.emplace_back(le, count - (it == before.end() ? 0 : it->second));
  }
  if (delta.empty() || delta.back().second <= 0) return 0;
  const double total = delta.back().second;
  const double rank = q * total;
  double lower_bound = 0;
  double lower_count = 0;
  for (const auto& [le, count] : delta) {
    if (count >= rank) {
      if (std::isinf(le)) return lower_bound;  // as PromQL: the highest finite bound
      if (count == lower_count) return le;
      return lower_bound + (le - lower_bound) * (rank - lower_count) / (count - lower_count);
    }
    lower_bound = le;
    lower_count = count;
  }
  return lower_bound;
}

}  // namespace tgpulse::loadgen
