// The UpdateLog contract, run against both implementations (typed tests), plus what only the SQLite
// log has: the ids and the log survive reopening, the log goes with its tenant, and bytes per update.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "core/temp_dir.h"
#include "store/memory_session_store.h"
#include "store/memory_update_log.h"
#include "store/sqlite_session_store.h"
#include "store/sqlite_update_log.h"
#include "store/tenant_tokens.h"
#ifdef TGPULSE_STORE_TESTS_ON_POSTGRES
#include "store/postgres_session_store.h"
#include "store/postgres_test_server.h"
#include "store/postgres_update_log.h"
#endif

namespace tgpulse::store {
namespace {

namespace fs = std::filesystem;

NewUpdate update(const std::string& tenant, const std::string& session, std::int64_t at_ms, int n) {
  return NewUpdate{tenant, session, at_ms,
                   R"({"@type":"updateNewMessage","message":{"id":)" + std::to_string(n) + "}}"};
}

template <typename Update>  // StoredUpdate or AppendedUpdate
std::vector<std::int64_t> ids(const std::vector<Update>& updates) {
  std::vector<std::int64_t> out;
  for (const auto& u : updates) out.push_back(u.update_id);
  return out;
}

struct SqliteFactory {
  TempDir dir{"updates"};
  std::unique_ptr<SessionStore> sessions;
  std::unique_ptr<UpdateLog> make(const Clock& clock) {
    sessions = SqliteSessionStore::open(SqliteStoreOptions{dir.path().string()}, clock).value();
    auto* sqlite = static_cast<SqliteSessionStore*>(sessions.get());
    auto log = SqliteUpdateLog::open(SqliteUpdateLogOptions{sqlite->path()});
    EXPECT_TRUE(log.ok()) << (log.ok() ? "" : log.error().to_string());
    return std::move(log).value();
  }
};

struct MemoryFactory {
  std::unique_ptr<SessionStore> sessions;
  std::unique_ptr<UpdateLog> make(const Clock& clock) {
    sessions = std::make_unique<MemorySessionStore>(clock);
    return std::make_unique<MemoryUpdateLog>(sessions.get());
  }
};

#ifdef TGPULSE_STORE_TESTS_ON_POSTGRES
// A database of its own on the binary's PostgreSQL server (postgres_test_server.h).
struct PostgresFactory {
  std::unique_ptr<SessionStore> sessions;
  std::unique_ptr<UpdateLog> make(const Clock& clock) {
    PostgresTestServer* server = PostgresTestServer::shared();
    if (server == nullptr) {
      ADD_FAILURE() << "no PostgreSQL server: " << PostgresTestServer::shared_failure();
      sessions = std::make_unique<MemorySessionStore>(clock);
      return std::make_unique<MemoryUpdateLog>(sessions.get());
    }
    auto options = server->create_database();
    EXPECT_TRUE(options.ok()) << (options.ok() ? "" : options.error().to_string());
    auto opened = PostgresSessionStore::open(options.value(), nullptr, clock);
    EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error().to_string());
    auto log = std::make_unique<PostgresUpdateLog>((*opened)->pool(), nullptr);
    sessions = std::move(opened).value();
    return log;
  }
};
#endif

template <typename Factory>
class UpdateLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = factory_.make(clock_);
    for (const char* t : {"t_alpha", "t_beta"}) {
      ASSERT_TRUE(factory_.sessions->create_tenant(TenantRecord{t, TenantTokens::hash_token(std::string("tok-") + t), 1}).ok());
    }
  }
  std::vector<AppendedUpdate> append_n(const std::string& tenant, int n, std::int64_t at_ms = 1000,
                                     const std::string& session = "s_one") {
    std::vector<NewUpdate> batch;
    for (int i = 0; i < n; ++i) batch.push_back(update(tenant, session, at_ms + i, i));
    return log_->append(batch).value();
  }
  FakeClock clock_;
  Factory factory_;
  std::unique_ptr<UpdateLog> log_;
};

#ifdef TGPULSE_STORE_TESTS_ON_POSTGRES
using Implementations = ::testing::Types<PostgresFactory>;
#else
using Implementations = ::testing::Types<SqliteFactory, MemoryFactory>;
#endif
class ImplementationNames {
 public:
  template <typename T>
  static std::string GetName(int) {
#ifdef TGPULSE_STORE_TESTS_ON_POSTGRES
    return "Postgres";
#endif
    return std::is_same_v<T, SqliteFactory> ? "Sqlite" : "Memory";
  }
};
TYPED_TEST_SUITE(UpdateLogTest, Implementations, ImplementationNames);

