#include "telemetry/phone_login_metrics.h"

namespace tgpulse::telemetry {

namespace {
CounterFamily& logins(Registry& r) {
  return r.counter("tgpulse_phone_login_total", "Phone-number logins: created, and how each ended", {"status"});
}
CounterFamily& codes(Registry& r) {
  return r.counter("tgpulse_phone_codes_total", "Login codes of phone-number logins, by what became of them",
                   {"result"});
}
}  // namespace

PhoneLoginMetrics::PhoneLoginMetrics(Registry& registry)
    : created(&logins(registry).labels({"created"})),
      authorized(&logins(registry).labels({"authorized"})),
      expired(&logins(registry).labels({"expired"})),
      failed(&logins(registry).labels({"failed"})),
      cancelled(&logins(registry).labels({"cancelled"})),
      interrupted(&logins(registry).labels({"interrupted"})),
      refused(&logins(registry).labels({"refused"})),
      code_attempts(&logins(registry).labels({"code_attempts"})),
      code_sent(&codes(registry).labels({"sent"})),
      code_resent(&codes(registry).labels({"resent"})),
      code_accepted(&codes(registry).labels({"accepted"})),
      code_wrong(&codes(registry).labels({"wrong"})),
      code_expired(&codes(registry).labels({"expired"})),
      code_flood_limited(&codes(registry).labels({"flood_limited"})) {}

}  // namespace tgpulse::telemetry
