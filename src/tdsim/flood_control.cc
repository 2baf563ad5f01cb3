#include "tdsim/flood_control.h"

#include <algorithm>
#include <cmath>

namespace tgpulse::tdsim {

FloodControl::Verdict FloodControl::decide(int client_id, const std::string& method, const FloodLimit& limit,
                                           TimePoint now) {
  for (int key : {client_id, 0}) {
    auto it = forced_.find({key, method});
    if (it != forced_.end()) {
      Verdict v = it->second;
      forced_.erase(it);
      v.seconds = std::max(v.seconds, 1);
      return v;
    }
  }
  if (limit.rate_per_second <= 0 || limit.burst <= 0) return {};
  auto& bucket = buckets_[{client_id, method}];
  if (!bucket.initialised) {
    bucket.tokens = limit.burst;
    bucket.updated = now;
    bucket.initialised = true;
  }
  const double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
  bucket.tokens = std::min(limit.burst, bucket.tokens + elapsed * limit.rate_per_second);
  bucket.updated = now;
  bucket.tokens -= 1;
  if (bucket.tokens >= 0) return {};
  // Time until the deficit is refilled; Telegram rounds up and never says 0.
  return {std::max(1, static_cast<int>(std::ceil(-bucket.tokens / limit.rate_per_second))), false};
}

void FloodControl::refund(int client_id, const std::string& method) {
  auto it = buckets_.find({client_id, method});
  if (it != buckets_.end()) it->second.tokens += 1;
}

void FloodControl::force(const std::string& method, int client_id, int seconds, bool as_error) {
  forced_[{client_id, method}] = Verdict{seconds, as_error};
}

void FloodControl::forget_client(int client_id) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    it = it->first.first == client_id ? buckets_.erase(it) : std::next(it);
  }
  for (auto it = forced_.begin(); it != forced_.end();) {
    it = it->first.first == client_id ? forced_.erase(it) : std::next(it);
  }
}

}  // namespace tgpulse::tdsim
