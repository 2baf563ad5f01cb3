// The SessionStore contract, run against every implementation (typed tests), plus what only the
// SQLite store has: files, modes, WAL, migrations, reopening. Built twice: store_session_store_test runs
// the contract on SQLite and memory; store_postgres_test (TGPULSE_STORE_TESTS_ON_POSTGRES) runs it on a
// real PostgreSQL that the binary starts (postgres_test_server.h), plus the PostgreSQL-only tests.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "core/temp_dir.h"
#include "store/key_cipher.h"
#include "store/memory_session_store.h"
#include "store/sqlite_session_store.h"
#include "store/tenant_tokens.h"
#ifdef TGPULSE_STORE_TESTS_ON_POSTGRES
#include "store/postgres_session_store.h"
#include "store/postgres_test_server.h"
#endif

namespace tgpulse::store {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::int64_t wall_ms(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall().time_since_epoch()).count();
}

TenantRecord tenant(const std::string& id, const std::string& token = "") {
  return TenantRecord{id, TenantTokens::hash_token(token.empty() ? "token-of-" + id : token), 1000};
}

// A session id that is valid and readable in failures: "s_" + 22 chars from the label and a counter.
std::string session_id(int n) {
  std::string digits = std::to_string(n);
  return "s_" + std::string(22 - digits.size(), 'A') + digits;
}

SessionRecord session(const std::string& id, const std::string& tenant_id, std::int64_t created_at_ms = 5000) {
  SessionRecord s;
  s.session_id = id;
  s.tenant_id = tenant_id;
  s.state = SessionState::qr_pending;
  s.created_at_ms = created_at_ms;
  s.last_used_at_ms = created_at_ms;
  s.engine_dir = "/var/lib/tgpulse/engine/" + id;
  s.db_key = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=";
  s.page_key_hash = TenantTokens::hash_token("page-key-" + id);
  return s;
}

struct SqliteFactory {
  TempDir dir{"store"};
  std::unique_ptr<SessionStore> make(const Clock& clock) {
    auto opened = SqliteSessionStore::open(SqliteStoreOptions{dir.path().string()}, clock);
    EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error().to_string());
    return std::move(opened).value();
  }
};

// The SQLite store with a master key: the whole contract holds with every db_key sealed at rest.
struct SqliteEncryptedFactory {
  TempDir dir{"store"};
  std::unique_ptr<SessionStore> make(const Clock& clock) {
    SqliteStoreOptions options{dir.path().string()};
    options.master_key = std::make_shared<KeyCipher>(KeyCipher::from_base64(KeyCipher::generate_base64().value()).value());
    auto opened = SqliteSessionStore::open(options, clock);
    EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error().to_string());
    return std::move(opened).value();
  }
};

struct MemoryFactory {
  std::unique_ptr<SessionStore> make(const Clock& clock) { return std::make_unique<MemorySessionStore>(clock); }
};

#ifdef TGPULSE_STORE_TESTS_ON_POSTGRES
// A database of its own on the binary's PostgreSQL server, with or without a master key.
template <bool kEncrypted>
struct PostgresFactoryOf {
  std::unique_ptr<SessionStore> make(const Clock& clock) {
    PostgresTestServer* server = PostgresTestServer::shared();
    if (server == nullptr) {
      ADD_FAILURE() << "no PostgreSQL server: " << PostgresTestServer::shared_failure();
      return std::make_unique<MemorySessionStore>(clock);
    }
    auto options = server->create_database();
    EXPECT_TRUE(options.ok()) << (options.ok() ? "" : options.error().to_string());
    std::shared_ptr<const KeyCipher> key;
    if (kEncrypted) {
      key = std::make_shared<KeyCipher>(KeyCipher::from_base64(KeyCipher::generate_base64().value()).value());
    }
    auto opened = PostgresSessionStore::open(options.value(), key, clock);
    EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error().to_string());
    return std::move(opened).value();
  }
};
using PostgresFactory = PostgresFactoryOf<false>;
using PostgresEncryptedFactory = PostgresFactoryOf<true>;
#endif

template <typename Factory>
class SessionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = factory_.make(clock_); }
  FakeClock clock_;
  Factory factory_;
  std::unique_ptr<SessionStore> store_;
};

#ifdef TGPULSE_STORE_TESTS_ON_POSTGRES
using Implementations = ::testing::Types<PostgresFactory, PostgresEncryptedFactory>;
#else
using Implementations = ::testing::Types<SqliteFactory, SqliteEncryptedFactory, MemoryFactory>;
#endif
class ImplementationNames {
 public:
  template <typename T>
  static std::string GetName(int) {
#ifdef TGPULSE_STORE_TESTS_ON_POSTGRES
    return std::is_same_v<T, PostgresFactory> ? "Postgres" : "PostgresEncrypted";
#endif
    if (std::is_same_v<T, SqliteFactory>) return "Sqlite";
    return std::is_same_v<T, SqliteEncryptedFactory> ? "SqliteEncrypted" : "Memory";
  }
};
TYPED_TEST_SUITE(SessionStoreTest, Implementations, ImplementationNames);

TYPED_TEST(SessionStoreTest, TenantRoundTripsAndDuplicatesConflict) {
  ASSERT_TRUE(this->store_->create_tenant(tenant("acme")).ok());
  auto got = this->store_->get_tenant("acme");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->tenant_id, "acme");
  EXPECT_EQ(got->token_hash, TenantTokens::hash_token("token-of-acme"));
  EXPECT_EQ(got->created_at_ms, 1000);

  auto again = this->store_->create_tenant(tenant("acme", "other-token"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::conflict);
  auto same_token = this->store_->create_tenant(tenant("other", "token-of-acme"));
  ASSERT_FALSE(same_token.ok());
  EXPECT_EQ(same_token.error().code, Errc::conflict);
  EXPECT_EQ(this->store_->get_tenant("nobody").error().code, Errc::not_found);
}

