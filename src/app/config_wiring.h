// How the Config becomes each area's options: the only place where a configured value is handed to the
// part of tgpulse it configures. Application::start() builds every area from these functions, and the
// dead-key test (config_wiring_test.cc) loads a non-default value of every schema key and checks that
// what these functions return changes — a key that changes nothing fails it, naming the key.
//
// Thread-safety: pure functions of the Config (main_server_options reads RLIMIT_NOFILE).
#pragma once

#include <cstddef>
#include <optional>

#include "app/config.h"
#include "core/blocking_pool.h"
#include "http/server_options.h"
#include "session/session_service.h"
#include "telemetry/logger.h"
#include "telemetry/telethon_metrics.h"

namespace tgpulse::app {

// The main listener: config.server, with max_connections 0 derived from RLIMIT_NOFILE.
http::ServerOptions main_server_options(const Config& config);
// The admin listener (server.admin_listen): the main listener's settings on its own address, one
// thread and a small connection cap inside the main listener's reserve; nullopt when it is off.
std::optional<http::ServerOptions> admin_server_options(const Config& config);
telemetry::LoggerOptions logger_options(const Config& config);
// The seed catalog under metrics.namespace; methods the operator throttles become labels of their own
// (bounded: *left_out counts those reported as "other").
telemetry::CatalogOptions catalog_options(const Config& config, std::size_t* left_out);
// Everything the session layer is told: engine, store, sessions, throttle, FloodWait policy, invoke
// policy, tenant limits, admin token, simulator control address, the update logs and webhooks.
session::SessionServiceOptions session_service_options(const Config& config);
// The store's blocking pool (store.pool_threads, store.pool_max_queued), named "store".
BlockingPoolOptions store_pool_options(const Config& config);

}  // namespace tgpulse::app
