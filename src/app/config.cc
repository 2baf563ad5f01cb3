#include "app/config.h"

namespace tgpulse::app {

std::string Config::listen() const {
  const bool v6 = server.host.find(':') != std::string::npos;
  return (v6 ? "[" + server.host + "]" : server.host) + ":" + std::to_string(server.port);
}

}  // namespace tgpulse::app
