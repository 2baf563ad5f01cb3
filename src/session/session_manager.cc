#include "session/session_manager.h"

#include <map>
#include <optional>

#include <filesystem>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/cancellable_sleep.h"
#include "core/time_format.h"
#include "session/login_steps.h"
#include "session/phone_login_flow.h"
#include "session/qr_login_flow.h"
#include "store/tenant_tokens.h"
#include "telemetry/flood_wait_reporter.h"

namespace asio = boost::asio;
namespace fs = std::filesystem;
using nlohmann::json;

namespace tgpulse::session {

namespace {

// A session that is authorized waits for signals this long between clock checks (it has no deadline).
constexpr std::chrono::milliseconds kMonitorWake = std::chrono::hours(1);

// A QR cancel that reached a session no longer in its login (authorized meanwhile, or restored): it
// must not drop an authorized session's data without logOut, so it is answered with a conflict naming
// the status. True when `s` was such a cancel (and is answered).
bool refuse_stale_qr_cancel(SessionSignal& s, SessionStatus status) {
  if (s.kind != SessionSignal::Kind::cleanup || !trigger::is_login_cancel(s.trigger)) return false;
  if (s.done) s.done(Status(Errc::conflict, SessionManager::not_a_login_message(status)));
  return true;
}

// A proxy's view before its first ping.
json proxy_view(const ProxySpec& p) {
  json v = p.view();
  v["status"] = {{"state", "unchecked"}, {"ping_ms", nullptr}, {"error", nullptr}, {"checked_at", nullptr}};
  return v;
}

// The session's live client, or the conflict of a session without one (its login ended, or a cleanup
// dropped it meanwhile).
Result<EngineClient*> live_client(Session& s) {
  EngineClient* c = s.client();
  if (c == nullptr) {
    return Error(Errc::conflict, "the session has no live TDLib client (status " +
                                     std::string(session_status_name(s.view().status)) + ")");
  }
  return c;
}

// The engine's error with what failed in front of its message; its td_code and retry_after stay (the
// answer's td_code, a FloodWait's Retry-After).
Error proxy_step_error(Error e, Errc code, std::string_view what) {
  e.code = code;
  e.message = std::string(what) + e.message;
  return e;
}

// PUT .../proxy on the session's strand: every proxy TDLib has goes, then `p` is added and enabled. The
// client is looked up again before each request: while one is awaited, a cleanup on the same strand may
// drop it.
asio::awaitable<void> replace_proxy(std::shared_ptr<Session> s, std::optional<ProxySpec> p,
                                    std::chrono::milliseconds timeout, std::shared_ptr<Status> result) {
  Result<EngineClient*> c = live_client(*s);
  if (!c) {
    *result = c.error();
    co_return;
  }
  json list = {{"@type", "getProxies"}};
  Result<json> listed = co_await (*c)->send(std::move(list), timeout);
  if (!listed) {
    *result = proxy_step_error(listed.error(), listed.error().code, "proxy: getProxies failed: ");
    co_return;
  }
  const json proxies = listed->value("proxies", json::array());
  for (const json& added : proxies) {
    if (!added.is_object() || !added.contains("id") || !added["id"].is_number_integer()) continue;
    c = live_client(*s);
    if (!c) {
      *result = c.error();
      co_return;
    }
    json remove = {{"@type", "removeProxy"}, {"proxy_id", added["id"]}};
    Result<json> removed = co_await (*c)->send(std::move(remove), timeout);
    if (!removed) {
      *result = proxy_step_error(removed.error(), removed.error().code, "proxy: removeProxy failed: ");
      co_return;
    }
  }
  s->update_proxy_state([](Session::ProxyState& st) {
    st.spec.reset();
    st.applied = false;
  });
  s->publish([](SessionView& v) { v.proxy = nullptr; });
  if (!p) co_return;
  c = live_client(*s);
  if (!c) {
    *result = c.error();
    co_return;
  }
  json add = {{"@type", "addProxy"}, {"proxy", p->td_proxy()}, {"enable", true}, {"comment", ""}};
  Result<json> added = co_await (*c)->send(std::move(add), timeout);
  if (!added) {
    const Errc code = added.error().code == Errc::engine_error ? Errc::invalid_argument : added.error().code;
    *result = proxy_step_error(added.error(), code, "proxy: TDLib refused it: ");
    co_return;
  }
  const ProxySpec applied = *p;
  s->update_proxy_state([&](Session::ProxyState& st) {
    st.spec = applied;
    st.applied = true;
    st.next_ping = {};
  });
  s->publish([&](SessionView& v) { v.proxy = proxy_view(applied); });
}

// "qr_request x2, session_run x1": the names of tasks that outlived a wait, counted, for one log field.
std::string count_names(const std::vector<std::string>& names) {
  std::map<std::string, int> by_name;
  for (const auto& n : names) ++by_name[n];
  std::string out;
  for (const auto& [n, count] : by_name) out += (out.empty() ? "" : ", ") + n + " x" + std::to_string(count);
  return out;
}

}  // namespace

SessionManager::SessionManager(asio::any_io_executor executor, SessionServices services)
    : executor_(executor),
      services_(std::move(services)),
      cleanup_(services_),
      idle_timer_(asio::make_strand(executor)),
      retries_(services_.clock, services_.options.safety.cleanup_retry_initial,
               services_.options.safety.cleanup_retry_max, services_.options.safety.cleanup_stuck_after),
      retry_timer_(asio::make_strand(executor)),
      proxy_timer_(asio::make_strand(executor)),
      tasks_("sessions", [this](const std::string& task, const std::string& what) {
        services_.logger.error("Session task failed", {{"task.name", task}, {"error.message", what}});
      }) {}

SessionManager::~SessionManager() = default;

asio::awaitable<SessionManager::StartReport> SessionManager::start() {
  StartReport report;
  if (services_.ownership != nullptr) {
    // In a cluster the records and the data directory are shared: nothing here is this node's until it
    // holds a lease. Sessions arrive through adopt() as the node claims them; the start-up sweep (which
    // would quarantine directories other nodes are creating) does not run.
    start_loops();
    services_.logger.info("Sessions started", {{"sessions.restored", 0}, {"cluster.enabled", true}});
    co_return report;
  }
  // The sweep (store calls, directory walks and renames) and the listing run on the blocking pool: the
  // manager's executor may already serve other work (the HTTP listener shares it in some deployments).
  auto sweep_job = [this] { return Result<SessionCleanup::SweepReport>(cleanup_.sweep_startup()); };
  asio::awaitable<Result<SessionCleanup::SweepReport>> sweeping = blocking_call(services_.blocking, std::move(sweep_job));
  if (Result<SessionCleanup::SweepReport> swept = co_await std::move(sweeping)) {
    report.sweep = std::move(*swept);
  } else {
    services_.logger.error("Session sweep could not run", {{"error.message", swept.error().message}});
  }
  quarantined_ += static_cast<std::uint64_t>(report.sweep.orphan_directories);
  for (const auto& f : report.sweep.failed_cleanups) co_await queue_retry(f.session_id, f.trigger, f.logout);
  auto list_job = [store = &services_.store] { return store->list_all_sessions(); };
  asio::awaitable<Result<std::vector<store::SessionRecord>>> listing =
      blocking_call(services_.blocking, std::move(list_job));
  Result<std::vector<store::SessionRecord>> all = co_await std::move(listing);
  if (!all) {
    services_.logger.error("Session restore could not list records", {{"error.message", all.error().message}});
  } else {
    for (store::SessionRecord& r : *all) {
      if (store::is_login_state(r.state)) {
        // The login's client and page key died with the previous process: it cannot finish. Not a
        // failure of the service (a deploy must not page anyone): counted as interrupted.
        if (r.state == store::SessionState::phone_pending) {
          if (services_.phone_metrics != nullptr) services_.phone_metrics->interrupted->inc();
        } else {
          services_.metrics.qr_interrupted.inc();  // password_required of a phone login counts here too
        }
        Status st = co_await cleanup_.run(nullptr, r, trigger::kRestart, false, nullptr);
        if (!st) co_await queue_retry(r.session_id, trigger::kRestart, false);  // counted and logged by the cleanup
        ++report.interrupted_logins;
      } else if (r.state == store::SessionState::authorized) {
        auto session = std::make_shared<Session>(executor_, services_.clock, r.session_id, r.tenant_id, "",
                                                 from_unix_ms(r.created_at_ms), from_unix_ms(r.created_at_ms));
        session->publish([&](SessionView& v) {
          v.status = SessionStatus::restoring;  // until the engine says Ready (or that it is gone)
          if (r.authorized_at_ms) v.authorized_at = from_unix_ms(*r.authorized_at_ms);
          v.last_used_at = from_unix_ms(r.last_used_at_ms);
        });
        {
          std::lock_guard lock(mu_);
          sessions_[r.session_id] = session;
        }
        // The manager joins its tasks in stop() and outlives them (see the header).
        tasks_.spawn(session->strand(), "session_run", [this, session, r](TaskGroup::Stop) {  // lint: joined-owner
          return run_session(session, r, Mode::restore, Clock::TimePoint::max(), std::nullopt);
        });
        ++report.restored;
      }
    }
  }
  start_loops();
  services_.logger.info("Sessions started",
                        {{"sessions.restored", report.restored},
                         {"sessions.interrupted_logins", report.interrupted_logins},
                         {"sessions.sweep.finished", report.sweep.finished},
                         {"sessions.sweep.failed", report.sweep.failed},
                         {"sessions.sweep.quarantined", report.sweep.orphan_directories},
                         {"sessions.sweep.quarantine_failed", report.sweep.quarantine_failed}});
  co_return report;
}

void SessionManager::start_loops() {
  if (services_.options.idle_ttl.count() > 0) {
    tasks_.spawn(idle_timer_.get_executor(), "idle_loop",
                 [this](TaskGroup::Stop) { return idle_loop(); });  // lint: joined-owner
  }
  tasks_.spawn(retry_timer_.get_executor(), "cleanup_retry_loop",
               [this](TaskGroup::Stop) { return retry_loop(); });  // lint: joined-owner
  if (services_.options.proxy_ping_interval.count() > 0) {
    tasks_.spawn(proxy_timer_.get_executor(), "proxy_ping_loop",
                 [this](TaskGroup::Stop) { return proxy_loop(); });  // lint: joined-owner
  }
}

bool SessionManager::adopt(store::SessionRecord r) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || sessions_.count(r.session_id) != 0) return false;
  }
  if (store::is_login_state(r.state) || store::is_cleanup_state(r.state)) {
    // A login whose node is gone cannot finish (its client and page key went with it): cleaned as an
    // interrupted login, as after a restart. A cleanup the node left half done is finished.
    if (store::is_login_state(r.state)) services_.metrics.qr_interrupted.inc();
    const std::string trigger_name = store::is_login_state(r.state) ? trigger::kRestart : r.cleanup_trigger;
    return tasks_.spawn(retry_timer_.get_executor(), "adopted_cleanup",
                        [this, r, trigger_name](TaskGroup::Stop) {  // lint: joined-owner
                          return finish_adopted(r, trigger_name);
                        });
  }
  // A directory this node cannot see (each node has its own volume, or the shared one is not mounted
  // here) is not this node's to open: a new TDLib database there would look like a lost authorization
  // and clean the session up. It stays where it is; its lease runs out and its own node can claim it.
  std::error_code ec;
  if (!std::filesystem::is_directory(r.engine_dir, ec)) {
    services_.logger.error("Session directory not reachable from this node: not taken over",
                           {{"tenant_id", r.tenant_id}, {"session_id", r.session_id}, {"file.path", r.engine_dir}});
    return false;
  }
  auto session = std::make_shared<Session>(executor_, services_.clock, r.session_id, r.tenant_id, "",
                                           from_unix_ms(r.created_at_ms), from_unix_ms(r.created_at_ms));
  session->publish([&](SessionView& v) {
    v.status = SessionStatus::restoring;
    if (r.authorized_at_ms) v.authorized_at = from_unix_ms(*r.authorized_at_ms);
    v.last_used_at = from_unix_ms(r.last_used_at_ms);
  });
  {
    std::lock_guard lock(mu_);
    if (stopping_ || sessions_.count(r.session_id) != 0) return false;
    sessions_[r.session_id] = session;
  }
  const bool started = tasks_.spawn(session->strand(), "session_run", [this, session, r](TaskGroup::Stop) {  // lint: joined-owner
    return run_session(session, r, Mode::restore, Clock::TimePoint::max(), std::nullopt);
  });
  if (!started) erase(r.session_id);
  return started;
}

