// The session layer on test doubles: QR login outcomes, 2FA, deadline, cleanup, restore, idle TTL,
// lost authorization, tenant isolation and the start-up sweep — each with its seed telemetry.
#include <filesystem>
#include <fstream>

#include "session/session_test_fixture.h"

namespace tgpulse::session {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class SessionManagerTest : public SessionTestFixture {
 protected:
  SessionManager::Created login(SessionManager& m, std::string tenant = "acme") {
    auto created = run(m.create_qr_login(tenant, std::nullopt, std::chrono::milliseconds(500)));
    EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().to_string());
    return std::move(*created);
  }
  // Plays the scan that authorizes the latest login and waits for it.
  bool authorize(SessionManager& m, const std::string& id) {
    engine_.emit({{"@type", "authorizationStateReady"}});
    return run_until([&] { return status_of(m, id) == SessionStatus::authorized; });
  }
  // Logs a new session in on an engine that never reaches authorizationStateClosed, DELETEs it with
  // logOut, waits until `last_method` was sent, lets 6 s (past close_timeout) pass and returns the
  // cleanup's outcome.
  Status remove_on_hung_engine(SessionManager& m, const char* last_method) {
    auto created = login(m);
    EXPECT_TRUE(authorize(m, created.view.id));
    engine_.close_reaches_closed(false);
    std::optional<Status> result;
    auto removal = m.remove(m.find("acme", created.view.id), trigger::kDelete, true, std::nullopt);
    boost::asio::co_spawn(io_, store_into(std::move(removal), &result), boost::asio::detached);
    run_until([&] { return engine_.last().methods().back() == last_method; });
    clock_.advance(std::chrono::seconds(6));
    EXPECT_TRUE(run_until([&] { return result.has_value(); }));
    return result.value_or(Status(Errc::internal, "the cleanup did not finish"));
  }
  SessionStatus status_of(SessionManager& m, const std::string& id, const std::string& tenant = "acme") {
    auto s = m.find(tenant, id);
    return s ? s->view().status : SessionStatus::closed;
  }
};

TEST_F(SessionManagerTest, ScanAuthorizesAndCountsTheFunnel) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m);
  EXPECT_EQ(created.view.status, SessionStatus::qr_pending);
  EXPECT_EQ(created.view.link, FakeEngine::link_for(0, 1));
  EXPECT_FALSE(created.login_key.empty());
  EXPECT_EQ(engine_.last().methods(), (std::vector<std::string>{"setTdlibParameters", "requestQrCodeAuthentication"}));
  const json& params = engine_.last().sent[0];
  EXPECT_EQ(params["database_directory"], data_dir_ + "/sessions/" + created.view.id);
  EXPECT_EQ(params["database_encryption_key"].get<std::string>().size(), 44u);

  // The engine refreshes the link: the view follows it.
  engine_.emit({{"@type", "authorizationStateWaitOtherDeviceConfirmation"}, {"link", FakeEngine::link_for(0, 2)}});
  ASSERT_TRUE(run_until([&] { return m.find("acme", created.view.id)->view().link == FakeEngine::link_for(0, 2); }));
  EXPECT_EQ(m.find("acme", created.view.id)->view().link_version, 2u);

  engine_.emit({{"@type", "authorizationStateReady"}});
  ASSERT_TRUE(run_until([&] { return status_of(m, created.view.id) == SessionStatus::authorized; }));
  auto rec = store_.get_session("acme", created.view.id);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->state, store::SessionState::authorized);
  EXPECT_TRUE(rec->authorized_at_ms.has_value());
  EXPECT_EQ(metrics_.qr_created.value(), 1);
  EXPECT_EQ(metrics_.qr_authorized.value(), 1);
  EXPECT_EQ(metrics_.qr_expired.value() + metrics_.qr_failed.value(), 0);
  EXPECT_TRUE(m.find("acme", created.view.id)->view().link.empty());
  EXPECT_EQ(all_logs().find("tg://login"), std::string::npos);
}

