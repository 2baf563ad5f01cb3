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
  return admin_listener.enabled ? host_port(admin_listener.host, admin_listener.port) : std::string();
}

}  // namespace tgpulse::app