asio::awaitable<void> SessionManager::finish_adopted(store::SessionRecord record, std::string trigger_name) {
  Status st = co_await cleanup_.run(nullptr, record, trigger_name, record.cleanup_logout, nullptr);
  if (!st) co_await queue_retry(record.session_id, trigger_name, record.cleanup_logout);
  if (services_.ownership != nullptr) services_.ownership->left(record.session_id, st.ok());
}

bool SessionManager::give_up(const std::string& session_id, std::string reason) {
  std::shared_ptr<Session> s;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return false;
    s = it->second;
  }
  SessionSignal sig;
  sig.kind = SessionSignal::Kind::cancel;
  sig.trigger = trigger::kLeaseLost;
  sig.error = Error(Errc::unavailable, std::move(reason));
  s->deliver(std::move(sig));
  return true;
}

std::vector<std::string> SessionManager::live_ids() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.reserve(sessions_.size());
  for (const auto& [id, s] : sessions_) out.push_back(id);
  return out;
}

asio::awaitable<void> SessionManager::close_engine(Session& session) {
  // The TDLib client is closed, not only dropped: its database directory (and the file lock on its
  // binlog) must be free before another node may open it.
  if (session.client() == nullptr || session.view().authorization_state == "authorizationStateClosed") co_return;
  json close = {{"@type", "close"}};
  Result<json> sent = co_await session.client()->send(std::move(close), services_.options.engine_request_timeout);
  if (sent) {
    const auto deadline = services_.clock.now() + services_.options.close_timeout;
    for (;;) {
      std::optional<SessionSignal> s = co_await session.next_signal(deadline, services_.options.wake_interval);
      if (!s) break;
      if (s->kind == SessionSignal::Kind::cleanup && s->done) {
        s->done(Status(Errc::unavailable, "the session is moving to another node; try again"));
        continue;
      }
      if (s->kind == SessionSignal::Kind::authorization_state &&
          s->state.value("@type", "") == "authorizationStateClosed") {
        session.publish([](SessionView& v) { v.authorization_state = "authorizationStateClosed"; });
        co_return;
      }
    }
  }
  services_.logger.error("Session client did not close", {{"tenant_id", session.tenant_id()},
                                                           {"session_id", session.id()},
                                                           {"error.message", sent ? std::string("no authorizationStateClosed in time")
                                                                                  : sent.error().message}});
}