TEST_F(SessionManagerTest, SpansNestUnderTheRequestAndNeverCarryTheLink) {
  SessionManager& m = manager();
  run(m.start());
  auto parent = telemetry::SpanContext::parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  auto created = run(m.create_qr_login("acme", parent, std::chrono::milliseconds(500)));
  ASSERT_TRUE(created.ok());
  engine_.emit({{"@type", "authorizationStateReady"}});
  ASSERT_TRUE(run_until([&] { return status_of(m, created->view.id) == SessionStatus::authorized; }));
  ASSERT_TRUE(run_until([&] { return find_span(spans(), "telethon_qr_login") != nullptr; }));
  auto all = spans();
  const auto* root = find_span(all, "telethon_qr_login");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->context.trace_id_hex(), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(root->parent_span_id, parent->span_id);
  for (const char* child : {"telethon_connect", "telethon_qr_generate", "telethon_qr_wait"}) {
    const auto* s = find_span(all, child);
    ASSERT_NE(s, nullptr) << child;
    EXPECT_EQ(s->parent_span_id, root->context.span_id) << child;
    EXPECT_EQ(attr(*s, "telethon.operation"), "qr_login");
    EXPECT_EQ(attr(*s, "telethon.tenant_id"), "acme");
    EXPECT_EQ(attr(*s, "telethon.session_id"), created->view.id);
  }
  for (const auto& s : all) {
    for (const auto& a : s.attributes) {
      if (auto* v = std::get_if<std::string>(&a.value)) {
        EXPECT_EQ(v->find("tg://"), std::string::npos) << a.key;
      }
    }
  }
}

TEST_F(SessionManagerTest, WrongPasswordKeepsWaitingThenTheRightOneAuthorizes) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m);
  engine_.emit({{"@type", "authorizationStateWaitPassword"}, {"password_hint", "pet name"}});
  ASSERT_TRUE(run_until([&] { return status_of(m, created.view.id) == SessionStatus::password_required; }));
  auto session = m.find("acme", created.view.id);
  EXPECT_EQ(session->view().password_hint, "pet name");
  EXPECT_EQ(store_.get_session("acme", created.view.id)->state, store::SessionState::password_required);

  engine_.respond_with([](const json& r) -> std::optional<Result<json>> {
    if (r.value("@type", "") == "checkAuthenticationPassword" && r.value("password", "") != "right") {
      Error e(Errc::engine_error, "PASSWORD_HASH_INVALID");
      e.td_code = 400;
      return Result<json>(e);
    }
    return std::nullopt;
  });
  Status wrong = run(m.submit_password(session, "wrong"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, Errc::invalid_argument);
  EXPECT_EQ(session->view().status, SessionStatus::password_required);

  Status right = run(m.submit_password(session, "right"));
  EXPECT_TRUE(right.ok());
  engine_.emit({{"@type", "authorizationStateReady"}});
  ASSERT_TRUE(run_until([&] { return status_of(m, created.view.id) == SessionStatus::authorized; }));
  EXPECT_EQ(all_logs().find("right"), std::string::npos);
  EXPECT_EQ(all_logs().find("wrong"), std::string::npos);
}

TEST_F(SessionManagerTest, PasswordOutsideTwoFactorIsAConflict) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m);
  Status st = run(m.submit_password(m.find("acme", created.view.id), "pw"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::conflict);
}

TEST_F(SessionManagerTest, DeclinedScanIsCountedAsDeclinedAndCleansUp) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m);
  const std::string dir = engine_.last().directory;
  fs::create_directories(dir);  // what the engine would have written
  engine_.emit({{"@type", "authorizationStateWaitPhoneNumber"}});
  ASSERT_TRUE(run_until([&] { return m.find("acme", created.view.id) == nullptr; }));
  EXPECT_EQ(metrics_.qr_declined.value(), 1);
  EXPECT_EQ(metrics_.qr_failed.value(), 0);  // the end user's choice pages nobody
  EXPECT_EQ(metrics_.session_cleanup_success.value(), 1);
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_FALSE(store_.find_session(created.view.id).ok());
  EXPECT_EQ(engine_.last().methods().back(), "close");
  auto lines = log_lines("Session cleanup completed");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["trigger"], "qr_failed");
  EXPECT_EQ(lines[0]["status"], "success");
}

