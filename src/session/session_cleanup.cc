#include "session/session_cleanup.h"

#include <filesystem>
#include <set>
#include <vector>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using nlohmann::json;

namespace tgpulse::session {

namespace {

double seconds_between(Clock::TimePoint a, Clock::TimePoint b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

std::string SessionCleanup::sessions_root() const {
  std::error_code ec;
  fs::path root = fs::absolute(services_.options.data_dir, ec);
  if (ec) root = services_.options.data_dir;
  return (root.lexically_normal() / "sessions").string();
}

asio::awaitable<Status> SessionCleanup::run(Session* session, store::SessionRecord record, std::string trigger_name,
                                            bool logout, const telemetry::SpanContext* parent) {
  const auto started = services_.clock.now();
  telemetry::Span span = services_.tracer.start_span("telethon_session_cleanup", parent);
  span.set_attribute("telethon.operation", std::string("session_cleanup"));
  span.set_attribute("telethon.tenant_id", record.tenant_id);
  span.set_attribute("telethon.session_id", record.session_id);
  span.set_attribute("telethon.cleanup.trigger", trigger_name);
  span.set_attribute("telethon.cleanup.logout", logout);

  std::vector<std::function<void(Status)>> joined;  // cleanup requests that arrived while running
  std::string failure;

  if (session) {
    session->publish([](SessionView& v) { v.status = SessionStatus::cleaning_up; });
  }
  if (!store::is_cleanup_state(record.state)) {
    store::SessionStateChange change;
    change.to = store::SessionState::cleanup_pending;
    change.cleanup_trigger = trigger_name;
    change.cleanup_logout = logout;
    failure = advance(record, change);
  }
  if (failure.empty() && record.state == store::SessionState::cleanup_pending) {
    failure = advance(record, {store::SessionState::cleanup_closing});
  }

  if (failure.empty() && session && session->client()) {
    const auto timeout = services_.options.engine_request_timeout;
    bool closed = session->view().authorization_state == "authorizationStateClosed";
    if (!closed) {
      const char* method = record.cleanup_logout ? "logOut" : "close";
      json request = {{"@type", method}};
      Result<json> answer = co_await session->client()->send(std::move(request), timeout);
      if (!answer && record.cleanup_logout) {
        // logOut is refused in some states (e.g. before authorization); close still ends the client.
        json close = {{"@type", "close"}};
        answer = co_await session->client()->send(std::move(close), timeout);
      }
      if (!answer && answer.error().code != Errc::unavailable) {
        failure = std::string("engine: ") + answer.error().message;
      }
    }
    const auto deadline = services_.clock.now() + services_.options.close_timeout;
    while (!closed) {
      std::optional<SessionSignal> s = co_await session->next_signal(deadline, services_.options.wake_interval);
      if (!s) break;
      if (s->kind == SessionSignal::Kind::authorization_state) {
        std::string type = s->state.value("@type", "");
        session->publish([&](SessionView& v) { v.authorization_state = type; });
        closed = type == "authorizationStateClosed";
      } else if (s->kind == SessionSignal::Kind::cleanup && s->done) {
        joined.push_back(std::move(s->done));
      }
    }
    if (!closed && failure.empty()) failure = "engine did not close within close_timeout";
  }
  if (session) session->drop_client();

  // The local data goes even when the engine step failed: the client is gone, nothing uses it.
  if (Status st = remove_local(record); !st && failure.empty()) failure = st.error().message;

  const bool ok = failure.empty();
  report(record, trigger_name, ok, failure, started, span);
  Status outcome = ok ? Status{} : Status(Error(Errc::internal, "cleanup failed: " + failure));
  if (session) {
    session->publish([](SessionView& v) { v.status = SessionStatus::closed; },
                     SessionEvent{"closed", json{{"status", ok ? "success" : "failed"}}});
  }
  for (auto& done : joined) done(outcome);
  co_return outcome;
}

std::string SessionCleanup::advance(store::SessionRecord& record, const store::SessionStateChange& change) {
  Result<store::SessionRecord> stored = services_.store.update_state(record.session_id, change);
  if (!stored) return "store: " + stored.error().message;
  record = std::move(*stored);
  return {};
}

Status SessionCleanup::remove_local(store::SessionRecord& record) {
  if (record.state != store::SessionState::cleanup_removing) {
    if (std::string f = advance(record, {store::SessionState::cleanup_removing}); !f.empty()) {
      return Error(Errc::store_error, f);
    }
  }
  if (!record.engine_dir.empty()) {
    std::error_code ec;
    fs::remove_all(record.engine_dir, ec);
    if (ec) return Error(Errc::internal, "removing the database directory: " + ec.message());
  }
  if (Status st = services_.store.delete_session(record.session_id); !st && st.error().code != Errc::not_found) {
    return Error(Errc::store_error, "store: " + st.error().message);
  }
  return {};
}

void SessionCleanup::report(const store::SessionRecord& record, const std::string& trigger_name, bool ok,
                            const std::string& error, Clock::TimePoint started, telemetry::Span& span) {
  const double duration = seconds_between(started, services_.clock.now());
  const char* status = ok ? "success" : "failed";
  (ok ? services_.metrics.session_cleanup_success : services_.metrics.session_cleanup_failed).inc();
  if (span.context().valid() && span.context().sampled()) {
    services_.metrics.session_cleanup_duration.observe(duration, span.context());
  } else {
    services_.metrics.session_cleanup_duration.observe(duration);
  }
  span.set_attribute("telethon.cleanup.status", std::string(status));
  if (ok) {
    span.set_status(telemetry::SpanStatus::ok);
    services_.logger.info("Session cleanup completed",
                          {{"duration", duration}, {"status", status}, {"tenant_id", record.tenant_id},
                           {"session_id", record.session_id}, {"trigger", trigger_name}},
                          &span.context());
  } else {
    span.set_status(telemetry::SpanStatus::error, error);
    services_.logger.warn("Session cleanup completed",
                          {{"duration", duration}, {"status", status}, {"tenant_id", record.tenant_id},
                           {"session_id", record.session_id}, {"trigger", trigger_name}, {"error.message", error}},
                          &span.context());
  }
  span.end();
}

SessionCleanup::SweepReport SessionCleanup::sweep_startup() {
  SweepReport out;
  Result<std::vector<store::SessionRecord>> all = services_.store.list_all_sessions();
  if (!all) {
    services_.logger.error("Session sweep could not list records", {{"error.message", all.error().message}});
    return out;
  }
  std::set<std::string> known_dirs;  // directory names (<id>) under sessions_root() that have a record
  for (store::SessionRecord& r : *all) {
    if (!store::is_cleanup_state(r.state)) {
      known_dirs.insert(fs::path(r.engine_dir).filename().string());
      continue;
    }
    const auto started = services_.clock.now();
    telemetry::Span span = services_.tracer.start_span("telethon_session_cleanup");
    span.set_attribute("telethon.operation", std::string("session_cleanup"));
    span.set_attribute("telethon.tenant_id", r.tenant_id);
    span.set_attribute("telethon.session_id", r.session_id);
    span.set_attribute("telethon.cleanup.trigger", r.cleanup_trigger);
    span.set_attribute("telethon.cleanup.resumed_from", std::string(store::session_state_name(r.state)));
    Status st = remove_local(r);
    ++out.finished;
    if (!st) {
      ++out.failed;
      known_dirs.insert(fs::path(r.engine_dir).filename().string());
    }
    report(r, r.cleanup_trigger.empty() ? trigger::kRestart : r.cleanup_trigger, st.ok(),
           st.ok() ? std::string() : st.error().message, started, span);
  }

  std::error_code ec;
  fs::path root(sessions_root());
  if (!fs::exists(root, ec)) return out;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::string dir = it->path().string();
    if (known_dirs.count(it->path().filename().string()) != 0) continue;
    std::error_code rm_ec;
    fs::remove_all(it->path(), rm_ec);
    if (rm_ec) {
      services_.logger.error("Session sweep could not remove an orphan engine directory",
                             {{"error.message", rm_ec.message()}, {"file.directory", dir}});
    } else {
      ++out.orphan_directories;
    }
  }
  if (ec) services_.logger.error("Session sweep could not list engine directories", {{"error.message", ec.message()}});
  return out;
}

}  // namespace tgpulse::session
