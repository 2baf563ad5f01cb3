#include "updates/webhook_delivery.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <random>

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "core/task_group.h"
#include "updates/update_routes.h"
#include "updates/webhook_retry_policy.h"
#include "updates/webhook_signature.h"

namespace asio = boost::asio;
using nlohmann::json;

namespace tgpulse::updates {
namespace {

// At most one warn line per tenant this often; the failures in between are counted in the next one.
constexpr std::int64_t kWarnEveryMs = 60000;
// A failed read of the log is tried again after this.
constexpr auto kReadRetry = std::chrono::seconds(1);

// tgpulse_webhook_requests_total{code}: the receiver's status class, "429" on its own (it throttles),
// or why no answer came (WebhookFailure's names). Bounded: these twelve values.
constexpr const char* kStatusCodes[] = {"2xx", "3xx", "4xx", "429", "5xx", "other"};
constexpr WebhookFailure kFailures[] = {WebhookFailure::refused_address, WebhookFailure::resolve_error,
                                        WebhookFailure::connect_error,   WebhookFailure::timeout,
                                        WebhookFailure::bad_response,    WebhookFailure::tls_error};

std::size_t status_index(int status) {
  if (status == 429) return 3;
  if (status >= 200 && status < 300) return 0;
  if (status >= 300 && status < 400) return 1;
  if (status >= 400 && status < 500) return 2;
  if (status >= 500 && status < 600) return 4;
  return 5;
}

}  // namespace

struct WebhookDelivery::Metrics {
  explicit Metrics(telemetry::Registry& registry) {
    auto& family = registry.counter("tgpulse_webhook_requests_total",
                                    "Webhook POSTs by outcome: the receiver's status class, 429, or why no answer came",
                                    {"code"});
    for (const char* code : kStatusCodes) by_status.push_back(&family.labels({code}));
    for (WebhookFailure f : kFailures) by_failure.push_back(&family.labels({webhook_failure_name(f)}));
  }
  void count(const WebhookOutcome& o) {
    if (o.failure == WebhookFailure::none) {
      by_status[status_index(o.status)]->inc();
      return;
    }
    for (std::size_t i = 0; i < std::size(kFailures); ++i) {
      if (kFailures[i] == o.failure) by_failure[i]->inc();
    }
  }
  std::vector<telemetry::Counter*> by_status;
  std::vector<telemetry::Counter*> by_failure;
};

// One tenant's delivery. The queues and counters below `strand` are touched only on the strand (by the
// dispatcher and the POST tasks, which all run there); the error fields under `mu` are read by info().
struct WebhookDelivery::Tenant : std::enable_shared_from_this<Tenant> {
  struct SessionQueue {
    std::deque<store::StoredUpdate> items;  // read from the log, not yet delivered, in id order
    bool busy = false;                      // a POST task owns the session
  };

  Tenant(const Context& c, const UpdatesOptions& o, Poster p, std::shared_ptr<Metrics> m, std::string tenant,
         WebhookUrl u, std::string s, std::size_t connections)
      : ctx(c),
        options(o),
        post(std::move(p)),
        metrics(std::move(m)),
        tenant_id(std::move(tenant)),
        url(std::move(u)),
        secret(std::move(s)),
        max_connections(connections),
        strand(asio::make_strand(c.executor)),
        tasks("webhook", [&logger = c.logger, id = tenant_id](const std::string& task, const std::string& what) {
          logger.error("Webhook delivery task failed", {{"tenant_id", id}, {"error.message", task + ": " + what}});
        }),
        wake(strand),
        remove_wake(strand),
        connections(max_connections),
        rng(std::random_device{}()) {
    retry = options.webhook.retry;
    retry.max_age = std::min(retry.max_age, std::chrono::ceil<std::chrono::seconds>(options.max_age));
  }

  const Context& ctx;
  const UpdatesOptions& options;
  const Poster post;
  const std::shared_ptr<Metrics> metrics;
  const std::string tenant_id;
  const WebhookUrl url;
  const std::string secret;
  const std::size_t max_connections;
  std::string url_text;  // the URL as stored: a follower compares it with the stored row
  WebhookRetryOptions retry;
  asio::strand<asio::any_io_executor> strand;
  TaskGroup tasks;
  std::shared_ptr<Tenant> predecessor;  // the delivery this one replaced: joined before this one starts