TEST_F(SessionManagerTest, NeverScannedExpiresAtTheDeadline) {
  SessionOptions o = options();
  o.qr_timeout = std::chrono::seconds(30);
  SessionManager& m = manager(o);
  run(m.start());
  auto created = login(m);
  clock_.advance(std::chrono::seconds(29));
  io_.run_for(std::chrono::milliseconds(30));
  EXPECT_EQ(status_of(m, created.view.id), SessionStatus::qr_pending);
  clock_.advance(std::chrono::seconds(2));
  ASSERT_TRUE(run_until([&] { return m.find("acme", created.view.id) == nullptr; }));
  EXPECT_EQ(metrics_.qr_expired.value(), 1);
  EXPECT_EQ(metrics_.qr_timeout.value(), 1);
  auto lines = log_lines("QR session timeout");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["log.level"], "warn");
  EXPECT_EQ(lines[0]["tenant_id"], "acme");
  EXPECT_EQ(lines[0]["session_id"], created.view.id);
  EXPECT_GE(lines[0]["duration"].get<double>(), 30.0);
  EXPECT_LT(lines[0]["duration"].get<double>(), 32.0);
  auto cleaned = log_lines("Session cleanup completed");
  ASSERT_EQ(cleaned.size(), 1u);
  EXPECT_EQ(cleaned[0]["trigger"], "qr_expired");
  EXPECT_FALSE(store_.find_session(created.view.id).ok());
}

TEST_F(SessionManagerTest, DeleteWithLogoutSendsLogOutAndRemovesEverything) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m);
  ASSERT_TRUE(authorize(m, created.view.id));
  const std::string dir = engine_.last().directory;
  fs::create_directories(dir + "/db");
  std::ofstream(dir + "/db/td.binlog") << "x";

  Status st = run(m.remove(m.find("acme", created.view.id), trigger::kDelete, true, std::nullopt));
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  EXPECT_EQ(engine_.last().methods().back(), "logOut");
  EXPECT_TRUE(engine_.last().destroyed);
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_FALSE(store_.find_session(created.view.id).ok());
  EXPECT_EQ(m.find("acme", created.view.id), nullptr);
  EXPECT_EQ(metrics_.session_cleanup_success.value(), 1);
  EXPECT_EQ(metrics_.session_cleanup_duration.count(), 1u);
  auto lines = log_lines("Session cleanup completed");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["log.level"], "info");
  EXPECT_EQ(lines[0]["tenant_id"], "acme");
  EXPECT_EQ(lines[0]["session_id"], created.view.id);
  EXPECT_EQ(lines[0]["trigger"], "delete");
  EXPECT_TRUE(lines[0].contains("duration"));
  ASSERT_TRUE(run_until([&] { return find_span(spans(), "telethon_session_cleanup") != nullptr; }));
  auto all = spans();
  const auto* span = find_span(all, "telethon_session_cleanup");
  EXPECT_EQ(attr(*span, "telethon.operation"), "session_cleanup");
  EXPECT_EQ(attr(*span, "telethon.session_id"), created.view.id);
}

TEST_F(SessionManagerTest, DeleteWithoutLogoutOnlyCloses) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m);
  ASSERT_TRUE(authorize(m, created.view.id));
  Status st = run(m.remove(m.find("acme", created.view.id), trigger::kDelete, false, std::nullopt));
  ASSERT_TRUE(st.ok());
  auto methods = engine_.last().methods();
  EXPECT_EQ(methods.back(), "close");
  EXPECT_EQ(std::count(methods.begin(), methods.end(), "logOut"), 0);
}

TEST_F(SessionManagerTest, EngineThatNeverClosesFailsTheCleanupButRemovesLocalData) {
  SessionOptions o = options();
  o.close_timeout = std::chrono::seconds(5);
  SessionManager& m = manager(o);
  run(m.start());
  auto created = login(m);
  ASSERT_TRUE(authorize(m, created.view.id));
  engine_.close_reaches_closed(false);
  auto session = m.find("acme", created.view.id);
  std::optional<Status> result;
  boost::asio::co_spawn(io_, store_into(m.remove(session, trigger::kDelete, false, std::nullopt), &result),
                        boost::asio::detached);
  run_until([&] { return engine_.last().methods().back() == "close"; });
  clock_.advance(std::chrono::seconds(6));
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  EXPECT_FALSE(result->ok());
  EXPECT_EQ(metrics_.session_cleanup_failed.value(), 1);
  EXPECT_FALSE(store_.find_session(created.view.id).ok());
  EXPECT_EQ(log_lines("Session cleanup completed").at(0)["status"], "failed");
}

