#include "app/config_wiring.h"

#include "http/connection_budget.h"

namespace tgpulse::app {

http::ServerOptions main_server_options(const Config& config) {
  http::ServerOptions options = config.server;
  if (options.max_connections == 0) options.max_connections = http::default_max_connections(http::process_fd_limit());
  return options;
}

std::optional<http::ServerOptions> admin_server_options(const Config& config) {
  if (!config.admin_listener.enabled) return std::nullopt;
  http::ServerOptions options = main_server_options(config);
  options.host = config.admin_listener.host;
  options.port = config.admin_listener.port;
  options.threads = 1;
  options.max_connections = http::kAdminMaxConnections;  // inside the main listener's reserve
  return options;
}

telemetry::LoggerOptions logger_options(const Config& config) { return config.log; }

telemetry::CatalogOptions catalog_options(const Config& config, std::size_t* left_out) {
  telemetry::CatalogOptions catalog = config.metrics;
  throttle::ThrottleOptions::MethodLabels labels = config.throttle.method_labels(catalog.known_methods);
  catalog.known_methods = std::move(labels.methods);
  if (left_out != nullptr) *left_out = labels.left_out;
  return catalog;
}

session::SessionServiceOptions session_service_options(const Config& config) {
  session::SessionServiceOptions so;
  so.td_library = config.td.library;
  so.engine = config.engine;
  so.sessions = config.session;
  so.store_master_key = config.store.master_key;
  so.store_postgres = config.store.postgres;
  so.routes.admin_token = config.admin_token;
  so.throttle = config.throttle;
  so.flood = config.flood;
  so.invoke_policy = config.invoke;
  so.limits = config.limits;
  so.quota = config.quota;
  so.simulator_control_address = config.tdsim.control_address;
  so.store_access = config.store.access;
  so.updates = config.updates;
  so.cluster = config.cluster;
  if (so.cluster.enabled() && so.cluster.advertise_url.empty()) {
    // The main listener as bound: a port of 0 is filled in once the server started (Application).
    so.cluster.advertise_url = "http://" + config.listen();
  }
  return so;
}


BlockingPoolOptions store_pool_options(const Config& config) {
  return BlockingPoolOptions{"store", config.store.access.pool_threads, config.store.access.pool_max_queued};
}

}  // namespace tgpulse::app
