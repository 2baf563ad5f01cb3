#include "session/scan_simulator.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using nlohmann::json;

namespace tgpulse::session {

asio::awaitable<Status> TdsimControlClient::scan(std::string link, std::string outcome) {
  if (outcome != "accept" && outcome != "password" && outcome != "decline") {
    co_return Status(Errc::invalid_argument, "outcome must be accept, password or decline");
  }
  const auto colon = address_.rfind(':');
  if (colon == std::string::npos) co_return Status(Errc::unavailable, "simulator control address is not HOST:PORT");
  const std::string host = address_.substr(0, colon);
  const std::string port = address_.substr(colon + 1);

  boost::system::error_code ec;
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(executor);
  auto endpoints = co_await resolver.async_resolve(host, port, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Status(Errc::unavailable, "simulator control: " + ec.message());
  beast::tcp_stream stream(executor);
  stream.expires_after(timeout_);
  co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Status(Errc::unavailable, "simulator control: " + ec.message());

  json body_json = {{"link", std::move(link)}, {"outcome", std::move(outcome)}};
  bhttp::request<bhttp::string_body> req(bhttp::verb::post, "/scan", 11);
  req.set(bhttp::field::host, address_);
  req.set(bhttp::field::content_type, "application/json");
  req.body() = body_json.dump();
  req.prepare_payload();
  co_await bhttp::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Status(Errc::unavailable, "simulator control: " + ec.message());
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  co_await bhttp::async_read(stream, buffer, res, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Status(Errc::unavailable, "simulator control: " + ec.message());
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);

  const int status = static_cast<int>(res.result_int());
  if (status / 100 == 2) co_return Status{};
  json answer = json::parse(res.body(), nullptr, false);
  std::string why = answer.is_object() && answer.contains("error") && answer["error"].is_string()
                        ? answer["error"].get<std::string>()
                        : std::string("refused");
  if (status == 404) co_return Status(Errc::not_found, "simulator: " + why);
  if (status == 409) co_return Status(Errc::conflict, "simulator: " + why);
  co_return Status(Errc::invalid_argument, "simulator: " + why);
}

}  // namespace tgpulse::session
