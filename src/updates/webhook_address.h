// WebhookAddressPolicy: which IP addresses a webhook delivery may connect to. The server side request
// forgery guard: a tenant's URL must not reach the service's own host, its private network or a cloud
// metadata address. Classifies IPv4 and IPv6 addresses (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible
// ::a.b.c.d, NAT64 64:ff9b::/96 and 6to4 2002::/16 by the IPv4 address they carry) into the ranges
// below; only `global` is dialled unless updates.webhook_allow_private, which also lets loopback,
// private, shared (CGNAT) and link-local addresses through. Unspecified (0.0.0.0, ::: Linux dials the
// local host), multicast, broadcast and reserved addresses are never dialled.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include <boost/asio/ip/address.hpp>

#include "core/result.h"

namespace tgpulse::updates {

enum class AddressRange {
  global,
  loopback,       // 127/8, ::1
  private_use,    // 10/8, 172.16/12, 192.168/16, fc00::/7 (unique local), fec0::/10 (site-local)
  shared,         // 100.64/10 (carrier-grade NAT)
  link_local,     // 169.254/16 (cloud metadata lives here), fe80::/10
  unspecified,    // 0.0.0.0/8, ::
  multicast,      // 224/4, ff00::/8
  broadcast,      // 255.255.255.255
  reserved,       // 240/4, 192.0.0/24, 198.18/15, documentation ranges, 100::/64, 2001:db8::/32, Teredo
};

// "loopback", "private", ... as shown in errors.
const char* address_range_name(AddressRange range) noexcept;

AddressRange classify_address(const boost::asio::ip::address& address) noexcept;

// OK when `address` may be dialled; else Errc::invalid_argument naming the address and its range, and
// the key that would allow it when one would.
Status check_webhook_address(const boost::asio::ip::address& address, bool allow_private);

}  // namespace tgpulse::updates
