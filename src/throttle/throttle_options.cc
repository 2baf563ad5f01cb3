#include "throttle/throttle_options.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

namespace tgpulse::throttle {
namespace {

Status check_limit(const std::string& key, const BucketLimit& limit) {
  if (!std::isfinite(limit.rate)) return Status(Errc::invalid_argument, key + ".rate must be a finite number");
  if (limit.rate > 0 && (!std::isfinite(limit.burst) || limit.burst < 1)) {
    return Status(Errc::invalid_argument, key + ".burst must be >= 1 when the rate is positive");
  }
  return {};
}

Status check_layer(const std::string& key, const LayerOptions& layer) {
  if (auto s = check_limit(key + ".default", layer.default_limit); !s) return s;
  for (const auto& [method, limit] : layer.per_method) {
    if (method.empty()) return Status(Errc::invalid_argument, key + " has a limit for an empty method name");
    if (auto s = check_limit(key + "." + method, limit); !s) return s;
  }
  return {};
}

}  // namespace

Status ThrottleOptions::validate() const {
  if (auto s = check_layer("throttle.session", session); !s) return s;
  if (auto s = check_layer("throttle.process", process); !s) return s;
  if (auto s = check_layer("throttle.tenant", tenant); !s) return s;
  if (!(adaptive.decrease_factor > 0 && adaptive.decrease_factor <= 1)) {
    return Status(Errc::invalid_argument, "throttle.adaptive.decrease_factor must be in (0, 1]");
  }
  if (!(adaptive.recovery_step > 0 && adaptive.recovery_step <= 1)) {
    return Status(Errc::invalid_argument, "throttle.adaptive.recovery_step must be in (0, 1]");
  }
  if (!(adaptive.floor_fraction > 0 && adaptive.floor_fraction <= 1)) {
    return Status(Errc::invalid_argument, "throttle.adaptive.floor_fraction must be in (0, 1]");
  }
  if (flood.sleep_threshold.count() < 0) {
    return Status(Errc::invalid_argument, "flood.sleep_threshold must be >= 0 seconds");
  }
  if (flood.request_retries < 0) return Status(Errc::invalid_argument, "flood.request_retries must be >= 0");
  return {};
}

ThrottleOptions::MethodLabels ThrottleOptions::method_labels(const std::vector<std::string>& defaults) const {
  std::set<std::string, std::less<>> configured;  // ordered: which ones pass the cap does not depend on the layer
  for (const LayerOptions* layer : {&session, &process, &tenant}) {
    for (const auto& [method, limit] : layer->per_method) {
      const bool reserved = method.empty() || method == "other" || method == "engine";
      if (!reserved && std::find(defaults.begin(), defaults.end(), method) == defaults.end()) {
        configured.insert(method);
      }
    }
  }
  MethodLabels out;
  out.methods = defaults;
  for (const std::string& method : configured) {
    if (out.methods.size() - defaults.size() == kMaxConfiguredMethodLabels) {
      ++out.left_out;
    } else {
      out.methods.push_back(method);
    }
  }
  return out;
}

}  // namespace tgpulse::throttle
