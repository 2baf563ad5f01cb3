#include "session/session_options.h"

namespace tgpulse::session {

Status DataSafetyOptions::validate() const {
  auto bad = [](const char* key, const char* why) {
    return Error(Errc::invalid_argument, std::string(key) + ": " + why);
  };
  if (probe_interval.count() <= 0) return bad("store.probe_interval", "must be positive");
  if (cleanup_retry_initial.count() <= 0) return bad("sessions.cleanup_retry_initial", "must be positive");
  if (cleanup_retry_max < cleanup_retry_initial) {
    return bad("sessions.cleanup_retry_max", "must be at least sessions.cleanup_retry_initial");
  }
  if (cleanup_stuck_after < 1) return bad("sessions.cleanup_stuck_after", "must be at least 1");
  return {};
}

Status SessionOptions::validate() const {
  auto bad = [](const char* key, const char* why) {
    return Error(Errc::invalid_argument, std::string(key) + ": " + why);
  };
  if (data_dir.empty()) return bad("store.data_dir", "must not be empty");
  if (qr_timeout.count() <= 0) return bad("qr.timeout", "must be positive");
  if (phone_timeout.count() <= 0) return bad("phone.timeout", "must be positive");
  if (phone_flood_retry_after_s < 1) return bad("phone.flood_retry_after", "must be at least 1 second");
  if (proxy_ping_interval.count() < 0) return bad("proxy.ping_interval", "must be 0 (off) or positive");
  if (proxy_ping_timeout.count() <= 0) return bad("proxy.ping_timeout", "must be positive");
  if (files_max_upload_bytes == 0) return bad("files.max_upload_bytes", "must be positive");
  if (files_max_bytes_per_tenant == 0) return bad("files.max_bytes_per_tenant", "must be positive");
  if (files_download_timeout.count() <= 0) return bad("files.download_timeout", "must be positive");
  if (idle_ttl.count() < 0) return bad("sessions.idle_ttl", "must be 0 (off) or positive");
  if (idle_sweep_interval.count() <= 0) return bad("sessions.idle_sweep_interval", "must be positive");
  if (engine_request_timeout.count() <= 0) return bad("sessions.engine_request_timeout", "must be positive");
  if (close_timeout.count() <= 0) return bad("sessions.close_timeout", "must be positive");
  if (wake_interval.count() <= 0) return bad("sessions.wake_interval", "must be positive");
  if (api_id <= 0) return bad("td.api_id", "must be a positive integer");
  if (api_hash.empty()) return bad("td.api_hash", "must not be empty");
  return safety.validate();
}

}  // namespace tgpulse::session
