#include "session/login_steps.h"

#include "session/blocking_call.h"

namespace asio = boost::asio;
using nlohmann::json;

namespace tgpulse::session::login_steps {

json tdlib_parameters(const SessionOptions& o, const store::SessionRecord& record) {
  return json{{"@type", "setTdlibParameters"},
              {"use_test_dc", o.use_test_dc},
              {"database_directory", record.engine_dir},
              {"files_directory", record.engine_dir + "/files"},
              {"database_encryption_key", record.db_key},
              {"use_file_database", false},
              {"use_chat_info_database", false},
              {"use_message_database", false},
              {"use_secret_chats", false},
              {"api_id", o.api_id},
              {"api_hash", o.api_hash},
              {"system_language_code", o.system_language_code},
              {"device_model", o.device_model},
              {"system_version", o.system_version},
              {"application_version", o.application_version}};
}

asio::awaitable<Status> connect(const SessionServices& services, Session& session, const store::SessionRecord& record) {
  Result<std::unique_ptr<EngineClient>> client =
      services.engines.create({record.engine_dir, record.tenant_id, record.session_id});
  if (!client) co_return Error(client.error().code, "engine: " + client.error().message);
  session.set_client(std::move(*client));
  json parameters = tdlib_parameters(services.options, record);
  Result<json> answer = co_await session.client()->send(std::move(parameters), services.options.engine_request_timeout);
  if (!answer) co_return Error(answer.error().code, "engine: " + answer.error().message);
  // The proxy before anything reaches Telegram: the login itself goes through it.
  if (std::optional<ProxySpec> proxy = session.proxy_state().spec) {
    json add = {{"@type", "addProxy"}, {"proxy", proxy->td_proxy()}, {"enable", true}, {"comment", ""}};
    Result<json> added = co_await session.client()->send(std::move(add), services.options.engine_request_timeout);
    if (!added) co_return Error(added.error().code, "proxy: TDLib refused it: " + added.error().message);
    session.update_proxy_state([](Session::ProxyState& p) { p.applied = true; });
  }
  co_return Status{};
}

void set_login_attributes(telemetry::Span& span, const Session& session, const std::string& operation) {
  span.set_attribute("telethon.operation", operation);
  span.set_attribute("telethon.tenant_id", session.tenant_id());
  span.set_attribute("telethon.session_id", session.id());
}

asio::awaitable<Status> traced_connect(const SessionServices& services, Session& session,
                                       const store::SessionRecord& record, const telemetry::Span& root,
                                       std::string operation) {
  telemetry::Span span = services.tracer.start_span("telethon_connect", &root.context());
  set_login_attributes(span, session, operation);
  asio::awaitable<Status> connecting = connect(services, session, record);
  Status st = co_await std::move(connecting);
  if (!st) span.set_status(telemetry::SpanStatus::error, st.error().message);
  co_return st;
}

asio::awaitable<Status> store_password_required(const SessionServices& services, store::SessionRecord& record) {
  auto write = [store = &services.store, id = record.session_id] {
    return store->update_state(id, {store::SessionState::password_required});
  };
  asio::awaitable<Result<store::SessionRecord>> writing = blocking_call(services.blocking, std::move(write));
  Result<store::SessionRecord> u = co_await std::move(writing);
  if (!u) co_return Error(u.error().code, "store: " + u.error().message);
  record = std::move(*u);
  co_return Status{};
}

asio::awaitable<Status> store_authorized(const SessionServices& services, store::SessionRecord& record) {
  store::SessionStateChange change;
  change.to = store::SessionState::authorized;
  change.authorized_at_ms = unix_ms(services.clock.wall());
  // One pool job: the state, then last_used_at (a failed touch leaves the creation time, which only
  // makes the session idle sooner).
  auto write = [store = &services.store, id = record.session_id, change] {
    Result<store::SessionRecord> written = store->update_state(id, change);
    if (written) (void)store->touch_last_used(id, *change.authorized_at_ms);
    return written;
  };
  asio::awaitable<Result<store::SessionRecord>> writing = blocking_call(services.blocking, std::move(write));
  Result<store::SessionRecord> u = co_await std::move(writing);
  if (!u) co_return Error(u.error().code, "store: " + u.error().message);
  record = std::move(*u);
  co_return Status{};
}

void publish_password_required(Session& session, const std::string& hint) {
  session.publish(
      [&](SessionView& v) {
        v.status = SessionStatus::password_required;
        v.password_hint = hint;
        v.link.clear();
        v.code_info = nullptr;
      },
      SessionEvent{"password_required", json{{"password_hint", hint}}});
}

void publish_authorized(Session& session, Clock::WallTime now) {
  session.publish(
      [&](SessionView& v) {
        v.status = SessionStatus::authorized;
        v.authorized_at = now;
        v.last_used_at = now;
        v.link.clear();
        v.code_info = nullptr;
      },
      SessionEvent{"authorized", json::object()});
}

void publish_expired(Session& session) {
  session.publish(
      [](SessionView& v) {
        v.status = SessionStatus::expired;
        v.link.clear();
        v.code_info = nullptr;
      },
      SessionEvent{"expired", json::object()});
}

void publish_failed(Session& session, const std::string& reason) {
  session.publish(
      [&](SessionView& v) {
        v.status = SessionStatus::failed;
        v.error = reason;
        v.link.clear();
        v.code_info = nullptr;
      },
      SessionEvent{"failed", json{{"error", reason}}});
}

}  // namespace tgpulse::session::login_steps
