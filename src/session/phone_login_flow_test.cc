// Phone-number logins on the session layer's test doubles: number → code → (2FA) → authorized, wrong and
// expired codes, resend, refused numbers, PHONE_NUMBER_FLOOD, steps tgpulse does not do, the deadline,
// cancel and restart — each with its telemetry, and never the phone number or the code in a log or span.
#include "session/phone_login_flow.h"
#include "session/session_test_fixture.h"

namespace tgpulse::session {
namespace {

using nlohmann::json;

constexpr const char* kNumber = "+99966 2 1234";  // FakeEngine::kPhoneNumber: TDLib echoes it in code_info
constexpr const char* kCode = "22222";

Error td_error(int code, const char* message) {
  Error e(Errc::engine_error, message);
  e.td_code = code;
  return e;
}

class PhoneLoginTest : public SessionTestFixture {
 protected:
  SessionManager::Created login(SessionManager& m, std::optional<std::string> number = std::string(kNumber)) {
    auto created = run(m.create_phone_login("acme", std::move(number), std::nullopt, std::chrono::milliseconds(500)));
    EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().to_string());
    return created.ok() ? std::move(*created) : SessionManager::Created{};
  }
  SessionStatus status_of(SessionManager& m, const std::string& id) {
    auto s = m.find("acme", id);
    return s ? s->view().status : SessionStatus::closed;
  }
  // Nothing the service wrote (logs, spans) holds the phone number, its digits or the code.
  void expect_no_secrets() {
    std::string everything = all_logs();
    for (const auto& s : spans()) {
      everything += s.name + s.status_message;
      for (const auto& a : s.attributes) {
        if (auto* v = std::get_if<std::string>(&a.value)) everything += a.key + "=" + *v + "\n";
      }
    }
    for (const char* secret : {kNumber, "99966", "9996621234", kCode}) {
      EXPECT_EQ(everything.find(secret), std::string::npos) << secret;
    }
  }
};

TEST_F(PhoneLoginTest, NumberThenCodeAuthorizesWithItsTelemetry) {
  SessionManager& m = manager();
  run(m.start());
  auto parent = telemetry::SpanContext::parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  auto created = run(m.create_phone_login("acme", std::string(kNumber), parent, std::chrono::milliseconds(500)));
  ASSERT_TRUE(created.ok());
  const std::string id = created->view.id;
  EXPECT_EQ(created->view.method, LoginMethod::phone);
  EXPECT_EQ(created->view.status, SessionStatus::code_required);
  EXPECT_EQ(created->view.code_info,
            (json{{"type", "telegram_message"}, {"length", 5}, {"next_type", "sms"}, {"timeout", 60}}));
  EXPECT_EQ(engine_.last().methods(), (std::vector<std::string>{"setTdlibParameters", "setAuthenticationPhoneNumber"}));
  EXPECT_EQ(engine_.last().sent[1]["phone_number"], kNumber);
  EXPECT_EQ(store_.get_session("acme", id)->state, store::SessionState::phone_pending);

  auto answer = run(m.submit_code(m.find("acme", id), kCode));
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(*answer, PhoneLoginFlow::CodeAnswer::accepted);
  EXPECT_EQ(engine_.last().sent.back(), (json{{"@type", "checkAuthenticationCode"}, {"code", kCode}}));
  engine_.emit({{"@type", "authorizationStateReady"}});
  ASSERT_TRUE(run_until([&] { return status_of(m, id) == SessionStatus::authorized; }));
  EXPECT_EQ(store_.get_session("acme", id)->state, store::SessionState::authorized);
  EXPECT_EQ(phone_metrics_.created->value(), 1);
  EXPECT_EQ(phone_metrics_.authorized->value(), 1);
  EXPECT_EQ(phone_metrics_.code_sent->value(), 1);
  EXPECT_EQ(phone_metrics_.code_accepted->value(), 1);
  EXPECT_EQ(metrics_.qr_created.value(), 0);  // the seed's QR family stays QR-only

  ASSERT_TRUE(run_until([&] { return find_span(spans(), "tgpulse_phone_login") != nullptr; }));
  auto all = spans();
  const auto* root = find_span(all, "tgpulse_phone_login");
  EXPECT_EQ(root->context.trace_id_hex(), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(root->parent_span_id, parent->span_id);
  EXPECT_EQ(attr(*root, "tgpulse.phone_login.outcome"), "authorized");
  for (const char* child : {"telethon_connect", "tgpulse_phone_number", "tgpulse_phone_code"}) {
    const auto* s = find_span(all, child);
    ASSERT_NE(s, nullptr) << child;
    EXPECT_EQ(s->parent_span_id, root->context.span_id) << child;
    EXPECT_EQ(attr(*s, "telethon.operation"), "phone_login");
    EXPECT_EQ(attr(*s, "telethon.tenant_id"), "acme");
    EXPECT_EQ(attr(*s, "telethon.session_id"), id);
  }
  EXPECT_EQ(attr(*find_span(all, "tgpulse_phone_code"), "tgpulse.phone_login.code_type"), "telegram_message");
  ASSERT_EQ(log_lines("Phone login code sent").size(), 1u);
  EXPECT_EQ(log_lines("Phone login code sent")[0]["sessions.code_type"], "telegram_message");
  expect_no_secrets();
}

TEST_F(PhoneLoginTest, WithoutANumberTheLoginWaitsForOne) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m, std::nullopt);
  EXPECT_EQ(created.view.status, SessionStatus::phone_number_required);
  EXPECT_EQ(created.view.authorization_state, "authorizationStateWaitPhoneNumber");
  auto session = m.find("acme", created.view.id);
  // A code before the number is a conflict, and nothing reaches the engine.
  auto early = run(m.submit_code(session, kCode));
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, Errc::conflict);
  ASSERT_TRUE(run(m.submit_phone_number(session, kNumber)).ok());
  ASSERT_TRUE(run_until([&] { return session->view().status == SessionStatus::code_required; }));
  // A second number once the code was sent is a conflict.
  Status again = run(m.submit_phone_number(session, kNumber));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::conflict);
  EXPECT_EQ(engine_.last().methods(), (std::vector<std::string>{"setTdlibParameters", "setAuthenticationPhoneNumber"}));
}

