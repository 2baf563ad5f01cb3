// The database directory's lock (TDLib's texts and wait, in one process and across processes) and
// AUTH_KEY_DUPLICATED for an authorization used from two copies of a directory at once.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tdsim/simulator_test_fixture.h"

namespace tgpulse::tdsim {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using namespace test;
using Clock = std::chrono::steady_clock;

Profile lock_wait_profile(double seconds) {
  return Profile::apply(fast_profile(), json{{"database_lock_wait_seconds", seconds}}).value();
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string read_text(const fs::path& path) {
  std::stringstream s;
  s << std::ifstream(path).rdbuf();
  return s.str();
}

// An authorized td.binlog as tdsim writes it (without auth_key_id: as written before keys had ids).
void write_authorized_database(const fs::path& dir, const std::string& auth_key_id = "") {
  fs::create_directories(dir);
  json doc{{"tdsim", 1}, {"authorized", true}, {"user_id", 777000001}, {"has_password", false}};
  if (!auth_key_id.empty()) doc["auth_key_id"] = auth_key_id;
  std::ofstream(dir / "td.binlog") << doc.dump();
}

class DatabaseLockTest : public SimulatorTest {
 protected:
  void TearDown() override {
    if (child_ > 0) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
    }
    std::error_code ec;
    fs::remove_all(copy_dir(), ec);
    fs::remove_all(world_dir(), ec);
    SimulatorTest::TearDown();
  }
  fs::path copy_dir() const { return dir_.string() + "-copy"; }
  fs::path world_dir() const { return dir_.string() + "-world"; }
  std::string lock_text(const std::string& binlog, bool here) const {
    return "Can't lock file \"" + (fs::canonical(dir_) / binlog).string() + "\", because it is already in use" +
           (here ? " by current program" : "; check for another program instance running");
  }
  // A new client that has sent setTdlibParameters for `dir` (the fixture's directory when empty).
  int opening_client(const std::string& extra, const fs::path& dir = {}) {
    const int c = sim_->create_client_id();
    json p = params(extra);
    if (!dir.empty()) p["database_directory"] = dir.string();
    send(c, p);
    return c;
  }
  json state_of(int client) {
    send(client, {{"@type", "getAuthorizationState"}, {"@extra", "state"}});
    return answer("state");
  }

  // Forks a process whose own simulator opens `dir` (authorized there: `until_ready`) and holds it
  // for `hold_seconds` (< 0: until killed), then exits without closing. Returns once it holds the
  // directory. Call before make(): the child is forked while this process has no simulator threads.
  void hold_in_child(const fs::path& dir, double hold_seconds, const std::string& world = "") {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    child_ = ::fork();
    ASSERT_GE(child_, 0);
    if (child_ == 0) {
      ::close(fds[0]);
      Simulator sim(fast_profile(), world);
      const int c = sim.create_client_id();
      sim.send(c, json{{"@type", "setTdlibParameters"}, {"database_directory", dir.string()}, {"api_id", 1},
                       {"api_hash", "abc"}, {"@extra", "p"}}.dump());
      char opened = '0';
      const auto deadline = Clock::now() + std::chrono::seconds(5);
      while (opened == '0' && Clock::now() < deadline) {
        const char* line = sim.receive(0.05);
        if (line != nullptr && json::parse(line).value("@extra", json()) == "p") {
          opened = json::parse(line)["@type"] == "ok" ? '1' : '2';
        }
      }
      if (::write(fds[1], &opened, 1) != 1) ::_exit(3);
      if (hold_seconds < 0) {
        for (;;) ::pause();
      }
      ::usleep(static_cast<useconds_t>(hold_seconds * 1e6));
      ::_exit(0);
    }
    ::close(fds[1]);
    char opened = 0;
    ASSERT_EQ(::read(fds[0], &opened, 1), 1);
    ::close(fds[0]);
    ASSERT_EQ(opened, '1') << "the child could not open " << dir;
  }
  void kill_child() {
    ASSERT_EQ(::kill(child_, SIGKILL), 0);
    ASSERT_EQ(::waitpid(child_, nullptr, 0), child_);
    child_ = -1;
  }

  pid_t child_ = -1;
};

TEST_F(DatabaseLockTest, ASecondClientInTheProcessIsRefusedAfterTheWaitWithTdlibsText) {
  make(lock_wait_profile(0.3));
  const int a = opening_client("a");
  ASSERT_EQ(answer("a")["@type"], "ok");
  const auto start = Clock::now();
  const int b = opening_client("b");
  // As measured on TDLib: getOption is answered at once, getAuthorizationState waits and comes first.
  send(b, {{"@type", "getAuthorizationState"}, {"@extra", "meanwhile"}});
  send(b, {{"@type", "getOption"}, {"name", "version"}, {"@extra", "version"}});
  EXPECT_EQ(answer("version")["value"], "1.8.67");
  EXPECT_LT(seconds_since(start), 0.2);
  EXPECT_EQ(answer("meanwhile")["@type"], "authorizationStateWaitTdlibParameters");
  const json refused = answer("b");
  const double waited = seconds_since(start);
  EXPECT_EQ(refused["@type"], "error");
  EXPECT_EQ(refused["code"], 400);
  EXPECT_EQ(refused["message"], lock_text("td.binlog", true));
  EXPECT_GE(waited, 0.3);
  EXPECT_LT(waited, 2.0);
  EXPECT_EQ(state_of(b)["@type"], "authorizationStateWaitTdlibParameters");
  // The first client is unaffected, and its td.binlog is intact.
  EXPECT_EQ(state_of(a)["@type"], "authorizationStateWaitPhoneNumber");
  EXPECT_EQ(json::parse(read_text(dir_ / "td.binlog"))["authorized"], false);
}

TEST_F(DatabaseLockTest, TheTestDcLocksTdTestBinlog) {
  make(lock_wait_profile(0));
  json p = params("a");
  p["use_test_dc"] = true;
  const int a = sim_->create_client_id();
  send(a, p);
  ASSERT_EQ(answer("a")["@type"], "ok");
  EXPECT_TRUE(fs::exists(dir_ / "td_test.binlog"));
  p["@extra"] = "b";
  const int b = sim_->create_client_id();
  send(b, p);
  EXPECT_EQ(answer("b")["message"], lock_text("td_test.binlog", true));
  // logOut removes the lock file with the database, as TDLib removes its binlog.
  send(a, {{"@type", "logOut"}, {"@extra", "out"}});
  state("authorizationStateClosed");
  EXPECT_FALSE(fs::exists(dir_ / "td_test.binlog"));
}

TEST_F(DatabaseLockTest, ADirectoryFreedDuringTheWaitIsOpened) {
  make(lock_wait_profile(5));
  const int a = opening_client("a");
  ASSERT_EQ(answer("a")["@type"], "ok");
  const auto start = Clock::now();
  const int b = opening_client("b");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  send(a, {{"@type", "close"}, {"@extra", "close"}});
  EXPECT_EQ(answer("b")["@type"], "ok");
  EXPECT_LT(seconds_since(start), 2.0);
  EXPECT_EQ(state_of(b)["@type"], "authorizationStateWaitPhoneNumber");
  // A refused client may try again once the directory is free (TDLib's state stays WaitTdlibParameters).
  const int c = sim_->create_client_id();
  ASSERT_TRUE(sim_->update_profile(json{{"database_lock_wait_seconds", 0}}).ok());
  send(c, params("c1"));
  EXPECT_EQ(answer("c1")["code"], 400);
  send(b, {{"@type", "close"}, {"@extra", "close b"}});
  state("authorizationStateClosed");
  send(c, params("c2"));
  EXPECT_EQ(answer("c2")["@type"], "ok");
}

TEST_F(DatabaseLockTest, AnotherProcessHoldingTheDirectoryIsRefusedUntilItIsKilled) {
  hold_in_child(dir_, -1);
  make(lock_wait_profile(0.2));
  const int c = opening_client("p1");
  const json refused = answer("p1");
  EXPECT_EQ(refused["code"], 400);
  EXPECT_EQ(refused["message"], lock_text("td.binlog", false));
  EXPECT_EQ(state_of(c)["@type"], "authorizationStateWaitTdlibParameters");
  kill_child();  // SIGKILL: the kernel drops the lock with the process
  send(c, params("p2"));
  EXPECT_EQ(answer("p2")["@type"], "ok");
}

TEST_F(DatabaseLockTest, ADirectoryAnotherProcessFreesDuringTheWaitIsOpened) {
  hold_in_child(dir_, 0.4);  // exits (without closing) 0.4 s after it opened the directory
  make(lock_wait_profile(5));
  const auto start = Clock::now();
  opening_client("p");
  EXPECT_EQ(answer("p")["@type"], "ok");
  EXPECT_LT(seconds_since(start), 3.0);
  ::waitpid(child_, nullptr, 0);
  child_ = -1;
}

TEST_F(DatabaseLockTest, AnAuthorizedDatabaseGetsAnAuthKeyIdThatStays) {
  write_authorized_database(dir_);
  make();
  const int a = opening_client("a");
  state("authorizationStateReady");
  const std::string id = json::parse(read_text(dir_ / "td.binlog")).value("auth_key_id", "");
  EXPECT_EQ(id.size(), 16u);
  send(a, {{"@type", "close"}, {"@extra", "close"}});
  state("authorizationStateClosed");
  EXPECT_EQ(json::parse(read_text(dir_ / "td.binlog")).value("auth_key_id", ""), id);
}

TEST_F(DatabaseLockTest, ACopiedDirectoryUsedAtTheSameTimeGetsAuthKeyDuplicatedInOneProcess) {
  make();
  const int first = ready_client();  // a QR login: td.binlog holds its new auth key id
  send(first, {{"@type", "close"}, {"@extra", "close"}});
  state("authorizationStateClosed");
  ASSERT_EQ(json::parse(read_text(dir_ / "td.binlog")).value("auth_key_id", "").size(), 16u);
  fs::copy(dir_, copy_dir(), fs::copy_options::recursive);

  const int original = opening_client("o");
  EXPECT_EQ(answer("o")["@type"], "ok");
  const int copy = opening_client("c", copy_dir());
  EXPECT_EQ(answer("c")["@type"], "ok");  // the database opens authorized; Telegram refuses the key
  send(copy, {{"@type", "getMe"}, {"@extra", "me copy"}});
  const json refused = answer("me copy");
  EXPECT_EQ(refused["@type"], "error");
  EXPECT_EQ(refused["code"], 406);
  EXPECT_EQ(refused["message"], "AUTH_KEY_DUPLICATED");
  until([&](const json& d) {
    return d.value("@client_id", 0) == copy && d.value("@type", "") == "updateAuthorizationState" &&
           d["authorization_state"]["@type"] == "authorizationStateClosed";
  });
  EXPECT_FALSE(fs::exists(copy_dir() / "td.binlog"));
  // The first client keeps working.
  send(original, {{"@type", "getMe"}, {"@extra", "me"}});
  EXPECT_EQ(answer("me")["@type"], "user");
  EXPECT_EQ(state_of(original)["@type"], "authorizationStateReady");
}

TEST_F(DatabaseLockTest, ACopiedDirectoryUsedFromAnotherProcessGetsAuthKeyDuplicatedThroughTheWorld) {
  write_authorized_database(dir_, "00000000000000aa");
  write_authorized_database(copy_dir(), "00000000000000aa");
  hold_in_child(dir_, -1, world_dir().string());
  sim_ = std::make_unique<Simulator>(fast_profile(), world_dir().string());
  const int copy = opening_client("c", copy_dir());
  EXPECT_EQ(answer("c")["@type"], "ok");
  send(copy, {{"@type", "getChats"}, {"@extra", "chats"}, {"limit", 10}});
  EXPECT_EQ(answer("chats")["message"], "AUTH_KEY_DUPLICATED");
  state("authorizationStateClosed");
  // Without the other process, a copy of the same key is used alone: no duplicate.
  kill_child();
  write_authorized_database(copy_dir(), "00000000000000aa");
  const int again = opening_client("again", copy_dir());
  EXPECT_EQ(answer("again")["@type"], "ok");
  send(again, {{"@type", "getMe"}, {"@extra", "me"}});
  EXPECT_EQ(answer("me")["@type"], "user");
}

TEST_F(DatabaseLockTest, WithoutAWorldDirectoryProcessesAreNotCompared) {
  write_authorized_database(dir_, "00000000000000bb");
  write_authorized_database(copy_dir(), "00000000000000bb");
  hold_in_child(dir_, -1);
  make();
  const int copy = opening_client("c", copy_dir());
  EXPECT_EQ(answer("c")["@type"], "ok");
  send(copy, {{"@type", "getMe"}, {"@extra", "me"}});
  EXPECT_EQ(answer("me")["@type"], "user");
}

}  // namespace
}  // namespace tgpulse::tdsim