asio::awaitable<std::vector<std::string>> SessionManager::stop() {
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (const auto& [id, s] : sessions_) live.push_back(s);
  }
  tasks_.request_stop("shutdown");
  // The loops check stopping_ before each wait, on the strand these cancels run on: none is lost.
  asio::post(idle_timer_.get_executor(), [this] { idle_timer_.cancel(); });
  asio::post(retry_timer_.get_executor(), [this] { retry_timer_.cancel(); });
  asio::post(proxy_timer_.get_executor(), [this] { proxy_timer_.cancel(); });
  // FloodWait sleeps of QR requests and password checks end now instead of holding the shutdown.
  cancel_sleeps(asio::query(executor_, asio::execution::context));
  for (const auto& s : live) {
    SessionSignal sig;
    sig.kind = SessionSignal::Kind::cancel;
    sig.trigger = "shutdown";
    s->deliver(std::move(sig));
  }
  const auto bound = services_.options.close_timeout + 2 * services_.options.engine_request_timeout;
  std::vector<std::string> outlived = co_await tasks_.join(bound);
  // The loops may end before the cancels posted above have run; each strand runs in order, so one more
  // turn on each means no handler holding `this` is left queued when the owner destroys the manager.
  co_await asio::post(idle_timer_.get_executor(), asio::use_awaitable);
  co_await asio::post(retry_timer_.get_executor(), asio::use_awaitable);
  co_await asio::post(proxy_timer_.get_executor(), asio::use_awaitable);
  if (!outlived.empty()) {
    services_.logger.warn("Session tasks outlived the shutdown wait",
                          {{"tasks.outlived", static_cast<std::int64_t>(outlived.size())},
                           {"tasks.names", count_names(outlived)},
                           {"shutdown.wait_ms", static_cast<std::int64_t>(bound.count())}});
  }
  co_return outlived;
}

asio::awaitable<Result<SessionManager::Created>> SessionManager::create_qr_login(
    std::string tenant_id, std::optional<telemetry::SpanContext> parent,
    std::chrono::milliseconds first_link_wait, std::optional<ProxySpec> proxy) {
  // Wait for the first link (or an outcome) so the answer usually carries the link.
  asio::awaitable<Result<Created>> starting =
      start_login(std::move(tenant_id), LoginMethod::qr, parent, first_link_wait, std::move(proxy));
  Result<Created> created = co_await std::move(starting);
  co_return created;
}

asio::awaitable<Result<SessionManager::Created>> SessionManager::create_phone_login(
    std::string tenant_id, std::optional<std::string> phone_number, std::optional<telemetry::SpanContext> parent,
    std::chrono::milliseconds first_wait, std::optional<ProxySpec> proxy) {
  asio::awaitable<Result<Created>> starting =
      start_login(std::move(tenant_id), LoginMethod::phone, parent, first_wait, std::move(proxy));
  Result<Created> created = co_await std::move(starting);
  if (!created || !phone_number) co_return created;
  std::shared_ptr<Session> session = find(created->view.tenant_id, created->view.id);
  if (!session) co_return created;  // ended already (shut down, or failed): the view says how
  // Failed before it could ask for the number (the engine refused the session's proxy): the view says
  // why, as for a QR login; the number was never sent.
  if (!is_login_status(created->view.status)) co_return created;
  asio::awaitable<Status> submitting = submit_phone_number(session, std::move(*phone_number), parent);
  if (Status st = co_await std::move(submitting); !st) {
    // The tenant asked for a login with this number and it could not be sent: nothing is left behind.
    // Telegram's refusal (a bad number, too many codes) is the tenant's input; anything else (no answer
    // in time, the engine away) fails the login.
    const bool refused = st.error().code == Errc::invalid_argument || st.error().code == Errc::flood_wait;
    asio::awaitable<Status> ending = cancel_login(session, parent, refused ? trigger::kPhoneRefused : trigger::kPhoneFailed,
                                                  "the phone number could not be sent: " + st.error().message);
    Status ended = co_await std::move(ending);
    (void)ended;  // conflict when it ended on its own meanwhile; either way it is over
    co_return std::move(st).error();
  }
  // The code request normally follows at once (TDLib reports WaitCode before it answers).
  asio::awaitable<SessionView> waiting = wait_view(
      session, [](const SessionView& v) { return v.status != SessionStatus::phone_number_required; }, first_wait);
  created->view = co_await std::move(waiting);
  co_return created;
}

