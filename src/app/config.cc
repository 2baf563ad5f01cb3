#include "app/config.h"

namespace tgpulse::app {

namespace {
std::string host_port(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}
}  // namespace

std::string Config::listen() const { return host_port(server.host, server.port); }

std::string Config::admin_listen() const {
  return server.admin_enabled ? host_port(server.admin_host, server.admin_port) : std::string();
}

}  // namespace tgpulse::app