// A client that never reaches authorizationStateClosed is a gateway timeout to the caller (504), not
// an internal error; the message says what timed out and that the local data is gone (nothing is left
// to retry, so no Retry-After).
TEST_F(SessionManagerTest, ACleanupWhoseEngineNeverClosesIsATimeout) {
  SessionOptions o = options();
  o.close_timeout = std::chrono::seconds(5);
  SessionManager& m = manager(o);
  run(m.start());
  const Status result = remove_on_hung_engine(m, "logOut");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, Errc::timeout) << result.error().to_string();
  EXPECT_EQ(result.error().retry_after_s, 0);
  EXPECT_NE(result.error().message.find("did not close within close_timeout"), std::string::npos);
  EXPECT_NE(result.error().message.find("the session's local data was removed"), std::string::npos);
  EXPECT_TRUE(log_lines("Session cleanup will be retried").empty());
  EXPECT_EQ(log_lines("Session cleanup completed").at(0)["error.code"], "timeout");
}

// TDLib answering logOut and close with a timeout keeps that code (504), an engine that is down or
// closing is `unavailable` (503), an engine error stays one (502).
TEST_F(SessionManagerTest, ACleanupKeepsTheEngineFailureCode) {
  struct Case {
    Errc engine_answer;
    Errc outcome;
  };
  for (const Case c : {Case{Errc::timeout, Errc::timeout}, Case{Errc::unavailable, Errc::unavailable},
                       Case{Errc::engine_error, Errc::engine_error}}) {
    SCOPED_TRACE(errc_name(c.engine_answer));
    SessionOptions o = options();
    o.close_timeout = std::chrono::seconds(5);
    SessionManager& m = manager(o);
    run(m.start());
    engine_.respond_with([code = c.engine_answer](const nlohmann::json& request) -> std::optional<Result<nlohmann::json>> {
      const std::string type = request.value("@type", "");
      if (type != "logOut" && type != "close") return std::nullopt;
      return Result<nlohmann::json>(Error(code, type + " failed in the engine"));
    });
    const Status result = remove_on_hung_engine(m, "close");
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, c.outcome) << result.error().to_string();
    EXPECT_NE(result.error().message.find("engine: close failed in the engine"), std::string::npos)
        << result.error().message;
    engine_.respond_with(nullptr);
    run(m.stop());
    manager_.reset();
  }
}

TEST_F(SessionManagerTest, CancelDuringLoginCleansAndCountsCancelled) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m);
  Status st = run(m.cancel_login(m.find("acme", created.view.id), std::nullopt));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(m.find("acme", created.view.id), nullptr);
  EXPECT_EQ(metrics_.qr_cancelled.value(), 1);
  EXPECT_EQ(metrics_.qr_failed.value(), 0);  // the tenant's choice pages nobody
  EXPECT_EQ(log_lines("Session cleanup completed").at(0)["trigger"], "qr_cancelled");
}

TEST_F(SessionManagerTest, ShutdownDuringLoginCountsInterrupted) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m);
  run(m.stop());
  EXPECT_EQ(m.live_count(), 0u);
  EXPECT_EQ(metrics_.qr_interrupted.value(), 1);
  EXPECT_EQ(metrics_.qr_failed.value(), 0);  // a deploy pages nobody
  EXPECT_FALSE(store_.find_session(created.view.id).ok());
}

TEST_F(SessionManagerTest, EngineCloseDuringLoginCountsFailed) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m);
  engine_.emit({{"@type", "authorizationStateClosed"}});
  ASSERT_TRUE(run_until([&] { return m.find("acme", created.view.id) == nullptr; }));
  EXPECT_EQ(metrics_.qr_failed.value(), 1);
  EXPECT_EQ(metrics_.qr_cancelled.value() + metrics_.qr_declined.value() + metrics_.qr_interrupted.value(), 0);
}