asio::awaitable<Result<SessionManager::Created>> SessionManager::start_login(
    std::string tenant_id, LoginMethod method, std::optional<telemetry::SpanContext> parent,
    std::chrono::milliseconds wait, std::optional<ProxySpec> proxy) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) co_return Error(Errc::unavailable, "the service is shutting down");
  }
  const bool phone = method == LoginMethod::phone;
  Result<std::string> id = store::TenantTokens::generate_session_id();
  Result<std::string> key = store::TenantTokens::generate_db_key();
  Result<std::string> login_key = store::TenantTokens::generate_page_key();
  if (!id || !key || !login_key) co_return Error(Errc::internal, "the random source failed");
  const Clock::WallTime created_at = services_.clock.wall();
  store::SessionRecord record;
  record.session_id = std::move(*id);
  record.tenant_id = std::move(tenant_id);
  record.state = phone ? store::SessionState::phone_pending : store::SessionState::qr_pending;
  record.engine_dir = (fs::path(cleanup_.sessions_root()) / record.session_id).string();
  record.db_key = std::move(*key);
  record.page_key_hash = store::TenantTokens::hash_token(*login_key);
  record.created_at_ms = unix_ms(created_at);
  record.last_used_at_ms = record.created_at_ms;
  auto create_job = [store = &services_.store, stored = record] { return store->create_session(stored); };
  asio::awaitable<Status> creating = blocking_call(services_.blocking, std::move(create_job));
  if (Status st = co_await std::move(creating); !st) {
    if (st.error().code == Errc::unavailable) co_return std::move(st).error();  // 503: the store pool is full
    if (st.error().code == Errc::not_found) co_return Error(Errc::not_found, "no such tenant");
    co_return Error(Errc::store_error, "could not store the session: " + st.error().message);
  }
  if (services_.ownership != nullptr) {
    // In a cluster the session's directory is opened only under its lease (docs/scaling.md).
    auto lease_job = [ownership = services_.ownership, id = record.session_id] { return ownership->acquire_new(id); };
    asio::awaitable<Status> leasing = blocking_call(services_.blocking, std::move(lease_job));
    if (Status st = co_await std::move(leasing); !st) {
      auto drop_job = [store = &services_.store, id = record.session_id] { return store->delete_session(id); };
      asio::awaitable<Status> dropping = blocking_call(services_.blocking, std::move(drop_job));
      Status dropped = co_await std::move(dropping);
      (void)dropped;  // a record left behind gets a lease from the next node that registers, then cleaned
      co_return Error(Errc::unavailable, "could not take the new session's lease: " + st.error().message);
    }
  }
  const auto timeout = phone ? services_.options.phone_timeout : services_.options.qr_timeout;
  const auto deadline = services_.clock.now() + timeout;
  const auto expires_at = created_at + std::chrono::duration_cast<Clock::WallTime::duration>(timeout);
  auto session = std::make_shared<Session>(executor_, services_.clock, record.session_id, record.tenant_id,
                                           record.page_key_hash, created_at, expires_at);
  session->publish([&](SessionView& v) {
    v.method = method;
    if (phone) v.status = SessionStatus::phone_number_required;
    if (proxy) v.proxy = proxy_view(*proxy);
  });
  if (proxy) session->update_proxy_state([&](Session::ProxyState& p) { p.spec = std::move(proxy); });
  {
    std::lock_guard lock(mu_);
    sessions_[record.session_id] = session;
  }
  // The wait below listens before the login starts (subscribe inside wait_view returns the view at
  // that moment, and the flow publishes only from its strand after the spawn): it misses no event.
  std::function<bool(const SessionView&)> ready;
  if (phone) {
    ready = [](const SessionView& v) {
      return v.status != SessionStatus::phone_number_required ||
             v.authorization_state == "authorizationStateWaitPhoneNumber";
    };
  } else {
    ready = [](const SessionView& v) { return !v.link.empty() || v.status != SessionStatus::qr_pending; };
  }
  const Mode mode = phone ? Mode::phone_login : Mode::login;
  const bool started = tasks_.spawn(session->strand(), "session_run",
                                    [this, session, record, mode, deadline, parent](TaskGroup::Stop) {  // lint: joined-owner
                                      return run_session(session, record, mode, deadline, parent);
                                    });
  if (!started) {
    erase(session->id());  // its record stays a login: the next start cleans it as an interrupted login
    co_return Error(Errc::unavailable, "the service is shutting down");
  }
  asio::awaitable<SessionView> waiting = wait_view(session, std::move(ready), wait);
  SessionView v = co_await std::move(waiting);
  co_return Created{std::move(v), std::move(*login_key)};
}

asio::awaitable<SessionView> SessionManager::wait_view(std::shared_ptr<Session> session,
                                                       std::function<bool(const SessionView&)> ready,
                                                       std::chrono::milliseconds wait) {
  // Woken by the session's events (a listener posting to this coroutine's executor, which runs one
  // handler at a time), bounded by `wait`.
  const asio::any_io_executor here = co_await asio::this_coro::executor;
  auto wake = std::make_shared<asio::steady_timer>(here);
  auto [listener, first_view] = session->subscribe([here, weak = std::weak_ptr<asio::steady_timer>(wake)](const SessionEvent&) {
    asio::post(here, [weak] {
      if (auto t = weak.lock()) t->cancel();
    });
  });
  const auto until = std::chrono::steady_clock::now() + wait;
  SessionView v = std::move(first_view);
  while (!ready(v) && std::chrono::steady_clock::now() < until) {
    wake->expires_at(until);
    boost::system::error_code ec;
    co_await wake->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    v = session->view();
  }
  session->unsubscribe(listener);
  co_return v;
}

