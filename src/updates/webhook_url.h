// WebhookUrl: a tenant's webhook URL, parsed and checked before anything keeps it — http or https only,
// at most kMaxLength bytes of printable ASCII, no credentials (user:password@ is refused, not stripped:
// the webhook secret signs deliveries, and a URL that carries a password would spread it to every log
// and copy of the URL), no fragment, a registered name or an IP literal as host. IPv4 literals must be
// dotted decimal (a.b.c.d, no leading zeros); the shortened, octal and hexadecimal spellings that
// getaddrinfo or browsers accept (127.1, 0177.0.0.1, 0x7f000001, 2130706433) are refused, so the host
// that is checked is the host that is dialled. IPv6 literals go in brackets, without a zone id.
//
// Whether the host may be dialled is decided at delivery time on the resolved addresses (webhook_address.h,
// webhook_resolver.h); parsing only decides whether the URL is well formed.
//
// Errors (Errc::invalid_argument) name what is wrong and never repeat the URL (it may hold credentials).
//
// Thread-safety: a value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace tgpulse::updates {

struct WebhookUrl {
  static constexpr std::size_t kMaxLength = 2048;

  bool https = false;
  std::string host;         // lower-case name, or the IP literal (IPv6 without brackets)
  bool host_is_ip = false;  // an IPv4 or IPv6 literal: no resolution
  std::uint16_t port = 0;   // the explicit port or 80/443
  std::string target;       // path and query as given ("/" when empty): the request target

  static Result<WebhookUrl> parse(std::string_view url);

  // scheme://host[:port]/path — the query left out (it often carries tokens): for logs, spans, errors.
  std::string redacted() const;
  // The Host header: host, bracketed when IPv6, with the port when it is not the scheme's default.
  std::string host_header() const;
};

}  // namespace tgpulse::updates
