// The session layer's defences against operator mistakes: a store that cannot account for the session
// directories is refused, directories without a record are quarantined (moved, never deleted), failed
// cleanups are retried with bounded exponential back-off, and the storage probes behind /readyz.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/blocking_pool.h"
#include "session/cleanup_retry_queue.h"
#include "session/session_test_fixture.h"
#include "session/storage_probe.h"
#include "store/slow_session_store.h"

namespace tgpulse::session {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// A MemorySessionStore whose delete_session fails with `failing_code` while `failing_deletes` > 0 (a
// store error, or a busy store, during the last cleanup step).
class FlakyDeleteStore final : public store::SessionStore {
 public:
  explicit FlakyDeleteStore(store::SessionStore& inner) : inner_(inner) {}
  int failing_deletes = 0;
  Errc failing_code = Errc::store_error;
  int delete_calls = 0;
  std::function<void()> on_failed_delete;  // called (on the store's calling thread) after a failed delete

  Status create_tenant(const store::TenantRecord& t) override { return inner_.create_tenant(t); }
  Result<store::TenantRecord> get_tenant(std::string_view id) override { return inner_.get_tenant(id); }
  Result<std::optional<std::string>> tenant_proxy(std::string_view id) override { return inner_.tenant_proxy(id); }
  Status set_tenant_proxy(std::string_view id, const std::optional<std::string>& p) override {
    return inner_.set_tenant_proxy(id, p);
  }
  Result<std::vector<store::TenantRecord>> list_tenants() override { return inner_.list_tenants(); }
  Status delete_tenant(std::string_view id, store::TenantDeletion mode) override { return inner_.delete_tenant(id, mode); }
  Result<store::TenantRecord> find_tenant_by_token(std::string_view token) override {
    return inner_.find_tenant_by_token(token);
  }
  Status create_session(const store::SessionRecord& s) override { return inner_.create_session(s); }
  Result<store::SessionRecord> get_session(std::string_view t, std::string_view s) override {
    return inner_.get_session(t, s);
  }
  Result<store::SessionRecord> find_session(std::string_view s) override { return inner_.find_session(s); }
  Result<std::vector<store::SessionRecord>> list_sessions(std::string_view t) override { return inner_.list_sessions(t); }
  Result<std::vector<store::SessionRecord>> list_sessions_by_state(store::SessionState st) override {
    return inner_.list_sessions_by_state(st);
  }
  Result<std::vector<store::SessionRecord>> list_all_sessions() override { return inner_.list_all_sessions(); }
  Result<store::SessionRecord> update_state(std::string_view s, const store::SessionStateChange& c) override {
    return inner_.update_state(s, c);
  }
  Status touch_last_used(std::string_view s, std::int64_t at) override { return inner_.touch_last_used(s, at); }
  Status delete_session(std::string_view s) override {
    ++delete_calls;
    if (failing_deletes > 0) {
      --failing_deletes;
      if (on_failed_delete) on_failed_delete();
      return Error(failing_code, "delete session: database is locked");
    }
    return inner_.delete_session(s);
  }

 private:
  store::SessionStore& inner_;
};

class SessionSafetyTest : public SessionTestFixture {
 protected:
  std::string sessions_dir() const { return data_dir_ + "/sessions"; }

  store::SessionRecord make_record(const std::string& id, store::SessionState state) {
    store::SessionRecord r;
    r.session_id = id;
    r.tenant_id = "acme";
    r.state = store::SessionState::qr_pending;
    r.engine_dir = sessions_dir() + "/" + id;
    r.db_key = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=";
    r.page_key_hash = store::TenantTokens::hash_token("page");
    r.created_at_ms = 1000;
    r.last_used_at_ms = 1000;
    write_file(fs::path(r.engine_dir) / "td.binlog", "binlog of " + id);
    EXPECT_TRUE(store_.create_session(r).ok());
    if (state != store::SessionState::qr_pending) {
      store::SessionStateChange c;
      c.to = state;
      EXPECT_TRUE(store_.update_state(id, c).ok());
    }
    return r;
  }