  // On the strand.
  asio::steady_timer wake;  // the dispatcher's wait: news from the hub, a POST task that ended, stop
  asio::steady_timer remove_wake;       // the remover's wait: ids to remove, stop
  std::vector<std::int64_t> to_remove;  // delivered ids still in the log, in the order they were delivered
  bool remover_running = false;
  std::map<std::string, SessionQueue> sessions;
  std::int64_t next_id = 0;     // the next update_id to read from the log
  std::size_t held = 0;         // updates in `sessions`
  std::size_t in_flight = 0;    // POST tasks running
  bool news = true;             // the log may hold updates not read yet
  std::string last_started;     // round-robin: the session the last batch began with
  WebhookConnections connections;  // kept-alive connections to the receiver
  std::mt19937_64 rng;

  mutable std::mutex mu;
  std::optional<std::int64_t> last_error_date;  // guarded by mu
  std::string last_error_message;               // guarded by mu
  std::int64_t last_warn_ms = 0;                // guarded by mu
  std::int64_t unwarned = 0;                    // failures since the last warn line; guarded by mu

  std::int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(ctx.clock.wall().time_since_epoch()).count();
  }

  void start() {
    remover_running = true;  // before any task runs: the POST tasks read it on the strand
    if (!tasks.spawn(strand, "webhook_remove",
                     [self = shared_from_this()](TaskGroup::Stop stop) { return self->remover(std::move(stop)); })) {
      remover_running = false;
    }
    tasks.spawn(strand, "webhook_dispatch",
                [self = shared_from_this()](TaskGroup::Stop stop) { return self->dispatch(std::move(stop)); });
  }

  // Takes delivered ids out of the log, as many as wait (up to kMaxUpdateRemove) in one transaction: while
  // one runs, the next POSTs' ids gather, so a busy tenant pays one transaction for many POSTs and an
  // idle one waits for nothing. After stop() it removes what is left before it ends.
  asio::awaitable<void> remover(TaskGroup::Stop stop) {
    auto self = shared_from_this();
    auto guard = stop.on_stop(strand, [self] { self->remove_wake.cancel(); });
    while (!to_remove.empty() || !stop.requested()) {
      if (to_remove.empty()) {
        remove_wake.expires_after(std::chrono::hours(1));
        boost::system::error_code ignored;  // cancelled = ids to remove, or stop
        co_await remove_wake.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
        continue;
      }
      const std::size_t n = std::min(to_remove.size(), store::kMaxUpdateRemove);
      std::vector<std::int64_t> ids(to_remove.begin(), to_remove.begin() + static_cast<std::ptrdiff_t>(n));
      to_remove.erase(to_remove.begin(), to_remove.begin() + static_cast<std::ptrdiff_t>(n));
      asio::awaitable<void> removed = remove_ids(std::move(ids), "", false);
      co_await std::move(removed);
    }
    remover_running = false;
  }

