// WebhookRetryPolicy: when to try a failed webhook delivery again, as a pure function of the attempt
// number, the receiver's answer, the update's age and one random number — so every rule is testable
// without a clock or a server.
//
//  - Exponential back-off with full jitter: the wait is uniform in [0, min(max_backoff,
//    initial_backoff * 2^(attempt-1))] (`random_unit` in [0, 1) picks the point).
//  - A receiver's Retry-After (429 or 503) is honoured: the wait is max(Retry-After, the jittered
//    back-off), capped at max_retry_after (a receiver cannot park an update for a day).
//  - An update older than max_age when the next attempt would start is given up (the caller drops it,
//    counts it and announces the gap).
//
// Thread-safety: a value type and a pure function.
#pragma once

#include <chrono>
#include <optional>

namespace tgpulse::updates {

struct WebhookRetryOptions {
  std::chrono::milliseconds initial_backoff{1000};  // the cap of the first jittered wait
  std::chrono::milliseconds max_backoff{300000};    // 5 min: the back-off stops growing here
  std::chrono::seconds max_retry_after{600};        // the longest Retry-After honoured (10 min)
  std::chrono::seconds max_age{86400};              // an update undelivered after 24 h is given up

  bool operator==(const WebhookRetryOptions&) const = default;
};

struct WebhookRetryDecision {
  bool give_up = false;
  std::chrono::milliseconds wait{0};  // before the next attempt (when !give_up)
  const char* reason = "";            // "backoff", "retry_after" or "max_age"
};

// `attempt`: failed attempts so far (>= 1). `status`: the receiver's HTTP status, 0 when there was no
// answer. `retry_after`: its Retry-After, when it sent a usable one. `age`: now - when the update was
// received. `random_unit`: uniform in [0, 1).
WebhookRetryDecision next_webhook_retry(const WebhookRetryOptions& options, int attempt, int status,
                                        std::optional<std::chrono::seconds> retry_after,
                                        std::chrono::milliseconds age, double random_unit);

}  // namespace tgpulse::updates