TYPED_TEST(UpdateLogTest, AssignsIdsPerTenantInBatchOrderAndKeepsThePayload) {
  std::vector<NewUpdate> batch{update("t_alpha", "s_a", 10, 1), update("t_beta", "s_b", 11, 2),
                               update("t_alpha", "", 12, 3)};
  auto stored = this->log_->append(batch).value();
  EXPECT_EQ(stored, (std::vector<AppendedUpdate>{{"t_alpha", 1}, {"t_beta", 1}, {"t_alpha", 2}}));
  auto read = this->log_->read("t_alpha", 0, 100).value();
  EXPECT_EQ(read, (std::vector<StoredUpdate>{{"t_alpha", 1, "s_a", 10, batch[0].payload},
                                             {"t_alpha", 2, "", 12, batch[2].payload}}));
  EXPECT_EQ(this->log_->read("t_beta", 0, 100).value(),
            (std::vector<StoredUpdate>{{"t_beta", 1, "s_b", 11, batch[1].payload}}));
  EXPECT_EQ(this->log_->last_update_id("t_alpha").value(), 2);
  EXPECT_EQ(this->log_->last_update_id("t_nobody").value(), 0);
}

TYPED_TEST(UpdateLogTest, ReadsFromAnOffsetWithALimitAndASessionFilter) {
  this->append_n("t_alpha", 5, 1000, "s_one");
  this->append_n("t_alpha", 3, 2000, "s_two");
  EXPECT_EQ(ids(this->log_->read("t_alpha", 3, 2).value()), (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(ids(this->log_->read("t_alpha", 4, 100, "s_two").value()), (std::vector<std::int64_t>{6, 7, 8}));
  EXPECT_TRUE(this->log_->read("t_alpha", 9, 100).value().empty());
  EXPECT_TRUE(this->log_->read("t_beta", 0, 100).value().empty()) << "another tenant's log is not visible";
}

TYPED_TEST(UpdateLogTest, RefusesBadReadArguments) {
  EXPECT_EQ(this->log_->read("t_alpha", -1, 10).error().code, Errc::invalid_argument);
  EXPECT_EQ(this->log_->read("t_alpha", 0, 0).error().code, Errc::invalid_argument);
  EXPECT_EQ(this->log_->read("t_alpha", 0, kMaxUpdateReadLimit + 1).error().code, Errc::invalid_argument);
  EXPECT_EQ(this->log_->trim("t_alpha", -1, 0).error().code, Errc::invalid_argument);
}

TYPED_TEST(UpdateLogTest, AcknowledgeDeletesBelowTheOffsetAndIdsAreNeverReused) {
  this->append_n("t_alpha", 4);
  this->append_n("t_beta", 2);
  EXPECT_EQ(this->log_->acknowledge("t_alpha", 3).value(), 2);
  EXPECT_EQ(ids(this->log_->read("t_alpha", 0, 100).value()), (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(this->log_->count_pending("t_alpha").value(), 2);
  EXPECT_EQ(this->log_->count_pending("t_beta").value(), 2) << "one tenant's offset acknowledges nothing of another";
  EXPECT_EQ(this->log_->acknowledge("t_alpha", 1000).value(), 2);
  EXPECT_EQ(this->log_->count_pending("t_alpha").value(), 0);
  EXPECT_EQ(ids(this->append_n("t_alpha", 1)), (std::vector<std::int64_t>{5}));
}

TYPED_TEST(UpdateLogTest, TrimDropsTheOldestByAgeThenByCountAndSaysExactlyWhich) {
  this->append_n("t_alpha", 10, 1000);  // ids 1..10 received at 1000..1009
  this->append_n("t_beta", 3, 1000);
  auto trimmed = this->log_->trim("t_alpha", 4, 1003).value();
  EXPECT_EQ(trimmed.by_age, (UpdateIdRange{1, 3}));
  EXPECT_EQ(trimmed.by_count, (UpdateIdRange{4, 6}));
  EXPECT_EQ(trimmed.dropped(), 6);
  EXPECT_EQ(ids(this->log_->read("t_alpha", 0, 100).value()), (std::vector<std::int64_t>{7, 8, 9, 10}));
  EXPECT_EQ(this->log_->count_pending("t_beta").value(), 3);
  auto nothing = this->log_->trim("t_alpha", 4, 0).value();
  EXPECT_FALSE(nothing.by_age);
  EXPECT_FALSE(nothing.by_count);
  auto all_old = this->log_->trim("t_alpha", 100, 5000).value();
  EXPECT_EQ(all_old.by_age, (UpdateIdRange{7, 10}));
  EXPECT_EQ(this->log_->trim("t_nobody", 0, 0).value().dropped(), 0);
}

TYPED_TEST(UpdateLogTest, SettingsRoundTripAndNeedTheTenant) {
  EXPECT_FALSE(this->log_->allowed_updates("t_alpha").value());
  ASSERT_TRUE(this->log_->set_allowed_updates("t_alpha", R"(["updateNewMessage"])").ok());
  EXPECT_EQ(this->log_->allowed_updates("t_alpha").value(), std::optional<std::string>(R"(["updateNewMessage"])"));
  EXPECT_FALSE(this->log_->allowed_updates("t_beta").value());
  EXPECT_EQ(this->log_->set_allowed_updates("t_nobody", "[]").error().code, Errc::not_found);
}

TYPED_TEST(UpdateLogTest, UpdatesOfAnUnknownTenantAreNotStored) {
  std::vector<NewUpdate> batch{update("t_gone", "s", 1, 1), update("t_alpha", "s", 2, 2)};
  auto stored = this->log_->append(batch).value();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].tenant_id, "t_alpha");
  EXPECT_TRUE(this->log_->read("t_gone", 0, 10).value().empty());
}

TYPED_TEST(UpdateLogTest, DeletingTheTenantsLogForgetsEverything) {
  this->append_n("t_alpha", 3);
  ASSERT_TRUE(this->log_->set_allowed_updates("t_alpha", "[]").ok());
  ASSERT_TRUE(this->log_->delete_tenant("t_alpha").ok());
  EXPECT_EQ(this->log_->count_pending("t_alpha").value(), 0);
  EXPECT_FALSE(this->log_->allowed_updates("t_alpha").value());
  EXPECT_EQ(this->log_->last_update_id("t_alpha").value(), 0);
}

TYPED_TEST(UpdateLogTest, RemoveDeletesExactlyTheGivenIdsOfTheTenant) {
  this->append_n("t_alpha", 5);
  this->append_n("t_beta", 5);
  EXPECT_EQ(this->log_->remove("t_alpha", {2, 4, 99}).value(), 2);
  EXPECT_EQ(ids(this->log_->read("t_alpha", 0, 100).value()), (std::vector<std::int64_t>{1, 3, 5}));
  EXPECT_EQ(this->log_->count_pending("t_beta").value(), 5) << "another tenant's ids are not touched";
  EXPECT_EQ(this->log_->remove("t_alpha", std::vector<std::int64_t>(kMaxUpdateRemove + 1, 1)).error().code,
            Errc::invalid_argument);
  EXPECT_EQ(ids(this->append_n("t_alpha", 1)), (std::vector<std::int64_t>{6})) << "removed ids are not reused";
}

TYPED_TEST(UpdateLogTest, TrimKeepsMaxPendingRowsWhenAWebhookLeftHoles) {
  ASSERT_TRUE(this->log_->set_webhook(WebhookRecord{"t_alpha", "https://example.com/h", "s3cret-s3cret-s3cret", 40, 1}).ok());
  this->append_n("t_alpha", 10, 1000);
  ASSERT_EQ(this->log_->remove("t_alpha", {7, 8, 9}).value(), 3);  // delivered by the webhook
  auto trimmed = this->log_->trim("t_alpha", 4, 0).value();
  EXPECT_FALSE(trimmed.by_age);
  EXPECT_EQ(trimmed.by_count, (UpdateIdRange{1, 3}));
  EXPECT_EQ(ids(this->log_->read("t_alpha", 0, 100).value()), (std::vector<std::int64_t>{4, 5, 6, 10}));
}

TYPED_TEST(UpdateLogTest, WebhooksRoundTripNeedTheTenantAndGoWithIt) {
  EXPECT_FALSE(this->log_->webhook("t_alpha").value());
  WebhookRecord hook{"t_alpha", "https://example.com/h?k=1", "s3cret-s3cret-s3cret", 7, 42};
  ASSERT_TRUE(this->log_->set_webhook(hook).ok());
  EXPECT_EQ(this->log_->webhook("t_alpha").value(), std::optional<WebhookRecord>(hook));
  EXPECT_FALSE(this->log_->webhook("t_beta").value()) << "another tenant's webhook is not visible";
  hook.url = "http://example.org/";
  ASSERT_TRUE(this->log_->set_webhook(hook).ok());
  EXPECT_EQ(this->log_->webhooks().value(), std::vector<WebhookRecord>{hook});
  EXPECT_EQ(this->log_->set_webhook(WebhookRecord{"t_nobody", "http://x/", "s3cret-s3cret-s3cret", 1, 1}).error().code,
            Errc::not_found);
  EXPECT_TRUE(this->log_->delete_webhook("t_alpha").value());
  EXPECT_FALSE(this->log_->delete_webhook("t_alpha").value());
  ASSERT_TRUE(this->log_->set_webhook(hook).ok());
  ASSERT_TRUE(this->log_->delete_tenant("t_alpha").ok());
  EXPECT_TRUE(this->log_->webhooks().value().empty());
}

// --- SQLite only ---

TEST(SqliteUpdateLogTest, IdsAndPendingUpdatesSurviveReopening) {
  TempDir dir{"updates"};
  FakeClock clock;
  std::string path;
  {
    auto sessions = SqliteSessionStore::open(SqliteStoreOptions{dir.path().string()}, clock).value();
    ASSERT_TRUE(sessions->create_tenant(TenantRecord{"t_alpha", TenantTokens::hash_token("tok"), 1}).ok());
    path = sessions->path();
    auto log = SqliteUpdateLog::open(SqliteUpdateLogOptions{path}).value();
    ASSERT_TRUE(log->append({update("t_alpha", "s", 1, 1), update("t_alpha", "s", 2, 2), update("t_alpha", "s", 3, 3)}).ok());
    ASSERT_TRUE(log->acknowledge("t_alpha", 4).ok());  // everything read: the log is empty, its id is kept
  }
  auto sessions = SqliteSessionStore::open(SqliteStoreOptions{dir.path().string()}, clock).value();
  auto log = SqliteUpdateLog::open(SqliteUpdateLogOptions{path}).value();
  EXPECT_EQ(log->last_update_id("t_alpha").value(), 3);
  EXPECT_EQ(ids(log->append({update("t_alpha", "s", 4, 4)}).value()), (std::vector<std::int64_t>{4}));
}

// The secret's column as stored (not through the log).
std::string stored_secret(const std::string& path, const std::string& tenant) {
  sqlite3* raw = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(raw, "SELECT secret FROM update_webhooks WHERE tenant_id = ?1", -1, &q, nullptr), SQLITE_OK);
  sqlite3_bind_text(q, 1, tenant.c_str(), -1, SQLITE_TRANSIENT);
  std::string out = sqlite3_step(q) == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(q, 0)) : "";
  sqlite3_finalize(q);
  sqlite3_close(raw);
  return out;
}