  asio::awaitable<void> dispatch(TaskGroup::Stop stop) {
    auto self = shared_from_this();
    auto guard = stop.on_stop(strand, [self] { self->wake.cancel(); });
    if (predecessor) {
      // Its POSTs end within the client's total_timeout; its waits end at once (it was stopped).
      asio::awaitable<std::vector<std::string>> joined =
          predecessor->tasks.join(options.webhook.total_timeout + std::chrono::seconds(5));
      co_await std::move(joined);
      predecessor.reset();
    }
    std::weak_ptr<Tenant> weak = self;
    UpdateHub::Listening watching = ctx.hub.watch(tenant_id, [weak] {
      if (auto t = weak.lock()) {
        asio::post(t->strand, [t] {
          t->news = true;
          t->wake.cancel();
        });
      }
    });
    while (!stop.requested()) {
      bool read_failed = false;
      if (news && held < options.webhook_read_ahead) {
        news = false;
        const std::size_t limit = std::min(store::kMaxUpdateReadLimit, options.webhook_read_ahead - held);
        auto job = [log = &ctx.log, tenant = tenant_id, from = next_id, limit] { return log->read(tenant, from, limit); };
        Result<std::vector<store::StoredUpdate>> page = co_await ctx.pool.run(std::move(job));
        if (page) {
          for (auto& u : *page) {
            next_id = u.update_id + 1;
            sessions[u.session_id].items.push_back(std::move(u));
            ++held;
          }
          if (page->size() == limit) news = true;
        } else {
          note_failure(page.error().message, "", 0, 0);
          news = true;
          read_failed = true;
        }
      }
      launch();
      if (news && !read_failed && held < options.webhook_read_ahead) continue;
      if (stop.requested()) break;  // asked while suspended above: the stop callback found no wait to end
      connections.prune(std::chrono::steady_clock::now());
      asio::steady_timer::duration wait = std::chrono::hours(1);
      if (connections.idle() > 0) wait = kWebhookKeepIdle;  // to close the kept connections in time
      if (read_failed) wait = kReadRetry;
      // In a cluster other nodes write to the log too, and their commits wake no one here.
      const auto recheck = options.shared_log_recheck;
      if (recheck.count() > 0 && recheck < wait) wait = recheck;
      wake.expires_after(wait);
      boost::system::error_code woken;  // cancelled = woken (news, a POST that ended, stop)
      co_await wake.async_wait(asio::redirect_error(asio::use_awaitable, woken));
      if (!woken && recheck.count() > 0) news = true;
    }
  }

  // One POST's updates: the first ones of one or more sessions' queues, taken out of them (the sessions
  // are busy until the POST ends), in update_id order.
  struct Batch {
    std::vector<std::string> sessions;
    std::vector<store::StoredUpdate> updates;
  };

  // Takes a batch from the sessions with updates and no POST, round-robin from after the session the
  // last batch began with, one update from each in turn (so a session with many updates does not crowd
  // the others out), up to webhook_batch_max.
  Batch take_batch() {
    Batch batch;
    std::vector<SessionQueue*> open;
    auto it = sessions.upper_bound(last_started);
    for (std::size_t i = 0, n = sessions.size(); i < n && open.size() < options.webhook_batch_max; ++i, ++it) {
      if (it == sessions.end()) it = sessions.begin();
      if (it->second.busy || it->second.items.empty()) continue;
      open.push_back(&it->second);
      batch.sessions.push_back(it->first);
    }
    for (bool took = true; took;) {
      took = false;
      for (SessionQueue* q : open) {
        if (batch.updates.size() == options.webhook_batch_max) break;
        if (q->items.empty()) continue;
        batch.updates.push_back(std::move(q->items.front()));
        q->items.pop_front();
        took = true;
      }
    }
    for (SessionQueue* q : open) q->busy = true;
    if (!batch.sessions.empty()) last_started = batch.sessions.front();
    std::sort(batch.updates.begin(), batch.updates.end(),
              [](const store::StoredUpdate& a, const store::StoredUpdate& b) { return a.update_id < b.update_id; });
    return batch;
  }

  // Starts a POST task for each batch there is, while fewer than max_connections run.
  void launch() {
    while (in_flight < max_connections) {
      Batch batch = take_batch();
      if (batch.updates.empty()) return;
      auto task = [self = shared_from_this(), batch = std::move(batch)](TaskGroup::Stop stop) mutable {
        return self->deliver(std::move(batch), std::move(stop));
      };
      // Stopping: the batch stays in the log, read again by the next start.
      if (!tasks.spawn(strand, "webhook_post", std::move(task))) return;
      ++in_flight;
    }
  }

