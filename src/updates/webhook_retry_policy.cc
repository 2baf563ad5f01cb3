#include "updates/webhook_retry_policy.h"

#include <algorithm>
#include <cmath>

namespace tgpulse::updates {

WebhookRetryDecision next_webhook_retry(const WebhookRetryOptions& options, int attempt, int status,
                                        std::optional<std::chrono::seconds> retry_after,
                                        std::chrono::milliseconds age, double random_unit) {
  using std::chrono::milliseconds;
  const int exponent = std::clamp(attempt, 1, 63) - 1;
  // initial * 2^exponent, without overflow: past the cap it is the cap.
  const double grown = static_cast<double>(options.initial_backoff.count()) * std::ldexp(1.0, exponent);
  const double cap = std::min(grown, static_cast<double>(options.max_backoff.count()));
  const double unit = std::clamp(random_unit, 0.0, 1.0);
  WebhookRetryDecision d;
  d.wait = milliseconds(static_cast<std::int64_t>(std::floor(cap * unit)));
  d.reason = "backoff";
  if (retry_after && (status == 429 || status == 503)) {
    const milliseconds asked = std::clamp<milliseconds>(*retry_after, milliseconds(0), options.max_retry_after);
    if (asked >= d.wait) {
      d.wait = asked;
      d.reason = "retry_after";
    }
  }
  if (age + d.wait > options.max_age) {
    d.give_up = true;
    d.wait = milliseconds(0);
    d.reason = "max_age";
  }
  return d;
}

}  // namespace tgpulse::updates
