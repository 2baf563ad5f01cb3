// What only the PostgreSQL store has (the contract is the typed suites, built into this binary too):
// migrations, reopening, the URL and its password, a pool that heals after the server dropped it.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "store/key_cipher.h"
#include "store/postgres_connection_pool.h"
#include "store/postgres_session_store.h"
#include "store/postgres_test_server.h"
#include "store/tenant_tokens.h"

namespace tgpulse::store {
namespace {

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = PostgresTestServer::shared();
    ASSERT_NE(server_, nullptr) << "no PostgreSQL server: " << PostgresTestServer::shared_failure();
    auto options = server_->create_database();
    ASSERT_TRUE(options.ok()) << options.error().to_string();
    options_ = *options;
  }
  // Runs SQL on the test's database outside the store.
  void sql(const std::string& text) {
    pqxx::connection c(postgres_conninfo(options_).value());
    pqxx::nontransaction tx(c);
    tx.exec(text);
  }
  PostgresTestServer* server_ = nullptr;
  PostgresOptions options_;
  FakeClock clock_;
};

TEST_F(PostgresStoreTest, MigratesOnceAndKeepsRecordsAcrossReopening) {
  {
    auto store = PostgresSessionStore::open(options_, nullptr, clock_);
    ASSERT_TRUE(store.ok()) << store.error().to_string();
    EXPECT_EQ((*store)->schema_version().value(), PostgresSessionStore::latest_schema_version());
    ASSERT_TRUE((*store)->create_tenant(TenantRecord{"acme", TenantTokens::hash_token("t"), 1}).ok());
    EXPECT_TRUE((*store)->probe().ok());
  }
  auto again = PostgresSessionStore::open(options_, nullptr, clock_);
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  EXPECT_EQ((*again)->get_tenant("acme")->created_at_ms, 1);
  EXPECT_EQ((*again)->description(), "postgresql://tgpulse@127.0.0.1:" + std::to_string(server_->port()) + "/" +
                                         options_.url.substr(options_.url.rfind('/') + 1));
}

TEST_F(PostgresStoreTest, RefusesASchemaFromANewerBuild) {
  ASSERT_TRUE(PostgresSessionStore::open(options_, nullptr, clock_).ok());
  sql("UPDATE schema_version SET version = 999");
  auto refused = PostgresSessionStore::open(options_, nullptr, clock_);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("schema version 999, newer than this build's"), std::string::npos)
      << refused.error().message;
}

TEST_F(PostgresStoreTest, RefusesAPasswordInTheUrlAndNeverShowsOne) {
  PostgresOptions inline_password = options_;
  inline_password.url = "postgresql://tgpulse:hunter2@127.0.0.1:" + std::to_string(server_->port()) + "/postgres";
  auto refused = PostgresSessionStore::open(inline_password, nullptr, clock_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::invalid_argument);
  EXPECT_NE(refused.error().message.find("carries a password"), std::string::npos);
  EXPECT_EQ(refused.error().message.find("hunter2"), std::string::npos);
  PostgresOptions query_password = options_;
  query_password.url += "?password=hunter2";
  EXPECT_EQ(PostgresSessionStore::open(query_password, nullptr, clock_).error().code, Errc::invalid_argument);

  PostgresOptions wrong = options_;
  wrong.password = "not-the-password-Zq9";
  auto denied = PostgresSessionStore::open(wrong, nullptr, clock_);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, Errc::store_error);
  EXPECT_NE(denied.error().message.find("password authentication failed"), std::string::npos)
      << denied.error().message;
  EXPECT_EQ(denied.error().message.find("Zq9"), std::string::npos);

  PostgresOptions not_postgres = options_;
  not_postgres.url = "mysql://tgpulse@127.0.0.1/x";
  EXPECT_EQ(PostgresSessionStore::open(not_postgres, nullptr, clock_).error().code, Errc::invalid_argument);
}

TEST_F(PostgresStoreTest, KeysSealedWithAnotherMasterKeyRefuseTheOpenAndChangeNothing) {
  auto make_key = [] {
    return std::make_shared<const KeyCipher>(KeyCipher::from_base64(KeyCipher::generate_base64().value()).value());
  };
  const auto key_a = make_key();
  SessionRecord s;
  s.session_id = "s_AAAAAAAAAAAAAAAAAAAAA1";
  s.tenant_id = "acme";
  s.engine_dir = "/var/lib/tgpulse/engine/x";
  s.db_key = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=";
  s.page_key_hash = TenantTokens::hash_token("page");
  {
    // Written in the clear first: the next open with a key seals it.
    auto plain = PostgresSessionStore::open(options_, nullptr, clock_);
    ASSERT_TRUE(plain.ok()) << plain.error().to_string();
    ASSERT_TRUE((*plain)->create_tenant(TenantRecord{"acme", TenantTokens::hash_token("t"), 1}).ok());
    ASSERT_TRUE((*plain)->create_session(s).ok());
  }
  {
    auto sealed = PostgresSessionStore::open(options_, key_a, clock_);
    ASSERT_TRUE(sealed.ok()) << sealed.error().to_string();
    EXPECT_EQ((*sealed)->key_status().sealed_at_open, 1u);
    EXPECT_EQ((*sealed)->find_session(s.session_id)->db_key, s.db_key);
  }
  auto refused = PostgresSessionStore::open(options_, make_key(), clock_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::invalid_argument);
  EXPECT_NE(refused.error().message.find("encrypted with master key " + key_a->key_id()), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(PostgresSessionStore::open(options_, nullptr, clock_).error().code, Errc::invalid_argument);
  EXPECT_EQ(PostgresSessionStore::open(options_, key_a, clock_).value()->find_session(s.session_id)->db_key, s.db_key);
}

TEST_F(PostgresStoreTest, ConninfoQuotesThePasswordAndKeepsItOutOfTheDescription) {
  PostgresOptions o;
  o.url = "postgresql://u@h:5433/db?sslmode=disable";
  o.password = "a b'c\\d";
  const std::string conninfo = postgres_conninfo(o).value();
  EXPECT_NE(conninfo.find("password='a b\\'c\\\\d'"), std::string::npos) << conninfo;
  EXPECT_NE(conninfo.find("sslmode='disable'"), std::string::npos) << conninfo;
  EXPECT_EQ(postgres_description(o.url), "postgresql://u@h:5433/db");
}

TEST_F(PostgresStoreTest, ThePoolReconnectsAfterTheServerDroppedItsConnections) {
  options_.pool_size = 2;
  auto store = PostgresSessionStore::open(options_, nullptr, clock_);
  ASSERT_TRUE(store.ok()) << store.error().to_string();
  ASSERT_TRUE((*store)->create_tenant(TenantRecord{"acme", TenantTokens::hash_token("t"), 1}).ok());
  sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  // A call on a dropped connection fails once per connection, then the pool has reconnected it.
  int failures = 0;
  for (int i = 0; i < 6; ++i) {
    if (!(*store)->get_tenant("acme").ok()) ++failures;
  }
  EXPECT_LE(failures, 2);
  EXPECT_TRUE((*store)->get_tenant("acme").ok());
}

}  // namespace
}  // namespace tgpulse::store