  // Delivers one batch: POSTs it until a 2xx, the retry policy gives it up (max age), or stop. Then hands
  // its sessions back to the dispatcher.
  asio::awaitable<void> deliver(Batch batch, TaskGroup::Stop stop) {
    auto self = shared_from_this();
    asio::steady_timer pause(strand);
    auto guard = stop.on_stop(strand, [&pause] { pause.cancel(); });
    // The stored payloads spliced in unparsed, as long polling answers them.
    std::string body = "{\"updates\":[";
    for (std::size_t i = 0; i < batch.updates.size(); ++i) {
      if (i != 0) body += ',';
      body += update_json_text(batch.updates[i]);
    }
    body += "]}";
    const std::string session_id = batch.sessions.size() == 1 ? batch.sessions.front() : std::string();
    std::int64_t oldest_ms = std::numeric_limits<std::int64_t>::max();
    for (const auto& u : batch.updates) oldest_ms = std::min(oldest_ms, u.received_at_ms);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (int attempt = 1; !stop.requested(); ++attempt) {
      const std::int64_t timestamp = now_ms() / 1000;
      telemetry::Span span = ctx.tracer.start_span(
          "tgpulse_webhook_deliver", nullptr, telemetry::SpanKind::client,
          {{"tgpulse.tenant_id", tenant_id},
           {"tgpulse.webhook.update_count", static_cast<std::int64_t>(batch.updates.size())},
           {"tgpulse.webhook.session_count", static_cast<std::int64_t>(batch.sessions.size())},
           {"tgpulse.webhook.attempt", static_cast<std::int64_t>(attempt)},
           {"server.address", url.host},
           {"server.port", static_cast<std::int64_t>(url.port)}});
      if (!session_id.empty()) span.set_attribute("tgpulse.session_id", session_id);
      asio::awaitable<WebhookOutcome> posting = post(url, body, secret, timestamp, connections);
      WebhookOutcome outcome = co_await std::move(posting);
      metrics->count(outcome);
      if (outcome.status != 0) span.set_attribute("http.response.status_code", static_cast<std::int64_t>(outcome.status));
      if (outcome.delivered()) {
        span.set_status(telemetry::SpanStatus::ok);
        span.end();
        if (remover_running) {
          for (const auto& u : batch.updates) to_remove.push_back(u.update_id);
          held -= batch.updates.size();
          remove_wake.cancel();
        } else {  // ended after a stop: removed here
          asio::awaitable<void> taken = forget(batch.updates, session_id, false);
          co_await std::move(taken);
        }
        ctx.hub.delivered(batch.updates, DeliveryChannel::webhook);
        break;
      }
      const char* failure =
          outcome.failure == WebhookFailure::none ? kStatusCodes[status_index(outcome.status)] : webhook_failure_name(outcome.failure);
      span.set_status(telemetry::SpanStatus::error, failure);
      span.end();
      note_failure(outcome.error, session_id, outcome.status, attempt);
      const auto age = std::chrono::milliseconds(std::max<std::int64_t>(0, now_ms() - oldest_ms));
      WebhookRetryDecision next =
          next_webhook_retry(retry, attempt, outcome.status, outcome.retry_after, age, unit(rng));
      if (next.give_up) {
        asio::awaitable<void> dropped = drop_expired(std::move(batch.updates));
        co_await std::move(dropped);
        break;
      }
      if (stop.requested()) break;  // asked during the POST: the stop callback found no wait to end
      pause.expires_after(next.wait);
      boost::system::error_code ignored;  // cancelled = stop
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    // Stopped with the batch undelivered: it is still in the log, read again by the next start.
    for (const std::string& s : batch.sessions) {
      auto it = sessions.find(s);
      if (it == sessions.end()) continue;
      it->second.busy = false;
      if (it->second.items.empty()) sessions.erase(it);
    }
    --in_flight;
    wake.cancel();
  }

  // Removes ids from the log on the store pool; a failure is logged (the ids stay in the log: after a
  // restart they are delivered again, so at least once holds).
  asio::awaitable<void> remove_ids(std::vector<std::int64_t> ids, const std::string& session_id, bool expired) {
    auto job = [log = &ctx.log, tenant = tenant_id, ids = std::move(ids)] { return log->remove(tenant, ids); };
    Result<std::int64_t> removed = co_await ctx.pool.run(std::move(job));
    if (!removed) {
      ctx.logger.error(expired ? "Expired webhook updates could not be removed from the log"
                               : "Delivered webhook updates could not be removed from the log",
                       {{"tenant_id", tenant_id}, {"session_id", session_id}, {"error.message", removed.error().message}});
    }
  }

  // Removes delivered (or expired) updates, taken out of their queues, from the log now.
  asio::awaitable<void> forget(const std::vector<store::StoredUpdate>& updates, const std::string& session_id, bool expired) {
    std::vector<std::int64_t> ids;
    for (const auto& u : updates) ids.push_back(u.update_id);
    asio::awaitable<void> removed = remove_ids(std::move(ids), session_id, expired);
    co_await std::move(removed);
    held -= updates.size();
  }

  // The retry policy gave a batch up: its updates older than the policy's max age (at least the oldest)
  // are removed, counted and announced with a tgpulseUpdatesDropped event per session; the younger
  // ones go back to the front of their sessions' queues for a later batch.
  asio::awaitable<void> drop_expired(std::vector<store::StoredUpdate> updates) {
    const std::int64_t oldest_kept = now_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(retry.max_age).count();
    const auto oldest = std::min_element(updates.begin(), updates.end(), [](const auto& a, const auto& b) {
      return a.received_at_ms < b.received_at_ms;
    });
    const std::int64_t forced = oldest->update_id;
    std::vector<store::StoredUpdate> expired;
    std::vector<store::StoredUpdate> kept;
    for (auto& u : updates) {
      (u.received_at_ms < oldest_kept || u.update_id == forced ? expired : kept).push_back(std::move(u));
    }
    for (auto u = kept.rbegin(); u != kept.rend(); ++u) sessions[u->session_id].items.push_front(std::move(*u));
    std::map<std::string, std::vector<std::int64_t>> by_session;  // ids in order
    for (const auto& u : expired) by_session[u.session_id].push_back(u.update_id);
    asio::awaitable<void> removed = forget(expired, by_session.size() == 1 ? by_session.begin()->first : "", true);
    co_await std::move(removed);
    ctx.metrics.dropped(DropReason::webhook_max_age, static_cast<double>(expired.size()));
    for (const auto& [session_id, ids] : by_session) {
      ctx.hub.accept(tenant_id, session_id,
                     json{{"@type", "tgpulseUpdatesDropped"},
                          {"reason", "webhook_max_age"},
                          {"count", static_cast<std::int64_t>(ids.size())},
                          {"session_id", session_id},
                          {"from_update_id", ids.front()},
                          {"to_update_id", ids.back()}});
    }
  }

  // Keeps the failure for GET /v1/webhook and writes a warn line at most every kWarnEveryMs.
  void note_failure(const std::string& message, const std::string& session_id, int status, int attempt) {
    const std::int64_t now = now_ms();
    std::int64_t suppressed = 0;
    {
      std::lock_guard lock(mu);
      last_error_date = now / 1000;
      last_error_message = message;
      if (last_warn_ms != 0 && now - last_warn_ms < kWarnEveryMs) {
        ++unwarned;
        return;
      }
      last_warn_ms = now;
      suppressed = std::exchange(unwarned, 0);
    }
    ctx.logger.warn("Webhook delivery failed", {{"tenant_id", tenant_id},
                                                {"session_id", session_id},
                                                {"error.message", message},
                                                {"http.response.status_code", status},
                                                {"webhook.attempt", attempt},
                                                {"webhook.failures_suppressed", suppressed}});
  }
};

WebhookDelivery::WebhookDelivery(Context context, UpdatesOptions options, Poster post)
    : ctx_(std::move(context)),
      options_(std::move(options)),
      post_(std::move(post)),
      metrics_(std::make_shared<Metrics>(ctx_.registry)),
      follower_("webhook_follower", [&logger = ctx_.logger](const std::string& task, const std::string& what) {
        logger.error("Webhook follower failed", {{"error.message", task + ": " + what}});
      }) {}

WebhookDelivery::~WebhookDelivery() { stop(std::chrono::seconds(5)); }

std::shared_ptr<WebhookDelivery::Tenant> WebhookDelivery::start_tenant(const store::WebhookRecord& record,
                                                                        WebhookUrl url) {
  auto tenant = std::make_shared<Tenant>(ctx_, options_, post_, metrics_, record.tenant_id, std::move(url),
                                         record.secret, static_cast<std::size_t>(std::max<std::int64_t>(1, record.max_connections)));
  std::erase_if(retired_, [](const std::shared_ptr<Tenant>& t) { return t->tasks.running() == 0; });
  if (auto it = tenants_.find(record.tenant_id); it != tenants_.end()) {
    it->second->tasks.request_stop("replaced");
    tenant->predecessor = it->second;
    retired_.push_back(it->second);
    it->second = tenant;
  } else {
    tenants_.emplace(record.tenant_id, tenant);
  }
  tenant->url_text = record.url;
  tenant->start();
  return tenant;
}

void WebhookDelivery::retire(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  retire_locked(tenant_id, "webhook deleted");
}

void WebhookDelivery::retire_locked(const std::string& tenant_id, const char* why) {
  auto it = tenants_.find(tenant_id);
  if (it == tenants_.end()) return;
  // Its POSTs in flight end (their 2xx still removes their updates); no new one starts.
  it->second->tasks.request_stop(why);
  retired_.push_back(std::move(it->second));
  tenants_.erase(it);
}

bool WebhookDelivery::delivers(const std::string& tenant_id) const {
  return ctx_.membership == nullptr || ctx_.membership->owns(tenant_id);
}

bool WebhookDelivery::share_changed() const {
  std::lock_guard lock(mu_);
  for (const auto& [tenant, record] : known_) {
    if (invalid_.contains(tenant)) continue;
    if (delivers(tenant) != tenants_.contains(tenant)) return true;
  }
  return false;
}

void WebhookDelivery::reconcile(std::optional<std::vector<store::WebhookRecord>> rows, std::uint64_t seen) {
  std::vector<std::pair<std::string, bool>> modes;  // the hub's webhook mode to change, outside mu_
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    if (rows && changes_ == seen) {
      std::map<std::string, store::WebhookRecord, std::less<>> fresh;
      for (auto& r : *rows) {
        std::string id = r.tenant_id;
        fresh.emplace(std::move(id), std::move(r));
      }
      for (const auto& [tenant, record] : known_) {
        if (!fresh.contains(tenant)) modes.emplace_back(tenant, false);
      }
      for (const auto& [tenant, record] : fresh) {
        auto old = known_.find(tenant);
        if (old == known_.end()) modes.emplace_back(tenant, true);
        if (old == known_.end() || old->second.url != record.url) invalid_.erase(tenant);
      }
      known_ = std::move(fresh);
    }
    // Deliveries of webhooks deleted, moved to another node, or replaced (through another node).
    std::vector<std::string> gone;
    std::vector<const store::WebhookRecord*> replaced;
    for (const auto& [tenant, t] : tenants_) {
      auto k = known_.find(tenant);
      if (k == known_.end() || !delivers(tenant)) {
        gone.push_back(tenant);
      } else if (t->url_text != k->second.url || t->secret != k->second.secret ||
                 t->max_connections != static_cast<std::size_t>(std::max<std::int64_t>(1, k->second.max_connections))) {
        replaced.push_back(&k->second);
      }
    }
    for (const auto& tenant : gone) {
      retire_locked(tenant, known_.contains(tenant) ? "webhook delivered by another node" : "webhook deleted");
    }
    for (const store::WebhookRecord* record : replaced) {
      Result<WebhookUrl> url = WebhookUrl::parse(record->url);
      if (url) start_tenant(*record, std::move(*url));  // replaces the running one once its POSTs end
    }
    // Deliveries this node takes over.
    for (const auto& [tenant, record] : known_) {
      if (tenants_.contains(tenant) || invalid_.contains(tenant) || !delivers(tenant)) continue;
      Result<WebhookUrl> url = WebhookUrl::parse(record.url);
      if (!url) {
        invalid_.insert(tenant);
        ctx_.logger.error("A stored webhook URL is not valid; its tenant's updates wait for a new PUT /v1/webhook",
                          {{"tenant_id", tenant}, {"error.message", url.error().message}});
        continue;
      }
      start_tenant(record, std::move(*url));
    }
  }
  for (const auto& [tenant, active] : modes) ctx_.hub.set_webhook(tenant, active);
}

