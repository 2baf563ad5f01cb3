#include "updates/webhook_address.h"

#include <gtest/gtest.h>

namespace tgpulse::updates {
namespace {

AddressRange range_of(const char* text) { return classify_address(boost::asio::ip::make_address(text)); }

TEST(WebhookAddressTest, EveryIpv4RangeIsClassified) {
  const std::pair<const char*, AddressRange> cases[] = {
      {"8.8.8.8", AddressRange::global},          {"93.184.216.34", AddressRange::global},
      {"0.0.0.0", AddressRange::unspecified},     {"0.1.2.3", AddressRange::unspecified},
      {"127.0.0.1", AddressRange::loopback},      {"127.255.255.254", AddressRange::loopback},
      {"10.0.0.1", AddressRange::private_use},    {"10.255.255.255", AddressRange::private_use},
      {"172.16.0.1", AddressRange::private_use},  {"172.31.255.255", AddressRange::private_use},
      {"172.15.255.255", AddressRange::global},   {"172.32.0.0", AddressRange::global},
      {"192.168.0.1", AddressRange::private_use}, {"192.169.0.1", AddressRange::global},
      {"169.254.169.254", AddressRange::link_local}, {"169.255.0.1", AddressRange::global},
      {"100.64.0.1", AddressRange::shared},       {"100.127.255.255", AddressRange::shared},
      {"100.63.255.255", AddressRange::global},   {"100.128.0.0", AddressRange::global},
      {"224.0.0.1", AddressRange::multicast},     {"239.255.255.255", AddressRange::multicast},
      {"255.255.255.255", AddressRange::broadcast}, {"240.0.0.1", AddressRange::reserved},
      {"192.0.2.1", AddressRange::reserved},      {"198.51.100.1", AddressRange::reserved},
      {"203.0.113.1", AddressRange::reserved},    {"198.18.0.1", AddressRange::reserved},
  };
  for (const auto& [text, range] : cases) {
    EXPECT_EQ(range_of(text), range) << text << " is " << address_range_name(range_of(text));
  }
}

TEST(WebhookAddressTest, EveryIpv6RangeIsClassifiedAndEmbeddedIpv4CountsAsItself) {
  const std::pair<const char*, AddressRange> cases[] = {
      {"2606:4700::1111", AddressRange::global},     {"::", AddressRange::unspecified},
      {"::1", AddressRange::loopback},               {"fc00::1", AddressRange::private_use},
      {"fdff:ffff::1", AddressRange::private_use},   {"fe80::1", AddressRange::link_local},
      {"febf::1", AddressRange::link_local},         {"fec0::1", AddressRange::private_use},
      {"ff02::1", AddressRange::multicast},          {"2001:db8::1", AddressRange::reserved},
      {"2001::1", AddressRange::reserved},           {"100::1", AddressRange::reserved},
      // IPv4-mapped, -compatible, NAT64 and 6to4 spellings of private and loopback IPv4 addresses.
      {"::ffff:127.0.0.1", AddressRange::loopback},  {"::ffff:7f00:1", AddressRange::loopback},
      {"::ffff:10.1.2.3", AddressRange::private_use}, {"::ffff:169.254.169.254", AddressRange::link_local},
      {"::ffff:0.0.0.0", AddressRange::unspecified}, {"::ffff:8.8.8.8", AddressRange::global},
      {"::127.0.0.1", AddressRange::loopback},       {"64:ff9b::a9fe:a9fe", AddressRange::link_local},
      {"64:ff9b::808:808", AddressRange::global},    {"2002:7f00:1::", AddressRange::loopback},
      {"2002:c0a8:101::1", AddressRange::private_use},
  };
  for (const auto& [text, range] : cases) {
    EXPECT_EQ(range_of(text), range) << text << " is " << address_range_name(range_of(text));
  }
}

TEST(WebhookAddressTest, OnlyGlobalAddressesPassUnlessPrivateOnesAreAllowed) {
  using boost::asio::ip::make_address;
  EXPECT_TRUE(check_webhook_address(make_address("8.8.8.8"), false).ok());
  for (const char* refused : {"127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
                              "::1", "fc00::1", "fe80::1", "::ffff:127.0.0.1"}) {
    auto s = check_webhook_address(make_address(refused), false);
    ASSERT_FALSE(s.ok()) << refused;
    EXPECT_NE(s.error().message.find("updates.webhook_allow_private"), std::string::npos) << s.error().message;
    EXPECT_NE(s.error().message.find(make_address(refused).to_string()), std::string::npos) << s.error().message;
    EXPECT_TRUE(check_webhook_address(make_address(refused), true).ok()) << refused;
  }
  // Never dialled, whatever the setting: 0.0.0.0 and :: reach the local host on Linux.
  for (const char* never : {"0.0.0.0", "::", "224.0.0.1", "ff02::1", "255.255.255.255", "240.0.0.1", "::ffff:0.0.0.0"}) {
    auto s = check_webhook_address(make_address(never), true);
    ASSERT_FALSE(s.ok()) << never;
    EXPECT_NE(s.error().message.find("never dialled"), std::string::npos) << s.error().message;
  }
}

}  // namespace
}  // namespace tgpulse::updates
