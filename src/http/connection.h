// Connection: one accepted HTTP/1.1 connection, served by a coroutine on its own strand: read a request
// (idle/read timeouts, body and header limits), answer it (Server's contract), repeat while keep-alive.
// Internal to the server.
//
// Lifetime: run() is a task of the server's TaskGroup; when the group is asked to stop, the connection
// closes when idle, finishes the current request and ends an event stream. force_close() (the grace
// period ran out) cancels what still uses the socket: the event stream and the pending socket
// operations, with the handlers awaiting them, then closes it.
//
// Thread-safety: everything runs on the connection's strand; force_close() may be called from any
// thread (it posts to the strand).
#pragma once

#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/task_group.h"
#include "http/response.h"
#include "telemetry/trace_context.h"

namespace tgpulse::http {

class Server;
class SseWriter;
struct Request;
struct Route;
class BodyReader;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Holds one of the server's max_connections slots from construction to destruction.
  Connection(Server& server, boost::asio::ip::tcp::socket socket);
  ~Connection();
  // Serves the connection until it closes; runs on the socket's strand. `self` keeps it alive; `stop`
  // is the server's shutdown request.
  boost::asio::awaitable<void> run(std::shared_ptr<Connection> self, TaskGroup::Stop stop);
  // End of the grace period: cancel the socket's operations and close it now.
  void force_close();

 private:
  enum class Phase { idle, reading, handling, streaming, closing };
  using RawRequest = boost::beast::http::request<boost::beast::http::string_body>;

  class StreamedBody;
  class StreamedWriter;

  // Answers one parsed request (its body read, or left to `body_reader` for a route that streams its
  // body); returns whether the connection may serve another.
  boost::asio::awaitable<bool> serve(RawRequest raw, std::chrono::steady_clock::time_point started,
                                     BodyReader* body_reader = nullptr);
  // A route that streams its request body, or null.
  const Route* streamed_route(const RawRequest& head) const;
  // Serves a request to a streamed-body route whose header `parser` has read; returns whether the
  // connection may serve another (only when the handler read the whole body).
  boost::asio::awaitable<bool> serve_streamed(boost::beast::http::request_parser<boost::beast::http::string_body>& parser,
                                              const Route& route, std::chrono::steady_clock::time_point started);
  // Writes the head of a streamed response, then runs its producer; returns whether the whole
  // declared length went out.
  boost::asio::awaitable<bool> write_streamed(std::string_view request_id, const std::string& traceparent,
                                              Response& res, unsigned version, bool keep_alive, bool head_only);
  // Stop sending, then discard what the client still sends for a moment (at most 4 MiB, 1 s), so the
  // answer just written is not lost to a connection reset.
  boost::asio::awaitable<void> linger();
  boost::asio::awaitable<bool> write_response(std::string_view request_id, const std::string& traceparent,
                                              Response& res, unsigned version, bool keep_alive,
                                              bool head_only);
  // Sends the event-stream head and runs the producer; returns the status the access log reports.
  boost::asio::awaitable<unsigned> stream_events(const Request& req, Response& res);
  static boost::asio::awaitable<void> watch_for_disconnect(std::shared_ptr<Connection> self,
                                                           std::shared_ptr<SseWriter> writer);
  // The server's stop request reached the strand: close when idle, end an event stream.
  void on_stop();
  boost::asio::awaitable<void> answer_parse_error(boost::system::error_code ec, unsigned version,
                                                  std::string_view method,
                                                  std::chrono::steady_clock::time_point started);
  // Answers `res` to a request that is not read any further, then closes with a lingering close.
  boost::asio::awaitable<void> answer_and_close(Response res, unsigned version, std::string method,
                                                std::chrono::steady_clock::time_point started);
  void finish(std::size_t metric_slot, unsigned status, std::string_view method, std::string_view path,
              std::string_view request_id, std::chrono::steady_clock::time_point started,
              const telemetry::SpanContext* ctx);

  Server& server_;
  boost::beast::tcp_stream stream_;
  std::string client_address_;  // the peer's IP, read once at accept
  boost::beast::flat_buffer buffer_;
  Phase phase_ = Phase::idle;
  bool stop_requested_ = false;
  std::shared_ptr<SseWriter> sse_;  // while streaming
};

}  // namespace tgpulse::http
