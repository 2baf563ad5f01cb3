#include "store/tenant_tokens.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace tgpulse::store {
namespace {

bool all_of_alphabet(std::string_view s, std::string_view alphabet) {
  return s.find_first_not_of(alphabet) == std::string_view::npos;
}

constexpr std::string_view kBase64Url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kBase62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

TEST(TenantTokensTest, TokensHaveThePrefixAnd32RandomBytes) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto token = TenantTokens::generate_token();
    ASSERT_TRUE(token.ok());
    ASSERT_EQ(token->size(), 4u + 43u) << *token;  // 32 bytes = 43 unpadded base64url chars
    EXPECT_EQ(token->substr(0, 4), "tgp_");
    EXPECT_TRUE(all_of_alphabet(token->substr(4), kBase64Url)) << *token;
    EXPECT_TRUE(seen.insert(*token).second);
  }
}

TEST(TenantTokensTest, HashIsSha256Hex) {
  // Known SHA-256 test vectors (FIPS 180-2).
  EXPECT_EQ(TenantTokens::hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(TenantTokens::hash_token(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_TRUE(TenantTokens::is_valid_hash(TenantTokens::hash_token("x")));
  EXPECT_FALSE(TenantTokens::is_valid_hash("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
  EXPECT_FALSE(TenantTokens::is_valid_hash("abc"));
}

TEST(TenantTokensTest, VerifyAcceptsOnlyTheToken) {
  auto token = TenantTokens::generate_token();
  ASSERT_TRUE(token.ok());
  const std::string hash = TenantTokens::hash_token(*token);
  EXPECT_TRUE(TenantTokens::verify(*token, hash));
  std::string flipped = *token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(TenantTokens::verify(flipped, hash));
  EXPECT_FALSE(TenantTokens::verify(hash, hash));
  EXPECT_FALSE(TenantTokens::verify("", hash));
  EXPECT_FALSE(TenantTokens::verify(*token, hash.substr(1)));
}

TEST(TenantTokensTest, ConstantTimeEqual) {
  EXPECT_TRUE(TenantTokens::constant_time_equal("", ""));
  EXPECT_TRUE(TenantTokens::constant_time_equal("abc", "abc"));
  EXPECT_FALSE(TenantTokens::constant_time_equal("abc", "abd"));
  EXPECT_FALSE(TenantTokens::constant_time_equal("abc", "abcd"));
}

TEST(TenantTokensTest, SessionIdsAreBase62AndValidate) {
  std::set<std::string> seen;
  std::set<char> chars;
  for (int i = 0; i < 500; ++i) {
    auto id = TenantTokens::generate_session_id();
    ASSERT_TRUE(id.ok());
    ASSERT_EQ(id->size(), 24u);
    EXPECT_EQ(id->substr(0, 2), "s_");
    EXPECT_TRUE(all_of_alphabet(id->substr(2), kBase62)) << *id;
    EXPECT_TRUE(TenantTokens::is_valid_session_id(*id));
    EXPECT_TRUE(seen.insert(*id).second);
    chars.insert(id->begin() + 2, id->end());
  }
  EXPECT_EQ(chars.size(), 62u);  // 11,000 draws reach every one of the 62 characters
  EXPECT_FALSE(TenantTokens::is_valid_session_id("s_abc"));
  EXPECT_FALSE(TenantTokens::is_valid_session_id("x_AAAAAAAAAAAAAAAAAAAAAA"));
  EXPECT_FALSE(TenantTokens::is_valid_session_id("s_AAAAAAAAAAAAAAAAAAAAA-"));
  EXPECT_FALSE(TenantTokens::is_valid_session_id("s_AAAAAAAAAAAAAAAAAAAAAAA"));
  EXPECT_TRUE(TenantTokens::is_valid_session_id("s_0123456789abcdefXYZxyz"));
}

TEST(TenantTokensTest, PageKeysAndDatabaseKeys) {
  auto page = TenantTokens::generate_page_key();
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->size(), 43u);
  EXPECT_TRUE(all_of_alphabet(*page, kBase64Url));
  EXPECT_NE(*page, *TenantTokens::generate_page_key());

  auto key = TenantTokens::generate_db_key();
  ASSERT_TRUE(key.ok());
  ASSERT_EQ(key->size(), 44u);  // 32 bytes, padded standard base64
  EXPECT_EQ(key->back(), '=');
  EXPECT_TRUE(all_of_alphabet(key->substr(0, 43),
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"));
  EXPECT_NE(*key, *TenantTokens::generate_db_key());
}

}  // namespace
}  // namespace tgpulse::store
