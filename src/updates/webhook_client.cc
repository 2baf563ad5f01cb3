#include "updates/webhook_client.h"

#include <ctime>
#include <optional>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "updates/webhook_signature.h"

namespace tgpulse::updates {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

WebhookOutcome failed(WebhookFailure failure, std::string error, std::string address = {}) {
  WebhookOutcome o;
  o.failure = failure;
  o.error = std::move(error);
  o.address = std::move(address);
  return o;
}

WebhookFailure failure_of(const Error& e) {
  switch (e.code) {
    case Errc::invalid_argument: return WebhookFailure::refused_address;
    case Errc::timeout: return WebhookFailure::timeout;
    default: return WebhookFailure::resolve_error;
  }
}

bool is_timeout(const boost::system::error_code& ec) { return ec == beast::error::timeout; }

}  // namespace

const char* webhook_failure_name(WebhookFailure failure) noexcept {
  switch (failure) {
    case WebhookFailure::none: return "none";
    case WebhookFailure::refused_address: return "refused_address";
    case WebhookFailure::resolve_error: return "resolve_error";
    case WebhookFailure::connect_error: return "connect_error";
    case WebhookFailure::timeout: return "timeout";
    case WebhookFailure::bad_response: return "bad_response";
    case WebhookFailure::tls_error: return "tls_error";
  }
  return "bad_response";
}

std::optional<std::chrono::seconds> parse_webhook_retry_after(std::string_view value, std::int64_t now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty() || value.size() > 64) return std::nullopt;
  bool digits = true;
  for (char c : value) digits = digits && c >= '0' && c <= '9';
  if (digits) {
    if (value.size() > 9) return std::chrono::seconds(999999999);  // beyond any cap; the policy clamps it
    return std::chrono::seconds(std::stoll(std::string(value)));
  }
  std::tm tm{};
  const std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const std::int64_t when = static_cast<std::int64_t>(timegm(&tm));
  return std::chrono::seconds(when > now ? when - now : 0);
}

WebhookClient::WebhookClient(WebhookOptions options, WebhookResolver& resolver)
    : options_(std::move(options)),
      resolver_(resolver),
      tls_(std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client)) {
  boost::system::error_code ec;
  tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1,
                    ec);
  tls_->set_verify_mode(asio::ssl::verify_peer, ec);
  tls_->set_default_verify_paths(ec);
  if (ec) tls_setup_error_ = "the system's trusted CAs cannot be loaded: " + ec.message();
  if (!options_.extra_ca_file.empty()) {
    tls_->load_verify_file(options_.extra_ca_file, ec);
    if (ec) tls_setup_error_ = "cannot load the CA file " + options_.extra_ca_file + ": " + ec.message();
  }
}

WebhookClient::~WebhookClient() = default;

// One connection to a receiver: plain or TLS, and the address it was made to.
struct WebhookConnections::Connection {
  Connection(const asio::any_io_executor& executor, asio::ssl::context* tls) {
    if (tls != nullptr) {
      secure.emplace(executor, *tls);
    } else {
      plain.emplace(executor);
    }
  }
  beast::tcp_stream& tcp() { return plain ? *plain : beast::get_lowest_layer(*secure); }

  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  std::string address;
  std::chrono::steady_clock::time_point idle_since;
};

WebhookConnections::WebhookConnections(std::size_t max_idle) : max_idle_(max_idle) {}
WebhookConnections::~WebhookConnections() = default;

void WebhookConnections::prune(std::chrono::steady_clock::time_point now) {
  std::erase_if(idle_, [now](const std::unique_ptr<Connection>& c) { return now - c->idle_since >= kWebhookKeepIdle; });
}

std::unique_ptr<WebhookConnections::Connection> WebhookConnections::take(std::chrono::steady_clock::time_point now) {
  prune(now);
  if (idle_.empty()) return nullptr;
  std::unique_ptr<Connection> c = std::move(idle_.back());
  idle_.pop_back();
  return c;
}

void WebhookConnections::give_back(std::unique_ptr<Connection> connection, std::chrono::steady_clock::time_point now) {
  if (idle_.size() >= max_idle_) return;  // closed
  connection->idle_since = now;
  idle_.push_back(std::move(connection));
}

// What one request on one connection came to.
struct WebhookClient::Exchange {
  WebhookOutcome outcome;
  bool reusable = false;  // the response was read whole and the receiver keeps the connection open
  bool silent = false;    // nothing at all came back: the receiver had closed the connection
};