TEST_F(SessionManagerTest, AnotherTenantSeesNothing) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m);
  EXPECT_EQ(m.find("other", created.view.id), nullptr);
  EXPECT_TRUE(m.list("other").empty());
  EXPECT_EQ(m.list("acme").size(), 1u);
  EXPECT_NE(m.find_by_login_key(created.view.id, created.login_key), nullptr);
  EXPECT_EQ(m.find_by_login_key(created.view.id, "not-the-key"), nullptr);
  EXPECT_EQ(m.find_by_login_key(created.view.id, ""), nullptr);
}

TEST_F(SessionManagerTest, UnknownTenantCannotLogIn) {
  SessionManager& m = manager();
  run(m.start());
  auto created = run(m.create_qr_login("ghost", std::nullopt, std::chrono::milliseconds(10)));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, Errc::not_found);
  EXPECT_EQ(engine_.client_count(), 0u);
}

TEST_F(SessionManagerTest, LostAuthorizationCleansUp) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m);
  ASSERT_TRUE(authorize(m, created.view.id));
  engine_.emit({{"@type", "authorizationStateLoggingOut"}});
  engine_.emit({{"@type", "authorizationStateClosed"}});
  ASSERT_TRUE(run_until([&] { return m.find("acme", created.view.id) == nullptr; }));
  EXPECT_EQ(log_lines("Session cleanup completed").at(0)["trigger"], "authorization_lost");
  EXPECT_FALSE(store_.find_session(created.view.id).ok());
}

TEST_F(SessionManagerTest, IdleSessionsAreCleanedWithLogOut) {
  SessionOptions o = options();
  o.idle_ttl = std::chrono::minutes(10);
  SessionManager& m = manager(o);
  run(m.start());
  auto created = login(m);
  ASSERT_TRUE(authorize(m, created.view.id));
  clock_.advance(std::chrono::minutes(5));
  m.find("acme", created.view.id)->touch();
  clock_.advance(std::chrono::minutes(6));
  EXPECT_EQ(m.sweep_idle(), 0);  // used 6 minutes ago
  clock_.advance(std::chrono::minutes(5));
  EXPECT_EQ(m.sweep_idle(), 1);
  ASSERT_TRUE(run_until([&] { return m.find("acme", created.view.id) == nullptr; }));
  EXPECT_EQ(engine_.last().methods().back(), "logOut");
  EXPECT_EQ(log_lines("Session cleanup completed").at(0)["trigger"], "idle");
}

TEST_F(SessionManagerTest, TenantDeletionCleansOnlyThatTenant) {
  SessionManager& m = manager();
  run(m.start());
  auto a1 = login(m, "acme");
  auto a2 = login(m, "acme");
  auto b1 = login(m, "other");
  int failed = run(m.remove_tenant("acme"));
  EXPECT_EQ(failed, 0);
  EXPECT_TRUE(m.list("acme").empty());
  EXPECT_EQ(m.list("other").size(), 1u);
  EXPECT_TRUE(store_.list_sessions("acme")->empty());
  EXPECT_EQ(store_.list_sessions("other")->size(), 1u);
}

