// WebhookClient: one signed webhook delivery — an HTTP/1.1 POST of one body to a checked address.
//
// post() resolves the URL's host once, checks every address against the address policy
// (webhook_resolver.h), connects to those addresses only (connect_timeout), sends the body with
// Content-Type: application/json, X-Tgpulse-Timestamp and X-Tgpulse-Signature (webhook_signature.h),
// and reads the response's status line and headers — at most max_response_head_bytes. The whole call
// ends within total_timeout. It reports the status and a Retry-After (delta-seconds or an HTTP-date);
// what to do next is the retry policy's business (webhook_retry_policy.h).
//
// Keep-alive: given a WebhookConnections (one per tenant's webhook), post() first reuses a connection a
// previous POST left there, and leaves its own there afterwards when the receiver allows it (HTTP/1.1
// without Connection: close) and its response body is declared and small (at most
// kWebhookKeptBodyBytes, read and discarded). Any other body is never read: the connection is closed,
// so a huge or endless response costs nothing. A kept connection on which the receiver answered
// nothing at all (it closed the connection while idle) is dropped and the POST goes on the next one or
// a new one (a receiver that closed while reading may see that POST twice: at least once allows it).
// Kept connections were connected to checked addresses; one idle for kWebhookKeepIdle is closed.
// Without a WebhookConnections every POST has its own connection and sends Connection: close.
//
// https: TLS 1.2 or later with SNI; the certificate must chain to a trusted CA (the system's, plus
// WebhookOptions::extra_ca_file) and match the URL's host name, else a tls_error outcome.
//
// The secret and the URL's query never appear in an outcome's error or address (URLs with credentials
// are refused when parsed).
//
// Thread-safety: post() may run concurrently from any executor (the client holds only options and a
// resolver, which must itself be safe for concurrent calls). post() runs on the caller's executor and
// posts nowhere else.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "updates/webhook_options.h"
#include "updates/webhook_resolver.h"
#include "updates/webhook_url.h"

namespace tgpulse::updates {

// The largest response body read so that its connection can be kept; a longer or undeclared one closes it.
inline constexpr std::size_t kWebhookKeptBodyBytes = 16 * 1024;
// A kept connection idle this long is closed (below the 5 s idle timeout common receivers use, so the
// receiver rarely closes one just as it is reused).
inline constexpr std::chrono::seconds kWebhookKeepIdle{4};

// Idle keep-alive connections to one tenant's receiver, left by its POSTs for the next ones. Not
// thread-safe: used from one strand (the tenant's delivery), which also ran the POSTs that made them.
// Holds at most max_idle connections (the webhook's max_connections); destroying it closes them.
class WebhookConnections {
 public:
  explicit WebhookConnections(std::size_t max_idle);
  ~WebhookConnections();
  WebhookConnections(const WebhookConnections&) = delete;
  WebhookConnections& operator=(const WebhookConnections&) = delete;

  std::size_t idle() const noexcept { return idle_.size(); }
  // Closes the connections idle for kWebhookKeepIdle or longer.
  void prune(std::chrono::steady_clock::time_point now);

  struct Connection;  // webhook_client.cc

 private:
  friend class WebhookClient;
  std::unique_ptr<Connection> take(std::chrono::steady_clock::time_point now);
  void give_back(std::unique_ptr<Connection> connection, std::chrono::steady_clock::time_point now);

  std::size_t max_idle_;
  std::vector<std::unique_ptr<Connection>> idle_;  // the most recently used last
};

// Why a delivery got no HTTP answer (bounded: a metric label).
enum class WebhookFailure {
  none,             // an HTTP answer came (any status)
  refused_address,  // the address policy refused the host
  resolve_error,    // the name did not resolve
  connect_error,    // no checked address accepted the connection
  timeout,          // connect_timeout or total_timeout passed
  bad_response,     // not HTTP, or a head over max_response_head_bytes
  tls_error,        // the TLS handshake failed (untrusted or mismatched certificate, no common protocol)
};
const char* webhook_failure_name(WebhookFailure failure) noexcept;

struct WebhookOutcome {
  int status = 0;                                  // the receiver's HTTP status; 0: no answer (see failure)
  std::optional<std::chrono::seconds> retry_after; // the receiver's Retry-After, when usable
  WebhookFailure failure = WebhookFailure::none;
  std::string error;    // for the tenant's last_error_message and logs; "" when delivered
  std::string address;  // the address connected to ("" before connecting)

  bool delivered() const noexcept { return failure == WebhookFailure::none && status >= 200 && status < 300; }
};

class WebhookClient {
 public:
  // `resolver` must outlive the client. Loads the trusted CAs once (an unreadable extra_ca_file makes
  // every https delivery a tls_error naming it).
  WebhookClient(WebhookOptions options, WebhookResolver& resolver);
  ~WebhookClient();

  // `connections` (nullable) must outlive the call and belong to this URL's receiver.
  boost::asio::awaitable<WebhookOutcome> post(WebhookUrl url, std::string body, std::string secret,
                                              std::int64_t timestamp, WebhookConnections* connections = nullptr) const;

 private:
  struct Exchange;
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  boost::asio::awaitable<Exchange> exchange(WebhookConnections::Connection& connection, const WebhookUrl& url,
                                            const Request& request, std::chrono::steady_clock::time_point deadline,
                                            bool keep) const;
  template <typename Stream>
  boost::asio::awaitable<Exchange> exchange_on(Stream& stream, const WebhookUrl& url, const Request& request,
                                               std::chrono::steady_clock::time_point deadline, bool keep) const;

  WebhookOptions options_;
  WebhookResolver& resolver_;
  std::unique_ptr<boost::asio::ssl::context> tls_;  // configured once; shared read-only by deliveries
  std::string tls_setup_error_;                       // why https deliveries cannot be made ("" = they can)
};

// Retry-After as delta-seconds or an IMF-fixdate (RFC 9110 §10.2.3), relative to `now` (unix seconds);
// nullopt when it is neither. A date in the past is 0 s.
std::optional<std::chrono::seconds> parse_webhook_retry_after(std::string_view value, std::int64_t now);

}  // namespace tgpulse::updates
