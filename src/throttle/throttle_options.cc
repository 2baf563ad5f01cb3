#include "throttle/throttle_options.h"

#include <cmath>
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

}  // namespace tgpulse::throttle