TEST(SqliteUpdateLogTest, WebhookSecretsAreSealedWithTheMasterKeyAndFollowItsRotation) {
  TempDir dir{"updates"};
  FakeClock clock;
  auto old_key = std::make_shared<const KeyCipher>(KeyCipher::from_base64(KeyCipher::generate_base64().value()).value());
  auto new_key = std::make_shared<const KeyCipher>(KeyCipher::from_base64(KeyCipher::generate_base64().value()).value());
  const WebhookRecord hook{"t_alpha", "https://example.com/h", "the-webhook-secret-0123", 40, 1};
  std::string path;
  {
    SqliteStoreOptions o{dir.path().string()};
    o.master_key = old_key;
    auto sessions = SqliteSessionStore::open(o, clock).value();
    ASSERT_TRUE(sessions->create_tenant(TenantRecord{"t_alpha", TenantTokens::hash_token("tok"), 1}).ok());
    path = sessions->path();
    SqliteUpdateLogOptions lo{path};
    lo.master_key = old_key;
    auto log = SqliteUpdateLog::open(lo).value();
    ASSERT_TRUE(log->set_webhook(hook).ok());
    EXPECT_EQ(log->webhook("t_alpha").value(), std::optional<WebhookRecord>(hook));
    const std::string sealed = stored_secret(path, "t_alpha");
    EXPECT_EQ(sealed.find(hook.secret), std::string::npos) << "the file does not hold the secret";
    EXPECT_EQ(KeyCipher::key_id_of(sealed), old_key->key_id());
    auto without = SqliteUpdateLog::open(SqliteUpdateLogOptions{path}).value();
    auto refused = without->webhooks();
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, Errc::store_error);
    EXPECT_EQ(refused.error().message.find(hook.secret), std::string::npos);
    // Rotation (offline, through the session store) re-seals the webhook secrets too.
    log.reset();
    without.reset();
    ASSERT_TRUE(sessions->rotate_master_key(new_key).ok());
  }
  EXPECT_EQ(KeyCipher::key_id_of(stored_secret(path, "t_alpha")), new_key->key_id());
  SqliteUpdateLogOptions lo{path};
  lo.master_key = new_key;
  EXPECT_EQ(SqliteUpdateLog::open(lo).value()->webhooks().value(), std::vector<WebhookRecord>{hook});
}

