#include "telemetry/span_sampler.h"

#include <fmt/format.h>

#include <cmath>

namespace tgpulse::telemetry {

bool SpanSampler::parse(std::string_view name, double ratio, SpanSampler* out, std::string* error) {
  SpanSampler s;
  std::string_view root = name;
  s.parent_based_ = root.substr(0, 12) == "parentbased_";
  if (s.parent_based_) root.remove_prefix(12);
  if (root == "always_on") {
    s.root_ = Root::always_on;
  } else if (root == "always_off") {
    s.root_ = Root::always_off;
  } else if (root == "traceidratio") {
    if (!(ratio >= 0.0 && ratio <= 1.0)) {  // also rejects NaN
      *error = fmt::format("sampler ratio must be a number in [0, 1], got {}", ratio);
      return false;
    }
    s.root_ = Root::ratio;
    s.ratio_ = ratio;
  } else {
    *error = fmt::format(
        "unknown sampler \"{}\" (allowed: always_on, always_off, traceidratio, parentbased_always_on, "
        "parentbased_always_off, parentbased_traceidratio)",
        name);
    return false;
  }
  *out = s;
  return true;
}

bool SpanSampler::root_decision(const TraceId& trace_id) const noexcept {
  switch (root_) {
    case Root::always_on: return true;
    case Root::always_off: return false;
    case Root::ratio: {
      if (ratio_ >= 1.0) return true;
      if (ratio_ <= 0.0) return false;
      std::uint64_t random_part = 0;
      for (std::size_t i = 8; i < 16; ++i) random_part = (random_part << 8) | trace_id[i];
      // ratio * 2^64, computed in long double so ratios near 1 do not overflow the comparison.
      long double bound = static_cast<long double>(ratio_) * 18446744073709551616.0L;
      return static_cast<long double>(random_part) < bound;
    }
  }
  return false;
}

bool SpanSampler::should_sample(const SpanContext* parent, const TraceId& trace_id) const noexcept {
  if (parent_based_ && parent != nullptr && parent->valid()) return parent->sampled();
  return root_decision(trace_id);
}

std::string SpanSampler::description() const {
  std::string root = root_ == Root::always_on    ? "always_on"
                     : root_ == Root::always_off ? "always_off"
                                                 : fmt::format("traceidratio{{{}}}", ratio_);
  return parent_based_ ? "parentbased_" + root : root;
}

}  // namespace tgpulse::telemetry