TYPED_TEST(SessionStoreTest, BadTenantIdsAreRejected) {
  for (const std::string& bad : {std::string(), std::string(65, 'a'), std::string("a b"), std::string("a/b"),
                                std::string("a.b"), std::string("caf\xc3\xa9"), std::string("x\n"),
                                std::string("a'--")}) {
    auto created = this->store_->create_tenant(tenant(bad, "t"));
    ASSERT_FALSE(created.ok()) << "accepted tenant id '" << bad << "'";
    EXPECT_EQ(created.error().code, Errc::invalid_argument);
  }
  EXPECT_TRUE(this->store_->list_tenants()->empty());
  EXPECT_TRUE(this->store_->create_tenant(tenant(std::string(64, 'z'))).ok());
  EXPECT_TRUE(this->store_->create_tenant(tenant("Team_7-b")).ok());
  auto bad_hash = this->store_->create_tenant(TenantRecord{"plain", "tgp_not_a_hash", 1});
  ASSERT_FALSE(bad_hash.ok());
  EXPECT_EQ(bad_hash.error().code, Errc::invalid_argument);
}

TYPED_TEST(SessionStoreTest, FindsTenantByTokenOnlyWithTheToken) {
  ASSERT_TRUE(this->store_->create_tenant(tenant("a", "tgp_secret_a")).ok());
  ASSERT_TRUE(this->store_->create_tenant(tenant("b", "tgp_secret_b")).ok());
  auto a = this->store_->find_tenant_by_token("tgp_secret_a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->tenant_id, "a");
  EXPECT_EQ(this->store_->find_tenant_by_token("tgp_secret_b")->tenant_id, "b");

  for (const std::string& wrong : {std::string("tgp_secret_c"), std::string("tgp_secret_a "), std::string(),
                                  TenantTokens::hash_token("tgp_secret_a")}) {
    auto found = this->store_->find_tenant_by_token(wrong);
    ASSERT_FALSE(found.ok());
    EXPECT_EQ(found.error().code, Errc::unauthorized);
    EXPECT_EQ(found.error().message.find("tgp_secret"), std::string::npos);
  }
}

TYPED_TEST(SessionStoreTest, ListsTenantsInIdOrder) {
  for (const char* id : {"delta", "alpha", "charlie"}) ASSERT_TRUE(this->store_->create_tenant(tenant(id)).ok());
  auto list = this->store_->list_tenants();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].tenant_id, "alpha");
  EXPECT_EQ((*list)[1].tenant_id, "charlie");
  EXPECT_EQ((*list)[2].tenant_id, "delta");
}

TYPED_TEST(SessionStoreTest, DeletingATenantWithSessionsNeedsToBeAsked) {
  auto& store = *this->store_;
  ASSERT_TRUE(store.create_tenant(tenant("a")).ok());
  ASSERT_TRUE(store.create_tenant(tenant("b")).ok());
  ASSERT_TRUE(store.create_session(session(session_id(1), "a")).ok());
  ASSERT_TRUE(store.create_session(session(session_id(2), "b")).ok());

  auto refused = store.delete_tenant("a", TenantDeletion::only_if_empty);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::conflict);
  EXPECT_TRUE(store.get_tenant("a").ok());
  EXPECT_TRUE(store.find_session(session_id(1)).ok());

  ASSERT_TRUE(store.delete_tenant("a", TenantDeletion::with_sessions).ok());
  EXPECT_EQ(store.get_tenant("a").error().code, Errc::not_found);
  EXPECT_EQ(store.find_session(session_id(1)).error().code, Errc::not_found);
  EXPECT_TRUE(store.find_session(session_id(2)).ok());  // b's session untouched
  EXPECT_EQ(store.delete_tenant("a", TenantDeletion::with_sessions).error().code, Errc::not_found);

  ASSERT_TRUE(store.delete_session(session_id(2)).ok());
  EXPECT_TRUE(store.delete_tenant("b", TenantDeletion::only_if_empty).ok());
  EXPECT_TRUE(store.list_tenants()->empty());
}

TYPED_TEST(SessionStoreTest, ATenantsDefaultProxyIsSetReplacedRemovedAndGoesWithTheTenant) {
  auto& store = *this->store_;
  const std::string first = R"({"@type":"proxy","server":"10.0.0.1","port":1080,"type":{"@type":"proxyTypeSocks5","username":"u","password":"p:w"}})";
  const std::string second = R"({"@type":"proxy","server":"10.0.0.2","port":443,"type":{"@type":"proxyTypeMtproto","secret":"dd00"}})";
  ASSERT_TRUE(store.create_tenant(tenant("a")).ok());
  ASSERT_TRUE(store.create_tenant(tenant("b")).ok());
  EXPECT_EQ(store.tenant_proxy("nobody").error().code, Errc::not_found);
  EXPECT_EQ(store.set_tenant_proxy("nobody", first).error().code, Errc::not_found);
  EXPECT_EQ(store.set_tenant_proxy("nobody", std::nullopt).error().code, Errc::not_found);
  ASSERT_TRUE(store.tenant_proxy("a").ok());
  EXPECT_EQ(*store.tenant_proxy("a"), std::nullopt);

  ASSERT_TRUE(store.set_tenant_proxy("a", first).ok());
  EXPECT_EQ(*store.tenant_proxy("a"), first);
  EXPECT_EQ(*store.tenant_proxy("b"), std::nullopt) << "another tenant's default";
  ASSERT_TRUE(store.set_tenant_proxy("a", second).ok());
  EXPECT_EQ(*store.tenant_proxy("a"), second);
  ASSERT_TRUE(store.set_tenant_proxy("a", std::nullopt).ok());
  EXPECT_EQ(*store.tenant_proxy("a"), std::nullopt);
  ASSERT_TRUE(store.set_tenant_proxy("a", std::nullopt).ok()) << "removing none is no error";

  ASSERT_TRUE(store.set_tenant_proxy("b", first).ok());
  ASSERT_TRUE(store.delete_tenant("b", TenantDeletion::with_sessions).ok());
  ASSERT_TRUE(store.create_tenant(tenant("b", "another-token")).ok());
  EXPECT_EQ(*store.tenant_proxy("b"), std::nullopt) << "a tenant created again does not inherit the old default";
}

