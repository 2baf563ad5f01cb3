#include "updates/webhook_signature.h"

#include <gtest/gtest.h>

namespace tgpulse::updates {
namespace {

constexpr const char* kSecret = "whsec_test_0123456789abcdef";
constexpr const char* kBody = R"({"update_id":1})";

// Computed independently with Python's hmac module:
//   hmac.new(b"whsec_test_0123456789abcdef", b'1700000000.{"update_id":1}', hashlib.sha256).hexdigest()
TEST(WebhookSignatureTest, MatchesAnIndependentlyComputedVector) {
  EXPECT_EQ(webhook_signature(kSecret, 1700000000, kBody),
            "sha256=f1a73a563815b3dbaeb8a7bdbdc5f204b2e73be638ade1969f7350b9bf50ded2");
}

TEST(WebhookSignatureTest, TheTimestampAndEveryBodyByteAreSigned) {
  const auto base = webhook_signature(kSecret, 1700000000, kBody);
  EXPECT_NE(webhook_signature(kSecret, 1700000001, kBody), base);
  EXPECT_NE(webhook_signature(kSecret, 1700000000, R"({"update_id":2})"), base);
  EXPECT_NE(webhook_signature("whsec_test_0123456789abcdeF", 1700000000, kBody), base);
  // "1.70000000" + body must not collide with "17.0000000" + body: the dot separates them.
  EXPECT_NE(webhook_signature(kSecret, 1, "2.x"), webhook_signature(kSecret, 12, "x"));
}

TEST(WebhookSignatureTest, TheReceiverSideChecksSignatureAndReplayWindow) {
  const std::int64_t now = 1700000000;
  const auto sig = webhook_signature(kSecret, now, kBody);
  EXPECT_TRUE(verify_webhook_signature(kSecret, "1700000000", sig, kBody, now).ok());
  EXPECT_TRUE(verify_webhook_signature(kSecret, "1700000000", sig, kBody, now + 299).ok());
  auto replayed = verify_webhook_signature(kSecret, "1700000000", sig, kBody, now + 301);
  ASSERT_FALSE(replayed.ok());
  EXPECT_NE(replayed.error().message.find("replay window"), std::string::npos);
  EXPECT_FALSE(verify_webhook_signature(kSecret, "1700000000", sig, R"({"update_id":9})", now).ok());
  EXPECT_FALSE(verify_webhook_signature(kSecret, "1700000001", sig, kBody, now).ok());
  EXPECT_FALSE(verify_webhook_signature(kSecret, "1700000000", sig.substr(0, sig.size() - 1), kBody, now).ok());
  EXPECT_FALSE(verify_webhook_signature(kSecret, "-1", sig, kBody, now).ok());
  EXPECT_FALSE(verify_webhook_signature(kSecret, "", sig, kBody, now).ok());
  EXPECT_FALSE(verify_webhook_signature(kSecret, "99999999999999999999", sig, kBody, now).ok());
  auto forged = verify_webhook_signature("another-secret-0123", "1700000000", sig, kBody, now);
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.error().message.find(kSecret), std::string::npos);
}

TEST(WebhookSignatureTest, SecretsAreBoundedAndPlain) {
  EXPECT_TRUE(validate_webhook_secret(kSecret).ok());
  EXPECT_FALSE(validate_webhook_secret("short").ok());
  EXPECT_FALSE(validate_webhook_secret(std::string(257, 'a')).ok());
  auto bad = validate_webhook_secret("has a space in it 0123");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.find("has a space"), std::string::npos) << "the error repeats the secret";
}

}  // namespace
}  // namespace tgpulse::updates