asio::awaitable<void> WebhookDelivery::follow(TaskGroup::Stop stop) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto guard = stop.on_stop(timer.get_executor(), [&timer] { timer.cancel(); });
  const auto tick = options_.shared_log_recheck.count() > 0 ? options_.shared_log_recheck
                                                           : std::chrono::milliseconds(std::chrono::seconds(1));
  auto last_read = std::chrono::steady_clock::now();
  bool failing = false;  // the last read failed (logged once until one succeeds)
  while (!stop.requested()) {
    timer.expires_after(tick);
    boost::system::error_code ignored;  // cancelled = stop
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (stop.requested()) break;
    const bool moved = share_changed();
    const auto now = std::chrono::steady_clock::now();
    if (!moved && now - last_read < options_.shared_settings_refresh) continue;
    std::uint64_t seen = 0;
    {
      std::lock_guard lock(mu_);
      seen = changes_;
    }
    // On a change of share the rows are read first: a delivery taken over starts with the newest webhook.
    auto job = [log = &ctx_.log] { return log->webhooks(); };
    Result<std::vector<store::WebhookRecord>> rows = co_await ctx_.pool.run(std::move(job));
    last_read = now;
    if (!rows) {
      if (!failing) {
        ctx_.logger.error("Stored webhooks could not be read again; deliveries follow the last webhooks read",
                          {{"error.message", rows.error().message}});
      }
      failing = true;
      reconcile(std::nullopt, seen);  // the share still moves
      continue;
    }
    failing = false;
    reconcile(std::move(*rows), seen);
  }
}