TEST_F(PhoneLoginTest, WrongAndExpiredCodesKeepTheLoginAndAreCounted) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m);
  auto session = m.find("acme", created.view.id);
  std::vector<std::string> events;
  auto [listener, first] = session->subscribe([&](const SessionEvent& e) {
    if (e.type == "code_rejected") events.push_back(e.data.value("reason", ""));
  });
  engine_.respond_with([](const json& r) -> std::optional<Result<json>> {
    if (r.value("@type", "") != "checkAuthenticationCode") return std::nullopt;
    if (r.value("code", "") == "00000") return Result<json>(td_error(400, "PHONE_CODE_EXPIRED"));
    if (r.value("code", "") != kCode) return Result<json>(td_error(400, "PHONE_CODE_INVALID"));
    return std::nullopt;
  });
  auto wrong = run(m.submit_code(session, "11111"));
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(*wrong, PhoneLoginFlow::CodeAnswer::wrong);
  auto expired = run(m.submit_code(session, "00000"));
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, PhoneLoginFlow::CodeAnswer::expired);
  EXPECT_EQ(session->view().status, SessionStatus::code_required);
  auto right = run(m.submit_code(session, kCode));
  ASSERT_TRUE(right.ok());
  EXPECT_EQ(*right, PhoneLoginFlow::CodeAnswer::accepted);
  session->unsubscribe(listener);
  EXPECT_EQ(events, (std::vector<std::string>{"wrong", "expired"}));
  EXPECT_EQ(phone_metrics_.code_wrong->value(), 1);
  EXPECT_EQ(phone_metrics_.code_expired->value(), 1);
  EXPECT_EQ(phone_metrics_.code_accepted->value(), 1);
  expect_no_secrets();
}

TEST_F(PhoneLoginTest, CodeThenTwoFactorPassword) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m);
  auto session = m.find("acme", created.view.id);
  ASSERT_TRUE(run(m.submit_code(session, kCode)).ok());
  engine_.emit({{"@type", "authorizationStateWaitPassword"}, {"password_hint", "pet name"}});
  ASSERT_TRUE(run_until([&] { return session->view().status == SessionStatus::password_required; }));
  EXPECT_EQ(session->view().password_hint, "pet name");
  EXPECT_TRUE(session->view().code_info.is_null());
  EXPECT_EQ(store_.get_session("acme", created.view.id)->state, store::SessionState::password_required);
  ASSERT_TRUE(run(m.submit_password(session, "hunter2")).ok());
  engine_.emit({{"@type", "authorizationStateReady"}});
  ASSERT_TRUE(run_until([&] { return status_of(m, created.view.id) == SessionStatus::authorized; }));
  ASSERT_TRUE(run_until([&] { return find_span(spans(), "tgpulse_phone_password") != nullptr; }));
  EXPECT_EQ(phone_metrics_.authorized->value(), 1);
  EXPECT_EQ(all_logs().find("hunter2"), std::string::npos);
}