TYPED_TEST(SessionStoreTest, SessionRoundTripsEveryField) {
  auto& store = *this->store_;
  ASSERT_TRUE(store.create_tenant(tenant("acme")).ok());
  SessionRecord s = session(session_id(7), "acme", 4242);
  s.state = SessionState::authorized;
  s.cleanup_trigger = "";
  s.authorized_at_ms = 4300;
  s.user_id = 9'000'000'001;
  s.updated_at_ms = 1;  // ignored: the store stamps it
  ASSERT_TRUE(store.create_session(s).ok());

  auto got = store.get_session("acme", s.session_id);
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  EXPECT_EQ(got->session_id, s.session_id);
  EXPECT_EQ(got->tenant_id, "acme");
  EXPECT_EQ(got->state, SessionState::authorized);
  EXPECT_EQ(got->cleanup_trigger, "");
  EXPECT_FALSE(got->cleanup_logout);
  EXPECT_EQ(got->created_at_ms, 4242);
  EXPECT_EQ(got->authorized_at_ms, std::optional<std::int64_t>(4300));
  EXPECT_EQ(got->last_used_at_ms, 4242);
  EXPECT_EQ(got->updated_at_ms, wall_ms(this->clock_));
  EXPECT_EQ(got->engine_dir, s.engine_dir);
  EXPECT_EQ(got->db_key, s.db_key);
  EXPECT_EQ(got->page_key_hash, s.page_key_hash);
  EXPECT_EQ(got->user_id, std::optional<std::int64_t>(9'000'000'001));

  SessionRecord pending = session(session_id(8), "acme");
  ASSERT_TRUE(store.create_session(pending).ok());
  auto p = store.find_session(pending.session_id);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->authorized_at_ms.has_value());
  EXPECT_FALSE(p->user_id.has_value());
}

TYPED_TEST(SessionStoreTest, CreateSessionValidatesAndNeedsTenant) {
  auto& store = *this->store_;
  ASSERT_TRUE(store.create_tenant(tenant("acme")).ok());
  EXPECT_EQ(store.create_session(session(session_id(1), "ghost")).error().code, Errc::not_found);
  ASSERT_TRUE(store.create_session(session(session_id(1), "acme")).ok());
  EXPECT_EQ(store.create_session(session(session_id(1), "acme")).error().code, Errc::conflict);

  SessionRecord bad_id = session("s_short", "acme");
  EXPECT_EQ(store.create_session(bad_id).error().code, Errc::invalid_argument);
  SessionRecord relative = session(session_id(2), "acme");
  relative.engine_dir = "engine/x";
  EXPECT_EQ(store.create_session(relative).error().code, Errc::invalid_argument);
  SessionRecord no_key = session(session_id(3), "acme");
  no_key.db_key.clear();
  EXPECT_EQ(store.create_session(no_key).error().code, Errc::invalid_argument);
  SessionRecord bad_tenant = session(session_id(4), "a b");
  EXPECT_EQ(store.create_session(bad_tenant).error().code, Errc::invalid_argument);
  EXPECT_EQ(store.list_all_sessions()->size(), 1u);
}

TYPED_TEST(SessionStoreTest, TenantsSeeOnlyTheirOwnSessions) {
  auto& store = *this->store_;
  ASSERT_TRUE(store.create_tenant(tenant("a")).ok());
  ASSERT_TRUE(store.create_tenant(tenant("b")).ok());
  ASSERT_TRUE(store.create_session(session(session_id(1), "a")).ok());
  ASSERT_TRUE(store.create_session(session(session_id(2), "b")).ok());

  auto foreign = store.get_session("b", session_id(1));
  auto missing = store.get_session("b", session_id(99));
  ASSERT_FALSE(foreign.ok());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(foreign.error().code, Errc::not_found);
  // The same answer as for a session that does not exist: no existence oracle.
  EXPECT_EQ(foreign.error().code, missing.error().code);
  EXPECT_EQ(foreign.error().message, missing.error().message);

  auto a_list = store.list_sessions("a");
  ASSERT_TRUE(a_list.ok());
  ASSERT_EQ(a_list->size(), 1u);
  EXPECT_EQ((*a_list)[0].session_id, session_id(1));
  EXPECT_TRUE(store.list_sessions("c")->empty());
  EXPECT_TRUE(store.list_sessions("")->empty());
}

TYPED_TEST(SessionStoreTest, StateChangesAreCompareAndSet) {
  auto& store = *this->store_;
  ASSERT_TRUE(store.create_tenant(tenant("acme")).ok());
  const std::string id = session_id(1);
  ASSERT_TRUE(store.create_session(session(id, "acme")).ok());
  const std::int64_t created_stamp = store.find_session(id)->updated_at_ms;

  this->clock_.advance(1500ms);
  SessionStateChange to_password{SessionState::password_required, SessionState::qr_pending};
  auto p = store.update_state(id, to_password);
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  EXPECT_EQ(p->state, SessionState::password_required);
  EXPECT_EQ(p->updated_at_ms, created_stamp + 1500);

  // The stored state is no longer qr_pending: the same change conflicts and changes nothing.
  auto stale = store.update_state(id, to_password);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, Errc::conflict);
  EXPECT_EQ(store.find_session(id)->state, SessionState::password_required);

  SessionStateChange to_authorized{SessionState::authorized, SessionState::password_required};
  to_authorized.authorized_at_ms = 777;
  to_authorized.user_id = 123456789;
  auto a = store.update_state(id, to_authorized);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->authorized_at_ms, std::optional<std::int64_t>(777));
  EXPECT_EQ(a->user_id, std::optional<std::int64_t>(123456789));

  SessionStateChange to_cleanup{SessionState::cleanup_pending, std::nullopt};
  to_cleanup.cleanup_trigger = "idle";
  to_cleanup.cleanup_logout = true;
  ASSERT_TRUE(store.update_state(id, to_cleanup).ok());
  // Fields a change leaves empty keep their value through the next steps of the cleanup.
  auto closing = store.update_state(id, SessionStateChange{SessionState::cleanup_closing, SessionState::cleanup_pending});
  ASSERT_TRUE(closing.ok());
  EXPECT_EQ(closing->cleanup_trigger, "idle");
  EXPECT_TRUE(closing->cleanup_logout);
  EXPECT_EQ(closing->user_id, std::optional<std::int64_t>(123456789));
  EXPECT_EQ(closing->authorized_at_ms, std::optional<std::int64_t>(777));

  EXPECT_EQ(store.update_state(session_id(42), to_cleanup).error().code, Errc::not_found);
}

