#include "updates/webhook_client.h"

#include <ctime>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
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

asio::awaitable<WebhookOutcome> WebhookClient::post(WebhookUrl url, std::string body, std::string secret,
                                                    std::int64_t timestamp) const {
  const auto deadline = std::chrono::steady_clock::now() + options_.total_timeout;
  if (url.https && !tls_setup_error_.empty()) co_return failed(WebhookFailure::tls_error, tls_setup_error_);
  auto endpoints = co_await checked_webhook_endpoints(resolver_, url, options_.allow_private);
  if (!endpoints.ok()) co_return failed(failure_of(endpoints.error()), endpoints.error().message);

  const auto executor = co_await asio::this_coro::executor;
  beast::ssl_stream<beast::tcp_stream> tls_stream(executor, *tls_);
  beast::tcp_stream plain_stream(executor);
  beast::tcp_stream& tcp = url.https ? beast::get_lowest_layer(tls_stream) : plain_stream;
  boost::system::error_code ec;
  tcp.expires_at(std::min(deadline, std::chrono::steady_clock::now() + options_.connect_timeout));
  const auto connected = co_await tcp.async_connect(endpoints.value(), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    if (is_timeout(ec)) co_return failed(WebhookFailure::timeout, "webhook receiver " + url.redacted() + ": connect timed out");
    co_return failed(WebhookFailure::connect_error, "webhook receiver " + url.redacted() + ": connect failed: " + ec.message());
  }
  std::string address = connected.address().to_string();
  tcp.expires_at(deadline);
  if (!url.https) co_return co_await exchange(plain_stream, url, std::move(body), secret, timestamp, deadline, std::move(address));

  // SNI for names (not for IP literals, RFC 6066 §3), and the certificate must name the host.
  // SNI. SSL_set_tlsext_host_name() is a macro with a C cast; this is its expansion without one.
  if (!url.host_is_ip) {
    SSL_ctrl(tls_stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(url.host.c_str()));
  }
  tls_stream.set_verify_callback(asio::ssl::host_name_verification(url.host), ec);
  co_await tls_stream.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    if (is_timeout(ec)) {
      co_return failed(WebhookFailure::timeout, "webhook receiver " + url.redacted() + ": TLS handshake timed out", address);
    }
    co_return failed(WebhookFailure::tls_error,
                     "webhook receiver " + url.redacted() + ": TLS handshake failed: " + ec.message(), address);
  }
  co_return co_await exchange(tls_stream, url, std::move(body), secret, timestamp, deadline, std::move(address));
}

template <typename Stream>
asio::awaitable<WebhookOutcome> WebhookClient::exchange(Stream& stream, WebhookUrl url, std::string body,
                                                        std::string secret, std::int64_t timestamp,
                                                        std::chrono::steady_clock::time_point deadline,
                                                        std::string address) const {
  http::request<http::string_body> request{http::verb::post, url.target, 11};
  request.set(http::field::host, url.host_header());
  request.set(http::field::user_agent, "tgpulse-webhook");
  request.set(http::field::content_type, "application/json");
  request.set(http::field::connection, "close");
  request.set(kTimestampHeader, std::to_string(timestamp));
  request.set(kSignatureHeader, webhook_signature(secret, timestamp, body));
  request.body() = std::move(body);
  request.prepare_payload();

  boost::system::error_code ec;
  beast::get_lowest_layer(stream).expires_at(deadline);
  co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    if (is_timeout(ec)) co_return failed(WebhookFailure::timeout, "webhook receiver " + url.redacted() + ": timed out sending", address);
    co_return failed(WebhookFailure::connect_error,
                     "webhook receiver " + url.redacted() + ": connection lost while sending: " + ec.message(), address);
  }
  beast::flat_buffer buffer(options_.max_response_head_bytes);
  http::response_parser<http::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(options_.max_response_head_bytes));
  co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  boost::system::error_code ignored;
  beast::get_lowest_layer(stream).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);  // body unread
  if (!parser.is_header_done()) {
    if (is_timeout(ec)) {
      co_return failed(WebhookFailure::timeout, "webhook receiver " + url.redacted() + ": no response in time", address);
    }
    co_return failed(WebhookFailure::bad_response,
                     "webhook receiver " + url.redacted() + ": no valid HTTP response head (" + ec.message() + ")", address);
  }
  const auto& head = parser.get();
  WebhookOutcome outcome;
  outcome.status = static_cast<int>(head.result_int());
  outcome.address = std::move(address);
  if (auto it = head.find(http::field::retry_after); it != head.end()) {
    outcome.retry_after = parse_webhook_retry_after(it->value(), static_cast<std::int64_t>(std::time(nullptr)));
  }
  if (!outcome.delivered()) {
    outcome.error = "webhook receiver " + url.redacted() + " answered " + std::to_string(outcome.status);
  }
  co_return outcome;
}

}  // namespace tgpulse::updates
