// ServerOptions: how one HTTP listener runs — address, threads, limits, timeouts, connection cap. A
// plain struct and the one definition of these settings: the app's Config embeds it as `server`
// (keys server.*), so every default below is the documented default (docs/configuration.md).
//
// Thread-safety: a value type; the Server copies it at construction.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace tgpulse::http {

struct ServerOptions {
  std::string host = "127.0.0.1";  // address to bind (IPv4 or IPv6 literal)
  std::uint16_t port = 8080;       // 0 = any free port (see port() after start())
  int threads = 2;                 // threads running the io_context; 2 fits a small service
  std::size_t body_limit = 1024 * 1024;   // bytes; a larger body is refused with 413 before it is read
  std::size_t header_limit = 16 * 1024;   // bytes of request line + headers; more → 431
  std::chrono::milliseconds read_timeout{30000};    // first byte of a request → whole request read
  std::chrono::milliseconds idle_timeout{60000};    // keep-alive connection with no request → closed
  std::chrono::milliseconds write_timeout{30000};   // one response (or event) write
  std::chrono::milliseconds shutdown_grace{10000};  // in-flight requests may finish within this
  std::chrono::milliseconds sse_heartbeat{15000};   // event streams: comment after this much silence
  // Connections served at once; more are answered 503 and closed. 0 = no cap (the application derives
  // the main listener's from RLIMIT_NOFILE: http/connection_budget.h).
  std::size_t max_connections = 0;

  bool operator==(const ServerOptions&) const = default;
};

}  // namespace tgpulse::http