TYPED_TEST(SessionStoreTest, ListsByStateInCreationOrder) {
  auto& store = *this->store_;
  ASSERT_TRUE(store.create_tenant(tenant("a")).ok());
  ASSERT_TRUE(store.create_tenant(tenant("b")).ok());
  ASSERT_TRUE(store.create_session(session(session_id(3), "a", 300)).ok());
  ASSERT_TRUE(store.create_session(session(session_id(1), "b", 100)).ok());
  ASSERT_TRUE(store.create_session(session(session_id(2), "a", 200)).ok());
  ASSERT_TRUE(store.create_session(session(session_id(4), "b", 400)).ok());
  ASSERT_TRUE(store.update_state(session_id(2), SessionStateChange{SessionState::cleanup_closing, {}}).ok());
  ASSERT_TRUE(store.update_state(session_id(4), SessionStateChange{SessionState::cleanup_closing, {}}).ok());

  auto closing = store.list_sessions_by_state(SessionState::cleanup_closing);
  ASSERT_TRUE(closing.ok());
  ASSERT_EQ(closing->size(), 2u);
  EXPECT_EQ((*closing)[0].session_id, session_id(2));
  EXPECT_EQ((*closing)[1].session_id, session_id(4));
  auto pending = store.list_sessions_by_state(SessionState::qr_pending);
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].session_id, session_id(1));
  EXPECT_EQ((*pending)[1].session_id, session_id(3));
  EXPECT_TRUE(store.list_sessions_by_state(SessionState::authorized)->empty());

  auto all = store.list_all_sessions();
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].session_id, session_id(1));
  EXPECT_EQ((*all)[3].session_id, session_id(4));
  auto a = store.list_sessions("a");
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[0].session_id, session_id(2));
}

TYPED_TEST(SessionStoreTest, TouchAndDelete) {
  auto& store = *this->store_;
  ASSERT_TRUE(store.create_tenant(tenant("acme")).ok());
  const std::string id = session_id(1);
  ASSERT_TRUE(store.create_session(session(id, "acme", 10)).ok());
  this->clock_.advance(60s);
  const std::int64_t used_at = wall_ms(this->clock_) - 30'000;  // the use, half a minute before the write
  ASSERT_TRUE(store.touch_last_used(id, used_at).ok());
  auto touched = store.find_session(id);
  EXPECT_EQ(touched->last_used_at_ms, used_at);
  EXPECT_EQ(touched->updated_at_ms, wall_ms(this->clock_));
  EXPECT_EQ(touched->created_at_ms, 10);
  // A late write of an older use never moves last_used_at back.
  ASSERT_TRUE(store.touch_last_used(id, used_at - 1000).ok());
  EXPECT_EQ(store.find_session(id)->last_used_at_ms, used_at);

  ASSERT_TRUE(store.delete_session(id).ok());
  EXPECT_EQ(store.delete_session(id).error().code, Errc::not_found);
  EXPECT_EQ(store.touch_last_used(id, 1).error().code, Errc::not_found);
  EXPECT_EQ(store.get_session("acme", id).error().code, Errc::not_found);
}

TYPED_TEST(SessionStoreTest, TwoThreadsWritingAtOnceLoseNothing) {
  auto& store = *this->store_;
  ASSERT_TRUE(store.create_tenant(tenant("a")).ok());
  ASSERT_TRUE(store.create_tenant(tenant("b")).ok());
  constexpr int kPerThread = 150;
  auto work = [&store](const std::string& tenant_id, int base, int* failures) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string id = session_id(base + i);
      if (!store.create_session(session(id, tenant_id, base + i)).ok()) ++*failures;
      if (!store.update_state(id, SessionStateChange{SessionState::authorized, SessionState::qr_pending}).ok()) {
        ++*failures;
      }
      if (!store.touch_last_used(id, base + i).ok()) ++*failures;
      if (!store.get_session(tenant_id, id).ok()) ++*failures;
      if (i % 3 == 0 && !store.delete_session(id).ok()) ++*failures;
    }
  };
  int failures_a = 0;
  int failures_b = 0;
  std::thread ta(work, "a", 1000, &failures_a);
  std::thread tb(work, "b", 5000, &failures_b);
  ta.join();
  tb.join();
  EXPECT_EQ(failures_a, 0);
  EXPECT_EQ(failures_b, 0);
  const std::size_t kept = kPerThread - (kPerThread + 2) / 3;
  EXPECT_EQ(store.list_sessions("a")->size(), kept);
  EXPECT_EQ(store.list_sessions("b")->size(), kept);
  EXPECT_EQ(store.list_sessions_by_state(SessionState::authorized)->size(), 2 * kept);
}

// --- SQLite only: the files, their modes, WAL, migrations, reopening ---

class SqliteSessionStoreTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<SqliteSessionStore>> open() {
    return SqliteSessionStore::open(SqliteStoreOptions{data_dir().string()}, clock_);
  }
  fs::path data_dir() const { return dir_.path() / "data"; }
  fs::path db_path() const { return data_dir() / "tgpulse.db"; }
  static unsigned mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 0777;
  }
  // Runs SQL on the database file with a connection of its own (as another process would).
  static void raw_sql(const fs::path& db, const std::string& sql) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    sqlite3_close(raw);
  }

  TempDir dir_{"store"};
  FakeClock clock_;
};

TEST_F(SqliteSessionStoreTest, DatabaseAndWalFilesArePrivate) {
  const mode_t old_umask = ::umask(0);  // the widest umask: modes must not depend on it
  auto store = open();
  ::umask(old_umask);
  ASSERT_TRUE(store.ok()) << store.error().to_string();
  ASSERT_TRUE((*store)->create_tenant(tenant("acme")).ok());  // a write creates -wal and -shm
  EXPECT_EQ(mode_of(data_dir()), 0700u);
  EXPECT_EQ((*store)->path(), db_path().string());
  EXPECT_EQ(mode_of(db_path()), 0600u);
  ASSERT_TRUE(fs::exists(db_path().string() + "-wal"));
  ASSERT_TRUE(fs::exists(db_path().string() + "-shm"));
  EXPECT_EQ(mode_of(db_path().string() + "-wal"), 0600u);
  EXPECT_EQ(mode_of(db_path().string() + "-shm"), 0600u);
}

