#include "updates/webhook_resolver.h"

#include <memory>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "updates/webhook_address.h"

namespace tgpulse::updates {

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<Result<std::vector<asio::ip::address>>> SystemWebhookResolver::resolve(std::string host) {
  const auto executor = co_await asio::this_coro::executor;
  // The watchdog cancels the lookup at the timeout; it holds the resolver by shared_ptr because its
  // handler may run after this frame is gone.
  auto resolver = std::make_shared<tcp::resolver>(executor);
  auto timed_out = std::make_shared<bool>(false);
  asio::steady_timer watchdog(executor, timeout_);
  watchdog.async_wait([resolver, timed_out](boost::system::error_code ec) {
    if (ec) return;
    *timed_out = true;
    resolver->cancel();
  });
  boost::system::error_code ec;
  const auto results = co_await resolver->async_resolve(host, "", asio::redirect_error(asio::use_awaitable, ec));
  watchdog.cancel();
  if (*timed_out) co_return Error(Errc::timeout, "webhook host " + host + " did not resolve in time");
  if (ec) co_return Error(Errc::unavailable, "webhook host " + host + " does not resolve: " + ec.message());
  std::vector<asio::ip::address> addresses;
  for (const auto& entry : results) addresses.push_back(entry.endpoint().address());
  co_return addresses;
}

asio::awaitable<Result<std::vector<tcp::endpoint>>> checked_webhook_endpoints(WebhookResolver& resolver, WebhookUrl url,
                                                                              bool allow_private) {
  std::vector<asio::ip::address> addresses;
  if (url.host_is_ip) {
    boost::system::error_code ec;
    addresses.push_back(asio::ip::make_address(url.host, ec));
    if (ec) co_return Error(Errc::invalid_argument, "webhook url: invalid IP address");
  } else {
    auto resolved = co_await resolver.resolve(url.host);
    if (!resolved.ok()) co_return std::move(resolved).error();
    addresses = std::move(resolved.value());
    if (addresses.empty()) co_return Error(Errc::unavailable, "webhook host " + url.host + " has no address");
  }
  std::vector<tcp::endpoint> endpoints;
  for (const auto& address : addresses) {
    if (Status allowed = check_webhook_address(address, allow_private); !allowed.ok()) {
      Error e = std::move(allowed).error();
      if (!url.host_is_ip) e.message = "webhook host " + url.host + " resolves to a refused address: " + e.message;
      co_return e;
    }
    endpoints.emplace_back(address, url.port);
  }
  co_return endpoints;
}

}  // namespace tgpulse::updates