  // A new QR login of "acme", authorized by the engine; null if it did not get there.
  std::shared_ptr<Session> login_and_authorize(SessionManager& m) {
    auto created = run(m.create_qr_login("acme", std::nullopt, milliseconds(500)));
    if (!created.ok()) return nullptr;
    engine_.emit({{"@type", "authorizationStateReady"}});
    run_until([&] {
      auto s = m.find("acme", created->view.id);
      return s && s->view().status == SessionStatus::authorized;
    });
    auto s = m.find("acme", created->view.id);
    return s && s->view().status == SessionStatus::authorized ? s : nullptr;
  }

  // The entries of <data_dir>/quarantine/<stamp>/ (one stamp expected).
  std::vector<fs::path> quarantined() const {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& stamp : fs::directory_iterator(data_dir_ + "/quarantine", ec)) {
      for (const auto& e : fs::directory_iterator(stamp.path())) out.push_back(e.path());
    }
    return out;
  }
};

TEST_F(SessionSafetyTest, AnEmptyStoreWithSessionDirectoriesIsRefusedAndNothingMoves) {
  write_file(sessions_dir() + "/s_AAAAAAAAAAAAAAAAAAAAAA/td.binlog", "customer authorization");
  write_file(sessions_dir() + "/s_BBBBBBBBBBBBBBBBBBBBBB/td.binlog", "another one");
  SessionOptions o = options();
  Status st = SessionCleanup::check_store_accounts_for_data(store_, o);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::conflict);
  EXPECT_NE(st.error().message.find("holds 2 session directories"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("store.accept_empty_store"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("--accept-empty-store"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find(sessions_dir()), std::string::npos) << st.error().message;

  // Even a sweep run without the check moves nothing when the store is empty.
  // SessionCleanup keeps a reference to its services: they must outlive it (not a temporary).
  const SessionServices services{clock_, store_, engine_, metrics_, logger_, tracer_, o};
  SessionCleanup cleanup(services);
  auto report = cleanup.sweep_startup();
  EXPECT_EQ(report.orphan_directories, 0);
  EXPECT_EQ(read_file(sessions_dir() + "/s_AAAAAAAAAAAAAAAAAAAAAA/td.binlog"), "customer authorization");
  EXPECT_FALSE(fs::exists(data_dir_ + "/quarantine"));

  o.safety.accept_empty_store = true;
  EXPECT_TRUE(SessionCleanup::check_store_accounts_for_data(store_, o).ok());
}

TEST_F(SessionSafetyTest, AnEmptyStoreWithoutDirectoriesStarts) {
  EXPECT_TRUE(SessionCleanup::check_store_accounts_for_data(store_, options()).ok());
  fs::create_directories(sessions_dir());
  EXPECT_TRUE(SessionCleanup::check_store_accounts_for_data(store_, options()).ok());
}

TEST_F(SessionSafetyTest, AcceptedEmptyStoreQuarantinesEveryDirectoryIntact) {
  write_file(sessions_dir() + "/s_AAAAAAAAAAAAAAAAAAAAAA/td.binlog", "customer authorization");
  write_file(sessions_dir() + "/s_AAAAAAAAAAAAAAAAAAAAAA/db.sqlite", "messages");
  write_file(sessions_dir() + "/stray-file", "x");
  SessionOptions o = options();
  o.safety.accept_empty_store = true;
  SessionManager& m = manager(o);
  auto report = run(m.start());
  EXPECT_EQ(report.sweep.orphan_directories, 2);
  EXPECT_EQ(report.sweep.quarantine_failed, 0);
  EXPECT_EQ(m.quarantined_directories(), 2u);
  EXPECT_TRUE(fs::is_empty(sessions_dir()));
  auto moved = quarantined();
  ASSERT_EQ(moved.size(), 2u);
  const fs::path dir = fs::path(report.sweep.quarantine_dir) / "s_AAAAAAAAAAAAAAAAAAAAAA";
  EXPECT_EQ(read_file(dir / "td.binlog"), "customer authorization");
  EXPECT_EQ(read_file(dir / "db.sqlite"), "messages");
  EXPECT_EQ(fs::path(report.sweep.quarantine_dir).parent_path(), fs::path(data_dir_ + "/quarantine"));
  auto lines = log_lines("Session directory without a record quarantined");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["log.level"], "warn");
  EXPECT_EQ(lines[0]["file.path"].get<std::string>().rfind(sessions_dir(), 0), 0u);
}

TEST_F(SessionSafetyTest, ALostRecordIsQuarantinedAndTheOthersAreKept) {
  auto kept = make_record("s_AAAAAAAAAAAAAAAAAAAAAA", store::SessionState::authorized);
  engine_.mark_authorized(kept.engine_dir);
  write_file(sessions_dir() + "/s_LOSTLOSTLOSTLOSTLOSTLO/td.binlog", "record lost");
  SessionManager& m = manager();  // accept_empty_store stays false: the store is not empty
  ASSERT_TRUE(SessionCleanup::check_store_accounts_for_data(store_, options()).ok());
  auto report = run(m.start());
  EXPECT_EQ(report.sweep.orphan_directories, 1);
  EXPECT_EQ(report.restored, 1);
  EXPECT_EQ(read_file(fs::path(kept.engine_dir) / "td.binlog"), "binlog of s_AAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_FALSE(fs::exists(sessions_dir() + "/s_LOSTLOSTLOSTLOSTLOSTLO"));
  EXPECT_EQ(read_file(fs::path(report.sweep.quarantine_dir) / "s_LOSTLOSTLOSTLOSTLOSTLO" / "td.binlog"), "record lost");
  const std::string logs = all_logs();
  EXPECT_EQ(logs.find(kept.db_key), std::string::npos);
}

TEST(CleanupRetryQueueTest, BacksOffExponentiallyUpToTheBound) {
  FakeClock clock;
  CleanupRetryQueue q(clock, seconds(1), seconds(10), 3);
  EXPECT_EQ(q.delay_after(1), seconds(1));
  EXPECT_EQ(q.delay_after(2), seconds(2));
  EXPECT_EQ(q.delay_after(3), seconds(4));
  EXPECT_EQ(q.delay_after(4), seconds(8));
  EXPECT_EQ(q.delay_after(5), seconds(10));
  EXPECT_EQ(q.delay_after(500), seconds(10));
  EXPECT_EQ(q.next_due(), Clock::TimePoint::max());

  q.failed("s_1", "delete", true);
  EXPECT_TRUE(q.due().empty());
  EXPECT_EQ(q.summary().pending, 1);
  clock.advance(seconds(1));
  ASSERT_EQ(q.due().size(), 1u);
  EXPECT_EQ(q.due()[0].trigger, "delete");
  EXPECT_TRUE(q.due()[0].logout);
  q.failed("s_1", "ignored", false);  // second failure: 2 s
  clock.advance(milliseconds(1999));
  EXPECT_TRUE(q.due().empty());
  clock.advance(milliseconds(1));
  ASSERT_EQ(q.due().size(), 1u);
  EXPECT_EQ(q.due()[0].trigger, "delete");
  EXPECT_EQ(q.summary().stuck, 0);
  q.failed("s_1", "", false);  // third failure: stuck
  EXPECT_EQ(q.summary().stuck, 1);
  q.succeeded("s_1");
  EXPECT_EQ(q.summary().pending, 0);
  EXPECT_EQ(q.summary().stuck, 0);
}

TEST_F(SessionSafetyTest, AFailedCleanupIsRetriedWithBackOffUntilItSucceeds) {
  auto record = make_record("s_CCCCCCCCCCCCCCCCCCCCCC", store::SessionState::cleanup_removing);
  FlakyDeleteStore flaky(store_);
  flaky.failing_deletes = 3;  // the sweep's try and two retries fail
  SessionOptions o = options();
  o.safety.cleanup_retry_initial = seconds(1);
  o.safety.cleanup_retry_max = seconds(60);
  o.safety.cleanup_stuck_after = 3;
  manager_ = std::make_unique<SessionManager>(io_.get_executor(),
                                              SessionServices{clock_, flaky, engine_, metrics_, logger_, tracer_, o});
  SessionManager& m = *manager_;
  run(m.start());
  EXPECT_EQ(flaky.delete_calls, 1);
  EXPECT_EQ(m.cleanup_retries().pending, 1);
  EXPECT_EQ(m.cleanup_retries().stuck, 0);
  EXPECT_TRUE(store_.find_session(record.session_id).ok());

  EXPECT_EQ(run(m.retry_due_cleanups()), 0);  // not due yet
  EXPECT_EQ(flaky.delete_calls, 1);
  clock_.advance(seconds(1));
  EXPECT_EQ(run(m.retry_due_cleanups()), 0);  // second failure; next in 2 s
  EXPECT_EQ(flaky.delete_calls, 2);
  clock_.advance(seconds(1));
  EXPECT_EQ(run(m.retry_due_cleanups()), 0);
  EXPECT_EQ(flaky.delete_calls, 2);  // backed off
  clock_.advance(seconds(1));
  EXPECT_EQ(run(m.retry_due_cleanups()), 0);  // third failure: stuck, next in 4 s
  EXPECT_EQ(flaky.delete_calls, 3);
  EXPECT_EQ(m.cleanup_retries().stuck, 1);
  clock_.advance(seconds(3));
  EXPECT_EQ(run(m.retry_due_cleanups()), 0);
  clock_.advance(seconds(1));
  EXPECT_EQ(run(m.retry_due_cleanups()), 1);
  EXPECT_EQ(flaky.delete_calls, 4);
  EXPECT_EQ(m.cleanup_retries().pending, 0);
  EXPECT_EQ(m.cleanup_retries().stuck, 0);
  EXPECT_FALSE(store_.find_session(record.session_id).ok());
  EXPECT_FALSE(fs::exists(record.engine_dir));
  EXPECT_GE(log_lines("Session cleanup will be retried").size(), 3u);
  EXPECT_EQ(metrics_.session_cleanup_success.value(), 1);
  run(m.stop());
  manager_.reset();  // before `flaky`, which it uses, goes out of scope
}

// What is left behind is retried, and the caller is told so: the store's code (500 store_error, or
// 503 unavailable for a busy store) with Retry-After = the first retry delay.
TEST_F(SessionSafetyTest, AFailedLiveCleanupIsQueuedForRetry) {
  for (const Errc code : {Errc::store_error, Errc::unavailable}) {
    SCOPED_TRACE(errc_name(code));
    FlakyDeleteStore flaky(store_);
    flaky.failing_code = code;
    SessionOptions o = options();
    o.safety.cleanup_retry_initial = milliseconds(1500);
    manager_ = std::make_unique<SessionManager>(io_.get_executor(),
                                                SessionServices{clock_, flaky, engine_, metrics_, logger_, tracer_, o});
    SessionManager& m = *manager_;
    run(m.start());
    std::shared_ptr<Session> session = login_and_authorize(m);
    ASSERT_TRUE(session);
    flaky.failing_deletes = 1;
    Status st = run(m.remove(session, trigger::kDelete, true, std::nullopt));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, code) << st.error().to_string();
    EXPECT_EQ(st.error().retry_after_s, 2);  // 1.5 s, rounded up
    EXPECT_NE(st.error().message.find("queued for a retry"), std::string::npos) << st.error().message;
    EXPECT_EQ(m.cleanup_retries().pending, 1);
    EXPECT_EQ(store_.find_session(session->id())->state, store::SessionState::cleanup_removing);
    clock_.advance(o.safety.cleanup_retry_initial);
    EXPECT_EQ(run(m.retry_due_cleanups()), 1);
    EXPECT_FALSE(store_.find_session(session->id()).ok());
    EXPECT_EQ(m.cleanup_retries().pending, 0);
    run(m.stop());
    manager_.reset();  // before `flaky`, which it uses, goes out of scope
  }
}

// --- the session thread never waits on the store ------------------------------------------------------
// The manager wired as the service wires it: its store calls go to a BlockingPool of two threads. The
// store's gate (SlowSessionStore::hold_next) keeps one call stuck in the store — a handshake, no sleep —
// while the test thread, which is the session layer's loop thread (it runs io_), proves it still serves
// other work. Were the stuck call made on the loop thread, the test thread itself would be stuck at
// the gate and the handshake would fail (the gate lets go after SlowSessionStore::kGateLimit).
class SessionThreadOffStoreTest : public SessionSafetyTest {
 protected:
  SessionManager& pooled_manager(store::SessionStore& store, SessionOptions o) {
    manager_ = std::make_unique<SessionManager>(
        io_.get_executor(), SessionServices{clock_, store, engine_, metrics_, logger_, tracer_, o, {}, &pool_});
    return *manager_;
  }
  void TearDown() override {
    slow_.release();
    if (manager_) run(manager_->stop());
    manager_.reset();  // before the stores it uses go
    pool_.stop();
  }
  // Runs the loop until the gate holds a call; the loop keeps turning meanwhile.
  bool stuck_in_store() { return run_until([&] { return slow_.held() == 1; }); }

  store::SlowSessionStore slow_{store_, milliseconds(0)};
  FlakyDeleteStore flaky_{slow_};  // in front of slow_; a member, so it outlives the manager's stop
  BlockingPool pool_{{"store", 2, 64}};
};

TEST_F(SessionThreadOffStoreTest, ACleanupRetryStuckInTheStoreLeavesTheSessionThreadFree) {
  auto record = make_record("s_CCCCCCCCCCCCCCCCCCCCCC", store::SessionState::cleanup_removing);
  flaky_.failing_deletes = 1;  // the start-up sweep's delete fails: the cleanup goes to the retry queue
  SessionOptions o = options();
  o.safety.cleanup_retry_initial = seconds(1);
  SessionManager& m = pooled_manager(flaky_, o);
  run(m.start());
  ASSERT_EQ(m.cleanup_retries().pending, 1);

  clock_.advance(seconds(1));
  slow_.hold_next(1);  // the retry's first store call (finding what is left) gets stuck
  std::optional<int> retried;
  boost::asio::co_spawn(io_, store_into(m.retry_due_cleanups(), &retried), boost::asio::detached);
  ASSERT_TRUE(stuck_in_store());

  // Meanwhile a QR login starts and shows its link: its store write and the engine's answers are served.
  auto created = run(m.create_qr_login("acme", std::nullopt, milliseconds(500)));
  ASSERT_TRUE(created.ok()) << created.error().to_string();
  EXPECT_EQ(created->view.link, FakeEngine::link_for(engine_.client_count() - 1, 1));
  EXPECT_EQ(slow_.held(), 1u);  // the retry is still stuck
  EXPECT_FALSE(retried.has_value());

  slow_.release();
  ASSERT_TRUE(run_until([&] { return retried.has_value(); }));
  EXPECT_EQ(*retried, 1);
  EXPECT_FALSE(store_.find_session(record.session_id).ok());
  EXPECT_FALSE(fs::exists(record.engine_dir));
}

TEST_F(SessionThreadOffStoreTest, AStartUpSweepStuckInTheStoreLeavesTheSessionThreadFree) {
  auto closing = make_record("s_CCCCCCCCCCCCCCCCCCCCCC", store::SessionState::cleanup_closing);
  auto authorized = make_record("s_AAAAAAAAAAAAAAAAAAAAAA", store::SessionState::authorized);
  engine_.mark_authorized(authorized.engine_dir);
  SessionManager& m = pooled_manager(slow_, options());
  slow_.hold_next(1);  // the sweep's listing gets stuck
  std::optional<SessionManager::StartReport> started;
  boost::asio::co_spawn(io_, store_into(m.start(), &started), boost::asio::detached);
  ASSERT_TRUE(stuck_in_store());

  // The loop serves other work meanwhile: a handler posted to it runs.
  bool served = false;
  boost::asio::post(io_, [&] { served = true; });
  ASSERT_TRUE(run_until([&] { return served; }));
  EXPECT_EQ(slow_.held(), 1u);
  EXPECT_FALSE(started.has_value());

  slow_.release();
  ASSERT_TRUE(run_until([&] { return started.has_value(); }));
  EXPECT_EQ(started->sweep.finished, 1);
  EXPECT_EQ(started->restored, 1);
  EXPECT_FALSE(store_.find_session(closing.session_id).ok());
  ASSERT_TRUE(run_until([&] {
    auto s = m.find("acme", authorized.session_id);
    return s && s->view().status == SessionStatus::authorized;
  }));
}

TEST_F(SessionThreadOffStoreTest, ARetryCheckStuckInTheStoreLeavesOtherSessionsInvokable) {
  SessionManager& m = pooled_manager(flaky_, options());
  run(m.start());
  std::shared_ptr<Session> doomed = login_and_authorize(m);
  std::shared_ptr<Session> other = login_and_authorize(m);
  ASSERT_TRUE(doomed && other);

  // The doomed session's last cleanup step fails; the check that queues its retry then gets stuck.
  flaky_.failing_deletes = 1;
  flaky_.on_failed_delete = [this] { slow_.hold_next(1); };
  std::optional<Status> removed;
  boost::asio::co_spawn(io_, store_into(m.remove(doomed, trigger::kDelete, false, std::nullopt), &removed),
                        boost::asio::detached);
  ASSERT_TRUE(stuck_in_store());

  // An invoke on the other session completes meanwhile.
  Result<nlohmann::json> answer = run(other->send({{"@type", "getMe"}}, seconds(2)));
  EXPECT_TRUE(answer.ok()) << answer.error().to_string();
  EXPECT_EQ(slow_.held(), 1u);
  EXPECT_FALSE(removed.has_value());

  slow_.release();
  ASSERT_TRUE(run_until([&] { return removed.has_value(); }));
  EXPECT_FALSE(removed->ok());
  EXPECT_EQ(m.cleanup_retries().pending, 1);  // the record is still there: queued for a retry
}

class StorageProbeTest : public ::testing::Test {
 protected:
  StorageProbeTest() {
    std::string tmpl = (fs::temp_directory_path() / "tgpulse-probe-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~StorageProbeTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string dir_;
  FakeClock clock_;
};

TEST_F(StorageProbeTest, AWritableDirectoryWithRoomPasses) {
  EXPECT_TRUE(StorageProbe::check_data_dir(dir_, 1).ok());
  EXPECT_TRUE(StorageProbe::check_data_dir(dir_, 0).ok());
  EXPECT_TRUE(fs::is_empty(dir_));  // the probe file is gone
}

TEST_F(StorageProbeTest, TooLittleFreeSpaceFailsNamingTheKey) {
  Status st = StorageProbe::check_data_dir(dir_, std::uint64_t{1} << 62);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("store.min_free_bytes"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find(dir_), std::string::npos) << st.error().message;
}

TEST_F(StorageProbeTest, AMissingDirectoryFails) {
  Status st = StorageProbe::check_data_dir(dir_ + "/gone", 0);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("cannot create a file in"), std::string::npos) << st.error().message;
}

TEST_F(StorageProbeTest, ReadinessReadsTheLastResultsAndFailsWhenStale) {
  StorageProbeOptions o;
  o.data_dir = dir_;
  o.min_free_bytes = 0;
  o.interval = seconds(5);
  bool store_ok = true;
  StorageProbe probe(o, clock_, [&]() -> Status {
    if (store_ok) return {};
    return Error(Errc::store_error, "probe of tgpulse.db: database is locked");
  });
  EXPECT_FALSE(probe.store_status().ok());  // not probed yet
  probe.probe_once();
  EXPECT_TRUE(probe.store_status().ok());
  EXPECT_TRUE(probe.data_dir_status().ok());
  store_ok = false;
  probe.probe_once();
  ASSERT_FALSE(probe.store_status().ok());
  EXPECT_NE(probe.store_status().error().message.find("database is locked"), std::string::npos);
  store_ok = true;
  probe.probe_once();
  EXPECT_TRUE(probe.store_status().ok());
  clock_.advance(seconds(17));  // 3 intervals + 2 s
  EXPECT_TRUE(probe.store_status().ok());
  clock_.advance(seconds(1));
  ASSERT_FALSE(probe.store_status().ok());
  EXPECT_NE(probe.store_status().error().message.find("old"), std::string::npos);
  EXPECT_FALSE(probe.data_dir_status().ok());
}

}  // namespace
}  // namespace tgpulse::session
