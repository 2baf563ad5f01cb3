// The SessionStore contract, run against both implementations (typed tests), plus what only the
// SQLite store has: files, modes, WAL, migrations, reopening.
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
#include <memory>
#include <string>
#include <thread>

#include "store/memory_session_store.h"
#include "store/sqlite_session_store.h"
#include "store/tenant_tokens.h"

namespace tgpulse::store {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "tgpulse-store-XXXXXX").string();
    char* made = ::mkdtemp(templ.data());
    EXPECT_NE(made, nullptr);
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

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
  TempDir dir;
  std::unique_ptr<SessionStore> make(const Clock& clock) {
    auto opened = SqliteSessionStore::open(SqliteStoreOptions{dir.path().string()}, clock);
    EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error().to_string());
    return std::move(opened).value();
  }
};

struct MemoryFactory {
  std::unique_ptr<SessionStore> make(const Clock& clock) { return std::make_unique<MemorySessionStore>(clock); }
};

template <typename Factory>
class SessionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = factory_.make(clock_); }
  FakeClock clock_;
  Factory factory_;
  std::unique_ptr<SessionStore> store_;
};

using Implementations = ::testing::Types<SqliteFactory, MemoryFactory>;
class ImplementationNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, SqliteFactory> ? "Sqlite" : "Memory";
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
  ASSERT_TRUE(store.touch_last_used(id).ok());
  auto touched = store.find_session(id);
  EXPECT_EQ(touched->last_used_at_ms, wall_ms(this->clock_));
  EXPECT_EQ(touched->updated_at_ms, wall_ms(this->clock_));
  EXPECT_EQ(touched->created_at_ms, 10);

  ASSERT_TRUE(store.delete_session(id).ok());
  EXPECT_EQ(store.delete_session(id).error().code, Errc::not_found);
  EXPECT_EQ(store.touch_last_used(id).error().code, Errc::not_found);
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
      if (!store.touch_last_used(id).ok()) ++*failures;
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

  TempDir dir_;
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
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
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
      }
    }
    ::usleep(150'000 + 100'000 * round);
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

TEST(SessionStateTest, NamesRoundTrip) {
  for (auto s : {SessionState::qr_pending, SessionState::password_required, SessionState::authorized,
                 SessionState::cleanup_pending, SessionState::cleanup_closing, SessionState::cleanup_removing}) {
    EXPECT_EQ(parse_session_state(session_state_name(s)), s);
  }
  EXPECT_EQ(std::string(session_state_name(SessionState::cleanup_closing)), "cleanup_closing");
  EXPECT_FALSE(parse_session_state("expired").has_value());
  EXPECT_TRUE(is_cleanup_state(SessionState::cleanup_pending));
  EXPECT_FALSE(is_cleanup_state(SessionState::authorized));
  EXPECT_TRUE(is_login_state(SessionState::password_required));
  EXPECT_FALSE(is_login_state(SessionState::cleanup_removing));
}

}  // namespace
}  // namespace tgpulse::store
