#include "updates/webhook_address.h"

#include <array>
#include <cstdint>

namespace tgpulse::updates {
namespace {

using Bytes4 = boost::asio::ip::address_v4::bytes_type;
using Bytes6 = boost::asio::ip::address_v6::bytes_type;

bool in_v4(std::uint32_t a, std::uint32_t network, int prefix) {
  const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  return (a & mask) == (network & mask);
}
constexpr std::uint32_t v4(int a, int b, int c, int d) {
  return (std::uint32_t(a) << 24) | (std::uint32_t(b) << 16) | (std::uint32_t(c) << 8) | std::uint32_t(d);
}

AddressRange classify_v4(std::uint32_t a) {
  if (in_v4(a, v4(0, 0, 0, 0), 8)) return AddressRange::unspecified;
  if (in_v4(a, v4(127, 0, 0, 0), 8)) return AddressRange::loopback;
  if (in_v4(a, v4(10, 0, 0, 0), 8) || in_v4(a, v4(172, 16, 0, 0), 12) || in_v4(a, v4(192, 168, 0, 0), 16)) {
    return AddressRange::private_use;
  }
  if (in_v4(a, v4(100, 64, 0, 0), 10)) return AddressRange::shared;
  if (in_v4(a, v4(169, 254, 0, 0), 16)) return AddressRange::link_local;
  if (a == v4(255, 255, 255, 255)) return AddressRange::broadcast;
  if (in_v4(a, v4(224, 0, 0, 0), 4)) return AddressRange::multicast;
  if (in_v4(a, v4(240, 0, 0, 0), 4) || in_v4(a, v4(192, 0, 0, 0), 24) || in_v4(a, v4(192, 0, 2, 0), 24) ||
      in_v4(a, v4(198, 18, 0, 0), 15) || in_v4(a, v4(198, 51, 100, 0), 24) || in_v4(a, v4(203, 0, 113, 0), 24)) {
    return AddressRange::reserved;
  }
  return AddressRange::global;
}

std::uint32_t v4_at(const Bytes6& b, std::size_t offset) {
  return (std::uint32_t(b[offset]) << 24) | (std::uint32_t(b[offset + 1]) << 16) | (std::uint32_t(b[offset + 2]) << 8) |
         std::uint32_t(b[offset + 3]);
}
bool zeros(const Bytes6& b, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to; ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

AddressRange classify_v6(const Bytes6& b) {
  if (zeros(b, 0, 16)) return AddressRange::unspecified;
  if (zeros(b, 0, 15) && b[15] == 1) return AddressRange::loopback;
  // IPv4 carried in IPv6: mapped ::ffff:0:0/96, compatible ::/96, NAT64 64:ff9b::/96, 6to4 2002::/16.
  if (zeros(b, 0, 10) && b[10] == 0xff && b[11] == 0xff) return classify_v4(v4_at(b, 12));
  if (zeros(b, 0, 12)) return classify_v4(v4_at(b, 12));
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zeros(b, 4, 12)) return classify_v4(v4_at(b, 12));
  if (b[0] == 0x20 && b[1] == 0x02) return classify_v4(v4_at(b, 2));
  if (b[0] == 0xff) return AddressRange::multicast;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressRange::link_local;   // fe80::/10
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return AddressRange::private_use;  // fec0::/10 site-local
  if ((b[0] & 0xfe) == 0xfc) return AddressRange::private_use;                  // fc00::/7
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return AddressRange::reserved;  // documentation
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00) return AddressRange::reserved;  // Teredo
  if (b[0] == 0x01 && b[1] == 0x00 && zeros(b, 2, 8)) return AddressRange::reserved;                // discard 100::/64
  return AddressRange::global;
}

}  // namespace

const char* address_range_name(AddressRange range) noexcept {
  switch (range) {
    case AddressRange::global: return "global";
    case AddressRange::loopback: return "loopback";
    case AddressRange::private_use: return "private";
    case AddressRange::shared: return "shared (carrier-grade NAT)";
    case AddressRange::link_local: return "link-local";
    case AddressRange::unspecified: return "unspecified";
    case AddressRange::multicast: return "multicast";
    case AddressRange::broadcast: return "broadcast";
    case AddressRange::reserved: return "reserved";
  }
  return "reserved";
}

AddressRange classify_address(const boost::asio::ip::address& address) noexcept {
  if (address.is_v4()) return classify_v4(address.to_v4().to_uint());
  return classify_v6(address.to_v6().to_bytes());
}

Status check_webhook_address(const boost::asio::ip::address& address, bool allow_private) {
  const AddressRange range = classify_address(address);
  if (range == AddressRange::global) return {};
  const bool private_kind = range == AddressRange::loopback || range == AddressRange::private_use ||
                            range == AddressRange::shared || range == AddressRange::link_local;
  if (private_kind && allow_private) return {};
  std::string message = "webhook address " + address.to_string() + " is " + address_range_name(range);
  message += private_kind ? "; private and loopback addresses are refused unless updates.webhook_allow_private is true"
                          : "; it is never dialled";
  return Status(Errc::invalid_argument, std::move(message));
}

}  // namespace tgpulse::updates
