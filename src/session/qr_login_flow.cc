#include "session/qr_login_flow.h"

#include <algorithm>


#include "session/blocking_call.h"
#include "session/flood_policy_send.h"
#include "session/login_steps.h"
#include "telemetry/flood_wait_reporter.h"

namespace asio = boost::asio;
using nlohmann::json;

namespace tgpulse::session {

namespace {

void set_common(telemetry::Span& span, const Session& session) {
  login_steps::set_login_attributes(span, session, "qr_login");
}

// Sends requestQrCodeAuthentication under the FloodWait policy (a wait within the threshold is slept and
// the request sent again: starting a QR login twice is harmless); each FloodWait also reaches the flow as
// a signal, for its spans. Only a real error (not a timeout) reaches the flow, as a signal.
asio::awaitable<void> request_qr(std::shared_ptr<Session> session, FloodPolicyCall call) {
  call.signal_flood_waits_to(*session, "FloodWait on requestQrCodeAuthentication");
  json request = {{"@type", "requestQrCodeAuthentication"}, {"other_user_ids", json::array()}};
  Result<json> r = co_await send_with_flood_policy(session, std::move(request), std::move(call));
  if (!r && r.error().code != Errc::timeout) {
    SessionSignal s;
    s.kind = SessionSignal::Kind::request_failed;
    s.error = r.error();
    session->deliver(std::move(s));
  }
}

// The <ns>_qr_session_total{status} series of a login that neither authorized nor expired.
telemetry::Counter& ending_counter(const telemetry::TelethonMetrics& m, QrLoginFlow::Ending ending) {
  switch (ending) {
    case QrLoginFlow::Ending::cancelled: return m.qr_cancelled;
    case QrLoginFlow::Ending::declined: return m.qr_declined;
    case QrLoginFlow::Ending::interrupted: return m.qr_interrupted;
    default: return m.qr_failed;
  }
}

}  // namespace

asio::awaitable<QrLoginFlow::Outcome> QrLoginFlow::run(Session& session, store::SessionRecord& record,
                                                        Clock::TimePoint deadline,
                                                        std::optional<telemetry::SpanContext> parent) {
  const SessionOptions& o = services_.options;
  // The login started when its deadline was set (deadline = creation + qr_timeout), a moment before this
  // flow runs: measuring from here would make an expired login's duration fall just short of qr.timeout.
  const auto started = std::min(services_.clock.now(), deadline - o.qr_timeout);
  services_.metrics.qr_created.inc();

  telemetry::Span root = services_.tracer.start_span("telethon_qr_login", parent ? &*parent : nullptr);
  set_common(root, session);
  Outcome out;

  auto finish = [&](Ending ending, std::string reason) {
    out.ending = ending;
    out.status = login_steps::ending_status(ending == Ending::authorized, ending == Ending::expired);
    out.reason = std::move(reason);
  };

  // --- connect: client + setTdlibParameters ----------------------------------------------------
  asio::awaitable<Status> connecting = login_steps::traced_connect(services_, session, record, root, "qr_login");
  if (Status st = co_await std::move(connecting); !st) finish(Ending::failed, st.error().message);

  // --- generate: requestQrCodeAuthentication until the first link ------------------------------
  telemetry::Span generate;
  telemetry::Span wait;
  if (out.reason.empty()) {
    generate = services_.tracer.start_span("telethon_qr_generate", &root.context());
    set_common(generate, session);
    // The answer may never come (offline TDLib waits for the network forever): the deadline decides,
    // so only a real error ends the login.
    FloodPolicyCall call =
        FloodPolicyCall::make(services_, session, std::string(telemetry::floodwait_operation::kQrLogin), deadline);
    call.trace = generate.context();
    // Ends with its answer, its deadline or the engine's stop; the manager's stop() joins it.
    tasks_.spawn(session.strand(), "qr_request",
                 [owner = session.shared_from_this(), call = std::move(call)](TaskGroup::Stop) {
                   return request_qr(owner, call);
                 });
  }

  bool had_link = false;
  while (out.reason.empty()) {
    std::optional<SessionSignal> s = co_await session.next_signal(deadline, o.wake_interval);
    if (!s) {
      finish(Ending::expired, "expired");
      break;
    }
    if (s->kind == SessionSignal::Kind::cancel) {  // only the manager's stop() sends it
      finish(Ending::interrupted, "interrupted");
      break;
    }
    if (s->kind == SessionSignal::Kind::cleanup) {
      out.cleanup_request = std::move(*s);
      finish(Ending::cancelled, "cancelled");
      break;
    }
    if (s->kind == SessionSignal::Kind::flood_wait) {
      const int seconds = s->error.retry_after_s;
      telemetry::FloodWaitReporter::mark_span(had_link ? wait : generate, seconds, s->flood_delay, s->flood_retries);
      telemetry::FloodWaitReporter::mark_span(root, seconds, s->flood_delay, s->flood_retries);
      continue;
    }
    if (s->kind == SessionSignal::Kind::request_failed) {
      finish(Ending::failed, "engine: " + s->error.message);
      break;
    }
    const json& st = s->state;
    const std::string type = st.value("@type", "");
    session.publish([&](SessionView& v) { v.authorization_state = type; });
    if (type == "authorizationStateWaitOtherDeviceConfirmation") {
      std::string link = st.value("link", "");
      if (!had_link) {
        had_link = true;
        generate.set_status(telemetry::SpanStatus::ok);
        generate.end();
        wait = services_.tracer.start_span("telethon_qr_wait", &root.context());
        set_common(wait, session);
      }
      session.publish(
          [&](SessionView& v) {
            v.link = link;
            ++v.link_version;
          },
          SessionEvent{"link", json{{"link", link}}});
    } else if (type == "authorizationStateWaitPassword") {
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
    } else if (type == "authorizationStateWaitPhoneNumber" && had_link) {
      finish(Ending::declined, "declined");  // the scan was refused: back to the start
      break;
    } else if (type == "authorizationStateLoggingOut" || type == "authorizationStateClosing" ||
               type == "authorizationStateClosed") {
      finish(Ending::failed, "engine closed");
      break;
    }
  }
  if (!had_link && generate.recording()) {
    generate.set_status(telemetry::SpanStatus::error, out.reason);
  }
  generate.end();

  const double duration = std::chrono::duration<double>(services_.clock.now() - started).count();
  const SessionStatus final_status = out.status;
  const std::string reason = out.reason;
  auto now_wall = services_.clock.wall();
  switch (final_status) {
    case SessionStatus::authorized:
      services_.metrics.qr_authorized.inc();
      wait.set_status(telemetry::SpanStatus::ok);
      root.set_status(telemetry::SpanStatus::ok);
      login_steps::publish_authorized(session, now_wall);
      break;
    case SessionStatus::expired:
      services_.metrics.qr_expired.inc();
      services_.metrics.qr_timeout.inc();
      wait.set_status(telemetry::SpanStatus::error, "expired");
      root.set_status(telemetry::SpanStatus::error, "expired");
      services_.logger.warn("QR session timeout",
                            {{"tenant_id", session.tenant_id()}, {"session_id", session.id()},
                             {"duration", duration}},
                            &root.context());
      login_steps::publish_expired(session);
      break;
    default:
      ending_counter(services_.metrics, out.ending).inc();
      wait.set_status(telemetry::SpanStatus::error, reason);
      root.set_status(telemetry::SpanStatus::error, reason);
      services_.logger.info(out.ending == Ending::failed ? "QR login failed" : "QR login ended",
                            {{"tenant_id", session.tenant_id()}, {"session_id", session.id()},
                             {"duration", duration}, {"reason", reason}},
                            &root.context());
      login_steps::publish_failed(session, reason);
      break;
  }
  root.set_attribute("telethon.qr.outcome", std::string(session_status_name(final_status)));
  wait.end();
  root.end();
  co_return out;
}

asio::awaitable<Status> QrLoginFlow::submit_password(Session& session, std::string password, FloodPolicyCall call) {
  if (session.view().status != SessionStatus::password_required || session.client() == nullptr) {
    co_return Status(Errc::conflict, "the session is not waiting for a password");
  }
  json request = {{"@type", "checkAuthenticationPassword"}, {"password", std::move(password)}};
  call.may_retry = false;  // the end user submits again after the wait; a FloodWait is reported and answered
  std::shared_ptr<Session> owner = session.shared_from_this();
  Result<json> answer = co_await send_with_flood_policy(owner, std::move(request), std::move(call));
  if (answer) co_return Status{};
  const Error& e = answer.error();
  if (e.code == Errc::engine_error && e.td_code == 400) {
    session.publish([](SessionView& v) { v.error = "password is not correct"; },
                    SessionEvent{"password_rejected", json{{"error", "password is not correct"}}});
    co_return Status(Errc::invalid_argument, "password is not correct");
  }
  co_return Status(e);
}

}  // namespace tgpulse::session
