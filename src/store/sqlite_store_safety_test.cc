// SqliteSessionStore against operator mistakes: a database file that is not SQLite is refused and left
// untouched, an empty file opens as a new (empty) store, and the readiness probe notices a database
// file that was replaced or deleted under the running service, and a write lock it cannot get.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "store/sqlite_session_store.h"

namespace tgpulse::store {
namespace {

namespace fs = std::filesystem;

class SqliteStoreSafetyTest : public ::testing::Test {
 protected:
  SqliteStoreSafetyTest() {
    std::string tmpl = (fs::temp_directory_path() / "tgpulse-store-safety-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~SqliteStoreSafetyTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  SqliteStoreOptions options() const {
    SqliteStoreOptions o;
    o.data_dir = dir_;
    return o;
  }
  std::string db_path() const { return dir_ + "/tgpulse.db"; }
  static std::string read_file(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string dir_;
  FakeClock clock_;
};

TEST_F(SqliteStoreSafetyTest, AFileThatIsNotSqliteIsRefusedAndLeftUntouched) {
  const std::string content = "this is a backup tarball, not a database\n";
  std::ofstream(db_path(), std::ios::binary) << content;
  ASSERT_EQ(::chmod(db_path().c_str(), 0644), 0);
  auto store = SqliteSessionStore::open(options(), clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, Errc::store_error);
  EXPECT_NE(store.error().message.find("is not an SQLite database"), std::string::npos) << store.error().message;
  EXPECT_NE(store.error().message.find(db_path()), std::string::npos) << store.error().message;
  EXPECT_EQ(read_file(db_path()), content);
  struct stat st {};
  ASSERT_EQ(::stat(db_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);  // not even narrowed
  EXPECT_FALSE(fs::exists(db_path() + "-wal"));
}

TEST_F(SqliteStoreSafetyTest, AShortForeignFileIsRefusedToo) {
  std::ofstream(db_path(), std::ios::binary) << "x";
  auto store = SqliteSessionStore::open(options(), clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(read_file(db_path()), "x");
}

TEST_F(SqliteStoreSafetyTest, AnEmptyFileOpensAsANewEmptyStore) {
  std::ofstream(db_path(), std::ios::binary).flush();
  auto store = SqliteSessionStore::open(options(), clock_);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_TRUE((*store)->list_all_sessions()->empty());
  EXPECT_TRUE((*store)->probe().ok());
}

TEST_F(SqliteStoreSafetyTest, ProbeFailsWhenTheFileIsReplacedOrDeleted) {
  auto store = SqliteSessionStore::open(options(), clock_);
  ASSERT_TRUE(store.ok()) << store.error().message;
  ASSERT_TRUE((*store)->probe().ok());
  fs::rename(db_path(), db_path() + ".moved");
  std::ofstream(db_path(), std::ios::binary).flush();
  Status replaced = (*store)->probe();
  ASSERT_FALSE(replaced.ok());
  EXPECT_NE(replaced.error().message.find("was replaced"), std::string::npos) << replaced.error().message;
  fs::remove(db_path());
  Status gone = (*store)->probe();
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.error().message.find("is gone"), std::string::npos) << gone.error().message;
}

TEST_F(SqliteStoreSafetyTest, ProbeFailsWhileAnotherProcessHoldsTheWriteLock) {
  auto store = SqliteSessionStore::open(options(), clock_);
  ASSERT_TRUE(store.ok()) << store.error().message;
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE;", nullptr, nullptr, nullptr), SQLITE_OK);
  Status locked = (*store)->probe(50);
  EXPECT_FALSE(locked.ok());
  if (!locked.ok()) {
    EXPECT_NE(locked.error().message.find("locked"), std::string::npos) << locked.error().message;
  }
  sqlite3_exec(other, "ROLLBACK;", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  EXPECT_TRUE((*store)->probe(50).ok());
}

}  // namespace
}  // namespace tgpulse::store