TEST_F(SqliteSessionStoreTest, NarrowsAWiderModeOfAnExistingFile) {
  fs::create_directories(data_dir());
  std::ofstream(db_path()).close();
  fs::permissions(db_path(), fs::perms(0644), fs::perm_options::replace);
  auto store = open();
  ASSERT_TRUE(store.ok()) << store.error().to_string();
  EXPECT_EQ(mode_of(db_path()), 0600u);
}

TEST_F(SqliteSessionStoreTest, RunsInWalModeWithForeignKeys) {
  auto store = open();
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->journal_mode().value(), "wal");
  // Foreign keys are enforced by the database itself, not only by the store's checks.
  ASSERT_TRUE((*store)->create_tenant(tenant("acme")).ok());
  EXPECT_EQ((*store)->create_session(session(session_id(1), "nobody")).error().code, Errc::not_found);
}

TEST_F(SqliteSessionStoreTest, MigratesOnceAndRecordsTheVersion) {
  {
    auto store = open();
    ASSERT_TRUE(store.ok());
    EXPECT_GE(SqliteSessionStore::latest_schema_version(), 1);
    EXPECT_EQ((*store)->schema_version().value(), SqliteSessionStore::latest_schema_version());
  }
  auto again = open();  // a second open finds the schema current and applies nothing
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  EXPECT_EQ((*again)->schema_version().value(), SqliteSessionStore::latest_schema_version());
  again.value().reset();

  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "SELECT COUNT(*), MAX(version) FROM schema_version", -1, &q, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(q, 0), 1);
  EXPECT_EQ(sqlite3_column_int(q, 1), SqliteSessionStore::latest_schema_version());
  sqlite3_finalize(q);
  sqlite3_close(raw);
}

// A database written by a build of schema version 3 (sessions without phone_pending): the rebuild of
// migration 4 keeps every row, column and index, and the new state is then accepted.
TEST_F(SqliteSessionStoreTest, MigrationFourKeepsTheSessionsOfAVersionThreeDatabase) {
  SessionRecord kept = session(session_id(7), "acme");
  kept.user_id = 42;
  kept.state = SessionState::password_required;
  kept.authorized_at_ms = 1234;
  {
    auto store = open();
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->create_tenant(tenant("acme")).ok());
    ASSERT_TRUE((*store)->create_session(kept).ok());
  }
  // Back to version 3's table: the same columns, the old CHECK.
  raw_sql(db_path(),
          "PRAGMA foreign_keys = OFF; BEGIN;"
          "CREATE TABLE v3 (session_id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),"
          " state TEXT NOT NULL CHECK (state IN ('qr_pending','password_required','authorized','cleanup_pending',"
          " 'cleanup_closing','cleanup_removing')), cleanup_trigger TEXT NOT NULL DEFAULT '', cleanup_logout INTEGER"
          " NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, authorized_at INTEGER, last_used_at INTEGER NOT NULL,"
          " updated_at INTEGER NOT NULL, engine_dir TEXT NOT NULL, db_key TEXT NOT NULL, page_key_hash TEXT NOT NULL,"
          " user_id INTEGER);"
          "INSERT INTO v3 SELECT * FROM sessions; DROP TABLE sessions; ALTER TABLE v3 RENAME TO sessions;"
          "CREATE INDEX sessions_by_tenant ON sessions (tenant_id, created_at, session_id);"
          "CREATE INDEX sessions_by_state ON sessions (state, created_at, session_id);"
          "DROP TABLE tenant_proxies;"  // (version 5's, which a version-3 database has not either)
          "UPDATE schema_version SET version = 3; COMMIT;");
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &raw), SQLITE_OK);
    EXPECT_NE(sqlite3_exec(raw, "UPDATE sessions SET state = 'phone_pending'", nullptr, nullptr, nullptr), SQLITE_OK)
        << "the version-3 table must refuse the new state, or this test proves nothing";
    sqlite3_close(raw);
  }
  auto store = open();
  ASSERT_TRUE(store.ok()) << store.error().to_string();
  EXPECT_EQ((*store)->schema_version().value(), SqliteSessionStore::latest_schema_version());
  auto got = (*store)->get_session("acme", kept.session_id);
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  EXPECT_EQ(got->state, SessionState::password_required);
  EXPECT_EQ(got->user_id, kept.user_id);
  EXPECT_EQ(got->authorized_at_ms, kept.authorized_at_ms);
  EXPECT_EQ(got->db_key, kept.db_key);
  EXPECT_EQ(got->engine_dir, kept.engine_dir);
  SessionRecord phone = session(session_id(8), "acme");
  phone.state = SessionState::phone_pending;
  ASSERT_TRUE((*store)->create_session(phone).ok());
  EXPECT_EQ((*store)->list_sessions_by_state(SessionState::phone_pending)->size(), 1u);
  EXPECT_EQ((*store)->list_sessions("acme")->size(), 2u);
}

TEST_F(SqliteSessionStoreTest, RefusesADatabaseFromANewerBuild) {
  ASSERT_TRUE(open().ok());
  raw_sql(db_path(), "UPDATE schema_version SET version = 999");
  auto store = open();
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, Errc::store_error);
  EXPECT_NE(store.error().message.find("999"), std::string::npos);
}

TEST_F(SqliteSessionStoreTest, ReopeningKeepsEverything) {
  SessionRecord s = session(session_id(5), "acme", 123);
  {
    auto store = open();
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->create_tenant(tenant("acme", "tgp_kept")).ok());
    ASSERT_TRUE((*store)->create_session(s).ok());
    SessionStateChange removing{SessionState::cleanup_removing, {}};
    removing.cleanup_trigger = "delete";
    ASSERT_TRUE((*store)->update_state(s.session_id, removing).ok());
  }
  auto store = open();
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->find_tenant_by_token("tgp_kept")->tenant_id, "acme");
  auto got = (*store)->get_session("acme", s.session_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, SessionState::cleanup_removing);
  EXPECT_EQ(got->cleanup_trigger, "delete");
  EXPECT_EQ(got->engine_dir, s.engine_dir);
  EXPECT_EQ((*store)->list_sessions_by_state(SessionState::cleanup_removing)->size(), 1u);
}

