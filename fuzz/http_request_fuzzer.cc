// Fuzz target: the HTTP request path as the service runs it — bytes on a TCP connection → Connection
// (Beast's request parser with the server's limits, keep-alive, pipelining) → Router → handlers →
// Response — on a real Server bound to 127.0.0.1, with the session routes of SessionApiHarness and
// telemetry (metrics, access log, spans) switched on. The input is what one client sends; {sid}, {qid}
// and {key} become the prepared ids so requests get past authentication.
//
// Per input: connect, send everything, half-close, read until the server closes. Findings beyond
// crash/leak/UB: the server not closing within 5 s (a request left unanswered or a timeout not
// enforced), or an answer 500 (a handler threw on hostile input).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "http/server.h"
#include "session_api_harness.h"

namespace {

using tgpulse::fuzz::SessionApiHarness;
using tgpulse::http::Server;

std::unique_ptr<Server> make_server(SessionApiHarness& harness) {
  tgpulse::http::ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.threads = 1;
  // The service's body and header limits (ServerOptions defaults); short timeouts so a stuck request
  // shows as a hang here instead of waiting out the production values.
  o.read_timeout = std::chrono::milliseconds(1000);
  o.idle_timeout = std::chrono::milliseconds(1000);
  o.write_timeout = std::chrono::milliseconds(1000);
  o.shutdown_grace = std::chrono::milliseconds(500);
  o.sse_heartbeat = std::chrono::milliseconds(200);
  auto server = std::make_unique<Server>(
      o, harness.router(),
      tgpulse::http::ServerTelemetry{&harness.registry(), &harness.logger(), &harness.tracer(), nullptr});
  if (!server->start()) std::abort();
  return server;
}

// Sends `bytes`, half-closes, and returns everything the server sent until it closed.
std::string exchange(std::uint16_t port, std::string_view bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) std::abort();
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Closed with a reset: a graceful close leaves every connection in TIME_WAIT for a minute, and a few
  // hundred inputs a second used up the ephemeral ports after ~27,000 runs.
  const linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("connect to the fuzzed server");
    std::abort();
  }
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early (413, 431, 400): that is an answer too
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[16384];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      std::fprintf(stderr, "the server neither answered nor closed within 5 s\n");
      std::abort();
    }
    break;  // closed (or reset after an early answer)
  }
  ::close(fd);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static SessionApiHarness harness;
  static std::unique_ptr<Server> server = make_server(harness);
  // The old server stops first but is destroyed only after the old world: sessions may still hold
  // timers on its executor (a DELETE's cleanup), which must not outlive its io_context.
  std::unique_ptr<Server> retired;
  if (harness.ensure_ready([&retired] {
        server->shutdown();
        retired = std::move(server);
      })) {
    retired.reset();
    server = make_server(harness);
  }
  const std::string input = harness.expand(std::string_view(reinterpret_cast<const char*>(data), size));
  const std::string answer = exchange(server->port(), input);
  for (auto pos = answer.find("HTTP/1."); pos != std::string::npos; pos = answer.find("HTTP/1.", pos + 1)) {
    if (answer.compare(pos + 8, 5, " 500 ") == 0) {
      std::fprintf(stderr, "answered 500:\n%s\n", answer.c_str());
      std::abort();
    }
  }
  return 0;
}