TEST(SqliteUpdateLogTest, TheLogGoesWithItsTenant) {
  TempDir dir{"updates"};
  FakeClock clock;
  auto sessions = SqliteSessionStore::open(SqliteStoreOptions{dir.path().string()}, clock).value();
  ASSERT_TRUE(sessions->create_tenant(TenantRecord{"t_alpha", TenantTokens::hash_token("tok"), 1}).ok());
  auto log = SqliteUpdateLog::open(SqliteUpdateLogOptions{sessions->path()}).value();
  ASSERT_TRUE(log->append({update("t_alpha", "s", 1, 1)}).ok());
  ASSERT_TRUE(log->set_allowed_updates("t_alpha", "[]").ok());
  ASSERT_TRUE(sessions->delete_tenant("t_alpha", TenantDeletion::only_if_empty).ok());
  EXPECT_EQ(log->count_pending("t_alpha").value(), 0);
  EXPECT_FALSE(log->allowed_updates("t_alpha").value());
  EXPECT_EQ(log->last_update_id("t_alpha").value(), 0);
}

TEST(SqliteUpdateLogTest, RefusesAFileWithoutTheUpdateTables) {
  TempDir dir{"updates"};
  const std::string path = (dir.path() / "empty.db").string();
  EXPECT_EQ(SqliteUpdateLog::open(SqliteUpdateLogOptions{path}).error().code, Errc::store_error);
}

