#include "telemetry/rejections.h"

namespace tgpulse::telemetry {

namespace {
constexpr std::array<std::string_view, static_cast<std::size_t>(RejectReason::count_)> kNames = {
    "tenant_quota",      "sessions_cap",       "logins_cap",       "login_rate",  "password_attempts",
    "streams_cap",       "connections_cap",    "forbidden_function", "invalid_function", "body_bounds",
    "request_framing",   "auth_failures",      "code_attempts"};
}  // namespace

std::string_view reject_reason_name(RejectReason r) noexcept { return kNames[static_cast<std::size_t>(r)]; }

Rejections::Rejections(Registry& registry) {
  auto& family = registry.counter("tgpulse_rejected_total",
                                  "Requests refused to protect the service or other tenants, by what was exceeded",
                                  {"reason"});
  for (std::size_t i = 0; i < kNames.size(); ++i) by_reason_[i] = &family.labels({kNames[i]});
}

void Rejections::count(RejectReason r) noexcept { by_reason_[static_cast<std::size_t>(r)]->inc(); }

double Rejections::value(RejectReason r) const noexcept { return by_reason_[static_cast<std::size_t>(r)]->value(); }

}  // namespace tgpulse::telemetry