TEST_F(SqliteSessionStoreTest, ReportsAnUnusableDataDir) {
  fs::create_directories(dir_.path());
  std::ofstream(dir_.path() / "file").close();
  auto store = SqliteSessionStore::open(SqliteStoreOptions{(dir_.path() / "file").string()}, clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, Errc::store_error);
  EXPECT_EQ(SqliteSessionStore::open(SqliteStoreOptions{}, clock_).error().code, Errc::invalid_argument);
  SqliteStoreOptions negative{data_dir().string()};
  negative.busy_timeout_ms = -1;
  EXPECT_EQ(SqliteSessionStore::open(negative, clock_).error().code, Errc::invalid_argument);
  SqliteStoreOptions nested{data_dir().string()};
  nested.file_name = "../escape.db";
  EXPECT_EQ(SqliteSessionStore::open(nested, clock_).error().code, Errc::invalid_argument);
}

TEST_F(SqliteSessionStoreTest, ALockHeldTooLongIsAStoreErrorNamingTheOperation) {
  SqliteStoreOptions options{data_dir().string()};
  options.busy_timeout_ms = 100;
  auto store = SqliteSessionStore::open(options, clock_);
  ASSERT_TRUE(store.ok());
  sqlite3* other = nullptr;  // another process holding the write lock
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto blocked = (*store)->create_tenant(tenant("acme", "tgp_must_not_leak"));
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.error().code, Errc::store_error);
  EXPECT_NE(blocked.error().message.find("create tenant"), std::string::npos) << blocked.error().message;
  EXPECT_EQ(blocked.error().message.find("tgp_must_not_leak"), std::string::npos);
  EXPECT_TRUE((*store)->list_tenants().ok());  // readers are not blocked in WAL mode
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_TRUE((*store)->create_tenant(tenant("acme")).ok());  // and the store works once it is free
}

// A process killed (SIGKILL) in the middle of its writes leaves a database that opens, passes SQLite's
// integrity check and holds only whole records: each write is all or nothing.
TEST_F(SqliteSessionStoreTest, SurvivesAKill9InTheMiddleOfWrites) {
  {
    auto store = open();
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->create_tenant(tenant("acme")).ok());
  }
  for (int round = 0; round < 3; ++round) {
    // The writer tells the test through a pipe when a session it keeps is committed, so the kill lands in
    // the middle of writes however slowly a loaded machine starts the child (a fixed sleep did not).
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(ready[0]);
      // The writer: creates sessions and walks each through login and cleanup, forever.
      FakeClock clock;
      auto store = SqliteSessionStore::open(SqliteStoreOptions{data_dir().string()}, clock);
      if (!store.ok()) ::_exit(3);
      for (int i = 0;; ++i) {
        const std::string id = session_id(round * 1'000'000 + i);
        if (!(*store)->create_session(session(id, "acme", i))) ::_exit(4);
        for (auto to : {SessionState::authorized, SessionState::cleanup_pending, SessionState::cleanup_closing}) {
          if (!(*store)->update_state(id, SessionStateChange{to, {}})) ::_exit(5);
        }
        if (i % 2 == 0 && !(*store)->delete_session(id)) ::_exit(6);
        if (i == 1) {  // session 1 is kept (even ones are deleted): the store is no longer empty
          const char byte = 1;
          if (::write(ready[1], &byte, 1) != 1) ::_exit(7);
          ::close(ready[1]);
        }
      }
    }
    ::close(ready[1]);
    char byte = 0;
    ASSERT_EQ(::read(ready[0], &byte, 1), 1) << "the writer died before committing a session";
    ::close(ready[0]);
    ::usleep(50'000 + 50'000 * round);
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer stopped by itself with exit code " << WEXITSTATUS(status);

    auto store = open();
    ASSERT_TRUE(store.ok()) << store.error().to_string();
    auto all = (*store)->list_all_sessions();
    ASSERT_TRUE(all.ok());
    EXPECT_GT(all->size(), 0u) << "the writer wrote nothing before it was killed";
    for (const auto& s : *all) {
      EXPECT_EQ(s.tenant_id, "acme");
      EXPECT_EQ(s.engine_dir, "/var/lib/tgpulse/engine/" + s.session_id);
      EXPECT_FALSE(s.db_key.empty());
    }
    store.value().reset();
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &raw), SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &q, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)), "ok");
    sqlite3_finalize(q);
    sqlite3_close(raw);
  }
}

// --- session keys at rest (master key) ---

std::shared_ptr<const KeyCipher> new_master_key(std::string* text = nullptr) {
  const std::string key = KeyCipher::generate_base64().value();
  if (text != nullptr) *text = key;
  return std::make_shared<KeyCipher>(KeyCipher::from_base64(key).value());
}

class SqliteStoredKeysTest : public SqliteSessionStoreTest {
 protected:
  Result<std::unique_ptr<SqliteSessionStore>> open_with(std::shared_ptr<const KeyCipher> key) {
    SqliteStoreOptions options{data_dir().string()};
    options.master_key = std::move(key);
    return SqliteSessionStore::open(options, clock_);
  }
  // session_id -> db_key exactly as stored in the file, read by a connection of its own.
  std::map<std::string, std::string> raw_keys() const {
    std::map<std::string, std::string> out;
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open(db_path().c_str(), &raw), SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(raw, "SELECT session_id, db_key FROM sessions", -1, &q, nullptr), SQLITE_OK);
    while (sqlite3_step(q) == SQLITE_ROW) {
      out[reinterpret_cast<const char*>(sqlite3_column_text(q, 0))] =
          reinterpret_cast<const char*>(sqlite3_column_text(q, 1));
    }
    sqlite3_finalize(q);
    sqlite3_close(raw);
    return out;
  }
  // Every byte of the database and its WAL, as an attacker with the files would read them.
  std::string file_bytes() const {
    std::string all;
    for (const std::string& p : {db_path().string(), db_path().string() + "-wal"}) {
      std::ifstream in(p, std::ios::binary);
      if (!in) continue;
      std::ostringstream bytes;
      bytes << in.rdbuf();
      all += bytes.str();
    }
    return all;
  }
  // Three sessions of tenant acme with fresh random db keys; returns session id -> plain key.
  std::map<std::string, std::string> seed(SqliteSessionStore& store) {
    std::map<std::string, std::string> plain;
    EXPECT_TRUE(store.create_tenant(tenant("acme")).ok());
    for (int i = 1; i <= 3; ++i) {
      SessionRecord s = session(session_id(i), "acme", i);
      s.db_key = TenantTokens::generate_db_key().value();
      EXPECT_TRUE(store.create_session(s).ok());
      plain[s.session_id] = s.db_key;
    }
    return plain;
  }
  void expect_keys(SqliteSessionStore& store, const std::map<std::string, std::string>& plain) {
    for (const auto& [id, key] : plain) {
      auto got = store.find_session(id);
      ASSERT_TRUE(got.ok()) << got.error().to_string();
      EXPECT_EQ(got->db_key, key) << id;
    }
  }
};

