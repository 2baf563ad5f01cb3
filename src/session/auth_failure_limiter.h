// AuthFailureLimiter: how many unknown bearer tokens one client may try, so that a flood of bad tokens
// cannot fill the store pool and starve the tenants whose tokens are good (docs/security-isolation.md,
// "A flood of unknown tokens").
//
// A token the token cache does not know costs a store lookup on the blocking pool. Before that lookup
// the route asks admit(client): one token of the client's bucket (limits.auth_failure_rate per second,
// at most limits.auth_failure_burst banked). A lookup that finds a tenant gives it back (succeeded());
// an unknown token keeps it. An empty bucket answers 429 auth_failures with Retry-After, without any
// store call, counted in tgpulse_rejected_total{reason="auth_failures"} (no address in any label). So
// one client has at most `burst` lookups in flight and `rate` failures per second, whatever it sends;
// tokens already in the cache never pass here.
//
// The client is its IP address as the socket sees it: an IPv4 address, or the /64 prefix of an IPv6
// one (one subscriber's whole network). Behind a reverse proxy every client shares the proxy's bucket
// (forwarding headers are not trusted), so set the rate for the proxy's total, or limit at the proxy.
//
// Memory: at most limits.auth_failure_clients buckets. When the table is full, buckets that are full
// again (their clients stopped failing) are dropped, at most once a second; clients that still find no
// room share one overflow bucket with the same limits. The table never grows past its bound.
//
// Thread-safety: thread-safe (one mutex, O(1) per call except the bounded, rate-limited sweep).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "session/tenant_limits.h"
#include "telemetry/rejections.h"

namespace tgpulse::session {

class AuthFailureLimiter {
 public:
  // `rejections` may be null (tests). A rate of 0 turns the limiter off (admit() always says yes).
  AuthFailureLimiter(const TenantLimitsOptions& options, const Clock& clock, telemetry::Rejections* rejections);
  ~AuthFailureLimiter();
  AuthFailureLimiter(const AuthFailureLimiter&) = delete;
  AuthFailureLimiter& operator=(const AuthFailureLimiter&) = delete;

  // The client may look an unknown token up now (and one of its tokens is taken), or the refusal
  // (reason auth_failures, Retry-After), counted.
  std::optional<TenantLimits::Refusal> admit(std::string_view client_address);
  // The lookup admitted for `client_address` found a tenant (or could not ask the store): its token
  // goes back.
  void succeeded(std::string_view client_address);

  // Buckets held now (at most limits.auth_failure_clients).
  std::size_t clients() const;
  // The bucket key of an address: the IPv4 address, the IPv6 /64 prefix ("2001:db8:1:2::/64"), or the
  // text itself when it is not an address.
  static std::string client_key(std::string_view address);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tgpulse::session