// A SQLite session store in `dir` with the tenant t_alpha (the update tables come with it).
std::unique_ptr<SqliteSessionStore> sessions_with_alpha(const TempDir& dir, const Clock& clock) {
  auto sessions = SqliteSessionStore::open(SqliteStoreOptions{dir.path().string()}, clock).value();
  EXPECT_TRUE(sessions->create_tenant(TenantRecord{"t_alpha", TenantTokens::hash_token("tok"), 1}).ok());
  return sessions;
}

std::unique_ptr<SqliteUpdateLog> log_checkpointing_at(const std::string& path, int pages,
                                                      std::int64_t wal_limit = 64 << 20) {
  SqliteUpdateLogOptions options{path};
  options.checkpoint_pages = pages;
  options.journal_size_limit_bytes = wal_limit;
  return SqliteUpdateLog::open(options).value();
}

std::vector<NewUpdate> rows_of_400_bytes(int n) {
  std::vector<NewUpdate> batch;
  for (int i = 0; i < n; ++i) batch.push_back(NewUpdate{"t_alpha", "s", i, std::string(400, 'x')});
  return batch;
}

// The writer's commits do not checkpoint: a thread of the log copies the WAL into the database once the
// WAL reaches checkpoint_pages, so the database file grows without any further append.
TEST(SqliteUpdateLogTest, ABackgroundThreadCheckpointsTheWal) {
  TempDir dir{"updates"};
  FakeClock clock;
  auto sessions = sessions_with_alpha(dir, clock);
  auto log = log_checkpointing_at(sessions->path(), 20);
  auto db_bytes = [&] {
    struct stat st {};
    return ::stat(sessions->path().c_str(), &st) == 0 ? st.st_size : 0;
  };
  const auto before = db_bytes();
  // ~40 pages of WAL: past checkpoint_pages, far below the writer's own limit (8 × 20).
  ASSERT_TRUE(log->append(rows_of_400_bytes(300)).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (db_bytes() <= before + 20 * 4096 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();  // the checkpoint has no event to await from here: poll the file
  }
  EXPECT_GT(db_bytes(), before + 20 * 4096) << "the WAL was not copied into the database";
  EXPECT_EQ(log->count_pending("t_alpha").value(), 300);
}

// A writer that never pauses leaves the background checkpoints no moment to finish: the committing
// writer then checkpoints itself, so the WAL file stays bounded (it would grow by every batch).
TEST(SqliteUpdateLogTest, TheWalStaysBoundedUnderAWriterThatNeverPauses) {
  TempDir dir{"updates"};
  FakeClock clock;
  auto sessions = sessions_with_alpha(dir, clock);
  auto log = log_checkpointing_at(sessions->path(), 25, 256 << 10);
  const std::string wal = sessions->path() + "-wal";
  std::int64_t largest = 0;
  const std::vector<NewUpdate> batch = rows_of_400_bytes(100);
  for (int b = 0; b < 200; ++b) {  // ~2,600 pages (~10 MiB) of WAL if nothing checkpointed
    ASSERT_TRUE(log->append(batch).ok());
    ASSERT_TRUE(log->acknowledge("t_alpha", (b + 1) * 100 - 50).ok());
    struct stat st {};
    if (::stat(wal.c_str(), &st) == 0) largest = std::max<std::int64_t>(largest, st.st_size);
  }
  // The writer's limit (8 × 25 pages) plus one batch and its acknowledgement (~30 pages), with slack.
  EXPECT_LT(largest, std::int64_t{300} * (4096 + 24));
}

// Bytes per update on disk for a typical small message update (~250 bytes of JSON), after a checkpoint.
// Printed for docs/PERFORMANCE.md; asserted only loosely (the payload dominates).
TEST(SqliteUpdateLogTest, MeasuresStoreBytesPerUpdate) {
  TempDir dir{"updates"};
  FakeClock clock;
  auto sessions = SqliteSessionStore::open(SqliteStoreOptions{dir.path().string()}, clock).value();
  ASSERT_TRUE(sessions->create_tenant(TenantRecord{"t_alpha", TenantTokens::hash_token("tok"), 1}).ok());
  auto log = SqliteUpdateLog::open(SqliteUpdateLogOptions{sessions->path()}).value();
  const std::string payload =
      R"({"@type":"updateNewMessage","message":{"@type":"message","id":1048576,"sender_id":{"@type":"messageSenderUser","user_id":777000},"chat_id":777000,"is_outgoing":false,"date":1767225600,"content":{"@type":"messageText","text":{"@type":"formattedText","text":"hello from tdsim #1","entities":[]}}}})";
  auto file_bytes = [&] {
    struct stat st {};
    return ::stat(sessions->path().c_str(), &st) == 0 ? static_cast<double>(st.st_size) : 0.0;
  };
  auto size_of_checkpointed = [&] {
    sqlite3* raw = nullptr;
    sqlite3_open(sessions->path().c_str(), &raw);
    sqlite3_exec(raw, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
    return file_bytes();
  };
  const double before = size_of_checkpointed();
  constexpr int kUpdates = 20000;
  for (int b = 0; b < kUpdates / 500; ++b) {
    std::vector<NewUpdate> batch;
    for (int i = 0; i < 500; ++i) batch.push_back(NewUpdate{"t_alpha", "s_AAAAAAAAAAAAAAAAAAAAAA", 1767225600000 + i, payload});
    ASSERT_TRUE(log->append(batch).ok());
  }
  log.reset();  // its checkpoint thread joined: the full checkpoint below cannot find it running
  const double per_update = (size_of_checkpointed() - before) / kUpdates;
  std::printf("store bytes per update: %.0f (payload %zu bytes)\n", per_update, payload.size());
  RecordProperty("bytes_per_update", static_cast<int>(per_update));
  EXPECT_GT(per_update, static_cast<double>(payload.size()));
  EXPECT_LT(per_update, 3.0 * static_cast<double>(payload.size()));
}

}  // namespace
}  // namespace tgpulse::store