std::shared_ptr<Session> SessionManager::find(std::string_view tenant_id, std::string_view session_id) const {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(session_id);
  if (it == sessions_.end() || it->second->tenant_id() != tenant_id) return nullptr;
  return it->second;
}

std::shared_ptr<Session> SessionManager::find_by_login_key(std::string_view session_id, std::string_view key) const {
  std::shared_ptr<Session> s;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return nullptr;
    s = it->second;
  }
  return s->key_matches(key) ? s : nullptr;
}

std::string SessionManager::engine_dir_of(std::string_view session_id) const {
  return (fs::path(cleanup_.sessions_root()) / std::string(session_id)).string();
}

std::vector<SessionView> SessionManager::list(std::string_view tenant_id) const {
  std::vector<std::shared_ptr<Session>> mine;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, s] : sessions_) {
      if (s->tenant_id() == tenant_id) mine.push_back(s);
    }
  }
  std::vector<SessionView> out;
  out.reserve(mine.size());
  for (const auto& s : mine) out.push_back(s->view());
  std::stable_sort(out.begin(), out.end(),
                   [](const SessionView& a, const SessionView& b) { return a.created_at < b.created_at; });
  return out;
}

std::size_t SessionManager::live_count() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

FloodPolicyCall SessionManager::password_call(const Session& session,
                                              std::optional<telemetry::SpanContext> parent) const {
  const auto timeout = services_.options.engine_request_timeout;
  const std::string_view operation = session.view().method == LoginMethod::phone
                                         ? telemetry::floodwait_operation::kPhonePassword
                                         : telemetry::floodwait_operation::kQrPassword;
  FloodPolicyCall call = FloodPolicyCall::make(services_, session, std::string(operation),
                                               services_.clock.now() + timeout);
  call.timeout = timeout;
  call.trace = parent;
  return call;
}

asio::awaitable<Status> SessionManager::submit_password(std::shared_ptr<Session> session, std::string password,
                                                        std::optional<telemetry::SpanContext> parent) {
  // Named first: no temporary inside the co_await expression (docs/architecture.md, coroutine rules).
  FloodPolicyCall call = password_call(*session, parent);
  asio::awaitable<Status> check = QrLoginFlow::submit_password(*session, std::move(password), std::move(call));
  Status result = co_await asio::co_spawn(session->strand(), std::move(check), asio::use_awaitable);
  co_return result;
}

FloodPolicyCall SessionManager::phone_call(const Session& session, std::optional<telemetry::SpanContext> parent) const {
  const auto timeout = services_.options.engine_request_timeout;
  FloodPolicyCall call = FloodPolicyCall::make(services_, session, std::string(telemetry::floodwait_operation::kPhoneLogin),
                                               services_.clock.now() + timeout);
  call.timeout = timeout;
  call.trace = parent;
  call.signal_flood_waits_to(session, "FloodWait on a phone login step");
  return call;
}

asio::awaitable<Status> SessionManager::submit_phone_number(std::shared_ptr<Session> session, std::string phone_number,
                                                            std::optional<telemetry::SpanContext> parent) {
  FloodPolicyCall call = phone_call(*session, parent);
  asio::awaitable<Status> step = PhoneLoginFlow::submit_phone_number(
      *session, std::move(phone_number), std::move(call), services_.options.phone_flood_retry_after_s,
      services_.phone_metrics);
  Status result = co_await asio::co_spawn(session->strand(), std::move(step), asio::use_awaitable);
  co_return result;
}

asio::awaitable<Result<PhoneLoginFlow::CodeAnswer>> SessionManager::submit_code(
    std::shared_ptr<Session> session, std::string code, std::optional<telemetry::SpanContext> parent) {
  FloodPolicyCall call = phone_call(*session, parent);
  // co_spawn needs a default-constructible result: the answer comes back through `out`.
  auto out = std::make_shared<std::optional<Result<PhoneLoginFlow::CodeAnswer>>>();
  auto step = [](std::shared_ptr<Session> s, std::string c, FloodPolicyCall fc, const telemetry::PhoneLoginMetrics* m,
                 std::shared_ptr<std::optional<Result<PhoneLoginFlow::CodeAnswer>>> result) -> asio::awaitable<void> {
    asio::awaitable<Result<PhoneLoginFlow::CodeAnswer>> checking = PhoneLoginFlow::submit_code(*s, std::move(c), std::move(fc), m);
    *result = co_await std::move(checking);
  };
  asio::awaitable<void> job = step(session, std::move(code), std::move(call), services_.phone_metrics, out);
  co_await asio::co_spawn(session->strand(), std::move(job), asio::use_awaitable);
  if (!out->has_value()) co_return Error(Errc::internal, "the code check did not complete");
  co_return std::move(**out);
}

asio::awaitable<Status> SessionManager::resend_code(std::shared_ptr<Session> session,
                                                    std::optional<telemetry::SpanContext> parent) {
  FloodPolicyCall call = phone_call(*session, parent);
  asio::awaitable<Status> step = PhoneLoginFlow::resend_code(*session, std::move(call),
                                                             services_.options.phone_flood_retry_after_s,
                                                             services_.phone_metrics);
  Status result = co_await asio::co_spawn(session->strand(), std::move(step), asio::use_awaitable);
  co_return result;
}

std::string SessionManager::not_a_login_message(SessionStatus status) {
  return std::string("the session is not a running login (status ") + session_status_name(status) +
         "); DELETE /v1/sessions/{id} ends an authorized or restoring session";
}

asio::awaitable<Status> SessionManager::cancel_login(std::shared_ptr<Session> session,
                                                     std::optional<telemetry::SpanContext> parent,
                                                     std::string trigger_name, std::string cause) {
  const SessionView v = session->view();
  if (!is_login_status(v.status)) co_return Status(Errc::conflict, not_a_login_message(v.status));
  if (trigger_name.empty()) {
    trigger_name = v.method == LoginMethod::phone ? trigger::kPhoneCancelled : trigger::kQrCancelled;
  }
  // The login may end between this check and the strand taking the request: the lifetime coroutine
  // checks again (refuse_stale_qr_cancel) once the login is over.
  SessionSignal sig;
  sig.kind = SessionSignal::Kind::cleanup;
  sig.trigger = std::move(trigger_name);
  sig.error.message = std::move(cause);
  sig.parent = parent;
  asio::awaitable<Status> removing = request_cleanup(std::move(session), std::move(sig));
  Status result = co_await std::move(removing);
  co_return result;
}

