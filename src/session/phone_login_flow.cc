#include "session/phone_login_flow.h"

#include <algorithm>
#include <cctype>

#include "session/login_steps.h"
#include "session/session_cleanup.h"
#include "telemetry/flood_wait_reporter.h"

namespace asio = boost::asio;
using nlohmann::json;

namespace tgpulse::session {

namespace {

constexpr std::string_view kCodeTypePrefix = "authenticationCodeType";

void set_common(telemetry::Span& span, const Session& session) {
  login_steps::set_login_attributes(span, session, "phone_login");
}

void count(telemetry::Counter* c) {
  if (c != nullptr) c->inc();
}

// "authenticationCodeTypeTelegramMessage" → "telegram_message"; null for anything that is not such a
// type name of letters (a reply is input like any other: bounded before it is copied).
json code_type_name(const json& type) {
  if (!type.is_object()) return nullptr;
  auto t = type.find("@type");
  if (t == type.end() || !t->is_string()) return nullptr;
  const std::string& full = t->get_ref<const std::string&>();
  if (full.size() <= kCodeTypePrefix.size() || full.size() > 96 || full.compare(0, kCodeTypePrefix.size(), kCodeTypePrefix) != 0) {
    return nullptr;
  }
  std::string out;
  for (std::size_t i = kCodeTypePrefix.size(); i < full.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(full[i]);
    if (!std::isalpha(c)) return nullptr;
    if (std::isupper(c)) {
      if (!out.empty()) out += '_';
      out += static_cast<char>(std::tolower(c));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

json small_int(const json& o, const char* key) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(key);
  if (it == o.end() || !it->is_number_integer()) return nullptr;
  const auto v = it->get<std::int64_t>();
  return v >= 0 && v <= 1'000'000 ? json(v) : json(nullptr);
}

bool td_says(const Error& e, std::string_view what) {
  return e.code == Errc::engine_error && e.message.find(what) != std::string::npos;
}

// The FloodWait of a phone step: Telegram's FLOOD_WAIT comes back as Errc::flood_wait from the policy;
// PHONE_NUMBER_FLOOD (no wait of its own) becomes one with the configured Retry-After.
std::optional<Error> as_flood(const Error& e, int flood_retry_after_s, const telemetry::PhoneLoginMetrics* m) {
  if (td_says(e, "PHONE_NUMBER_FLOOD")) {
    if (m != nullptr) count(m->code_flood_limited);
    return Error::flood(flood_retry_after_s,
                        "Telegram refuses to send more codes to this phone number for now (PHONE_NUMBER_FLOOD)");
  }
  if (e.code == Errc::flood_wait) return e;
  return std::nullopt;
}

// Telegram's reason, when it is one of its upper-case error names ("PHONE_NUMBER_INVALID"); else "".
std::string td_reason(const Error& e) {
  std::string_view m = e.message;
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (std::isupper(static_cast<unsigned char>(m[i])) && (i == 0 || !std::isalnum(static_cast<unsigned char>(m[i - 1])))) {
      std::size_t j = i;
      while (j < m.size() && (std::isupper(static_cast<unsigned char>(m[j])) || m[j] == '_' ||
                              std::isdigit(static_cast<unsigned char>(m[j])))) {
        ++j;
      }
      if (j - i >= 6 && j - i <= 64 && m.substr(i, j - i).find('_') != std::string_view::npos) {
        return std::string(m.substr(i, j - i));
      }
      i = j;
    }
  }
  return {};
}

}  // namespace

json PhoneLoginFlow::code_info_view(const json& info) {
  json out = {{"type", nullptr}, {"length", nullptr}, {"next_type", nullptr}, {"timeout", nullptr}};
  if (!info.is_object()) return out;
  if (auto t = info.find("type"); t != info.end()) {
    out["type"] = code_type_name(*t);
    out["length"] = small_int(*t, "length");
  }
  if (auto n = info.find("next_type"); n != info.end()) out["next_type"] = code_type_name(*n);
  out["timeout"] = small_int(info, "timeout");
  return out;
}

asio::awaitable<PhoneLoginFlow::Outcome> PhoneLoginFlow::run(Session& session, store::SessionRecord& record,
                                                              Clock::TimePoint deadline,
                                                              std::optional<telemetry::SpanContext> parent) {
  const SessionOptions& o = services_.options;
  const telemetry::PhoneLoginMetrics* m = services_.phone_metrics;
  const auto started = std::min(services_.clock.now(), deadline - o.phone_timeout);
  if (m != nullptr) count(m->created);

  telemetry::Span root = services_.tracer.start_span("tgpulse_phone_login", parent ? &*parent : nullptr);
  set_common(root, session);
  Outcome out;
  auto finish = [&](Ending ending, std::string reason) {
    out.ending = ending;
    out.status = login_steps::ending_status(ending == Ending::authorized, ending == Ending::expired);
    out.reason = std::move(reason);
  };

  asio::awaitable<Status> connecting = login_steps::traced_connect(services_, session, record, root, "phone_login");
  if (Status st = co_await std::move(connecting); !st) finish(Ending::failed, st.error().message);

  // The step's span: tgpulse_phone_number until a code was sent, tgpulse_phone_code until it was
  // accepted, tgpulse_phone_password while 2FA is asked.
  telemetry::Span step;
  std::string step_name;
  auto enter = [&](const char* name) {
    if (step_name == name) return;
    if (step.recording()) {
      step.set_status(telemetry::SpanStatus::ok);
      step.end();
    }
    step = services_.tracer.start_span(name, &root.context());
    set_common(step, session);
    step_name = name;
  };
  if (out.reason.empty()) enter("tgpulse_phone_number");

  while (out.reason.empty()) {
    std::optional<SessionSignal> s = co_await session.next_signal(deadline, o.wake_interval);
    if (!s) {
      finish(Ending::expired, "expired");
      break;
    }
    if (s->kind == SessionSignal::Kind::cancel) {
      finish(Ending::interrupted, "interrupted");
      break;
    }
    if (s->kind == SessionSignal::Kind::cleanup) {
      const std::string cause = s->error.message;
      const std::string how = s->trigger;
      out.cleanup_request = std::move(*s);
      if (how == trigger::kPhoneCodeAttempts) {
        finish(Ending::code_attempts, "too many wrong codes or refused phone numbers");
      } else if (how == trigger::kPhoneRefused) {
        finish(Ending::cancelled, cause.empty() ? "the phone number was refused" : cause);
      } else if (how == trigger::kPhoneFailed) {
        finish(Ending::failed, cause.empty() ? "the phone number could not be sent" : cause);
      } else {
        finish(Ending::cancelled, "cancelled");
      }
      break;
    }
    if (s->kind == SessionSignal::Kind::flood_wait) {
      const int seconds = s->error.retry_after_s;
      telemetry::FloodWaitReporter::mark_span(step, seconds, s->flood_delay, s->flood_retries);
      telemetry::FloodWaitReporter::mark_span(root, seconds, s->flood_delay, s->flood_retries);
      continue;
    }
    if (s->kind != SessionSignal::Kind::authorization_state) continue;
    const json& st = s->state;
    const std::string type = st.value("@type", "");
    session.publish([&](SessionView& v) { v.authorization_state = type; });
    if (type == "authorizationStateWaitPhoneNumber") {
      enter("tgpulse_phone_number");
      session.publish(
          [](SessionView& v) {
            v.status = SessionStatus::phone_number_required;
            v.code_info = nullptr;
          },
          SessionEvent{"phone_number_required", json::object()});
    } else if (type == "authorizationStateWaitCode") {
      json info = code_info_view(st.contains("code_info") ? st["code_info"] : json());
      enter("tgpulse_phone_code");
      if (info["type"].is_string()) step.set_attribute("tgpulse.phone_login.code_type", info["type"].get<std::string>());
      services_.logger.info("Phone login code sent",
                            {{"tenant_id", session.tenant_id()}, {"session_id", session.id()},
                             {"sessions.code_type", info["type"].is_string() ? info["type"].get<std::string>() : std::string()}},
                            &root.context());
      session.publish(
          [&](SessionView& v) {
            v.status = SessionStatus::code_required;
            v.code_info = info;
          },
          SessionEvent{"code_required", json{{"code_info", info}}});
    } else if (type == "authorizationStateWaitPassword") {
      enter("tgpulse_phone_password");
      std::string hint = st.value("password_hint", "");
      asio::awaitable<Status> storing = login_steps::store_password_required(services_, record);
      if (Status stored = co_await std::move(storing); !stored) {
        finish(Ending::failed, stored.error().message);
        break;
      }
      login_steps::publish_password_required(session, hint);
    } else if (type == "authorizationStateReady") {
      asio::awaitable<Status> storing = login_steps::store_authorized(services_, record);
      if (Status stored = co_await std::move(storing); !stored) {
        finish(Ending::failed, stored.error().message);
        break;
      }
      finish(Ending::authorized, "");
      break;
    } else if (type == "authorizationStateWaitRegistration") {
      finish(Ending::refused, "refused: the phone number has no Telegram account, and tgpulse does not register one");
      break;
    } else if (type == "authorizationStateWaitEmailAddress" || type == "authorizationStateWaitEmailCode") {
      finish(Ending::refused, "refused: Telegram asks to set up a login e-mail address, which tgpulse does not do");
      break;
    } else if (type == "authorizationStateWaitPremiumPurchase") {
      finish(Ending::refused, "refused: Telegram asks for a Telegram Premium purchase to log in");
      break;
    } else if (type == "authorizationStateWaitOtherDeviceConfirmation") {
      finish(Ending::refused, "refused: Telegram asks to confirm the login on another device (use a QR login)");
      break;
    } else if (type == "authorizationStateLoggingOut" || type == "authorizationStateClosing" ||
               type == "authorizationStateClosed") {
      finish(Ending::failed, "engine closed");
      break;
    }
  }

  const double duration = std::chrono::duration<double>(services_.clock.now() - started).count();
  const std::string reason = out.reason;
  switch (out.ending) {
    case Ending::authorized:
      if (m != nullptr) count(m->authorized);
      step.set_status(telemetry::SpanStatus::ok);
      root.set_status(telemetry::SpanStatus::ok);
      login_steps::publish_authorized(session, services_.clock.wall());
      break;
    case Ending::expired:
      if (m != nullptr) count(m->expired);
      step.set_status(telemetry::SpanStatus::error, "expired");
      root.set_status(telemetry::SpanStatus::error, "expired");
      services_.logger.warn("Phone login timeout",
                            {{"tenant_id", session.tenant_id()}, {"session_id", session.id()}, {"duration", duration}},
                            &root.context());
      login_steps::publish_expired(session);
      break;
    default: {
      if (m != nullptr) {
        count(out.ending == Ending::cancelled     ? m->cancelled
              : out.ending == Ending::interrupted ? m->interrupted
              : out.ending == Ending::refused     ? m->refused
              : out.ending == Ending::code_attempts ? m->code_attempts
                                                  : m->failed);
      }
      step.set_status(telemetry::SpanStatus::error, reason);
      root.set_status(telemetry::SpanStatus::error, reason);
      services_.logger.info(out.ending == Ending::failed ? "Phone login failed" : "Phone login ended",
                            {{"tenant_id", session.tenant_id()}, {"session_id", session.id()},
                             {"duration", duration}, {"reason", reason}},
                            &root.context());
      login_steps::publish_failed(session, reason);
      break;
    }
  }
  root.set_attribute("tgpulse.phone_login.outcome",
                     std::string(out.ending == Ending::authorized      ? "authorized"
                                 : out.ending == Ending::expired       ? "expired"
                                 : out.ending == Ending::cancelled     ? "cancelled"
                                 : out.ending == Ending::interrupted   ? "interrupted"
                                 : out.ending == Ending::refused       ? "refused"
                                 : out.ending == Ending::code_attempts ? "code_attempts"
                                                                       : "failed"));
  step.end();
  root.end();
  co_return out;
}

asio::awaitable<Status> PhoneLoginFlow::submit_phone_number(Session& session, std::string phone_number,
                                                           FloodPolicyCall call, int flood_retry_after_s,
                                                           const telemetry::PhoneLoginMetrics* m) {
  const SessionView v = session.view();
  if (v.status != SessionStatus::phone_number_required || session.client() == nullptr ||
      v.authorization_state != "authorizationStateWaitPhoneNumber") {
    co_return Status(Errc::conflict, std::string("the session is not waiting for a phone number (status ") +
                                         session_status_name(v.status) + ")");
  }
  json request = {{"@type", "setAuthenticationPhoneNumber"}, {"phone_number", std::move(phone_number)},
                  {"settings", nullptr}};
  call.may_retry = false;  // each send may send a code: the caller decides, after the wait
  std::shared_ptr<Session> owner = session.shared_from_this();
  Result<json> answer = co_await send_with_flood_policy(owner, std::move(request), std::move(call));
  if (answer) {
    if (m != nullptr) count(m->code_sent);
    co_return Status{};
  }
  const Error& e = answer.error();
  if (std::optional<Error> flood = as_flood(e, flood_retry_after_s, m)) co_return std::move(*flood);
  if (e.code == Errc::engine_error && e.td_code == 400) {
    std::string why = td_reason(e);
    co_return Status(Errc::invalid_argument,
                     "Telegram refused the phone number" + (why.empty() ? std::string() : " (" + why + ")"));
  }
  co_return Status(e);
}

asio::awaitable<Result<PhoneLoginFlow::CodeAnswer>> PhoneLoginFlow::submit_code(Session& session, std::string code,
                                                                                FloodPolicyCall call,
                                                                                const telemetry::PhoneLoginMetrics* m) {
  const SessionView v = session.view();
  if (v.status != SessionStatus::code_required || session.client() == nullptr) {
    co_return Error(Errc::conflict, std::string("the session is not waiting for a code (status ") +
                                        session_status_name(v.status) + ")");
  }
  json request = {{"@type", "checkAuthenticationCode"}, {"code", std::move(code)}};
  call.may_retry = false;
  std::shared_ptr<Session> owner = session.shared_from_this();
  Result<json> answer = co_await send_with_flood_policy(owner, std::move(request), std::move(call));
  if (answer) {
    if (m != nullptr) count(m->code_accepted);
    co_return CodeAnswer::accepted;
  }
  const Error& e = answer.error();
  if (e.code == Errc::flood_wait) co_return e;
  if (td_says(e, "PHONE_CODE_EXPIRED")) {
    if (m != nullptr) count(m->code_expired);
    session.publish({}, SessionEvent{"code_rejected", json{{"error", "the code has expired; ask for a new one"},
                                                           {"reason", "expired"}}});
    co_return CodeAnswer::expired;
  }
  if (e.code == Errc::engine_error && e.td_code == 400) {  // PHONE_CODE_INVALID, PHONE_CODE_EMPTY
    if (m != nullptr) count(m->code_wrong);
    session.publish({}, SessionEvent{"code_rejected", json{{"error", "the code is not correct"}, {"reason", "wrong"}}});
    co_return CodeAnswer::wrong;
  }
  co_return e;
}

asio::awaitable<Status> PhoneLoginFlow::resend_code(Session& session, FloodPolicyCall call, int flood_retry_after_s,
                                                   const telemetry::PhoneLoginMetrics* m) {
  const SessionView v = session.view();
  if (v.status != SessionStatus::code_required || session.client() == nullptr) {
    co_return Status(Errc::conflict, std::string("the session is not waiting for a code (status ") +
                                         session_status_name(v.status) + ")");
  }
  if (v.code_info.is_object() && v.code_info.contains("next_type") && v.code_info["next_type"].is_null()) {
    co_return Status(Errc::conflict, "Telegram offers no other way to send the code (code_info.next_type is null)");
  }
  json request = {{"@type", "resendAuthenticationCode"}};
  call.may_retry = false;
  std::shared_ptr<Session> owner = session.shared_from_this();
  Result<json> answer = co_await send_with_flood_policy(owner, std::move(request), std::move(call));
  if (answer) {
    if (m != nullptr) count(m->code_resent);
    co_return Status{};
  }
  const Error& e = answer.error();
  if (std::optional<Error> flood = as_flood(e, flood_retry_after_s, m)) co_return std::move(*flood);
  if (e.code == Errc::engine_error && e.td_code == 400) {
    co_return Status(Errc::conflict, "Telegram cannot send the code another way: " + e.message);
  }
  co_return Status(e);
}

}  // namespace tgpulse::session