TEST_F(SessionManagerTest, RestartRestoresAuthorizedSessionsAndFinishesInterruptedWork) {
  // What a previous process left: an authorized session, a login, a cleanup half done, an orphan dir.
  auto make = [&](const std::string& id, store::SessionState state) {
    store::SessionRecord r;
    r.session_id = id;
    r.tenant_id = "acme";
    r.state = state;
    r.engine_dir = data_dir_ + "/sessions/" + id;
    r.db_key = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=";
    r.page_key_hash = store::TenantTokens::hash_token("page");
    r.created_at_ms = 1000;
    r.last_used_at_ms = 1000;
    fs::create_directories(r.engine_dir);
    EXPECT_TRUE(store_.create_session(r).ok());
    if (store::is_cleanup_state(state) || state == store::SessionState::authorized) {
      store::SessionStateChange c;
      c.to = state;
      EXPECT_TRUE(store_.update_state(id, c).ok());
    }
    return r;
  };
  auto authorized = make("s_AAAAAAAAAAAAAAAAAAAAAA", store::SessionState::authorized);
  auto pending = make("s_BBBBBBBBBBBBBBBBBBBBBB", store::SessionState::qr_pending);
  auto closing = make("s_CCCCCCCCCCCCCCCCCCCCCC", store::SessionState::cleanup_closing);
  fs::create_directories(data_dir_ + "/sessions/s_DDDDDDDDDDDDDDDDDDDDDD");
  engine_.mark_authorized(authorized.engine_dir);

  SessionManager& m = manager();
  auto report = run(m.start());
  EXPECT_EQ(report.sweep.finished, 1);
  EXPECT_EQ(report.sweep.orphan_directories, 1);
  EXPECT_EQ(report.interrupted_logins, 1);
  EXPECT_EQ(metrics_.qr_interrupted.value(), 1);
  EXPECT_EQ(metrics_.qr_failed.value(), 0);  // a restart pages nobody
  EXPECT_EQ(report.restored, 1);
  ASSERT_TRUE(run_until([&] { return status_of(m, authorized.session_id) == SessionStatus::authorized; }));
  EXPECT_EQ(engine_.last().sent[0]["database_encryption_key"], authorized.db_key);
  EXPECT_TRUE(fs::exists(authorized.engine_dir));
  for (const auto& gone : {pending, closing}) {
    EXPECT_FALSE(store_.find_session(gone.session_id).ok());
    EXPECT_FALSE(fs::exists(gone.engine_dir));
  }
  EXPECT_FALSE(fs::exists(data_dir_ + "/sessions/s_DDDDDDDDDDDDDDDDDDDDDD"));
  EXPECT_EQ(store_.list_all_sessions()->size(), 1u);
  EXPECT_EQ(metrics_.session_cleanup_success.value(), 2);
}

TEST_F(SessionManagerTest, RestoredSessionWithoutAuthorizationIsCleanedUp) {
  store::SessionRecord r = stored_authorized("s_EEEEEEEEEEEEEEEEEEEEEE");
  SessionManager& m = manager();
  run(m.start());  // the fake answers WaitPhoneNumber: the authorization is gone
  ASSERT_TRUE(run_until([&] { return m.live_count() == 0; }));
  EXPECT_FALSE(store_.find_session(r.session_id).ok());
  EXPECT_EQ(log_lines("Session cleanup completed").at(0)["trigger"], "authorization_lost");
}

// From start-up until the engine confirms the stored authorization a session is `restoring` (not a QR
// login): a QR cancel is refused naming that status, and the session's data stays.
TEST_F(SessionManagerTest, RestoredSessionIsRestoringUntilTheEngineConfirmsIt) {
  store::SessionRecord r = stored_authorized("s_FFFFFFFFFFFFFFFFFFFFFF");
  fs::create_directories(r.engine_dir);
  // The engine takes the parameters but has not told its authorization state yet.
  engine_.respond_with([](const json& request) -> std::optional<Result<json>> {
    if (request.value("@type", "") == "setTdlibParameters") return Result<json>(json{{"@type", "ok"}});
    return std::nullopt;
  });
  SessionManager& m = manager();
  run(m.start());
  ASSERT_TRUE(run_until([&] { return engine_.client_count() == 1 && !engine_.last().sent.empty(); }));
  std::shared_ptr<Session> s = m.find("acme", r.session_id);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->view().status, SessionStatus::restoring);

  Status cancel = run(m.cancel_login(s, std::nullopt));
  ASSERT_FALSE(cancel.ok());
  EXPECT_EQ(cancel.error().code, Errc::conflict);
  EXPECT_NE(cancel.error().message.find("status restoring"), std::string::npos) << cancel.error().message;
  // Also when the cancel reaches the session's strand past the route's check.
  Status late = run(m.remove(s, trigger::kQrCancelled, false, std::nullopt));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::conflict);
  EXPECT_TRUE(store_.find_session(r.session_id).ok());
  EXPECT_TRUE(fs::exists(r.engine_dir));

  engine_.emit({{"@type", "authorizationStateReady"}});
  ASSERT_TRUE(run_until([&] { return status_of(m, r.session_id) == SessionStatus::authorized; }));
  // No logOut, no close: only the restore's own calls (getProxies picks up the proxy TDLib kept).
  EXPECT_EQ(engine_.last().methods(), (std::vector<std::string>{"setTdlibParameters", "getProxies"}));
}