asio::awaitable<Status> SessionManager::remove(std::shared_ptr<Session> session, std::string trigger_name,
                                               bool logout, std::optional<telemetry::SpanContext> parent) {
  SessionSignal sig;
  sig.kind = SessionSignal::Kind::cleanup;
  sig.trigger = std::move(trigger_name);
  sig.logout = logout;
  sig.parent = parent;
  co_return co_await request_cleanup(std::move(session), std::move(sig));
}

asio::awaitable<Status> SessionManager::request_cleanup(std::shared_ptr<Session> session, SessionSignal signal) {
  // The initiation is a named local and the result a named local: GCC 12 destroys a lambda temporary
  // inside `co_return co_await f(...)` twice, which released `session` once too often (found by ASan).
  Session* target = session.get();
  auto initiation = [target, &signal](auto handler) {
    using Handler = decltype(handler);
    auto shared = std::make_shared<Handler>(std::move(handler));
    signal.done = [shared](Status st) {
      auto ex = asio::get_associated_executor(*shared);
      asio::post(ex, [shared, st = std::move(st)]() mutable { (*shared)(std::move(st)); });
    };
    target->deliver(std::move(signal));
  };
  Status result = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Status)>(initiation,
                                                                                             asio::use_awaitable);
  co_return result;
}

asio::awaitable<int> SessionManager::remove_tenant(std::string tenant_id) {
  std::vector<std::shared_ptr<Session>> mine;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, s] : sessions_) {
      if (s->tenant_id() == tenant_id) mine.push_back(s);
    }
  }
  int failed = 0;
  for (auto& s : mine) {
    Status st = co_await remove(s, trigger::kTenantDeleted, true, std::nullopt);
    if (!st && st.error().code != Errc::not_found) ++failed;
  }
  co_return failed;
}

int SessionManager::sweep_idle() {
  const auto ttl = services_.options.idle_ttl;
  if (ttl.count() <= 0) return 0;
  const auto now = services_.clock.wall();
  std::vector<std::shared_ptr<Session>> idle;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, s] : sessions_) {
      SessionView v = s->view();
      if (v.status == SessionStatus::authorized &&
          v.last_used_at + std::chrono::duration_cast<Clock::WallTime::duration>(ttl) <= now) {
        idle.push_back(s);
      }
    }
  }
  for (auto& s : idle) {
    s->publish([](SessionView& v) { v.status = SessionStatus::cleaning_up; });
    SessionSignal sig;
    sig.kind = SessionSignal::Kind::cleanup;
    sig.trigger = trigger::kIdleTtl;
    sig.logout = true;
    s->deliver(std::move(sig));
  }
  return static_cast<int>(idle.size());
}

asio::awaitable<void> SessionManager::idle_loop() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) co_return;
    }
    idle_timer_.expires_after(services_.options.idle_sweep_interval);
    boost::system::error_code ec;
    co_await idle_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    {
      std::lock_guard lock(mu_);
      if (stopping_) co_return;
    }
    sweep_idle();
  }
}

asio::awaitable<void> SessionManager::queue_retry(std::string id, std::string trigger_name, bool logout) {
  auto find_job = [store = &services_.store, id] { return store->find_session(id); };
  asio::awaitable<Result<store::SessionRecord>> finding = blocking_call(services_.blocking, std::move(find_job));
  Result<store::SessionRecord> left = co_await std::move(finding);
  // not_found: the engine step failed, the local data is gone. Any other failure (a full pool
  // included) queues the retry, which finds out what is left.
  if (!left && left.error().code == Errc::not_found) co_return;
  // In a cluster, a session whose lease went elsewhere is the new owner's to finish.
  if (services_.ownership != nullptr && !services_.ownership->holds(id)) co_return;
  retries_.failed(id, trigger_name, logout);
  services_.logger.warn("Session cleanup will be retried",
                        {{"session_id", id}, {"trigger", trigger_name},
                         {"retry_in_ms", static_cast<std::int64_t>(retries_.delay_after(1).count())}});
}

asio::awaitable<int> SessionManager::retry_due_cleanups() {
  int finished = 0;
  for (const CleanupRetryQueue::Entry& e : retries_.due()) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
      if (sessions_.count(e.session_id) != 0) continue;  // live again: its own coroutine cleans it
    }
    asio::awaitable<Status> resuming = cleanup_.resume(e.session_id, e.trigger, e.logout, e.attempts + 1);
    Status st = co_await std::move(resuming);
    if (st) {
      retries_.succeeded(e.session_id);
      ++finished;
    } else {
      retries_.failed(e.session_id, e.trigger, e.logout);
      services_.logger.warn("Session cleanup will be retried",
                            {{"session_id", e.session_id}, {"trigger", e.trigger},
                             {"cleanup.attempts", e.attempts + 1},
                             {"retry_in_ms", static_cast<std::int64_t>(retries_.delay_after(e.attempts + 1).count())}});
    }
  }
  co_return finished;
}

asio::awaitable<void> SessionManager::retry_loop() {
  // Real-time ticks; the due times are on services_.clock (a FakeClock in tests).
  const auto tick = std::min<std::chrono::milliseconds>(services_.options.safety.cleanup_retry_initial,
                                                         std::chrono::seconds(1));
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) co_return;
    }
    retry_timer_.expires_after(tick);
    boost::system::error_code ec;
    co_await retry_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    {
      std::lock_guard lock(mu_);
      if (stopping_) co_return;
    }
    if (retries_.next_due() <= services_.clock.now()) co_await retry_due_cleanups();
  }
}