TEST_F(SqliteStoredKeysTest, TheFileHoldsNoPlainKeyAndReopeningWithTheKeyRestoresThem) {
  std::string key_text;
  auto key = new_master_key(&key_text);
  std::map<std::string, std::string> plain;
  {
    auto store = open_with(key);
    ASSERT_TRUE(store.ok()) << store.error().to_string();
    plain = seed(**store);
    EXPECT_TRUE((*store)->key_status().encrypted);
    EXPECT_EQ((*store)->key_status().key_id, key->key_id());
    expect_keys(**store, plain);  // callers see plain keys
    const std::string bytes = file_bytes();
    for (const auto& [id, k] : plain) EXPECT_EQ(bytes.find(k), std::string::npos) << "plain key of " << id;
    EXPECT_EQ(bytes.find(key_text), std::string::npos) << "the master key is in the file";
  }
  for (const auto& [id, stored] : raw_keys()) {
    EXPECT_EQ(stored.rfind("v1:" + key->key_id() + ":", 0), 0u) << stored;
    EXPECT_NE(stored, plain[id]);
  }
  auto again = open_with(key);
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  EXPECT_EQ((*again)->key_status().sealed_at_open, 0u);
  expect_keys(**again, plain);
  auto listed = (*again)->list_sessions("acme");
  ASSERT_TRUE(listed.ok());
  for (const auto& s : *listed) EXPECT_EQ(s.db_key, plain[s.session_id]);
}

TEST_F(SqliteStoredKeysTest, ADefaultProxysCredentialsAreSealedInTheFile) {
  const std::string proxy = R"({"@type":"proxy","server":"10.0.0.1","port":1080,"type":{"@type":"proxyTypeSocks5","username":"u","password":"pr0xy-pa55"}})";
  auto key = new_master_key();
  {
    auto store = open_with(key);
    ASSERT_TRUE(store.ok()) << store.error().to_string();
    ASSERT_TRUE((*store)->create_tenant(tenant("acme")).ok());
    ASSERT_TRUE((*store)->set_tenant_proxy("acme", proxy).ok());
    EXPECT_EQ(*(*store)->tenant_proxy("acme"), proxy);
  }
  EXPECT_EQ(file_bytes().find("pr0xy-pa55"), std::string::npos) << "the proxy password is in the file";
  auto again = open_with(key);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*(*again)->tenant_proxy("acme"), proxy);
  auto other = open_with(new_master_key());
  if (other.ok()) {
    auto read = (*other)->tenant_proxy("acme");
    ASSERT_FALSE(read.ok()) << "opened with another master key";
    EXPECT_EQ(read.error().message.find("pr0xy"), std::string::npos);
  }
}

TEST_F(SqliteStoredKeysTest, PlainKeysAreEncryptedAtTheFirstOpenWithAKey) {
  std::map<std::string, std::string> plain;
  {
    auto store = open();
    ASSERT_TRUE(store.ok());
    plain = seed(**store);
    EXPECT_FALSE((*store)->key_status().encrypted);
  }
  EXPECT_EQ(raw_keys(), plain);  // without a master key: stored in the clear (and the service warns)
  {
    auto store = open();
    ASSERT_TRUE(store.ok());
    EXPECT_FALSE((*store)->key_status().encrypted);
    EXPECT_EQ((*store)->key_status().plain, 3u);
  }
  auto key = new_master_key();
  {
    auto store = open_with(key);
    ASSERT_TRUE(store.ok()) << store.error().to_string();
    EXPECT_EQ((*store)->key_status().sealed_at_open, 3u);
    expect_keys(**store, plain);
  }
  for (const auto& [id, stored] : raw_keys()) {
    EXPECT_EQ(KeyCipher::key_id_of(stored), key->key_id()) << id;
    EXPECT_EQ(key->open(stored, id).value(), plain[id]);
  }
  // Nor is the plain key left behind in the free space of a page (secure_delete).
  const std::string bytes = file_bytes();
  for (const auto& [id, k] : plain) EXPECT_EQ(bytes.find(k), std::string::npos) << "plain key of " << id;
}

TEST_F(SqliteStoredKeysTest, WithoutTheKeyOrWithAnotherKeyTheOpenIsRefusedAndNothingChanges) {
  std::string key_text;
  auto key = new_master_key(&key_text);
  {
    auto store = open_with(key);
    ASSERT_TRUE(store.ok());
    seed(**store);
  }
  // A plain record beside the sealed ones: a refused open must not seal it either.
  raw_sql(db_path(), "INSERT INTO sessions (session_id, tenant_id, state, created_at, last_used_at, updated_at, "
                     "engine_dir, db_key, page_key_hash) VALUES ('" + session_id(9) + "', 'acme', 'authorized', 9, 9, "
                     "9, '/e/9', 'cGxhaW5wbGFpbnBsYWlucGxhaW5wbGFpbnBsYWlucGw=', '" +
                     TenantTokens::hash_token("p") + "')");
  const auto before = raw_keys();

  auto without = open();
  ASSERT_FALSE(without.ok());
  EXPECT_EQ(without.error().code, Errc::invalid_argument);
  EXPECT_NE(without.error().message.find("3 of 4 session keys"), std::string::npos) << without.error().message;
  EXPECT_NE(without.error().message.find(key->key_id()), std::string::npos) << without.error().message;
  EXPECT_NE(without.error().message.find("no master key is configured"), std::string::npos);
  EXPECT_EQ(raw_keys(), before);

  auto other = new_master_key();
  auto wrong = open_with(other);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, Errc::invalid_argument);
  EXPECT_NE(wrong.error().message.find("encrypted with master key " + key->key_id()), std::string::npos)
      << wrong.error().message;
  EXPECT_NE(wrong.error().message.find("configured master key " + other->key_id()), std::string::npos);
  EXPECT_EQ(wrong.error().message.find(key_text), std::string::npos);
  EXPECT_EQ(raw_keys(), before);

  auto right = open_with(key);  // the right key still opens it, and seals the plain one
  ASSERT_TRUE(right.ok()) << right.error().to_string();
  EXPECT_EQ((*right)->key_status().sealed_at_open, 1u);
  EXPECT_EQ((*right)->find_session(session_id(9))->db_key, "cGxhaW5wbGFpbnBsYWlucGxhaW5wbGFpbnBsYWlucGw=");
}

