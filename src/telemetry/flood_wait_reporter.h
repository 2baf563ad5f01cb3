// FloodWaitReporter: the one place every FloodWait is reported, whatever path met it — a TDLib call the
// service made (invoke, the QR login's requestQrCodeAuthentication, the 2FA password check, cleanup's
// logOut/close) or a wait TDLib absorbed inside itself and only wrote to its log. One report:
//
//   - <ns>_floodwait_total{reason, seconds=<bucket of the wait>} += 1
//   - <ns>_floodwait_duration_seconds{reason} observes the wait Telegram asked for (FLOOD_WAIT_N, N ≥ 1),
//     whether it was slept, absorbed by TDLib or answered with a fail-fast 429
//   - the seed's WARN log "FloodWait detected": seconds, delay, tenant_id, operation (the seed's fields),
//     session_id, td.method (the TDLib method when known), trace.id/span.id when a trace is given, and for
//     absorbed waits td.client_id and td.total_wait
//   - on the span given (if any): attribute telethon.floodwait_seconds and an event "floodwait"
//
// `reason` is the TDLib method (its own label when known, "other" otherwise) or "engine" when the method
// is not known (an absorbed wait: TDLib's log line names only the MTProto constructor).
//
// Deciding what to do about the wait (sleep and retry, or fail fast) is the FloodWait policy's job
// (throttle::FloodWaitPolicy); the caller says what it decided through `delay`.
//
// Thread-safety: thread-safe (the metrics and the logger are); a Span is confined to its owner, so the
// caller passes one only from where it may touch it.
#pragma once

#include <cstdint>
#include <string_view>

#include "telemetry/logger.h"
#include "telemetry/telethon_metrics.h"
#include "telemetry/tracer.h"

namespace tgpulse::telemetry {

// The seed's `operation` values of "FloodWait detected" (and telethon.operation on spans).
namespace floodwait_operation {
inline constexpr std::string_view kQrLogin = "qr_login";           // requestQrCodeAuthentication (login start)
inline constexpr std::string_view kQrPassword = "qr_password";     // checkAuthenticationPassword (2FA)
// The phone login's: setAuthenticationPhoneNumber, checkAuthenticationCode, resendAuthenticationCode;
// and its 2FA password check.
inline constexpr std::string_view kPhoneLogin = "phone_login";
inline constexpr std::string_view kPhonePassword = "phone_password";
inline constexpr std::string_view kSessionCleanup = "session_cleanup";  // logOut / close
inline constexpr std::string_view kInvoke = "invoke";              // POST /v1/sessions/{id}/invoke
inline constexpr std::string_view kEngine = "engine";              // absorbed inside TDLib
}  // namespace floodwait_operation

struct FloodWaitReport {
  std::string_view operation;   // one of floodwait_operation
  std::string_view method;      // the TDLib method; "" when unknown (reason="engine")
  std::string_view tenant_id;   // "" when unknown
  std::string_view session_id;  // "" when unknown
  int seconds = 1;              // the wait Telegram asked for; FLOOD_WAIT_0 (and below) counts as 1 s
  double delay = 0;             // what happens next: seconds slept before retrying (absorbed: the wait
                                // TDLib sleeps); 0 when the call fails fast
  int retries_done = 0;         // retries of this call before this wait (span event only)
  const SpanContext* trace = nullptr;  // trace.id/span.id of the log line and the metric exemplar

  // Absorbed waits only: TDLib's client id and the query's accumulated wait (td.total_wait).
  int td_client_id = 0;
  int td_total_wait = -1;  // -1: not an absorbed wait
};

class FloodWaitReporter {
 public:
  FloodWaitReporter(const TelethonMetrics& metrics, Logger& logger) : metrics_(metrics), logger_(logger) {}

  // Counts, observes and logs one FloodWait; marks `span` when given (see mark_span).
  void report(const FloodWaitReport& r, Span* span = nullptr) const;
  // Sets telethon.floodwait_seconds on `span` and adds the event "floodwait" (seconds, retry, action =
  // "sleep_and_retry" when delay > 0, else "fail_fast"). For a span the reporting code cannot reach
  // (it belongs to another coroutine), its owner calls this with the same values.
  static void mark_span(Span& span, int seconds, double delay, int retries_done);

 private:
  const TelethonMetrics& metrics_;
  Logger& logger_;
};

}  // namespace tgpulse::telemetry
