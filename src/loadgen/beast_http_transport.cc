#include "loadgen/beast_http_transport.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace tgpulse::loadgen {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

Result<HttpUrl> HttpUrl::parse(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme)) {
    return Error(Errc::invalid_argument, "URL must start with http:// (got \"" + std::string(url) + "\")");
  }
  std::string_view rest = url.substr(scheme.size());
  rest = rest.substr(0, rest.find('/'));
  HttpUrl out;
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    out.host = std::string(rest.substr(0, colon));
    out.port = std::string(rest.substr(colon + 1));
  } else {
    out.host = std::string(rest);
    out.port = "80";
  }
  if (out.host.empty() || out.port.empty() ||
      out.port.find_first_not_of("0123456789") != std::string::npos) {
    return Error(Errc::invalid_argument, "bad host:port in URL \"" + std::string(url) + "\"");
  }
  return out;
}

BeastHttpTransport::BeastHttpTransport(asio::any_io_executor executor, HttpUrl url, std::size_t max_connections)
    : executor_(std::move(executor)), url_(std::move(url)), max_connections_(std::max<std::size_t>(1, max_connections)) {}

BeastHttpTransport::~BeastHttpTransport() {
  for (auto& w : waiters_) w->cancel();
}

asio::awaitable<Result<std::unique_ptr<BeastHttpTransport::Stream>>> BeastHttpTransport::checkout(
    std::chrono::milliseconds timeout, bool* reused) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (idle_.empty() && open_ >= max_connections_) {
    auto timer = std::make_shared<asio::steady_timer>(executor_, give_up);
    waiters_.push_back(timer);
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {  // expired, not woken: leave the queue so a wake-up is not spent on it
      std::erase(waiters_, timer);
      co_return Error(Errc::timeout, "no free connection before the timeout");
    }
  }
  if (!idle_.empty()) {
    auto stream = std::move(idle_.back());
    idle_.pop_back();
    *reused = true;
    co_return stream;
  }
  *reused = false;
  ++open_;
  boost::system::error_code ec;
  if (endpoints_.empty()) {
    tcp::resolver resolver(executor_);
    auto results = co_await resolver.async_resolve(url_.host, url_.port, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      checkin(nullptr, false);
      co_return Error(Errc::unavailable, "cannot resolve " + url_.host + ": " + ec.message());
    }
    for (const auto& r : results) endpoints_.push_back(r.endpoint());
  }
  auto stream = std::make_unique<Stream>(executor_);
  stream->expires_after(timeout);
  co_await stream->async_connect(endpoints_, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    checkin(nullptr, false);
    co_return Error(Errc::unavailable, "cannot connect to " + url_.host + ":" + url_.port + ": " + ec.message());
  }
  stream->socket().set_option(tcp::no_delay(true), ec);
  co_return stream;
}

void BeastHttpTransport::checkin(std::unique_ptr<Stream> stream, bool keep) {
  if (stream && keep) {
    idle_.push_back(std::move(stream));
  } else {
    --open_;
  }
  if (!waiters_.empty()) {
    waiters_.front()->cancel();
    waiters_.pop_front();
  }
}

asio::awaitable<Result<HttpReply>> BeastHttpTransport::exchange(Stream& stream, const HttpCall& call,
                                                                std::chrono::milliseconds timeout, bool* keep_alive) {
  http::request<http::string_body> req{http::string_to_verb(call.method), call.target, 11};
  req.set(http::field::host, url_.host + ":" + url_.port);
  req.set(http::field::user_agent, "tgpulse-load");
  if (!call.bearer.empty()) req.set(http::field::authorization, "Bearer " + call.bearer);
  if (!call.accept.empty()) req.set(http::field::accept, call.accept);
  if (!call.body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = call.body;
  }
  req.keep_alive(true);
  req.prepare_payload();

  boost::system::error_code ec;
  stream.expires_after(timeout);
  co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Error(Errc::unavailable, "write: " + ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Error(ec == beast::error::timeout ? Errc::timeout : Errc::unavailable, "read: " + ec.message());
  auto res = parser.release();
  *keep_alive = res.keep_alive();
  HttpReply reply;
  reply.status = static_cast<int>(res.result_int());
  reply.body = std::move(res.body());
  if (auto it = res.find(http::field::retry_after); it != res.end()) reply.retry_after = std::string(it->value());
  co_return reply;
}

asio::awaitable<Result<HttpReply>> BeastHttpTransport::request(HttpCall call, std::chrono::milliseconds timeout) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = false;
    auto stream = co_await checkout(timeout, &reused);
    if (!stream.ok()) co_return std::move(stream).error();
    bool keep_alive = false;
    Result<HttpReply> reply = co_await exchange(**stream, call, timeout, &keep_alive);
    if (reply.ok()) {
      checkin(std::move(*stream), keep_alive);
      co_return reply;
    }
    checkin(nullptr, false);
    // A reused connection may have been closed by the server while idle: try once more, fresh.
    if (!reused || reply.error().code == Errc::timeout) co_return reply;
  }
  co_return Error(Errc::internal, "unreachable");
}

}  // namespace tgpulse::loadgen