Status WebhookDelivery::load() {
  Result<std::vector<store::WebhookRecord>> stored = ctx_.log.webhooks();
  if (ctx_.membership != nullptr) {
    // Every node learns every webhook (its tenant is in webhook mode here); the follower starts the
    // deliveries this node owns, now and as the membership changes. A failed read is retried by it.
    {
      std::lock_guard lock(mu_);
      if (stopped_) return {};
    }
    if (stored) reconcile(*stored, 0);
    // The follower is joined by stop(), which the destructor calls first.
    follower_.spawn(ctx_.executor, "webhook_follow",
                    [this](TaskGroup::Stop stop) { return follow(std::move(stop)); });  // lint: joined-owner
    if (!stored) return stored.error();
    return {};
  }
  if (!stored) return stored.error();
  for (const auto& record : *stored) {
    Result<WebhookUrl> url = WebhookUrl::parse(record.url);
    if (!url) {
      ctx_.logger.error("A stored webhook URL is not valid; its tenant's updates wait for a new PUT /v1/webhook",
                        {{"tenant_id", record.tenant_id}, {"error.message", url.error().message}});
      continue;
    }
    ctx_.hub.set_webhook(record.tenant_id, true);
    std::lock_guard lock(mu_);
    if (stopped_) break;
    start_tenant(record, std::move(*url));
  }
  return {};
}