asio::awaitable<bool> SessionManager::restore(Session& session, const store::SessionRecord& record, bool* engine_failed) {
  *engine_failed = true;
  Result<std::unique_ptr<EngineClient>> client = services_.engines.create({record.engine_dir, record.tenant_id, record.session_id});
  if (!client) {
    services_.logger.error("Session restore failed",
                           {{"tenant_id", record.tenant_id}, {"session_id", record.session_id},
                            {"error.message", client.error().message}});
    co_return false;
  }
  session.set_client(std::move(*client));
  json parameters = login_steps::tdlib_parameters(services_.options, record);
  Result<json> answer = co_await session.client()->send(std::move(parameters), services_.options.engine_request_timeout);
  if (!answer) {
    services_.logger.error("Session restore failed",
                           {{"tenant_id", record.tenant_id}, {"session_id", record.session_id},
                            {"error.message", answer.error().message}});
    co_return false;
  }
  const auto deadline = services_.clock.now() + services_.options.engine_request_timeout;
  for (;;) {
    std::optional<SessionSignal> s = co_await session.next_signal(deadline, services_.options.wake_interval);
    if (!s) co_return false;
    if (refuse_stale_qr_cancel(*s, SessionStatus::restoring)) continue;
    if (s->kind == SessionSignal::Kind::cleanup || s->kind == SessionSignal::Kind::cancel) {
      session.deliver(std::move(*s));  // handled by the monitor after the restore
      co_return true;
    }
    if (s->kind != SessionSignal::Kind::authorization_state) continue;
    std::string type = s->state.value("@type", "");
    session.publish([&](SessionView& v) { v.authorization_state = type; });
    if (type == "authorizationStateReady") {
      // TDLib kept the session's proxy in its database: the view and the pings pick it up again.
      json list = {{"@type", "getProxies"}};
      Result<json> proxies = co_await session.client()->send(std::move(list), services_.options.engine_request_timeout);
      if (proxies && proxies->contains("proxies") && (*proxies)["proxies"].is_array()) {
        for (const json& added : (*proxies)["proxies"]) {
          if (!added.is_object() || !added.value("is_enabled", false) || !added.contains("proxy")) continue;
          if (Result<ProxySpec> spec = ProxySpec::from_td(added["proxy"])) {
            session.publish([&](SessionView& v) { v.proxy = proxy_view(*spec); });
            session.update_proxy_state([&](Session::ProxyState& p) {
              p.spec = std::move(*spec);
              p.applied = true;
            });
          }
          break;
        }
      }
      session.publish([](SessionView& v) { v.status = SessionStatus::authorized; });
      co_return true;
    }
    if (type != "authorizationStateWaitTdlibParameters" && type != "authorizationStateWaitEncryptionKey") {
      *engine_failed = type == "authorizationStateClosing" || type == "authorizationStateClosed";
      co_return false;  // anything else means the authorization is gone
    }
  }
}

asio::awaitable<void> SessionManager::run_session(std::shared_ptr<Session> session, store::SessionRecord record,
                                                  Mode mode,
                                                  Clock::TimePoint deadline,
                                                  std::optional<telemetry::SpanContext> parent) {
  std::optional<SessionSignal> request;  // an explicit cleanup request (DELETE, idle TTL, tenant deletion)
  std::string trigger_name;
  bool authorized = false;
  bool shutdown = false;

  if (mode == Mode::phone_login) {
    PhoneLoginFlow flow(services_);
    PhoneLoginFlow::Outcome out = co_await flow.run(*session, record, deadline, parent);
    authorized = out.status == SessionStatus::authorized;
    request = std::move(out.cleanup_request);
    using Ending = PhoneLoginFlow::Ending;
    trigger_name = out.ending == Ending::expired                                         ? trigger::kPhoneExpired
                   : out.ending == Ending::cancelled || out.ending == Ending::interrupted ? trigger::kPhoneCancelled
                                                                                         : trigger::kPhoneFailed;
    if (authorized) emit_event(*session, {{"@type", "tgpulseSessionAuthorized"}});
    if (out.ending == Ending::expired) emit_event(*session, {{"@type", "tgpulsePhoneLoginExpired"}});
  } else if (mode == Mode::login) {
    QrLoginFlow flow(services_, tasks_);
    QrLoginFlow::Outcome out = co_await flow.run(*session, record, deadline, parent);
    authorized = out.status == SessionStatus::authorized;
    request = std::move(out.cleanup_request);
    using Ending = QrLoginFlow::Ending;
    trigger_name = out.ending == Ending::expired                                        ? trigger::kQrExpired
                   : out.ending == Ending::cancelled || out.ending == Ending::interrupted ? trigger::kQrCancelled
                                                                                        : trigger::kQrFailed;
    if (authorized) emit_event(*session, {{"@type", "tgpulseSessionAuthorized"}});
    if (out.ending == Ending::expired) emit_event(*session, {{"@type", "tgpulseQrLoginExpired"}});
  } else {
    bool engine_failed = false;
    authorized = co_await restore(*session, record, &engine_failed);
    if (authorized && services_.ownership != nullptr) services_.ownership->resumed(session->id());
    trigger_name = trigger::kAuthorizationLost;
    // In a cluster a restore the engine could not do (the directory still locked by a node that has
    // not let go, a client that did not answer) is not a lost authorization: the session is closed and
    // left in place, and opened again at the next renewal while its lease is still this node's.
    if (!authorized && engine_failed && services_.ownership != nullptr) shutdown = true;
  }

  while (authorized && !shutdown) {
    std::optional<SessionSignal> s = co_await session->next_signal(Clock::TimePoint::max(), kMonitorWake);
    if (!s) continue;
    if (refuse_stale_qr_cancel(*s, session->view().status)) continue;
    if (s->kind == SessionSignal::Kind::authorization_state) {
      std::string type = s->state.value("@type", "");
      session->publish([&](SessionView& v) { v.authorization_state = type; });
      if (type != "authorizationStateReady") {
        services_.logger.warn("Session lost its authorization",
                              {{"tenant_id", session->tenant_id()}, {"session_id", session->id()},
                               {"authorization_state", type}});
        trigger_name = trigger::kAuthorizationLost;
        authorized = false;
        emit_event(*session, {{"@type", "tgpulseSessionRevoked"}, {"authorization_state", type}});
      }
    } else if (s->kind == SessionSignal::Kind::cleanup) {
      request = std::move(*s);
      authorized = false;
    } else if (s->kind == SessionSignal::Kind::cancel && (s->trigger == "shutdown" || s->trigger == trigger::kLeaseLost)) {
      shutdown = true;
      break;
    }
  }

  std::optional<Status> cleanup_status;
  if (shutdown) {
    if (services_.ownership != nullptr) co_await close_engine(*session);
    session->drop_client();
  } else {
    auto find_job = [store = &services_.store, id = record.session_id] { return store->find_session(id); };
    asio::awaitable<Result<store::SessionRecord>> finding = blocking_call(services_.blocking, std::move(find_job));
    if (Result<store::SessionRecord> fresh = co_await std::move(finding)) record = std::move(*fresh);
    const bool logout = request ? request->logout : false;
    if (request) trigger_name = request->trigger;
    const telemetry::SpanContext* cleanup_parent = request && request->parent ? &*request->parent : nullptr;
    cleanup_status = co_await cleanup_.run(session.get(), record, trigger_name, logout, cleanup_parent);
    if (!cleanup_status->ok()) co_await queue_retry(record.session_id, trigger_name, logout);
    emit_event(*session, {{"@type", "tgpulseSessionClosed"}, {"trigger", trigger_name}});
  }
  if (services_.ownership != nullptr && !shutdown) {
    // A cleanup the lease's loss cut short leaves the client open: close it before leaving.
    co_await close_engine(*session);
    session->drop_client();
  }
  session->close_inbox();
  // The lease bookkeeping first: a renewal that then finds the session's lease still ours and the
  // session gone from the map opens it again (after a fence), never the other way round.
  if (services_.ownership != nullptr) services_.ownership->left(session->id(), !shutdown && cleanup_status && cleanup_status->ok());
  erase(session->id());
  if (!shutdown && on_session_removed_) on_session_removed_(session->id());
  // Answer the requester only once the session is gone from the live map, so a DELETE that returned
  // is never followed by a GET that still finds the session.
  if (cleanup_status && request && request->done) request->done(std::move(*cleanup_status));
}

