// HttpTransport: how the load generator talks HTTP/1.1 to one server (the service, or tdsim's control
// interface). BeastHttpTransport is the real one; tests use a fake that answers from a script.
//
// Thread-safety: implementations are confined to the io_context thread that runs the load generator.
#pragma once

#include <utility>  // before Boost.Asio 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>

#include "core/result.h"

namespace tgpulse::loadgen {

struct HttpCall {
  std::string method = "GET";  // "GET", "POST", ...
  std::string target;          // path and query: "/v1/qr-logins/abc"
  std::string body;            // sent as application/json when not empty
  std::string bearer;          // Authorization: Bearer <bearer> when not empty
  std::string accept;          // Accept header when not empty
};

struct HttpReply {
  int status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, "" when absent
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // One request and its answer; an error only when no HTTP answer came (connect, I/O, timeout).
  virtual boost::asio::awaitable<Result<HttpReply>> request(HttpCall call, std::chrono::milliseconds timeout) = 0;
};

}  // namespace tgpulse::loadgen
