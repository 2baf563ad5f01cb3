// TelethonMetrics: the seed's metric catalog, registered once at start-up under a configurable
// namespace (default "telethon", so dashboards written for the Telethon service keep working), with
// every handle resolved up front. Callers hold a `const MethodMetrics&` per TDLib method and never look
// a label up by string on the hot path.
//
//   <ns>_floodwait_total{reason,seconds}          Total FloodWait events
//   <ns>_floodwait_duration_seconds{reason}       FloodWait wait duration
//   <ns>_session_cleanup_total{status}            Total session cleanup operations      (success, failed)
//   <ns>_session_cleanup_duration_seconds         Session cleanup duration              (buckets incl. 3 and 5)
//   <ns>_qr_session_total{status}                 Total QR sessions                     (created, expired, authorized, failed,
//                                                                                          cancelled, declined, interrupted)
//   <ns>_qr_timeout_total                         QR session timeouts
//   <ns>_rate_limit_hits_total{endpoint}          Rate limit hits
//   <ns>_throttling_delay_seconds                 Request throttling delay
//   <ns>_requests_total{method,status}            Total requests sent to Telegram       (success, failed, flood_wait)
//
// `reason`/`endpoint`/`method` label values: the TDLib method name when it is in the known set
// (CatalogOptions::known_methods, pre-created at zero), "other" for any other method (bounded series
// even though tenants may invoke any function), and "engine" for flood waits absorbed inside TDLib whose
// method the log line does not tell. `seconds` is the upper bound of the FloodWait bucket the wait falls
// in ("1","5","15","30","60","300","900","3600","+Inf"), never the raw value.
//
// Thread-safety: construction registers (not thread-safe with itself); every method afterwards is
// thread-safe and lock-free.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "telemetry/metrics.h"

namespace tgpulse::telemetry {

// FloodWait bucket bounds in seconds; the `seconds` label is the first bound >= the wait.
inline constexpr std::array<double, 8> kFloodWaitBounds = {1, 5, 15, 30, 60, 300, 900, 3600};
// Label value for a wait of `seconds` ("1" ... "3600", "+Inf"). FLOOD_WAIT_0 counts as 1 s.
std::string_view floodwait_bucket_label(double seconds) noexcept;

struct CatalogOptions {
  std::string ns = "telethon";
  // Methods that get their own label value, pre-created at zero. Others are counted as "other".
  std::vector<std::string> known_methods = {
      "getMe", "getChats", "getChat", "getChatHistory", "searchPublicChat", "sendMessage",
      "getUser", "getUserFullInfo", "getSupergroupMembers", "joinChat", "viewMessages",
      "setTdlibParameters", "requestQrCodeAuthentication", "checkAuthenticationPassword",
      "logOut", "close", "destroy", "getFile", "downloadFile"};

  bool operator==(const CatalogOptions&) const = default;
};

// All handles for one method label value.
struct MethodMetrics {
  std::string name;                                            // label value ("getChats", "other", "engine")
  Counter* requests_success = nullptr;                         // <ns>_requests_total{method,status="success"}
  Counter* requests_failed = nullptr;                          // <ns>_requests_total{method,status="failed"}
  Counter* requests_flood_wait = nullptr;                      // <ns>_requests_total{method,status="flood_wait"}
  Counter* rate_limit_hits = nullptr;                          // <ns>_rate_limit_hits_total{endpoint}
  std::array<Counter*, kFloodWaitBounds.size() + 1> floodwait_by_bucket{};  // {reason, seconds=bound|+Inf}
  Histogram* floodwait_duration = nullptr;                     // <ns>_floodwait_duration_seconds{reason}
};

class TelethonMetrics {
 public:
  // Registers the catalog (idempotent on the same registry) and pre-creates every known series at zero.
  // Throws std::invalid_argument when `options.ns` is not [a-zA-Z_][a-zA-Z0-9_]* or a known method is
  // empty, duplicated, or one of the reserved values "other"/"engine".
  TelethonMetrics(Registry& registry, CatalogOptions options = {});

  // Handles for a method label value: the method's own when known, else "other". Lock-free lookup in
  // an immutable map built at construction.
  const MethodMetrics& method(std::string_view tdlib_method) const noexcept;
  // reason="engine": flood waits absorbed inside TDLib whose method is unknown.
  const MethodMetrics& engine() const noexcept { return engine_; }
  // CatalogOptions::known_methods as given: the label values other method-labelled metrics share.
  const std::vector<std::string>& known_methods() const noexcept { return known_methods_; }

  // One FloodWait event: counter{reason, seconds=bucket(seconds)} += 1 and, when `served_seconds` >= 0,
  // the histogram observes it. FloodWaitReporter (the only caller in the service) passes the wait
  // Telegram asked for as both. Exemplar from `ctx` when given, valid and sampled.
  void floodwait(const MethodMetrics& m, double seconds, double served_seconds,
                 const SpanContext* ctx = nullptr) const noexcept;

  Counter& session_cleanup_success;
  Counter& session_cleanup_failed;
  Histogram& session_cleanup_duration;
  Counter& qr_created;
  Counter& qr_expired;
  Counter& qr_authorized;
  Counter& qr_failed;       // the service or Telegram failed the login (engine, store, TDLib error)
  // Endings nobody is paged for (tgpulse's extension of the seed's status set):
  Counter& qr_cancelled;    // the tenant ended the login (DELETE of the login or session, tenant deleted)
  Counter& qr_declined;     // the end user refused the login on the device that scanned the code
  Counter& qr_interrupted;  // a graceful shutdown or a restart ended the login
  Counter& qr_timeout;
  Histogram& throttling_delay;

  static const std::vector<double>& cleanup_buckets();     // includes exactly 3 and 5
  static const std::vector<double>& floodwait_buckets();   // kFloodWaitBounds
  static const std::vector<double>& throttling_buckets();

 private:
  // Transparent hash so method() can look up a std::string_view without building a std::string.
  struct MethodNameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  MethodMetrics make(Registry& r, const std::string& name);
  std::string ns_;
  std::vector<std::string> known_methods_;
  std::unordered_map<std::string, MethodMetrics, MethodNameHash, std::equal_to<>> methods_;
  MethodMetrics other_;
  MethodMetrics engine_;
};

}  // namespace tgpulse::telemetry
