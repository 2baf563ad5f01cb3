// KeyCipher: AES-256-GCM sealing of the stored TDLib database keys under the master key.
#include "store/key_cipher.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "store/tenant_tokens.h"

namespace tgpulse::store {
namespace {

constexpr const char* kSession = "s_AAAAAAAAAAAAAAAAAAAAA1";
constexpr const char* kOtherSession = "s_AAAAAAAAAAAAAAAAAAAAA2";

KeyCipher cipher_from(const std::string& text) {
  auto c = KeyCipher::from_base64(text);
  EXPECT_TRUE(c.ok()) << c.error().to_string();
  return std::move(c).value();
}

KeyCipher fresh_cipher() { return cipher_from(KeyCipher::generate_base64().value()); }

std::string db_key() { return TenantTokens::generate_db_key().value(); }

// The sealed value with one bit of payload byte `byte_index` flipped (nonce, ciphertext or tag): the
// tampering an attacker with write access to the database file could do.
std::string tamper(const std::string& sealed, std::size_t byte_index) {
  const auto last_colon = sealed.rfind(':');
  std::string payload = sealed.substr(last_colon + 1);
  // Base64 char 0 of a group carries bits 7..2 of its byte 0, char 2 bits 3..0 of byte 1, char 3 bits
  // 5..0 of byte 2: bit 5 of that char is a bit of the wanted byte.
  static constexpr std::size_t kCharOf[] = {0, 2, 3};
  const std::size_t char_index = byte_index / 3 * 4 + kCharOf[byte_index % 3];
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto pos = alphabet.find(payload[char_index]);
  payload[char_index] = alphabet[pos ^ 0x20];
  return sealed.substr(0, last_colon + 1) + payload;
}

TEST(KeyCipherTest, SealThenOpenRoundTrips) {
  const KeyCipher cipher = fresh_cipher();
  const std::string plain = db_key();
  auto sealed = cipher.seal(plain, kSession);
  ASSERT_TRUE(sealed.ok()) << sealed.error().to_string();
  EXPECT_EQ(sealed->find(plain), std::string::npos);
  EXPECT_EQ(sealed->rfind("v1:" + cipher.key_id() + ":", 0), 0u) << *sealed;
  EXPECT_EQ(KeyCipher::kind_of(*sealed), StoredKeyKind::sealed);
  EXPECT_EQ(KeyCipher::key_id_of(*sealed), cipher.key_id());
  auto opened = cipher.open(*sealed, kSession);
  ASSERT_TRUE(opened.ok()) << opened.error().to_string();
  EXPECT_EQ(*opened, plain);
}

TEST(KeyCipherTest, EverySealUsesAFreshNonce) {
  const KeyCipher cipher = fresh_cipher();
  const std::string plain = db_key();
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(cipher.seal(plain, kSession).value());
  EXPECT_EQ(seen.size(), 100u);
}

TEST(KeyCipherTest, KeyIdIsStableAndNamesTheKey) {
  const std::string text = KeyCipher::generate_base64().value();
  const KeyCipher a = cipher_from(text);
  const KeyCipher b = cipher_from(text + "\n");  // a key file's trailing newline is not part of the key
  const KeyCipher c = fresh_cipher();
  EXPECT_EQ(a.key_id(), b.key_id());
  EXPECT_NE(a.key_id(), c.key_id());
  EXPECT_EQ(a.key_id().size(), 8u);
  EXPECT_EQ(a.key_id().find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(text.find(a.key_id()), std::string::npos);
}

TEST(KeyCipherTest, TamperedNonceCiphertextOrTagDoesNotOpen) {
  const KeyCipher cipher = fresh_cipher();
  const std::string plain = db_key();
  const std::string sealed = cipher.seal(plain, kSession).value();
  const std::size_t total = KeyCipher::kNonceBytes + plain.size() + KeyCipher::kTagBytes;
  for (std::size_t at : {std::size_t{0}, std::size_t{11},                         // nonce
                         KeyCipher::kNonceBytes, KeyCipher::kNonceBytes + 20,       // ciphertext
                         total - KeyCipher::kTagBytes, total - 2}) {               // tag
    const std::string bad = tamper(sealed, at);
    ASSERT_NE(bad, sealed);
    auto opened = cipher.open(bad, kSession);
    ASSERT_FALSE(opened.ok()) << "byte " << at << " altered and still opened";
    EXPECT_EQ(opened.error().code, Errc::unauthorized) << opened.error().to_string();
    EXPECT_NE(opened.error().message.find("does not authenticate"), std::string::npos);
  }
  // A cut-off tag or an appended byte is refused too.
  EXPECT_FALSE(cipher.open(sealed.substr(0, sealed.size() - 4), kSession).ok());
  EXPECT_FALSE(cipher.open(sealed + "AAAA", kSession).ok());
}

TEST(KeyCipherTest, AnotherKeyIsRefusedNamingBothKeyIds) {
  const KeyCipher cipher = fresh_cipher();
  const KeyCipher other = fresh_cipher();
  const std::string sealed = cipher.seal(db_key(), kSession).value();
  auto opened = other.open(sealed, kSession);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, Errc::unauthorized);
  EXPECT_NE(opened.error().message.find(cipher.key_id()), std::string::npos) << opened.error().message;
  EXPECT_NE(opened.error().message.find(other.key_id()), std::string::npos) << opened.error().message;

  // Even with the key id rewritten to the other key's, the tag fails: the id is only a label.
  std::string relabelled = sealed;
  relabelled.replace(3, 8, other.key_id());
  auto forged = other.open(relabelled, kSession);
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.error().code, Errc::unauthorized);
}

TEST(KeyCipherTest, AValueMovedToAnotherSessionDoesNotOpen) {
  const KeyCipher cipher = fresh_cipher();
  const std::string plain = db_key();
  const std::string sealed = cipher.seal(plain, kSession).value();
  auto moved = cipher.open(sealed, kOtherSession);
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().code, Errc::unauthorized);
  EXPECT_EQ(cipher.open(sealed, kSession).value(), plain);
}