asio::awaitable<Status> WebhookDelivery::set(store::WebhookRecord record) {
  Result<WebhookUrl> url = WebhookUrl::parse(record.url);
  if (!url) co_return url.error();
  if (Status st = validate_webhook_secret(record.secret); !st) co_return st;
  if (record.max_connections < 1) co_return Error(Errc::invalid_argument, "max_connections must be at least 1");
  auto job = [log = &ctx_.log, record] { return log->set_webhook(record); };
  Status saved = co_await ctx_.pool.run(std::move(job));
  if (!saved) co_return saved;
  ctx_.hub.set_webhook(record.tenant_id, true);
  std::lock_guard lock(mu_);
  if (stopped_) co_return Error(Errc::unavailable, "the service is shutting down");
  if (ctx_.membership != nullptr) {
    ++changes_;
    known_[record.tenant_id] = record;
    invalid_.erase(record.tenant_id);
    // Another node delivers it: that node's follower reads the new webhook within shared_settings_refresh.
    if (!delivers(record.tenant_id)) {
      retire_locked(record.tenant_id, "webhook delivered by another node");
      co_return Status{};
    }
  }
  start_tenant(record, std::move(*url));
  co_return Status{};
}

asio::awaitable<Result<bool>> WebhookDelivery::remove(std::string tenant_id, bool drop_pending) {
  auto job = [log = &ctx_.log, tenant_id, drop_pending]() -> Result<bool> {
    Result<bool> existed = log->delete_webhook(tenant_id);
    if (!existed || !*existed || !drop_pending) return existed;
    if (auto dropped = log->acknowledge(tenant_id, std::numeric_limits<std::int64_t>::max()); !dropped) {
      return dropped.error();
    }
    return true;
  };
  Result<bool> removed = co_await ctx_.pool.run(std::move(job));
  if (removed && ctx_.membership != nullptr) {
    std::lock_guard lock(mu_);
    ++changes_;
    known_.erase(tenant_id);
  }
  if (!removed || !*removed) co_return removed;
  retire(tenant_id);
  ctx_.hub.set_webhook(tenant_id, false);
  co_return removed;
}

