// SessionOptions: how the session layer runs — where engine databases live, the QR deadline, idle TTL,
// engine timeouts and the TDLib parameters sent for every client. A plain struct; the app fills it from
// the `qr` and `sessions` config sections and validates it once at start-up (validate()).
//
// Thread-safety: a value type; read-only after start-up.
#pragma once

#include <chrono>
#include <string>

#include "core/result.h"

namespace tgpulse::session {

struct SessionOptions {
  // Root of engine data; each session's database is <data_dir>/sessions/<session_id>.
  std::string data_dir = "data";
  // qr.timeout: overall deadline of a QR login, from creation to authorized (TDLib refreshes the link
  // itself about every 30 s; 120 s gives the user four links to scan).
  std::chrono::milliseconds qr_timeout{std::chrono::seconds(120)};
  // sessions.idle_ttl: an authorized session unused (no invoke) this long is cleaned up with logOut.
  // 0 turns the idle sweeper off.
  std::chrono::milliseconds idle_ttl{0};
  // How often the idle sweeper looks (only when idle_ttl > 0).
  std::chrono::milliseconds idle_sweep_interval{std::chrono::seconds(30)};
  // Timeout of each engine request made by the session layer (setTdlibParameters, logOut, close, ...).
  std::chrono::milliseconds engine_request_timeout{std::chrono::seconds(10)};
  // Bound on waiting for authorizationStateClosed during cleanup; past it the local data is removed
  // anyway and the cleanup counts as failed.
  std::chrono::milliseconds close_timeout{std::chrono::seconds(10)};
  // How often a waiting session re-reads the clock even without events (deadlines on a FakeClock are
  // noticed at this granularity; on the system clock the timer wakes exactly at the deadline).
  std::chrono::milliseconds wake_interval{std::chrono::seconds(1)};

  // TDLib parameters. The defaults are placeholders accepted by tdsim; production sets its own
  // api_id/api_hash from my.telegram.org (api_hash is a secret: never logged).
  int api_id = 1;
  std::string api_hash = "00000000000000000000000000000000";
  bool use_test_dc = false;
  std::string system_language_code = "en";
  std::string device_model = "tgpulse";
  std::string system_version = "Linux";
  std::string application_version = "0.1.0";

  // Checks every field; the error names the bad key.
  Status validate() const;
};

}  // namespace tgpulse::session
