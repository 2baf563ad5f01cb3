// Config: everything `tgpulse serve` can be told, one nested section per area. Defaults live here (and
// in the option structs embedded from other areas); docs/configuration.md lists every key. The values
// come from, in increasing precedence: these defaults, the YAML file (--config), TGPULSE_* environment
// variables, command-line flags — see ConfigLoader. To add a key: add the field here with its default,
// then one entry in config_schema.cc (path, env var, flag, parser, help), then a line in the docs.
//
// Thread-safety: a value type; built once at start-up and read-only afterwards.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "session/function_policy.h"
#include "session/tenant_limits.h"
#include "session/session_options.h"
#include "store/store_access_options.h"
#include "throttle/throttle_options.h"

namespace tgpulse::app {

struct ServerConfig {
  std::string host = "127.0.0.1";  // server.listen = HOST:PORT; loopback unless told otherwise
  std::uint16_t port = 8080;       // 0 = any free port (logged at start-up)
  int threads = 2;                 // threads serving HTTP (and other areas' coroutines)
  // server.admin_listen = HOST:PORT of a second listener for /healthz, /readyz and /metrics with its
  // own thread, so probes and scrapes are answered while the main listener is saturated. "" = off
  // (those routes are always on the main listener too).
  std::string admin_host;
  std::uint16_t admin_port = 0;
  bool admin_enabled = false;
  std::size_t body_limit = 1024 * 1024;  // 1 MiB; larger bodies → 413
  std::size_t header_limit = 16 * 1024;  // 16 KiB of request line + headers; more → 431
  std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};   // first byte → whole request
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};   // keep-alive without a request
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};  // one response write
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(10)}; // in-flight work on SIGTERM
  std::chrono::milliseconds sse_heartbeat{std::chrono::seconds(15)};  // event-stream keep-alive comment
  // server.max_connections: connections the main listener holds at once; more are answered 503
  // (connections_cap) and closed. 0 = derived from RLIMIT_NOFILE minus a reserve for the admin
  // listener, the store, TDLib and logs (http/connection_budget.h).
  std::size_t max_connections = 0;
};

struct LogConfig {
  std::string level = "info";   // trace | debug | info | warn | error
  std::string format = "json";  // json (ECS, one object per line) | console (for people)
  std::string path;             // "" or "-" = stdout; else a file, appended to
};

struct MetricsConfig {
  std::string ns = "telethon";  // metrics.namespace: prefix of the seed catalog (telethon_floodwait_total)
};

struct TdConfig {
  // Path to libtdjson.so (real TDLib) or libtdsim.so (the simulator). "" = libtdsim.so next to the
  // tgpulse binary (resolved by the loader into `library`).
  std::string library;
  bool library_explicit = false;  // set by the loader: the path came from file/env/flag
  int verbosity = 2;              // TDLib log verbosity 0..10 (2 = warnings, which carry the flood waits TDLib absorbs); lines go to our log
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};  // one TDLib request
  int api_id = 1;                 // from my.telegram.org; the default is accepted by tdsim only
  std::string api_hash = "00000000000000000000000000000000";  // secret: never printed
};

struct StoreConfig {
  std::string data_dir = "./data";  // SQLite database and per-session TDLib directories
  // The master key sealing each session's TDLib database key in the SQLite file (AES-256-GCM): base64
  // of 32 random bytes, from store.master_key (TGPULSE_MASTER_KEY) or read by the loader from
  // store.master_key_file. "" (default) = keys stored in the clear, with a WARN at start-up.
  // Secret: never printed or logged (its key id, 8 hex chars, is).
  std::string master_key;
  std::string master_key_file;  // a file holding the master key (one line); "" = none
  // store.pool_threads, store.pool_max_queued, store.token_cache_ttl, store.token_cache_entries,
  // store.last_used_flush (defaults and meaning: StoreAccessOptions)
  store::StoreAccessOptions access;
};

struct QrConfig {
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};   // overall deadline of one QR login
  std::chrono::milliseconds token_ttl{std::chrono::seconds(30)};  // lifetime of one QR link (tdsim)
};

struct SessionsConfig {
  std::chrono::milliseconds idle_ttl{0};  // authorized session unused this long is logged out; 0 = never
};

struct Config {
  ServerConfig server;
  LogConfig log;
  MetricsConfig metrics;
  TdConfig td;
  StoreConfig store;
  QrConfig qr;
  SessionsConfig sessions;
  // store.accept_empty_store, store.min_free_bytes, store.probe_interval, sessions.cleanup_retry_initial,
  // sessions.cleanup_retry_max, sessions.cleanup_stuck_after (defaults and meaning: DataSafetyOptions)
  session::DataSafetyOptions safety;
  throttle::FloodOptions flood;          // flood.sleep_threshold (60s), flood.request_retries (5)
  throttle::ThrottleOptions throttle;    // throttle.* (its .flood is replaced by `flood` at wiring)
  session::InvokePolicyOptions invoke;   // invoke.allow, invoke.allow_extra (default allow-list, nothing extra)
  session::TenantLimitsOptions limits;   // limits.*: per-tenant request quota, tenant/process caps
  std::string admin_token;               // "" = admin API off; secret: never printed or logged

  // "host:port" as configured (IPv6 in brackets).
  std::string listen() const;
  std::string admin_listen() const;  // "" when server.admin_listen is off
};

}  // namespace tgpulse::app