TEST_F(PhoneLoginTest, ResendSendsTheNextWayUntilThereIsNone) {
  SessionManager& m = manager();
  run(m.start());
  auto created = login(m);
  auto session = m.find("acme", created.view.id);
  ASSERT_TRUE(run(m.resend_code(session)).ok());
  ASSERT_TRUE(run_until([&] { return session->view().code_info.value("type", json()) == "sms"; }));
  EXPECT_TRUE(session->view().code_info["next_type"].is_null());
  EXPECT_EQ(phone_metrics_.code_resent->value(), 1);
  const std::size_t sent = engine_.last().sent.size();
  Status none = run(m.resend_code(session));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::conflict);
  EXPECT_EQ(engine_.last().sent.size(), sent);  // known in advance: not asked of Telegram
}

TEST_F(PhoneLoginTest, ARefusedNumberAtCreationLeavesNothingBehind) {
  SessionManager& m = manager();
  run(m.start());
  engine_.respond_with([](const json& r) -> std::optional<Result<json>> {
    if (r.value("@type", "") == "setAuthenticationPhoneNumber") return Result<json>(td_error(400, "PHONE_NUMBER_INVALID"));
    return std::nullopt;
  });
  auto created = run(m.create_phone_login("acme", std::string("+1 555 0100"), std::nullopt, std::chrono::milliseconds(500)));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, Errc::invalid_argument);
  EXPECT_NE(created.error().message.find("PHONE_NUMBER_INVALID"), std::string::npos);
  EXPECT_EQ(created.error().message.find("555"), std::string::npos);
  EXPECT_EQ(m.live_count(), 0u);
  ASSERT_TRUE(store_.list_all_sessions().ok());
  EXPECT_TRUE(store_.list_all_sessions()->empty());
  EXPECT_EQ(phone_metrics_.cancelled->value(), 1);
  EXPECT_EQ(phone_metrics_.failed->value(), 0);  // the tenant's input pages nobody
  EXPECT_EQ(log_lines("Session cleanup completed").at(0)["trigger"], "phone_refused");
}

TEST_F(PhoneLoginTest, PhoneNumberFloodIsAFloodWaitWithTheConfiguredRetryAfter) {
  SessionOptions o = options();
  o.phone_flood_retry_after_s = 1800;
  SessionManager& m = manager(o);
  run(m.start());
  auto created = login(m, std::nullopt);
  auto session = m.find("acme", created.view.id);
  engine_.respond_with([](const json& r) -> std::optional<Result<json>> {
    if (r.value("@type", "") == "setAuthenticationPhoneNumber") return Result<json>(td_error(400, "PHONE_NUMBER_FLOOD"));
    return std::nullopt;
  });
  Status st = run(m.submit_phone_number(session, kNumber));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::flood_wait);
  EXPECT_EQ(st.error().retry_after_s, 1800);
  EXPECT_EQ(session->view().status, SessionStatus::phone_number_required);  // another number may work
  EXPECT_EQ(phone_metrics_.code_flood_limited->value(), 1);
  expect_no_secrets();
}

TEST_F(PhoneLoginTest, TheDeadlineExpiresTheLoginAndCleansUp) {
  SessionOptions o = options();
  o.phone_timeout = std::chrono::seconds(300);
  SessionManager& m = manager(o);
  run(m.start());
  auto created = login(m);
  clock_.advance(std::chrono::seconds(299));
  io_.run_for(std::chrono::milliseconds(30));
  EXPECT_EQ(status_of(m, created.view.id), SessionStatus::code_required);
  clock_.advance(std::chrono::seconds(2));
  ASSERT_TRUE(run_until([&] { return m.find("acme", created.view.id) == nullptr; }));
  EXPECT_EQ(phone_metrics_.expired->value(), 1);
  EXPECT_EQ(metrics_.qr_timeout.value(), 0);
  auto lines = log_lines("Phone login timeout");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["log.level"], "warn");
  EXPECT_EQ(lines[0]["session_id"], created.view.id);
  EXPECT_GE(lines[0]["duration"].get<double>(), 300.0);
  EXPECT_EQ(log_lines("Session cleanup completed").at(0)["trigger"], "phone_expired");
  EXPECT_FALSE(store_.find_session(created.view.id).ok());
  expect_no_secrets();
}

