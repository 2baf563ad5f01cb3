// Response: what a route handler answers — a status, a body with its content type and extra headers,
// or a Server-Sent Events stream whose producer the server runs after sending the response head.
//
// Every 4xx/5xx response built with Response::error() has the project's JSON error body
// {"error":{"code":"<snake_case>","message":"..."}}; the server builds its own errors the same way.
//
// Thread-safety: a value type.
#pragma once

#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/status.hpp>
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace tgpulse::http {

class SseWriter;
// Runs for the lifetime of an event stream; returns when it has nothing more to send or when the
// writer reports the stream closed (client gone, server shutting down).
using SseProducer = std::function<boost::asio::awaitable<void>(SseWriter&)>;

// Writes the body of a streamed response in pieces, each under the server's write timeout.
class BodyWriter {
 public:
  virtual ~BodyWriter() = default;
  // false once the client is gone or a write timed out: the producer should stop.
  virtual boost::asio::awaitable<bool> write(std::string_view bytes) = 0;
};
// Produces exactly the declared length (a shorter body closes the connection: the client sees a
// truncated response, never a wrong one); returns when done or when write() fails.
using BodyProducer = std::function<boost::asio::awaitable<void>(BodyWriter&)>;

struct Response {
  boost::beast::http::status status = boost::beast::http::status::ok;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (e.g. Retry-After)
  SseProducer sse;  // set: the response is an event stream and `body` is ignored
  BodyProducer producer;           // set: the body is produced after the head and `body` is ignored
  std::uint64_t content_length = 0;  // with `producer`: the length it produces (the Content-Length)

  static Response json(boost::beast::http::status status, const nlohmann::json& body);
  static Response text(boost::beast::http::status status, std::string body,
                       std::string content_type = "text/plain; charset=utf-8");
  // {"error":{"code":code,"message":message}} with `extra` merged into the error object.
  static Response error(boost::beast::http::status status, std::string_view code, std::string_view message);
  static Response error(boost::beast::http::status status, std::string_view code, std::string_view message,
                        const nlohmann::json& extra);
  // Maps an Error to its HTTP status (invalid_argument → 400, not_found → 404, flood_wait → 429 with
  // Retry-After, ...) and the JSON error body with code errc_name(error.code).
  static Response from_error(const Error& error);
  // A text/event-stream response; `producer` runs once the head is sent.
  static Response event_stream(SseProducer producer);
  // A body of `length` bytes written by `producer` after the head (a file): no copy of it in memory.
  static Response streamed(boost::beast::http::status status, std::string content_type, std::uint64_t length,
                           BodyProducer producer);

  Response& with_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  bool is_event_stream() const noexcept { return static_cast<bool>(sse); }
  bool is_streamed() const noexcept { return static_cast<bool>(producer); }
};

// The HTTP status an Errc maps to.
boost::beast::http::status status_for(Errc code) noexcept;

}  // namespace tgpulse::http
