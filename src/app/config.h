// Config: everything `tgpulse serve` can be told. Each setting has exactly one definition: the options
// struct of the area it configures, embedded here (http::ServerOptions as `server`,
// session::SessionOptions as `session`, td::EngineOptions as `engine`, ...), so the defaults live in
// those structs and nowhere else; the few settings that belong to the application itself (the admin
// listener, the library path, the master key) are defined below. docs/configuration.md lists every key.
// The values come from, in increasing precedence: the defaults, the YAML file (--config), TGPULSE_*
// environment variables, command-line flags — see ConfigLoader. To add a key: add the field to its
// area's options struct with its default, one entry in config_schema.cc (path, env var, flag, parser,
// help), wire it in config_wiring.cc (the dead-key test fails until it changes something), then a line
// in the docs.
//
// Thread-safety: a value type; built once at start-up and read-only afterwards.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "http/server_options.h"
#include "session/function_policy.h"
#include "session/session_options.h"
#include "session/tenant_limits.h"
#include "td/engine_options.h"
#include "store/postgres_options.h"
#include "store/store_access_options.h"
#include "telemetry/logger.h"
#include "telemetry/telethon_metrics.h"
#include "throttle/shared_request_quota.h"
#include "throttle/throttle_options.h"
#include "cluster/cluster_options.h"
#include "updates/updates_options.h"

namespace tgpulse::app {

// server.admin_listen = HOST:PORT of a second listener for /healthz, /readyz and /metrics with its own
// thread, so probes and scrapes are answered while the main listener is saturated. Off by default
// (those routes are always on the main listener too). Its other settings are the main listener's.
struct AdminListenerConfig {
  bool enabled = false;
  std::string host;
  std::uint16_t port = 0;
};

struct TdConfig {
  // Path to libtdjson.so (real TDLib) or libtdsim.so (the simulator). "" = libtdsim.so next to the
  // tgpulse binary (resolved by the loader into `library`).
  std::string library;
  bool library_explicit = false;  // set by the loader: the path came from file/env/flag
};

struct StoreConfig {
  // The master key sealing each session's TDLib database key in the SQLite file (AES-256-GCM): base64
  // of 32 random bytes, from store.master_key (TGPULSE_MASTER_KEY) or read by the loader from
  // store.master_key_file. "" (default) = keys stored in the clear, with a WARN at start-up.
  // Secret: never printed or logged (its key id, 8 hex chars, is).
  std::string master_key;
  std::string master_key_file;  // a file holding the master key (one line); "" = none
  // store.url, store.url_password, store.url_password_file, store.pg_pool_size: the PostgreSQL store
  // (defaults and meaning: PostgresOptions). An empty url (default) keeps the SQLite store.
  store::PostgresOptions postgres;
  // store.pool_threads, store.pool_max_queued, store.token_cache_ttl, store.token_cache_entries,
  // store.unknown_token_ttl, store.last_used_flush (defaults and meaning: StoreAccessOptions)
  store::StoreAccessOptions access;
};

struct TdsimConfig {
  // tdsim.control_address (TDSIM_CONTROL_ADDR): HOST:PORT of the simulator's control interface, which
  // libtdsim.so opens from the same environment variable. Set: the login page shows its "simulate a
  // scan" buttons and POST /v1/login/{id}/simulate reaches tdsim there. "" (default) = no simulator.
  std::string control_address;
};

struct Config {
  http::ServerOptions server;            // server.*; max_connections 0 = derived at wiring (RLIMIT_NOFILE)
  AdminListenerConfig admin_listener;    // server.admin_listen
  telemetry::LoggerOptions log;          // log.level, log.format, log.path
  telemetry::CatalogOptions metrics;     // metrics.namespace (known_methods: from the throttle at wiring)
  TdConfig td;                           // td.library
  td::EngineOptions engine;              // td.verbosity, td.request_timeout
  StoreConfig store;                     // store.master_key, store.master_key_file
  // store.data_dir, qr.timeout, sessions.idle_ttl, td.api_id, td.api_hash, and in .safety:
  // store.accept_empty_store, store.min_free_bytes, store.probe_interval, sessions.cleanup_retry_*,
  // sessions.cleanup_stuck_after
  session::SessionOptions session;
  throttle::FloodOptions flood;          // flood.sleep_threshold (60s), flood.request_retries (5)
  throttle::ThrottleOptions throttle;    // throttle.* (its .flood is replaced by `flood` at wiring)
  session::InvokePolicyOptions invoke;   // invoke.allow, invoke.allow_extra (default allow-list, nothing extra)
  session::TenantLimitsOptions limits;   // limits.*: per-tenant request quota, tenant/process caps
  throttle::SharedQuotaOptions quota;    // quota.*: the request quota shared by the nodes in Redis
  TdsimConfig tdsim;                     // tdsim.control_address
  updates::UpdatesOptions updates;       // updates.* (webhooks in updates.webhook; the rest fixed there)
  cluster::ClusterOptions cluster;       // cluster.* (off unless cluster.node_id; docs/scaling.md)
  std::string admin_token;               // "" = admin API off; secret: never printed or logged

  // "host:port" as configured (IPv6 in brackets).
  std::string listen() const;
  std::string admin_listen() const;  // "" when server.admin_listen is off
};

}  // namespace tgpulse::app