asio::awaitable<WebhookOutcome> WebhookClient::post(WebhookUrl url, std::string body, std::string secret,
                                                    std::int64_t timestamp, WebhookConnections* connections) const {
  const auto deadline = std::chrono::steady_clock::now() + options_.total_timeout;
  if (url.https && !tls_setup_error_.empty()) co_return failed(WebhookFailure::tls_error, tls_setup_error_);

  Request request{http::verb::post, url.target, 11};
  request.set(http::field::host, url.host_header());
  request.set(http::field::user_agent, "tgpulse-webhook");
  request.set(http::field::content_type, "application/json");
  if (connections == nullptr) request.set(http::field::connection, "close");
  request.set(kTimestampHeader, std::to_string(timestamp));
  request.set(kSignatureHeader, webhook_signature(secret, timestamp, body));
  request.body() = std::move(body);
  request.prepare_payload();

  if (connections != nullptr) {
    while (auto kept = connections->take(std::chrono::steady_clock::now())) {
      Exchange x = co_await exchange(*kept, url, request, deadline, true);
      if (x.silent && std::chrono::steady_clock::now() < deadline) continue;  // closed while idle
      if (x.reusable) connections->give_back(std::move(kept), std::chrono::steady_clock::now());
      co_return std::move(x.outcome);
    }
  }

  auto endpoints = co_await checked_webhook_endpoints(resolver_, url, options_.allow_private);
  if (!endpoints.ok()) co_return failed(failure_of(endpoints.error()), endpoints.error().message);
  auto connection = std::make_unique<WebhookConnections::Connection>(co_await asio::this_coro::executor,
                                                                     url.https ? tls_.get() : nullptr);
  beast::tcp_stream& tcp = connection->tcp();
  boost::system::error_code ec;
  tcp.expires_at(std::min(deadline, std::chrono::steady_clock::now() + options_.connect_timeout));
  const auto connected = co_await tcp.async_connect(endpoints.value(), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    if (is_timeout(ec)) co_return failed(WebhookFailure::timeout, "webhook receiver " + url.redacted() + ": connect timed out");
    co_return failed(WebhookFailure::connect_error, "webhook receiver " + url.redacted() + ": connect failed: " + ec.message());
  }
  connection->address = connected.address().to_string();
  tcp.expires_at(deadline);
  if (url.https) {
    auto& tls_stream = *connection->secure;
    // SNI for names (not for IP literals, RFC 6066 §3), and the certificate must name the host.
    // SSL_set_tlsext_host_name() is a macro with a C cast; this is its expansion without one.
    if (!url.host_is_ip) {
      SSL_ctrl(tls_stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(url.host.c_str()));
    }
    tls_stream.set_verify_callback(asio::ssl::host_name_verification(url.host), ec);
    co_await tls_stream.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (is_timeout(ec)) {
        co_return failed(WebhookFailure::timeout, "webhook receiver " + url.redacted() + ": TLS handshake timed out",
                         connection->address);
      }
      co_return failed(WebhookFailure::tls_error,
                       "webhook receiver " + url.redacted() + ": TLS handshake failed: " + ec.message(), connection->address);
    }
  }
  Exchange x = co_await exchange(*connection, url, request, deadline, connections != nullptr);
  if (x.reusable && connections != nullptr) connections->give_back(std::move(connection), std::chrono::steady_clock::now());
  co_return std::move(x.outcome);
}

asio::awaitable<WebhookClient::Exchange> WebhookClient::exchange(WebhookConnections::Connection& connection,
                                                                 const WebhookUrl& url, const Request& request,
                                                                 std::chrono::steady_clock::time_point deadline,
                                                                 bool keep) const {
  Exchange x;
  if (connection.plain) {
    x = co_await exchange_on(*connection.plain, url, request, deadline, keep);
  } else {
    x = co_await exchange_on(*connection.secure, url, request, deadline, keep);
  }
  x.outcome.address = connection.address;
  if (!x.reusable) {
    boost::system::error_code ignored;  // what is left of the response is never read
    connection.tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  }
  co_return x;
}

template <typename Stream>
asio::awaitable<WebhookClient::Exchange> WebhookClient::exchange_on(Stream& stream, const WebhookUrl& url,
                                                                    const Request& request,
                                                                    std::chrono::steady_clock::time_point deadline,
                                                                    bool keep) const {
  Exchange x;
  boost::system::error_code ec;
  beast::get_lowest_layer(stream).expires_at(deadline);
  co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    x.silent = !is_timeout(ec);
    if (is_timeout(ec)) {
      x.outcome = failed(WebhookFailure::timeout, "webhook receiver " + url.redacted() + ": timed out sending");
    } else {
      x.outcome = failed(WebhookFailure::connect_error,
                         "webhook receiver " + url.redacted() + ": connection lost while sending: " + ec.message());
    }
    co_return x;
  }
  beast::flat_buffer buffer(options_.max_response_head_bytes + kWebhookKeptBodyBytes);
  http::response_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(options_.max_response_head_bytes));
  parser.body_limit(kWebhookKeptBodyBytes);
  co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (!parser.is_header_done()) {
    x.silent = !is_timeout(ec) && !parser.got_some() && buffer.size() == 0;
    if (is_timeout(ec)) {
      x.outcome = failed(WebhookFailure::timeout, "webhook receiver " + url.redacted() + ": no response in time");
    } else {
      x.outcome = failed(WebhookFailure::bad_response,
                         "webhook receiver " + url.redacted() + ": no valid HTTP response head (" + ec.message() + ")");
    }
    co_return x;
  }
  const auto& head = parser.get();
  x.outcome.status = static_cast<int>(head.result_int());
  if (auto it = head.find(http::field::retry_after); it != head.end()) {
    x.outcome.retry_after = parse_webhook_retry_after(it->value(), static_cast<std::int64_t>(std::time(nullptr)));
  }
  if (!x.outcome.delivered()) {
    x.outcome.error = "webhook receiver " + url.redacted() + " answered " + std::to_string(x.outcome.status);
  }
  // Kept only when the body is declared and small (or absent) and nothing follows it.
  const auto length = parser.content_length();
  if (keep && head.keep_alive() && (parser.is_done() || (length && *length <= kWebhookKeptBodyBytes))) {
    if (!parser.is_done()) co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    x.reusable = !ec && parser.is_done() && buffer.size() == 0;
  }
  co_return x;
}

}  // namespace tgpulse::updates