asio::awaitable<Result<std::optional<WebhookDelivery::Info>>> WebhookDelivery::info(std::string tenant_id) {
  Info out;
  bool local = false;
  {
    std::lock_guard lock(mu_);
    auto it = tenants_.find(tenant_id);
    if (it == tenants_.end() && ctx_.membership == nullptr) co_return std::optional<Info>{};
    local = it != tenants_.end();
  }
  if (!local) {  // in a cluster, delivered by another node (or not yet started here): the stored row
    auto read = [log = &ctx_.log, tenant_id] { return log->webhook(tenant_id); };
    Result<std::optional<store::WebhookRecord>> row = co_await ctx_.pool.run(std::move(read));
    if (!row) co_return row.error();
    if (!*row) co_return std::optional<Info>{};
    Result<WebhookUrl> url = WebhookUrl::parse((*row)->url);
    out.url = url ? url->redacted() : std::string();
    out.max_connections = std::max<std::int64_t>(1, (*row)->max_connections);
  }
  if (local) {
    std::lock_guard lock(mu_);
    auto it = tenants_.find(tenant_id);
    if (it == tenants_.end()) co_return std::optional<Info>{};  // deleted meanwhile
    const Tenant& t = *it->second;
    out.url = t.url.redacted();
    out.max_connections = static_cast<std::int64_t>(t.max_connections);
    std::lock_guard errors(t.mu);
    out.last_error_date = t.last_error_date;
    out.last_error_message = t.last_error_message;
  }
  auto job = [log = &ctx_.log, tenant_id] { return log->count_pending(tenant_id); };
  Result<std::int64_t> pending = co_await ctx_.pool.run(std::move(job));
  if (!pending) co_return pending.error();
  out.pending_update_count = *pending;
  co_return std::optional<Info>(std::move(out));
}

void WebhookDelivery::forget_tenant(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  known_.erase(tenant_id);
  ++changes_;
  retire_locked(tenant_id, "webhook deleted");
}

std::vector<std::string> WebhookDelivery::stop(std::chrono::milliseconds drain) {
  std::vector<std::shared_ptr<Tenant>> all;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return {};
    stopped_ = true;
    for (auto& [id, t] : tenants_) all.push_back(t);
    all.insert(all.end(), retired_.begin(), retired_.end());
  }
  // The follower first (it starts deliveries); its wait ends at once, a store read within the pool's time.
  follower_.request_stop("shutdown");
  const auto deadline = std::chrono::steady_clock::now() + drain;
  std::vector<std::string> outlived = follower_.wait_for(drain);
  {
    std::lock_guard lock(mu_);  // anything it started before it saw stopped_
    for (auto& [id, t] : tenants_) {
      if (std::find(all.begin(), all.end(), t) == all.end()) all.push_back(t);
    }
  }
  for (auto& t : all) t->tasks.request_stop("shutdown");
  for (auto& t : all) {
    const auto left = std::max(std::chrono::steady_clock::duration::zero(), deadline - std::chrono::steady_clock::now());
    for (auto& name : t->tasks.wait_for(left)) outlived.push_back(name);
  }
  return outlived;
}

std::size_t WebhookDelivery::running() const {
  std::lock_guard lock(mu_);
  return tenants_.size();
}

}  // namespace tgpulse::updates
