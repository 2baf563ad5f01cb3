// ControlServer: tdsim's control interface for tests and demos in another process — a tiny HTTP/1.1 +
// JSON server on its own thread, enabled by TDSIM_CONTROL_ADDR=127.0.0.1:PORT. One connection at a
// time, one request per connection, 5 s socket timeouts, 64 KiB body limit.
//
//   POST /scan    {"link", "outcome": "accept"|"password"|"decline", "password"?}
//   POST /flood   {"method", "seconds", "client_id"?, "answer"?}  the next call of `method` floods with
//                 `seconds`; answer "tdlib" (default: absorbed up to the limit, else 429) or "error" (429)
//   POST /revoke  {"link"} or {"client_id"}             the authorization is lost (→ LoggingOut → Closed)
//   POST /profile {partial profile}                     changes the profile live; answers the result
//   POST /release {}                                    announces Ready withheld by hold_restored_sessions
//   POST /incoming {"count", "client_id"?, "text"?}     `count` (1..1000) new messages to that client or to
//                 every authorized one; kept in the database of a client that is not running
//   POST /phone-account {"phone_number", "password"?, "password_hint"?, "registered"?}  the account behind
//                 a test number: 2FA after the code, or (registered false) WaitRegistration
//   POST /proxy   {"server", "port", "reachable"}       marks a proxy address reachable or not; clients
//                 whose enabled proxy it is connect (answering the requests they held) or stop connecting
//   GET  /state                                         clients (states, current links, last 64 request
//                 types, enabled proxy, connection, held requests), profile
//   GET  /health                                        {"ok": true}
// Errors: 404 {"error"} for unknown routes and unknown links/clients, 400 for bad bodies, 409 for a
// client in the wrong state, 405 for a wrong method.
//
// Thread-safety: start() once; the server thread only calls the Simulator's thread-safe operations.
#pragma once

#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "tdsim/simulator.h"

namespace tgpulse::tdsim {

struct ControlResponse {
  int status = 200;
  nlohmann::json body;
};

class ControlServer {
 public:
  explicit ControlServer(Simulator& simulator) : simulator_(simulator) {}
  ~ControlServer();  // the thread is detached: the library is never unloaded
  // Binds `address` ("127.0.0.1:PORT") and starts serving. Errors name the address.
  Status start(const std::string& address);
  // Routing without the socket (used by the server thread and by unit tests).
  ControlResponse handle(const std::string& method, const std::string& target, const std::string& body);

 private:
  void serve(int listen_fd);
  Simulator& simulator_;
};

}  // namespace tgpulse::tdsim
