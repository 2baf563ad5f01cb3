// ThrottleOptions: the configuration of the request path's limits — the three token-bucket layers (per
// session and method, per process and method, per tenant on the HTTP API), the adaptive slow-down after
// a FloodWait, and the FloodWait policy (sleep threshold, retries). Every default is documented here
// with where the number comes from; docs/throttling.md explains the reasoning at more length.
//
// Telegram publishes no limits for user accounts ("the exact limits are unknown and can change"), only
// the Bot FAQ's guidance (about 1 message per second in one chat, 20 per minute in one group, about 30
// per second overall), so the defaults follow that guidance and what client libraries ship:
// Telethon (flood_sleep_threshold = 60 s, request_retries = 5), gotd's documented middleware
// (10 requests/s with a burst of 5, floodwait waiter), mtcute (5 retries, stored waits delay new calls).
//
// Thread-safety: plain value types; validate() once at start-up, then share read-only.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace tgpulse::throttle {

// One token bucket: `rate` tokens per second refill a bucket holding at most `burst` tokens; a call
// takes one token. rate <= 0 means unlimited (the layer does not apply to that method).
struct BucketLimit {
  double rate = 0;   // tokens per second; <= 0: unlimited
  double burst = 1;  // capacity in tokens; >= 1 when rate > 0

  bool operator==(const BucketLimit&) const = default;
};

// A layer: a limit per method, and a default for every method not listed.
struct LayerOptions {
  BucketLimit default_limit;
  std::map<std::string, BucketLimit, std::less<>> per_method;

  const BucketLimit& limit_for(std::string_view method) const {
    auto it = per_method.find(method);
    return it == per_method.end() ? default_limit : it->second;
  }

  bool operator==(const LayerOptions&) const = default;
};

// Additive-increase / multiplicative-decrease of a session bucket's rate (TCP's AIMD): each FloodWait on
// the method multiplies the bucket's current rate by `decrease_factor` (never below
// floor_fraction × configured rate); each successful call adds recovery_step × configured rate, up to
// the configured rate (the ceiling).
struct AdaptiveOptions {
  bool enabled = true;           // off: buckets keep their configured rate
  double decrease_factor = 0.5;  // halve on each FloodWait, as TCP halves its window on a loss
  double recovery_step = 0.05;   // +5% of the configured rate per success: 20 calls from 0 back to full
  double floor_fraction = 0.05;  // never slower than 5% of the configured rate (10/s → 0.5/s)

  bool operator==(const AdaptiveOptions&) const = default;
};

// FloodWait policy, with Telethon's defaults and names.
struct FloodOptions {
  // Waits up to this long are slept and the call retried; longer ones fail fast with the time the method
  // clears. Telethon's flood_sleep_threshold default is 60 s; TDLib itself absorbs waits that keep a
  // query's accumulated wait <= 60 s.
  std::chrono::seconds sleep_threshold{60};
  // At most this many retries after FloodWaits of one call (Telethon's request_retries, mtcute's
  // maxRetries: 5).
  int request_retries = 5;

  bool operator==(const FloodOptions&) const = default;
};

struct ThrottleOptions {
  // Off: the session and process layers grant every call at once (delay 0 is still observed). The
  // tenant quota, the flood ledger and the FloodWait policy stay on. For comparisons and emergencies.
  bool enabled = true;

  // Per session and method: what keeps one account out of trouble.
  //   default 10/s, burst 5   gotd's documented middleware: rate.Every(100ms) with a burst of 5
  //   sendMessage 1/s, burst 3    Bot FAQ: "avoid sending more than one message per second" in a chat,
  //                               "short bursts" tolerated
  //   searchPublicChat 0.5/s, burst 2   contacts.resolveUsername is the method that earns the longest
  //                               waits in client-library reports; resolve usernames sparingly
  //   joinChat 0.1/s, burst 2     joining chats is limited per day; one every 10 s at most
  LayerOptions session{BucketLimit{10, 5},
                       {{"sendMessage", {1, 3}}, {"searchPublicChat", {0.5, 2}}, {"joinChat", {0.1, 2}}}};

  // Per process and method, across all sessions: Telegram's limits are per account, so by default only
  // sendMessage is capped, at the Bot FAQ's "about 30 messages per second" overall. Raise or add
  // methods when one process hosts many accounts behind one IP.
  LayerOptions process{BucketLimit{0, 1}, {{"sendMessage", {30, 30}}}};

  // Per tenant on invoke (a quota: refused at once with 429 and Retry-After, never waited): 50 calls/s
  // with a burst of 100 for all the tenant's methods together, plus a bucket of its own for each method
  // listed here. A product choice that keeps one tenant from starving the others; it is far above what
  // a single account may send to Telegram. (Every tenant route, invoke included, also passes the
  // tenant's overall request quota, limits.tenant_request_rate.)
  LayerOptions tenant{BucketLimit{50, 100}, {}};

  AdaptiveOptions adaptive;
  FloodOptions flood;

  // Checks every value; the error names the bad key (e.g. "throttle.session.sendMessage.burst").
  Status validate() const;

  // The TDLib methods that get their own metric label value (<ns>_requests_total{method},
  // <ns>_floodwait_total{reason}, tgpulse_throttle_rate{method}, ...): `defaults`
  // (telemetry::CatalogOptions::known_methods) plus every method a layer's `per_method` names, so a
  // configured method is never reported as "other". Each label value costs about 50 series, so at most
  // kMaxConfiguredMethodLabels configured methods are added (in name order); `left_out` counts the
  // rest, which are reported as "other". The reserved values "other" and "engine" are never added.
  static constexpr std::size_t kMaxConfiguredMethodLabels = 64;
  struct MethodLabels {
    std::vector<std::string> methods;  // defaults first, then the configured ones in name order
    std::size_t left_out = 0;          // configured methods beyond the cap
  };
  MethodLabels method_labels(const std::vector<std::string>& defaults) const;

  bool operator==(const ThrottleOptions&) const = default;
};

}  // namespace tgpulse::throttle
