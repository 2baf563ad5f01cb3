#include "updates/webhook_url.h"

#include <gtest/gtest.h>

namespace tgpulse::updates {
namespace {

std::string refusal(std::string_view url) {
  auto r = WebhookUrl::parse(url);
  EXPECT_FALSE(r.ok()) << url;
  return r.ok() ? std::string() : r.error().message;
}

TEST(WebhookUrlTest, HttpAndHttpsUrlsParseIntoHostPortAndTarget) {
  auto u = WebhookUrl::parse("HTTPS://Hooks.Example.COM/tg/in?key=1");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_TRUE(u.value().https);
  EXPECT_EQ(u.value().host, "hooks.example.com");
  EXPECT_EQ(u.value().port, 443);
  EXPECT_EQ(u.value().target, "/tg/in?key=1");
  EXPECT_FALSE(u.value().host_is_ip);
  EXPECT_EQ(u.value().host_header(), "hooks.example.com");

  auto p = WebhookUrl::parse("http://example.com:8080");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value().port, 8080);
  EXPECT_EQ(p.value().target, "/");
  EXPECT_EQ(p.value().host_header(), "example.com:8080");

  auto v6 = WebhookUrl::parse("http://[2001:DB8:0:0::1]:9000/x");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6.value().host, "2001:db8::1");
  EXPECT_TRUE(v6.value().host_is_ip);
  EXPECT_EQ(v6.value().host_header(), "[2001:db8::1]:9000");

  auto v4 = WebhookUrl::parse("http://93.184.216.34/");
  ASSERT_TRUE(v4.ok());
  EXPECT_TRUE(v4.value().host_is_ip);
  EXPECT_TRUE(WebhookUrl::parse("http://example.com./hook").ok());  // the root label
  EXPECT_EQ(WebhookUrl::parse("http://example.com?a=b").value().target, "/?a=b");
}

TEST(WebhookUrlTest, OnlyHttpAndHttpsAreAccepted) {
  for (const char* url : {"ftp://example.com/", "file:///etc/passwd", "gopher://example.com/", "javascript:alert(1)",
                          "example.com/hook", "//example.com/hook", "ws://example.com/"}) {
    const auto why = refusal(url);
    EXPECT_TRUE(why.find("http") != std::string::npos) << url << ": " << why;
  }
}

TEST(WebhookUrlTest, CredentialsAreRefusedAndNeverRepeated) {
  for (const char* url : {"http://alice:hunter2@example.com/", "https://hunter2@example.com/", "http://:hunter2@example.com/",
                          "http://example.com@hunter2.evil/"}) {
    const auto why = refusal(url);
    EXPECT_NE(why.find("credentials"), std::string::npos) << why;
    EXPECT_EQ(why.find("hunter2"), std::string::npos) << "the error repeats the secret: " << why;
  }
}

TEST(WebhookUrlTest, NumericIpv4SpellingsOtherThanDottedDecimalAreRefused) {
  for (const char* url : {"http://127.1/", "http://0177.0.0.1/", "http://0x7f000001/", "http://2130706433/",
                          "http://0x7f.0.0.1/", "http://127.0.0.01/", "http://256.1.1.1/", "http://1.2.3.4.5/",
                          "http://010.0.0.1/", "http://1.2.3/"}) {
    const auto why = refusal(url);
    EXPECT_NE(why.find("a.b.c.d"), std::string::npos) << url << ": " << why;
  }
  EXPECT_TRUE(WebhookUrl::parse("http://0.0.0.0/").ok()) << "well formed; the address policy refuses it";
}

TEST(WebhookUrlTest, MalformedPartsAreNamed) {
  EXPECT_NE(refusal("").find("empty"), std::string::npos);
  EXPECT_NE(refusal("http://example.com/" + std::string(WebhookUrl::kMaxLength, 'a')).find("longer than 2048"),
            std::string::npos);
  EXPECT_NE(refusal("http://exa mple.com/").find("space"), std::string::npos);
  EXPECT_NE(refusal("http://example.com/\x01").find("control"), std::string::npos);
  EXPECT_NE(refusal("http://ex\xc3\xa4mple.com/").find("non-ASCII"), std::string::npos);
  EXPECT_NE(refusal("http://example.com/#frag").find("fragment"), std::string::npos);
  EXPECT_NE(refusal("http://example.com:0/").find("port"), std::string::npos);
  EXPECT_NE(refusal("http://example.com:65536/").find("port"), std::string::npos);
  EXPECT_NE(refusal("http://example.com:http/").find("port"), std::string::npos);
  EXPECT_NE(refusal("http://example.com:/").find("port"), std::string::npos);
  EXPECT_NE(refusal("http:///path").find("host"), std::string::npos);
  EXPECT_NE(refusal("http://exa_mple.com/").find("DNS name"), std::string::npos);
  EXPECT_NE(refusal("http://-example.com/").find("DNS name"), std::string::npos);
  EXPECT_NE(refusal("http://a..b/").find("DNS name"), std::string::npos);
  EXPECT_NE(refusal("http://[::1/").find("unclosed"), std::string::npos);
  EXPECT_NE(refusal("http://[fe80::1%25eth0]/").find("zone"), std::string::npos);
  EXPECT_NE(refusal("http://[::g]/").find("IPv6"), std::string::npos);
  EXPECT_NE(refusal("http://[::1]x/").find("after the IPv6"), std::string::npos);
  EXPECT_NE(refusal("http://example.com/a\\b").find("backslash"), std::string::npos);
  EXPECT_NE(refusal("http://example.com/a%zz").find("percent-encoded"), std::string::npos);
  EXPECT_NE(refusal("http://example.com/a<b").find("percent-encoded"), std::string::npos);
}

TEST(WebhookUrlTest, RedactedFormLeavesTheQueryOut) {
  auto u = WebhookUrl::parse("https://example.com:8443/hook?token=s3cr3t");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u.value().redacted().find("s3cr3t"), std::string::npos);
  EXPECT_EQ(u.value().redacted().rfind("https://example.com:8443/hook?", 0), 0u);
}

}  // namespace
}  // namespace tgpulse::updates
