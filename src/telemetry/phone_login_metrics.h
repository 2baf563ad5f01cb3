// PhoneLoginMetrics: the phone-number login's own family, beside the seed's QR family (which stays
// QR-only: its series, alerts and dashboards were written for QR logins, and mixing two flows with
// different durations and failure modes into one series would break its timeout alert and SLO).
//
//   tgpulse_phone_login_total{status}   Phone-number logins by event: created, and one ending each —
//                                       authorized, expired, failed (the service or Telegram failed it),
//                                       cancelled (the tenant ended it), interrupted (shutdown/restart),
//                                       refused (Telegram asked for a step tgpulse does not do: registration,
//                                       an e-mail address, a purchase), code_attempts (too many wrong codes)
//   tgpulse_phone_codes_total{result}   Login codes: sent (first send), resent, accepted, wrong, expired,
//                                       flood_limited (Telegram refused to send: PHONE_NUMBER_FLOOD)
//
// Every series is created at zero at registration. No tenant, session or phone number in any label.
//
// Thread-safety: construction registers (not thread-safe with other registrations); the handles are
// thread-safe and lock-free.
#pragma once

#include "telemetry/metrics.h"

namespace tgpulse::telemetry {

struct PhoneLoginMetrics {
  explicit PhoneLoginMetrics(Registry& registry);

  Counter* created;
  Counter* authorized;
  Counter* expired;
  Counter* failed;
  Counter* cancelled;
  Counter* interrupted;
  Counter* refused;
  Counter* code_attempts;

  Counter* code_sent;
  Counter* code_resent;
  Counter* code_accepted;
  Counter* code_wrong;
  Counter* code_expired;
  Counter* code_flood_limited;
};

}  // namespace tgpulse::telemetry
