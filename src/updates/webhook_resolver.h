// WebhookResolver: turns a webhook host name into IP addresses (an interface: the system resolver in
// the service, a fixed table in tests). checked_webhook_endpoints() resolves once and checks every
// address against the address policy (webhook_address.h); the delivery connects only to what it
// returned, so a name cannot resolve to a public address for the check and a private one for the
// connect (DNS rebinding). A name with any refused address is refused as a whole.
//
// Thread-safety: SystemWebhookResolver is stateless (each call has its own asio resolver); resolve()
// runs on the caller's executor.
#pragma once

#include <chrono>
#include <string>
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without it
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/result.h"
#include "updates/webhook_url.h"

namespace tgpulse::updates {

class WebhookResolver {
 public:
  virtual ~WebhookResolver() = default;
  // The addresses of `host` (a name, never an IP literal); Errc::unavailable when it does not resolve.
  virtual boost::asio::awaitable<Result<std::vector<boost::asio::ip::address>>> resolve(std::string host) = 0;
};

// getaddrinfo through asio's resolver, abandoned after `timeout` (Errc::timeout).
class SystemWebhookResolver final : public WebhookResolver {
 public:
  explicit SystemWebhookResolver(std::chrono::milliseconds timeout = std::chrono::seconds(5)) : timeout_(timeout) {}
  boost::asio::awaitable<Result<std::vector<boost::asio::ip::address>>> resolve(std::string host) override;

 private:
  std::chrono::milliseconds timeout_;
};

// The endpoints a delivery to `url` may connect to: the literal, or every address `resolver` gives for
// the name, each allowed by the address policy. Errors: invalid_argument (a refused address, named),
// unavailable (the name does not resolve).
boost::asio::awaitable<Result<std::vector<boost::asio::ip::tcp::endpoint>>> checked_webhook_endpoints(
    WebhookResolver& resolver, WebhookUrl url, bool allow_private);

}  // namespace tgpulse::updates