// A QR cancel that reaches the session once its login is over (authorized meanwhile) is refused on the
// strand: it never closes an authorized session as a "QR cancel".
TEST_F(SessionManagerTest, QrCancelAfterTheLoginEndedKeepsTheAuthorizedSession) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m);
  ASSERT_TRUE(authorize(m, created.view.id));
  std::shared_ptr<Session> s = m.find("acme", created.view.id);
  Status late = run(m.remove(s, trigger::kQrCancelled, false, std::nullopt));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::conflict);
  EXPECT_NE(late.error().message.find("status authorized"), std::string::npos) << late.error().message;
  EXPECT_EQ(status_of(m, created.view.id), SessionStatus::authorized);
  EXPECT_TRUE(store_.find_session(created.view.id).ok());
  EXPECT_EQ(engine_.last().methods(), (std::vector<std::string>{"setTdlibParameters", "requestQrCodeAuthentication"}));
}

TEST_F(SessionManagerTest, ShutdownKeepsAuthorizedSessions) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m);
  ASSERT_TRUE(authorize(m, created.view.id));
  run(m.stop());
  EXPECT_EQ(m.live_count(), 0u);
  EXPECT_EQ(store_.find_session(created.view.id)->state, store::SessionState::authorized);
  auto again = run(m.create_qr_login("acme", std::nullopt, std::chrono::milliseconds(10)));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::unavailable);
}

TEST_F(SessionManagerTest, StopJoinsEveryTaskOfTheManager) {
  SessionManager& m = manager();
  run(m.start());
  auto authorized = login(m);
  ASSERT_TRUE(authorize(m, authorized.view.id));
  auto pending = login(m);  // a QR login in progress: its lifetime coroutine and its QR request run
  (void)pending;
  // The retry loop, two session runs and two QR requests at least.
  EXPECT_GE(m.tasks_spawned(), 5u);
  const std::vector<std::string> outlived = run(m.stop());
  EXPECT_TRUE(outlived.empty()) << outlived.size() << " tasks outlived the stop, the first " << outlived.front();
  EXPECT_EQ(m.live_count(), 0u);
}

TEST_F(SessionManagerTest, EverySessionThatEndsIsReportedOnceButNotOnShutdown) {
  SessionManager& m = manager();
  std::mutex mu;
  std::vector<std::string> removed;
  m.set_on_session_removed([&](const std::string& id) {
    std::lock_guard lock(mu);
    removed.push_back(id);
  });
  auto removed_ids = [&] {
    std::lock_guard lock(mu);
    return removed;
  };
  run(m.start());
  auto deleted = login(m);
  ASSERT_TRUE(authorize(m, deleted.view.id));
  ASSERT_TRUE(run(m.remove(m.find("acme", deleted.view.id), trigger::kDelete, false, std::nullopt)).ok());
  EXPECT_EQ(removed_ids(), std::vector<std::string>{deleted.view.id});

  auto declined = login(m);
  engine_.emit({{"@type", "authorizationStateWaitPhoneNumber"}});
  ASSERT_TRUE(run_until([&] { return removed_ids().size() == 2; }));
  EXPECT_EQ(removed_ids()[1], declined.view.id);

  auto kept = login(m);
  ASSERT_TRUE(authorize(m, kept.view.id));
  run(m.stop());  // authorized sessions stay for the next start: their state must not be forgotten
  EXPECT_EQ(removed_ids().size(), 2u);
}

TEST_F(SessionManagerTest, EngineFailureFailsTheLogin) {
  SessionManager& m = manager();
  run(m.start());
  engine_.respond_with([](const json& r) -> std::optional<Result<json>> {
    if (r.value("@type", "") == "setTdlibParameters") {
      Error e(Errc::engine_error, "Valid api_id must be provided");
      e.td_code = 400;
      return Result<json>(e);
    }
    return std::nullopt;
  });
  auto created = login(m);
  ASSERT_TRUE(run_until([&] { return m.find("acme", created.view.id) == nullptr; }));
  EXPECT_EQ(metrics_.qr_failed.value(), 1);
  EXPECT_FALSE(store_.find_session(created.view.id).ok());
}

}  // namespace
}  // namespace tgpulse::session