TEST_F(PhoneLoginTest, StepsTgpulseDoesNotDoAreRefusedWithAReason) {
  SessionManager& m = manager();
  run(m.start());
  for (const char* state : {"authorizationStateWaitRegistration", "authorizationStateWaitEmailAddress",
                            "authorizationStateWaitPremiumPurchase"}) {
    auto created = login(m);
    auto session = m.find("acme", created.view.id);
    ASSERT_TRUE(run(m.submit_code(session, kCode)).ok());
    std::string reason;
    auto [listener, first] = session->subscribe([&](const SessionEvent& e) {
      if (e.type == "failed") reason = e.data.value("error", "");
    });
    engine_.emit({{"@type", state}});
    ASSERT_TRUE(run_until([&] { return m.find("acme", created.view.id) == nullptr; })) << state;
    EXPECT_EQ(reason.rfind("refused: ", 0), 0u) << state << ": " << reason;
  }
  EXPECT_EQ(phone_metrics_.refused->value(), 3);
  EXPECT_EQ(phone_metrics_.failed->value(), 0);
}

TEST_F(PhoneLoginTest, CancelAndShutdownAreCountedApart) {
  SessionManager& m = manager();
  run(m.start());
  auto cancelled = login(m);
  ASSERT_TRUE(run(m.cancel_login(m.find("acme", cancelled.view.id), std::nullopt)).ok());
  EXPECT_EQ(m.find("acme", cancelled.view.id), nullptr);
  EXPECT_EQ(phone_metrics_.cancelled->value(), 1);
  EXPECT_EQ(log_lines("Session cleanup completed").at(0)["trigger"], "phone_cancelled");
  auto interrupted = login(m);
  run(m.stop());
  EXPECT_EQ(phone_metrics_.interrupted->value(), 1);
  EXPECT_FALSE(store_.find_session(interrupted.view.id).ok());
  EXPECT_EQ(metrics_.qr_interrupted.value() + metrics_.qr_cancelled.value(), 0);
}

TEST_F(PhoneLoginTest, ARestartCleansAnInterruptedPhoneLogin) {
  store::SessionRecord r;
  r.session_id = "s_PPPPPPPPPPPPPPPPPPPPPP";
  r.tenant_id = "acme";
  r.state = store::SessionState::phone_pending;
  r.engine_dir = data_dir_ + "/sessions/" + r.session_id;
  r.db_key = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=";
  r.page_key_hash = store::TenantTokens::hash_token("page");
  ASSERT_TRUE(store_.create_session(r).ok());
  SessionManager& m = manager();
  auto report = run(m.start());
  EXPECT_EQ(report.interrupted_logins, 1);
  EXPECT_EQ(phone_metrics_.interrupted->value(), 1);
  EXPECT_EQ(metrics_.qr_interrupted.value(), 0);
  EXPECT_FALSE(store_.find_session(r.session_id).ok());
}

TEST(PhoneCodeInfoTest, TheViewKeepsTheWayAndDropsTheNumber) {
  json info = {{"@type", "authenticationCodeInfo"},
               {"phone_number", "+99966 2 1234"},
               {"type", {{"@type", "authenticationCodeTypeFlashCall"}, {"pattern", "+99966*"}}},
               {"next_type", {{"@type", "authenticationCodeTypeMissedCall"}, {"phone_number_prefix", "+7"}, {"length", 4}}},
               {"timeout", 120}};
  EXPECT_EQ(PhoneLoginFlow::code_info_view(info),
            (json{{"type", "flash_call"}, {"length", nullptr}, {"next_type", "missed_call"}, {"timeout", 120}}));
  // Hostile or malformed replies: bounded, never copied through.
  EXPECT_EQ(PhoneLoginFlow::code_info_view(json("x")),
            (json{{"type", nullptr}, {"length", nullptr}, {"next_type", nullptr}, {"timeout", nullptr}}));
  json odd = {{"type", {{"@type", "authenticationCodeType<script>"}, {"length", -1}}},
              {"next_type", {{"@type", std::string(200, 'a')}}},
              {"timeout", "60"}};
  EXPECT_EQ(PhoneLoginFlow::code_info_view(odd),
            (json{{"type", nullptr}, {"length", nullptr}, {"next_type", nullptr}, {"timeout", nullptr}}));
}

}  // namespace
}  // namespace tgpulse::session
