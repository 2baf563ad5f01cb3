// Rejections: tgpulse_rejected_total{reason} — every request the service refuses to protect itself or
// other tenants (a quota, a cap, a forbidden function, a body too deep), counted under one family with a
// bounded, fixed set of reasons, each pre-created at zero so rate() works from the first scrape.
// The reason names what was exceeded, never who exceeded it (tenant ids go to logs and spans).
//
// Thread-safety: construction registers the family (not thread-safe with other registrations);
// count() is thread-safe and lock-free.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

#include "telemetry/metrics.h"

namespace tgpulse::telemetry {

enum class RejectReason : std::size_t {
  tenant_quota,        // the tenant's request quota (all tenant routes together)
  sessions_cap,        // live sessions per tenant or per process
  logins_cap,          // logins in progress per tenant or per process
  login_rate,          // login creations per minute per tenant
  password_attempts,   // 2FA password attempts of one login
  streams_cap,         // open event streams per tenant or per process
  connections_cap,     // server.max_connections on the main listener
  forbidden_function,  // invoke of a function the policy refuses
  invalid_function,    // invoke @type that is not a TDLib identifier
  body_bounds,         // a JSON body over the depth or element limit
  request_framing,     // ambiguous HTTP framing (Transfer-Encoding other than exactly chunked): smuggling
  auth_failures,       // unknown bearer tokens from one client address over limits.auth_failure_rate
  code_attempts,       // login codes of one phone login
  count_               // not a reason: the number of reasons
};

// The label value of a reason ("tenant_quota", ...).
std::string_view reject_reason_name(RejectReason r) noexcept;

class Rejections {
 public:
  explicit Rejections(Registry& registry);
  void count(RejectReason r) noexcept;
  // The current value (tests, and the readiness/ops endpoints).
  double value(RejectReason r) const noexcept;

 private:
  std::array<Counter*, static_cast<std::size_t>(RejectReason::count_)> by_reason_{};
};

}  // namespace tgpulse::telemetry