int SessionManager::ping_due_proxies() {
  const auto now = services_.clock.now();
  std::vector<std::shared_ptr<Session>> due;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return 0;
    for (const auto& [id, s] : sessions_) {
      bool take = false;
      s->update_proxy_state([&](Session::ProxyState& p) {
        if (p.spec && p.applied && !p.ping_in_flight && p.next_ping <= now) {
          p.ping_in_flight = true;
          take = true;
        }
      });
      if (take) due.push_back(s);
    }
  }
  for (auto& s : due) {
    const bool started = tasks_.spawn(s->strand(), "proxy_ping", [this, s](TaskGroup::Stop) {  // lint: joined-owner
      return ping_proxy(s);
    });
    if (!started) s->update_proxy_state([](Session::ProxyState& p) { p.ping_in_flight = false; });
  }
  return static_cast<int>(due.size());
}

asio::awaitable<void> SessionManager::ping_proxy(std::shared_ptr<Session> session) {
  const std::optional<ProxySpec> spec = session->proxy_state().spec;
  Result<json> answer = Error(Errc::conflict, "no proxy");
  if (spec) {
    json ping = {{"@type", "pingProxy"}, {"proxy", spec->td_proxy()}};
    asio::awaitable<Result<json>> pinging = session->send(std::move(ping), services_.options.proxy_ping_timeout);
    answer = co_await std::move(pinging);
  }
  const auto now = services_.clock.now();
  const bool still_same = session->proxy_state().spec == spec;
  session->update_proxy_state([&](Session::ProxyState& p) {
    p.ping_in_flight = false;
    p.next_ping = now + services_.options.proxy_ping_interval;
  });
  if (!spec || !still_same) co_return;  // changed meanwhile: the new one is pinged on its own
  json status = {{"state", "ok"}, {"ping_ms", nullptr}, {"error", nullptr}, {"checked_at", iso8601(services_.clock.wall())}};
  const telemetry::ProxyMetrics* m = services_.proxy_metrics;
  if (answer && answer->value("@type", "") == "seconds" && (*answer)["seconds"].is_number()) {
    const double seconds = (*answer)["seconds"].get<double>();
    status["ping_ms"] = static_cast<std::int64_t>(seconds * 1000.0 + 0.5);
    if (m != nullptr) m->ping_seconds->observe(seconds);
  } else {
    status["state"] = "unreachable";
    status["error"] = answer ? std::string("unexpected answer to pingProxy") : answer.error().message;
    if (m != nullptr) m->ping_failures->inc();
  }
  const std::string was = session->view().proxy.is_object() ? session->view().proxy["status"].value("state", "") : "";
  if (status["state"] == "unreachable" && was != "unreachable") {
    services_.logger.warn("Session proxy unreachable",
                          {{"tenant_id", session->tenant_id()}, {"session_id", session->id()},
                           {"error.message", status["error"].get<std::string>()}});
  }
  session->publish([&](SessionView& v) {
    if (v.proxy.is_object()) v.proxy["status"] = status;
  });
}

asio::awaitable<void> SessionManager::proxy_loop() {
  const auto tick = std::min<std::chrono::milliseconds>(services_.options.proxy_ping_interval, std::chrono::seconds(1));
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) co_return;
    }
    proxy_timer_.expires_after(tick);
    boost::system::error_code ec;
    co_await proxy_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    ping_due_proxies();
  }
}

SessionManager::ProxyCounts SessionManager::proxy_counts() const {
  std::vector<std::shared_ptr<Session>> all;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, s] : sessions_) all.push_back(s);
  }
  ProxyCounts c;
  for (const auto& s : all) {
    const SessionView v = s->view();
    if (!v.proxy.is_object()) continue;
    const std::string state = v.proxy.contains("status") ? v.proxy["status"].value("state", "") : "";
    if (state == "ok") {
      ++c.ok;
    } else if (state == "unreachable") {
      ++c.unreachable;
    } else {
      ++c.unchecked;
    }
  }
  return c;
}

asio::awaitable<Status> SessionManager::set_proxy(std::shared_ptr<Session> session, std::optional<ProxySpec> proxy) {
  // On the session's strand: the client handle lives there.
  auto out = std::make_shared<Status>();
  asio::awaitable<void> running = replace_proxy(session, std::move(proxy), services_.options.engine_request_timeout, out);
  co_await asio::co_spawn(session->strand(), std::move(running), asio::use_awaitable);
  co_return std::move(*out);
}

void SessionManager::emit_event(const Session& session, const nlohmann::json& event) {
  if (services_.updates != nullptr) services_.updates->accept(session.tenant_id(), session.id(), event);
}

void SessionManager::erase(const std::string& id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
}

}  // namespace tgpulse::session
