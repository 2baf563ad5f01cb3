// BeastHttpTransport: HttpTransport over Boost.Beast with C++20 coroutines — a pool of keep-alive
// connections to one host:port, at most `max_connections` at once (further requests wait for a free
// one, asynchronously). A request that fails on a reused connection (the server closed it while idle) is
// retried once on a fresh one.
//
// Thread-safety: confined to the thread running its io_context.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "loadgen/http_transport.h"

namespace tgpulse::loadgen {

// "http://host:port" (a trailing slash and a missing port, 80, are accepted); https is not supported.
struct HttpUrl {
  std::string host;
  std::string port;
  static Result<HttpUrl> parse(std::string_view url);
};

class BeastHttpTransport final : public HttpTransport {
 public:
  BeastHttpTransport(boost::asio::any_io_executor executor, HttpUrl url, std::size_t max_connections);
  ~BeastHttpTransport() override;

  boost::asio::awaitable<Result<HttpReply>> request(HttpCall call, std::chrono::milliseconds timeout) override;

  std::size_t open_connections() const noexcept { return open_; }

 private:
  using Stream = boost::beast::tcp_stream;
  // A connection: an idle one from the pool (reused = true) or a new one; waits while at the limit.
  boost::asio::awaitable<Result<std::unique_ptr<Stream>>> checkout(std::chrono::milliseconds timeout, bool* reused);
  void checkin(std::unique_ptr<Stream> stream, bool keep);
  boost::asio::awaitable<Result<HttpReply>> exchange(Stream& stream, const HttpCall& call,
                                                     std::chrono::milliseconds timeout, bool* keep_alive);

  boost::asio::any_io_executor executor_;
  HttpUrl url_;
  std::size_t max_connections_;
  std::size_t open_ = 0;  // connections in use or idle
  std::vector<std::unique_ptr<Stream>> idle_;
  std::deque<std::shared_ptr<boost::asio::steady_timer>> waiters_;  // woken (cancelled) on checkin
  std::vector<boost::asio::ip::tcp::endpoint> endpoints_;            // resolved once
};

}  // namespace tgpulse::loadgen