TEST_F(SqliteStoredKeysTest, AKeyMovedToAnotherRecordOrAlteredRefusesTheOpen) {
  auto key = new_master_key();
  {
    auto store = open_with(key);
    ASSERT_TRUE(store.ok());
    seed(**store);
  }
  auto stored = raw_keys();
  // Session 1's sealed key copied into session 2's record: the associated data (the session id) differs.
  raw_sql(db_path(), "UPDATE sessions SET db_key = '" + stored[session_id(1)] + "' WHERE session_id = '" +
                         session_id(2) + "'");
  const auto before = raw_keys();
  auto moved = open_with(key);
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().code, Errc::store_error);
  EXPECT_NE(moved.error().message.find("session " + session_id(2)), std::string::npos) << moved.error().message;
  EXPECT_NE(moved.error().message.find("does not authenticate"), std::string::npos) << moved.error().message;
  EXPECT_EQ(raw_keys(), before);

  raw_sql(db_path(), "UPDATE sessions SET db_key = 'v9:00000000:AAAA' WHERE session_id = '" + session_id(2) + "'");
  auto unknown = open_with(key);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("unknown format"), std::string::npos) << unknown.error().message;
}

TEST_F(SqliteStoredKeysTest, RotationReencryptsEveryKeyAndTheOldKeyIsRefusedAfterwards) {
  auto old_key = new_master_key();
  auto new_key = new_master_key();
  std::map<std::string, std::string> plain;
  {
    auto store = open_with(old_key);
    ASSERT_TRUE(store.ok());
    plain = seed(**store);
    auto same = (*store)->rotate_master_key(old_key);
    ASSERT_FALSE(same.ok());
    EXPECT_EQ(same.error().code, Errc::conflict);
    auto rotated = (*store)->rotate_master_key(new_key);
    ASSERT_TRUE(rotated.ok()) << rotated.error().to_string();
    EXPECT_EQ(*rotated, 3u);
    EXPECT_EQ((*store)->key_status().key_id, new_key->key_id());
    expect_keys(**store, plain);  // the open store goes on with the new key
  }
  for (const auto& [id, stored] : raw_keys()) EXPECT_EQ(KeyCipher::key_id_of(stored), new_key->key_id()) << id;
  auto with_old = open_with(old_key);
  ASSERT_FALSE(with_old.ok());
  EXPECT_NE(with_old.error().message.find("encrypted with master key " + new_key->key_id()), std::string::npos);
  auto with_new = open_with(new_key);
  ASSERT_TRUE(with_new.ok()) << with_new.error().to_string();
  expect_keys(**with_new, plain);
}

TEST_F(SqliteStoredKeysTest, RotationFromPlainKeysSealsThemAll) {
  std::map<std::string, std::string> plain;
  auto key = new_master_key();
  {
    auto store = open();
    ASSERT_TRUE(store.ok());
    plain = seed(**store);
    ASSERT_EQ((*store)->rotate_master_key(key).value(), 3u);
  }
  for (const auto& [id, stored] : raw_keys()) EXPECT_EQ(key->open(stored, id).value(), plain[id]);
}

TEST_F(SqliteStoredKeysTest, RotationIsRefusedWhileAnotherStoreHasTheFileOpen) {
  auto old_key = new_master_key();
  auto service = open_with(old_key);  // the running service
  ASSERT_TRUE(service.ok());
  seed(**service);
  const auto before = raw_keys();
  {
    auto rotating = open_with(old_key);
    ASSERT_TRUE(rotating.ok()) << rotating.error().to_string();
    auto rotated = (*rotating)->rotate_master_key(new_master_key());
    ASSERT_FALSE(rotated.ok());
    EXPECT_EQ(rotated.error().code, Errc::conflict);
    EXPECT_NE(rotated.error().message.find("stop tgpulse"), std::string::npos) << rotated.error().message;
    EXPECT_EQ((*rotating)->key_status().key_id, old_key->key_id());
  }
  EXPECT_EQ(raw_keys(), before);
  service.value().reset();
  // Once the other store is closed, the rotation goes through.
  auto rotating = open_with(old_key);
  ASSERT_TRUE(rotating.ok());
  EXPECT_TRUE((*rotating)->rotate_master_key(new_master_key()).ok());
}

TEST(SessionStateTest, NamesRoundTrip) {
  for (auto s : {SessionState::qr_pending, SessionState::phone_pending, SessionState::password_required, SessionState::authorized,
                 SessionState::cleanup_pending, SessionState::cleanup_closing, SessionState::cleanup_removing}) {
    EXPECT_EQ(parse_session_state(session_state_name(s)), s);
  }
  EXPECT_EQ(std::string(session_state_name(SessionState::cleanup_closing)), "cleanup_closing");
  EXPECT_FALSE(parse_session_state("expired").has_value());
  EXPECT_TRUE(is_cleanup_state(SessionState::cleanup_pending));
  EXPECT_FALSE(is_cleanup_state(SessionState::authorized));
  EXPECT_TRUE(is_login_state(SessionState::password_required));
  EXPECT_TRUE(is_login_state(SessionState::phone_pending));
  EXPECT_FALSE(is_login_state(SessionState::cleanup_removing));
}

}  // namespace
}  // namespace tgpulse::store
