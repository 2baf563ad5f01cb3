// SessionOptions: how the session layer runs — where engine databases live, the QR deadline, idle TTL,
// engine timeouts and the TDLib parameters sent for every client. A plain struct and the one definition
// of these settings: the app's Config embeds it as `session` (keys store.data_dir, qr.timeout,
// sessions.*, td.api_id, td.api_hash and the DataSafetyOptions keys); validated once at start-up.
//
// Thread-safety: a value type; read-only after start-up.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/result.h"

namespace tgpulse::session {

// The defences against operator mistakes on the data directory (docs/security-sweep.md): what the
// start-up sweep may do with directories the store does not know, how failed cleanups are retried,
// and what the readiness probes of the store and the data directory require. Embedded in
// SessionOptions and, as the one definition of these keys, in the app's Config.
struct DataSafetyOptions {
  // store.accept_empty_store: when the store holds no session record but <data_dir>/sessions holds
  // entries (a new, emptied or replaced database), start-up is refused unless this is true; then the
  // entries are moved to <data_dir>/quarantine/<time>/ (never deleted). Default false.
  bool accept_empty_store = false;
  // store.min_free_bytes: /readyz "data_dir" fails while the data directory's file system has less
  // free space (for this process, statvfs f_bavail) than this. Default 256 MiB: room for TDLib
  // databases and the SQLite WAL to keep growing for a while. 0 turns the free-space check off.
  std::uint64_t min_free_bytes = 256ull * 1024 * 1024;
  // store.probe_interval: how often a background thread probes the store (a write-locking query on
  // its own connection) and the data directory (create, fsync, remove a file; statvfs). /readyz reads
  // the last results; a result older than 3 intervals + 2 s counts as failing. Default 5 s.
  std::chrono::milliseconds probe_interval{std::chrono::seconds(5)};
  // sessions.cleanup_retry_initial / sessions.cleanup_retry_max: a cleanup that failed and left data
  // behind (its record, or its directory) is retried after cleanup_retry_initial, doubling after each
  // failure up to cleanup_retry_max, for as long as the service runs. Defaults 1 s and 5 min.
  std::chrono::milliseconds cleanup_retry_initial{std::chrono::seconds(1)};
  std::chrono::milliseconds cleanup_retry_max{std::chrono::minutes(5)};
  // sessions.cleanup_stuck_after: /readyz "cleanup" fails while some cleanup has failed this many
  // times or more (first run included). Default 3.
  int cleanup_stuck_after = 3;

  // Checks every field; the error names the bad key.
  Status validate() const;

  bool operator==(const DataSafetyOptions&) const = default;
};

struct SessionOptions {
  // store.data_dir: root of engine data; each session's database is <data_dir>/sessions/<session_id>,
  // the SQLite store is <data_dir>/tgpulse.db. Default "./data" (relative to the working directory).
  std::string data_dir = "./data";
  // qr.timeout: overall deadline of a QR login, from creation to authorized (TDLib refreshes the link
  // itself about every 30 s; 120 s gives the user four links to scan).
  std::chrono::milliseconds qr_timeout{std::chrono::seconds(120)};
  // phone.timeout: overall deadline of a phone-number login, from creation to authorized. Longer than a
  // QR login's: the code travels by Telegram message, SMS or call, and a person types it (Telegram's own
  // codes stay valid for minutes). Default 10 min.
  std::chrono::milliseconds phone_timeout{std::chrono::minutes(10)};
  // phone.flood_retry_after: the Retry-After (seconds) given when Telegram refuses to send another code to
  // a number (PHONE_NUMBER_FLOOD carries no wait of its own; Telegram lifts it after hours). Default 3600.
  int phone_flood_retry_after_s = 3600;
  // proxy.ping_interval: how often each session's proxy is pinged through its TDLib client (pingProxy);
  // a new or changed proxy is pinged at once. 0 turns the pings off. Default 60 s.
  std::chrono::milliseconds proxy_ping_interval{std::chrono::seconds(60)};
  // proxy.ping_timeout: a ping not answered within this counts as a failure (unreachable). Default 10 s.
  std::chrono::milliseconds proxy_ping_timeout{std::chrono::seconds(10)};
  // files.max_upload_bytes: the largest upload POST /v1/sessions/{id}/files takes (413 past it). Default
  // 2000 MiB, Telegram's own limit for a file sent by an account without Premium.
  std::uint64_t files_max_upload_bytes = std::uint64_t{2000} * 1024 * 1024;
  // files.max_bytes_per_tenant: disk a tenant's sessions may hold in uploads and TDLib's downloaded
  // files together; an upload or download past it answers 507. Default 10 GiB.
  std::uint64_t files_max_bytes_per_tenant = std::uint64_t{10} * 1024 * 1024 * 1024;
  // files.download_timeout: how long GET /v1/sessions/{id}/files/{file_id} waits for TDLib to download
  // the file before answering 504. Default 5 min.
  std::chrono::milliseconds files_download_timeout{std::chrono::minutes(5)};
  // sessions.idle_ttl: an authorized session unused (no invoke) this long is cleaned up with logOut.
  // 0 turns the idle sweeper off.
  std::chrono::milliseconds idle_ttl{0};
  // How often the idle sweeper looks (only when idle_ttl > 0).
  std::chrono::milliseconds idle_sweep_interval{std::chrono::seconds(30)};
  // sessions.engine_request_timeout: timeout of each engine request made by the session layer
  // (setTdlibParameters, logOut, close, ...). Default 10 s.
  std::chrono::milliseconds engine_request_timeout{std::chrono::seconds(10)};
  // sessions.close_timeout: bound on waiting for authorizationStateClosed during cleanup; past it the
  // local data is removed anyway and the cleanup counts as failed (timeout, retried). Default 10 s.
  std::chrono::milliseconds close_timeout{std::chrono::seconds(10)};
  // How often a waiting session re-reads the clock even without events (deadlines on a FakeClock are
  // noticed at this granularity; on the system clock the timer wakes exactly at the deadline).
  std::chrono::milliseconds wake_interval{std::chrono::seconds(1)};

  // TDLib parameters. td.api_id / td.api_hash: the defaults are placeholders accepted by tdsim;
  // production sets its own from my.telegram.org (api_hash is a secret: never logged). The others have
  // no configuration key.
  int api_id = 1;
  std::string api_hash = "00000000000000000000000000000000";
  bool use_test_dc = false;
  std::string system_language_code = "en";
  std::string device_model = "tgpulse";
  std::string system_version = "Linux";
  std::string application_version = "0.1.0";

  // Start-up sweep, cleanup retries and readiness probes (see DataSafetyOptions).
  DataSafetyOptions safety;

  // Checks every field; the error names the bad key.
  Status validate() const;

  bool operator==(const SessionOptions&) const = default;
};

}  // namespace tgpulse::session