TEST(KeyCipherTest, TellsPlainSealedAndUnknownValuesApart) {
  const KeyCipher cipher = fresh_cipher();
  const std::string plain = db_key();
  EXPECT_EQ(KeyCipher::kind_of(plain), StoredKeyKind::plain);
  EXPECT_FALSE(KeyCipher::key_id_of(plain).has_value());
  auto opened_plain = cipher.open(plain, kSession);
  ASSERT_FALSE(opened_plain.ok());
  EXPECT_EQ(opened_plain.error().code, Errc::invalid_argument);
  EXPECT_NE(opened_plain.error().message.find("not encrypted"), std::string::npos);

  for (const std::string& unknown : {std::string("v2:0011aabb:AAAA"), std::string("v1:XYZ:AAAA"),
                                     std::string("v1:0011aabb"), std::string("x:y"), std::string(":")}) {
    EXPECT_EQ(KeyCipher::kind_of(unknown), StoredKeyKind::unknown) << unknown;
    auto opened = cipher.open(unknown, kSession);
    ASSERT_FALSE(opened.ok()) << unknown;
    EXPECT_EQ(opened.error().code, Errc::invalid_argument) << unknown;
    EXPECT_NE(opened.error().message.find("not in a known encrypted format"), std::string::npos);
  }
}

TEST(KeyCipherTest, MalformedSealedValuesGiveAClearError) {
  const KeyCipher cipher = fresh_cipher();
  const std::string head = "v1:" + cipher.key_id() + ":";
  auto not_base64 = cipher.open(head + "!!!!", kSession);
  ASSERT_FALSE(not_base64.ok());
  EXPECT_EQ(not_base64.error().code, Errc::invalid_argument);
  EXPECT_NE(not_base64.error().message.find("not base64"), std::string::npos);
  auto short_value = cipher.open(head + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", kSession);  // 27 bytes
  ASSERT_FALSE(short_value.ok());
  EXPECT_EQ(short_value.error().code, Errc::invalid_argument);
  EXPECT_NE(short_value.error().message.find("too short"), std::string::npos);
  EXPECT_FALSE(cipher.open(head, kSession).ok());
}

TEST(KeyCipherTest, BadMasterKeysAreRefusedWithoutEchoingThem) {
  struct Case {
    std::string text;
    std::string says;
  };
  for (const Case& c : {Case{"", "empty"}, Case{"   \n", "empty"}, Case{"not base64 at all!", "not base64"},
                        Case{"c2hvcnQ=", "decodes to 5 bytes"},
                        Case{std::string(64, 'A'), "decodes to 48 bytes"}}) {
    auto cipher = KeyCipher::from_base64(c.text);
    ASSERT_FALSE(cipher.ok()) << c.text;
    EXPECT_EQ(cipher.error().code, Errc::invalid_argument);
    EXPECT_NE(cipher.error().message.find(c.says), std::string::npos) << cipher.error().message;
    if (c.text.size() > 4) {
      EXPECT_EQ(cipher.error().message.find(c.text), std::string::npos);
    }
  }
  // 32 bytes with or without padding are the same key.
  const std::string text = KeyCipher::generate_base64().value();
  ASSERT_EQ(text.size(), 44u);
  EXPECT_EQ(cipher_from(text.substr(0, 43)).key_id(), cipher_from(text).key_id());
}

}  // namespace
}  // namespace tgpulse::store
