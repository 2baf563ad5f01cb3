#include "session/session_cleanup.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>
#include <vector>

#include "session/flood_policy_send.h"
#include "telemetry/flood_wait_reporter.h"

namespace asio = boost::asio;
namespace fs = std::filesystem;
using nlohmann::json;

namespace tgpulse::session {

namespace {

double seconds_between(Clock::TimePoint a, Clock::TimePoint b) {
  return std::chrono::duration<double>(b - a).count();
}

fs::path data_root(const std::string& data_dir) {
  std::error_code ec;
  fs::path root = fs::absolute(data_dir, ec);
  if (ec) root = data_dir;
  return root.lexically_normal();
}

// "20261202T010203.456Z": sorts by time, no ':' (safe in every shell and file manager).
std::string quarantine_stamp(Clock::WallTime t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const time_t secs = static_cast<time_t>(ms / 1000);
  struct tm utc {};
  gmtime_r(&secs, &utc);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

// The names of the entries directly under `root` (empty when it does not exist).
Result<std::vector<std::string>> entries_of(const fs::path& root) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(root, ec)) return out;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    out.push_back(it->path().filename().string());
  }
  if (ec) return Error(Errc::internal, "listing " + root.string() + ": " + ec.message());
  return out;
}

}  // namespace

Error SessionCleanup::failure_for_client(Error cause, bool data_left, const SessionOptions& options) {
  if (data_left) {
    cause.message = "cleanup failed: " + cause.message + "; the session's data is still there and its cleanup is "
                    "queued for a retry";
    if (cause.retry_after_s <= 0) {
      const auto initial = std::chrono::ceil<std::chrono::seconds>(options.safety.cleanup_retry_initial);
      cause.retry_after_s = static_cast<int>(std::max<std::int64_t>(1, initial.count()));
    }
  } else {
    cause.message = "cleanup failed: " + cause.message + "; the session's local data was removed";
  }
  return cause;
}

std::string SessionCleanup::sessions_root(const SessionOptions& options) {
  return (data_root(options.data_dir) / "sessions").string();
}

std::string SessionCleanup::quarantine_root(const SessionOptions& options) {
  return (data_root(options.data_dir) / "quarantine").string();
}

Status SessionCleanup::check_store_accounts_for_data(store::SessionStore& store, const SessionOptions& options) {
  Result<std::vector<store::SessionRecord>> all = store.list_all_sessions();
  if (!all) return Error(Errc::store_error, "listing session records: " + all.error().message);
  if (!all->empty() || options.safety.accept_empty_store) return {};
  const std::string sessions_dir = sessions_root(options);
  Result<std::vector<std::string>> entries = entries_of(sessions_dir);
  if (!entries) return entries.error();
  if (entries->empty()) return {};
  return Error(Errc::conflict,
               "the session store holds no session record, but " + sessions_dir + " holds " +
                   std::to_string(entries->size()) +
                   " session director" + (entries->size() == 1 ? "y" : "ies") +
                   ": the database is new, emptied or replaced (wrong store.data_dir, a restored or deleted "
                   "tgpulse.db?). Nothing was deleted or moved. Put the right database back, or start once "
                   "with store.accept_empty_store=true (--accept-empty-store true, TGPULSE_STORE_ACCEPT_EMPTY=true) "
                   "to move those directories to " + quarantine_root(options) + "/<time>/ and start empty");
}

asio::awaitable<Status> SessionCleanup::resume(std::string session_id, std::string trigger_name, bool logout,
                                               int attempt) {
  auto job = [this, id = std::move(session_id), trigger_name = std::move(trigger_name), logout, attempt] {
    return resume_blocking(id, trigger_name, logout, attempt);
  };
  asio::awaitable<Status> resuming = blocking_call(services_.blocking, std::move(job));
  co_return co_await std::move(resuming);
}

