#include "updates/webhook_url.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace tgpulse::updates {
namespace {

Error bad(std::string what) { return Error(Errc::invalid_argument, "webhook url: " + std::move(what)); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// RFC 3986 pchar plus "/" and "?" (path and query), '%' only as the start of %XX.
bool valid_target(std::string_view t) {
  for (std::size_t i = 0; i < t.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(t[i]);
    if (std::isalnum(c) != 0) continue;
    if (c == '%') {
      if (i + 2 >= t.size() || std::isxdigit(static_cast<unsigned char>(t[i + 1])) == 0 ||
          std::isxdigit(static_cast<unsigned char>(t[i + 2])) == 0) {
        return false;
      }
      i += 2;
      continue;
    }
    if (std::string_view("-._~!$&'()*+,;=:@/?").find(static_cast<char>(c)) == std::string_view::npos) return false;
  }
  return true;
}

// A host name (RFC 1123 labels: letters, digits, hyphens; 1-63 bytes each, 253 in all).
bool valid_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t start = 0;
  while (start <= host.size()) {
    const auto dot = host.find('.', start);
    const std::string_view label = host.substr(start, dot == std::string_view::npos ? host.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-') return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

// The WHATWG URL rule: a host whose last label is numeric (digits, or 0x...) is an IPv4 address.
bool looks_numeric(std::string_view host) {
  const auto dot = host.rfind('.');
  const std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (is_digits(last)) return true;
  return last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X');
}

// Exactly four decimal parts 0-255 without leading zeros.
bool strict_dotted_quad(std::string_view host) {
  int parts = 0;
  std::size_t start = 0;
  while (true) {
    const auto dot = host.find('.', start);
    const std::string_view part = host.substr(start, dot == std::string_view::npos ? host.npos : dot - start);
    if (!is_digits(part) || part.size() > 3 || (part.size() > 1 && part[0] == '0') || std::stoi(std::string(part)) > 255) {
      return false;
    }
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

}  // namespace

Result<WebhookUrl> WebhookUrl::parse(std::string_view url) {
  if (url.empty()) return bad("is empty");
  if (url.size() > kMaxLength) return bad("is longer than " + std::to_string(kMaxLength) + " bytes");
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return bad("has a space, a control character or a non-ASCII byte (percent-encode it)");
    if (c == '\\') return bad("has a backslash");
  }
  WebhookUrl out;
  const auto colon = url.find("://");
  if (colon == std::string_view::npos) return bad("must start with http:// or https://");
  const std::string scheme = lower(url.substr(0, colon));
  if (scheme == "https") {
    out.https = true;
  } else if (scheme != "http") {
    return bad("scheme must be http or https");
  }
  std::string_view rest = url.substr(colon + 3);
  if (rest.find('#') != std::string_view::npos) return bad("must not have a fragment (#...)");
  const auto authority_end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, authority_end);
  std::string_view target = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return bad("must not carry credentials (user:password@host); deliveries are signed with the webhook secret");
  }
  if (authority.empty()) return bad("has no host");
  std::string_view host_part = authority;
  std::string_view port_part;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("has an unclosed [ in the host");
    host_part = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("has characters after the IPv6 address");
      port_part = after.substr(1);
      if (port_part.empty()) return bad("has an empty port");
    }
    if (host_part.find('%') != std::string_view::npos) return bad("IPv6 zone ids (%...) are not allowed");
    in6_addr a6{};
    if (inet_pton(AF_INET6, std::string(host_part).c_str(), &a6) != 1) return bad("has an invalid IPv6 address");
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &a6, text, sizeof text);
    out.host = text;  // canonical spelling
    out.host_is_ip = true;
  } else {
    const auto port_colon = authority.rfind(':');
    if (port_colon != std::string_view::npos) {
      host_part = authority.substr(0, port_colon);
      port_part = authority.substr(port_colon + 1);
      if (port_part.empty()) return bad("has an empty port");
    }
    std::string host = lower(host_part);
    if (!host.empty() && host.back() == '.') host.pop_back();  // the root label
    if (host.empty()) return bad("has no host");
    if (looks_numeric(host)) {
      if (!strict_dotted_quad(host)) {
        return bad("IPv4 addresses must be written a.b.c.d in decimal (no shortened, octal or hexadecimal forms)");
      }
      out.host_is_ip = true;
    } else if (!valid_name(host)) {
      return bad("host must be a DNS name (letters, digits, hyphens; labels of 1-63) or an IP address");
    }
    out.host = std::move(host);
  }
  if (!port_part.empty()) {
    if (!is_digits(port_part) || port_part.size() > 5) return bad("port must be a number from 1 to 65535");
    const int port = std::stoi(std::string(port_part));
    if (port < 1 || port > 65535) return bad("port must be a number from 1 to 65535");
    out.port = static_cast<std::uint16_t>(port);
  } else {
    out.port = out.https ? 443 : 80;
  }
  if (!target.empty() && target.front() == '?') {
    out.target = "/" + std::string(target);
  } else {
    out.target = target.empty() ? "/" : std::string(target);
  }
  if (!valid_target(out.target)) return bad("path or query has a character that must be percent-encoded");
  return out;
}

std::string WebhookUrl::redacted() const {
  const auto query = target.find('?');
  return std::string(https ? "https://" : "http://") + host_header() + target.substr(0, query) +
         (query == std::string::npos ? "" : "?…");
}

std::string WebhookUrl::host_header() const {
  const bool v6 = host_is_ip && host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + host + "]" : host;
  if (port != (https ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

}  // namespace tgpulse::updates