Status SessionCleanup::resume_blocking(const std::string& session_id, const std::string& trigger_name, bool logout,
                                       int attempt) {
  Result<store::SessionRecord> found = services_.store.find_session(session_id);
  if (!found) {
    if (found.error().code == Errc::not_found) return {};  // nothing left of it
    return Error(Errc::store_error, "store: " + found.error().message);
  }
  store::SessionRecord record = std::move(*found);
  const auto started = services_.clock.now();
  telemetry::Span span = services_.tracer.start_span("telethon_session_cleanup");
  span.set_attribute("telethon.operation", std::string("session_cleanup"));
  span.set_attribute("telethon.tenant_id", record.tenant_id);
  span.set_attribute("telethon.session_id", record.session_id);
  span.set_attribute("telethon.cleanup.trigger", trigger_name);
  span.set_attribute("telethon.cleanup.attempt", static_cast<std::int64_t>(attempt));
  span.set_attribute("telethon.cleanup.resumed_from", std::string(store::session_state_name(record.state)));
  Status failure;
  if (!store::is_cleanup_state(record.state)) {
    store::SessionStateChange change;
    change.to = store::SessionState::cleanup_pending;
    change.cleanup_trigger = trigger_name;
    change.cleanup_logout = logout;
    failure = advance(record, change);
  }
  if (failure) failure = remove_local(record);
  report(record, trigger_name, failure, started, span);
  if (!failure) return failure_for_client(failure.error(), true, services_.options);
  return {};
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
  Status failure;  // the first step that failed
  std::optional<Error> engine_gone;  // the engine had closed the client (or stopped) when logOut/close was sent

  if (session) {
    session->publish([](SessionView& v) { v.status = SessionStatus::cleaning_up; });
  }
  if (!store::is_cleanup_state(record.state)) {
    store::SessionStateChange change;
    change.to = store::SessionState::cleanup_pending;
    change.cleanup_trigger = trigger_name;
    change.cleanup_logout = logout;
    asio::awaitable<Result<store::SessionRecord>> written = write_state(record.session_id, change);
    Result<store::SessionRecord> stored = co_await std::move(written);
    failure = adopt(record, std::move(stored));
  }
  if (failure && record.state == store::SessionState::cleanup_pending) {
    asio::awaitable<Result<store::SessionRecord>> written =
        write_state(record.session_id, {store::SessionState::cleanup_closing});
    Result<store::SessionRecord> stored = co_await std::move(written);
    failure = adopt(record, std::move(stored));
  }

  if (failure && session && session->client()) {
    const auto timeout = services_.options.engine_request_timeout;
    bool closed = session->view().authorization_state == "authorizationStateClosed";
    if (!closed) {
      // Under the FloodWait policy: logOut and close may be repeated, so a wait within the threshold is
      // slept and the call sent again (each within engine_request_timeout, all within close_timeout).
      auto flood_call = [&] {
        FloodPolicyCall call = FloodPolicyCall::make(services_, *session,
                                                     std::string(telemetry::floodwait_operation::kSessionCleanup),
                                                     services_.clock.now() + services_.options.close_timeout);
        call.timeout = timeout;
        call.trace = span.context();
        call.on_flood_wait = [&span](int seconds, double delay, int retries_done) {
          telemetry::FloodWaitReporter::mark_span(span, seconds, delay, retries_done);
        };
        return call;
      };
      const char* method = record.cleanup_logout ? "logOut" : "close";
      json request = {{"@type", method}};
      std::shared_ptr<Session> owner = session->shared_from_this();
      FloodPolicyCall call = flood_call();
      Result<json> answer = co_await send_with_flood_policy(owner, std::move(request), std::move(call));
      if (!answer && record.cleanup_logout) {
        // logOut is refused in some states (e.g. before authorization), or flood-limited beyond the
        // threshold; close still ends the client.
        json close = {{"@type", "close"}};
        FloodPolicyCall close_call = flood_call();
        answer = co_await send_with_flood_policy(owner, std::move(close), std::move(close_call));
      }
      // A timeout stays a timeout (504 to a client) and an engine error an engine error (502). A client
      // the engine already closed (unavailable) fails nothing by itself: authorizationStateClosed is
      // awaited below, and its absence is reported with this cause (503: the engine is down or closing).
      if (!answer && answer.error().code != Errc::unavailable) {
        Error cause = answer.error();  // keeps td_code and retry_after
        cause.message = "engine: " + cause.message;
        failure = std::move(cause);
      } else if (!answer) {
        engine_gone = answer.error();
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
    if (!closed && failure) {
      failure = engine_gone ? Error(Errc::unavailable, "engine: " + engine_gone->message)
                            : Error(Errc::timeout, "engine: the TDLib client did not close within close_timeout");
    }
  }
  if (session) session->drop_client();

  // The local data goes even when the engine step failed: the client is gone, nothing uses it. The
  // store writes and the directory walk run on the blocking pool, off the session's loop.
  auto remove_job = [this, removing = record]() mutable { return remove_local(removing); };
  asio::awaitable<Status> removal = blocking_call(services_.blocking, std::move(remove_job));
  Status removed = co_await std::move(removal);
  if (!removed && failure) failure = removed;

  const bool ok = failure.ok();
  report(record, trigger_name, failure, started, span);
  Status outcome = ok ? Status{} : Status(failure_for_client(failure.error(), !removed.ok(), services_.options));
  if (session) {
    session->publish([](SessionView& v) { v.status = SessionStatus::closed; },
                     SessionEvent{"closed", json{{"status", ok ? "success" : "failed"}}});
  }
  for (auto& done : joined) done(outcome);
  co_return outcome;
}

asio::awaitable<Result<store::SessionRecord>> SessionCleanup::write_state(std::string session_id,
                                                                           store::SessionStateChange change) {
  auto write = [store = &services_.store, id = std::move(session_id), change = std::move(change)] {
    return store->update_state(id, change);
  };
  asio::awaitable<Result<store::SessionRecord>> pending = blocking_call(services_.blocking, std::move(write));
  co_return co_await std::move(pending);
}

Status SessionCleanup::adopt(store::SessionRecord& record, Result<store::SessionRecord> stored) {
  if (!stored) {
    // A store that is busy or closing stays unavailable (503); anything else is the store failing.
    const Errc code = stored.error().code == Errc::unavailable ? Errc::unavailable : Errc::store_error;
    return Error(code, "store: " + stored.error().message);
  }
  record = std::move(*stored);
  return {};
}

Status SessionCleanup::advance(store::SessionRecord& record, const store::SessionStateChange& change) {
  return adopt(record, services_.store.update_state(record.session_id, change));
}

Status SessionCleanup::remove_local(store::SessionRecord& record) {
  if (record.state != store::SessionState::cleanup_removing) {
    if (Status st = advance(record, {store::SessionState::cleanup_removing}); !st) return st;
  }
  if (!record.engine_dir.empty()) {
    std::error_code ec;
    fs::remove_all(record.engine_dir, ec);
    if (ec) return Error(Errc::internal, "removing the database directory: " + ec.message());
  }
  if (Status st = services_.store.delete_session(record.session_id); !st && st.error().code != Errc::not_found) {
    return Error(st.error().code == Errc::unavailable ? Errc::unavailable : Errc::store_error,
                 "store: " + st.error().message);
  }
  return {};
}

void SessionCleanup::report(const store::SessionRecord& record, const std::string& trigger_name,
                            const Status& outcome, Clock::TimePoint started, telemetry::Span& span) {
  const bool ok = outcome.ok();
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
    span.set_status(telemetry::SpanStatus::error, outcome.error().message);
    services_.logger.warn("Session cleanup completed",
                          {{"duration", duration}, {"status", status}, {"tenant_id", record.tenant_id},
                           {"session_id", record.session_id}, {"trigger", trigger_name},
                           {"error.code", errc_name(outcome.error().code)},
                           {"error.message", outcome.error().message}},
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
  const bool store_empty = all->empty();
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
    const std::string trigger_name = r.cleanup_trigger.empty() ? trigger::kRestart : r.cleanup_trigger;
    if (!st) {
      ++out.failed;
      known_dirs.insert(fs::path(r.engine_dir).filename().string());
      out.failed_cleanups.push_back({r.session_id, trigger_name, r.cleanup_logout});
    }
    report(r, trigger_name, st, started, span);
  }

  const fs::path root(sessions_root());
  Result<std::vector<std::string>> entries = entries_of(root);
  if (!entries) {
    services_.logger.error("Session sweep could not list engine directories", {{"error.message", entries.error().message}});
    return out;
  }
  std::vector<std::string> unknown;
  for (std::string& name : *entries) {
    if (known_dirs.count(name) == 0) unknown.push_back(std::move(name));
  }
  if (unknown.empty()) return out;
  if (store_empty && !services_.options.safety.accept_empty_store) {
    // check_store_accounts_for_data() refuses this case first; should a caller skip it, nothing moves.
    services_.logger.error("Session sweep left directories without a record in place: the store is empty",
                           {{"file.directory", root.string()}, {"sessions.unknown", static_cast<std::int64_t>(unknown.size())}});
    return out;
  }
  const fs::path target = fs::path(quarantine_root()) / quarantine_stamp(services_.clock.wall());
  std::error_code ec;
  fs::create_directories(target, ec);
  if (ec) {
    out.quarantine_failed = static_cast<int>(unknown.size());
    services_.logger.error("Session sweep could not create the quarantine directory; directories without a record "
                           "were left in place",
                           {{"error.message", ec.message()}, {"file.directory", target.string()}});
    return out;
  }
  // It holds customers' authorizations: as private as the data directory, whatever the umask.
  fs::permissions(quarantine_root(), fs::perms::owner_all, fs::perm_options::replace, ec);
  fs::permissions(target, fs::perms::owner_all, fs::perm_options::replace, ec);
  out.quarantine_dir = target.string();
  for (const std::string& name : unknown) {
    std::error_code mv_ec;
    fs::rename(root / name, target / name, mv_ec);
    if (mv_ec) {
      ++out.quarantine_failed;
      services_.logger.error("Session sweep could not quarantine a directory without a record; left in place",
                             {{"error.message", mv_ec.message()}, {"file.path", (root / name).string()}});
      continue;
    }
    ++out.orphan_directories;
    services_.logger.warn("Session directory without a record quarantined",
                          {{"file.path", (root / name).string()}, {"file.target_path", (target / name).string()}});
  }
  return out;
}

}  // namespace tgpulse::session
