#include "updates/update_hub.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace asio = boost::asio;
using nlohmann::json;

namespace tgpulse::updates {

// A reader waiting for its tenant's next batch. A long poll's wake moves its timer's expiry into the
// past on the reader's executor: a wait in progress ends, and one started later ends at once — no lost
// wake-up. A stream's wake calls its notify function (the SSE writer's waker).
struct UpdateHub::Waiter {
  explicit Waiter(asio::any_io_executor ex) : timer(std::move(ex)) {}
  asio::steady_timer timer;
  std::function<void()> notify;
  static void wake(const std::shared_ptr<Waiter>& w) {
    if (w->notify) {
      w->notify();
      return;
    }
    asio::post(w->timer.get_executor(), [w] { w->timer.expires_at(asio::steady_timer::time_point::min()); });
  }
};

struct UpdateHub::Batch {
  struct Item {
    std::string tenant_id;
    Queued queued;
  };
  std::vector<Item> items;
  std::map<std::string, std::int64_t, std::less<>> lost;  // queue_full drops to announce, by tenant
  std::map<std::string, std::shared_ptr<const AllowedUpdates>, std::less<>> allowed;  // known settings
  bool empty() const { return items.empty() && lost.empty(); }
};

struct UpdateHub::Written {
  std::vector<store::AppendedUpdate> stored;
  std::map<std::string, std::shared_ptr<const AllowedUpdates>, std::less<>> loaded;  // settings read from the log
  std::int64_t by_age = 0;
  std::int64_t by_count = 0;
  // The batch is in the log, but trimming or announcing a trim failed (retried after the next batch).
  std::optional<Error> trim_error;
};

namespace {

std::string type_of(const json& update) {
  auto it = update.find("@type");
  return it != update.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Error webhook_conflict() {
  return Error(Errc::conflict,
               "this tenant has a webhook: updates go to it (DELETE /v1/webhook to read them here instead)");
}

json dropped_event(const char* reason, std::int64_t count, std::optional<store::UpdateIdRange> range) {
  json e = {{"@type", "tgpulseUpdatesDropped"}, {"reason", reason}, {"count", count}};
  if (range) {
    e["from_update_id"] = range->first;
    e["to_update_id"] = range->last;
  }
  return e;
}

}  // namespace

UpdateHub::UpdateHub(asio::any_io_executor executor, BlockingPool& pool, store::UpdateLog& log, const Clock& clock,
                     UpdatesOptions options, UpdateMetrics& metrics, ErrorHandler on_error)
    : executor_(asio::make_strand(executor)),
      pool_(pool),
      log_(log),
      clock_(clock),
      options_(options),
      metrics_(metrics),
      on_error_(std::move(on_error)),
      tasks_("update_hub", [this](const std::string& task, const std::string& what) {
        if (on_error_) on_error_("", Error(Errc::internal, task + " failed: " + what), 0);
      }) {}

UpdateHub::~UpdateHub() { stop(std::chrono::seconds(5)); }

std::shared_ptr<const AllowedUpdates> UpdateHub::cached_allowed(std::string_view tenant_id) const {
  auto it = allowed_.find(tenant_id);
  if (it == allowed_.end()) return nullptr;
  if (options_.shared_log_recheck.count() > 0 && clock_.now() - it->second.read_at >= options_.shared_settings_refresh) {
    return nullptr;  // another node may have changed it: the writer reads it again
  }
  return it->second.value;
}

std::int64_t UpdateHub::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall().time_since_epoch()).count();
}

void UpdateHub::start() {
  writer_timer_ = std::make_shared<asio::steady_timer>(executor_);
  // The hub owns tasks_ and joins it in stop(), which its destructor calls first.
  tasks_.spawn(executor_, "update_writer",
               [this](TaskGroup::Stop stop) { return run_writer(std::move(stop)); });  // lint: joined-owner
}

std::vector<std::string> UpdateHub::stop(std::chrono::milliseconds drain) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return {};
    stopping_ = true;
  }
  wake_writer();
  tasks_.request_stop("shutdown");
  auto outlived = tasks_.wait_for(drain);
  close_readers();
  return outlived;
}

void UpdateHub::close_readers() {
  std::vector<std::shared_ptr<Waiter>> waiters;
  {
    std::lock_guard lock(mu_);
    readers_closed_ = true;
    for (auto& [tenant, signal] : signals_) {
      for (auto& w : signal.waiters) waiters.push_back(w);
    }
  }
  for (auto& w : waiters) Waiter::wake(w);
}

Status UpdateHub::register_waiter(const std::string& tenant_id, const std::shared_ptr<Waiter>& waiter) {
  std::lock_guard lock(mu_);
  if (readers_closed_) return Error(Errc::unavailable, "the service is shutting down");
  auto& signal = signals_[tenant_id];
  if (signal.waiters.size() >= options_.max_waiters) {
    Error busy(Errc::throttled, "too many concurrent long polls and streams for this tenant (at most " +
                                    std::to_string(options_.max_waiters) + ")");
    busy.retry_after_s = 1;
    return busy;
  }
  signal.waiters.push_back(waiter);
  return {};
}

void UpdateHub::unregister(const std::string& tenant_id, const std::shared_ptr<Waiter>& waiter) {
  std::lock_guard lock(mu_);
  auto it = signals_.find(tenant_id);
  if (it == signals_.end()) return;
  std::erase(it->second.waiters, waiter);
  if (it->second.waiters.empty()) signals_.erase(it);
}

UpdateHub::Listening::~Listening() {
  if (hub_ != nullptr && waiter_) hub_->unregister(tenant_, waiter_);
}

Result<UpdateHub::Listening> UpdateHub::listen(const std::string& tenant_id, std::function<void()> notify) {
  if (has_webhook(tenant_id)) return webhook_conflict();
  auto waiter = std::make_shared<Waiter>(executor_);
  waiter->notify = std::move(notify);
  if (Status st = register_waiter(tenant_id, waiter); !st) return st.error();
  return Listening(this, tenant_id, std::move(waiter));
}

void UpdateHub::set_webhook(const std::string& tenant_id, bool active) {
  std::vector<std::shared_ptr<Waiter>> wake;
  {
    std::lock_guard lock(mu_);
    if (!active) {
      webhooks_.erase(tenant_id);
      return;
    }
    webhooks_.insert(tenant_id);
    if (auto it = signals_.find(tenant_id); it != signals_.end()) wake = it->second.waiters;
  }
  for (auto& w : wake) Waiter::wake(w);
}

bool UpdateHub::has_webhook(const std::string& tenant_id) const {
  std::lock_guard lock(mu_);
  return webhooks_.contains(tenant_id);
}

Status UpdateHub::readable(const std::string& tenant_id) const {
  if (has_webhook(tenant_id)) return webhook_conflict();
  return {};
}

UpdateHub::Listening UpdateHub::watch(const std::string& tenant_id, std::function<void()> notify) {
  auto waiter = std::make_shared<Waiter>(executor_);
  waiter->notify = std::move(notify);
  std::lock_guard lock(mu_);
  signals_[tenant_id].waiters.push_back(waiter);
  return Listening(this, tenant_id, std::move(waiter));
}

void UpdateHub::set_on_forget(std::function<void(const std::string&)> on_forget) { on_forget_ = std::move(on_forget); }

void UpdateHub::delivered(const std::vector<store::StoredUpdate>& page, DeliveryChannel channel) {
  const std::int64_t now = now_ms();
  for (const auto& u : page) {
    metrics_.lag(channel, static_cast<double>(std::max<std::int64_t>(0, now - u.received_at_ms)) / 1000.0);
  }
  metrics_.delivered(channel, static_cast<double>(page.size()));
}

void UpdateHub::accept(const std::string& tenant_id, const std::string& session_id, const json& update) {
  std::string type = type_of(update);
  metrics_.received(type);
  if (type.empty() || is_internal_type(type)) return;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (auto a = cached_allowed(tenant_id); a && !a->allows(type)) return;
  }
  // Serialised here, once, outside the lock: the log stores this text and the routes send it as is.
  std::string payload = update.dump(-1, ' ', false, json::error_handler_t::replace);
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    TenantQueue& q = queues_[tenant_id];
    if (q.items.size() >= options_.queue_capacity) {
      ++q.lost;
      metrics_.dropped(DropReason::queue_full, 1);
      return;
    }
    q.items.push_back(Queued{session_id, now_ms(), std::move(type), std::move(payload)});
    ++queued_;
    metrics_.pending(static_cast<double>(queued_ + retrying_));
    if ((queued_ == 1 || queued_ >= options_.batch_max) && !writer_woken_) {
      writer_woken_ = true;
      wake = true;
    }
  }
  if (wake) wake_writer();
}

void UpdateHub::wake_writer() {
  // The handler may run after the hub is gone (stop() wakes the writer, then the owner destroys the hub):
  // it holds the timer, never the hub.
  std::weak_ptr<asio::steady_timer> weak = writer_timer_;
  asio::post(executor_, [weak = std::move(weak)] {
    if (auto timer = weak.lock()) timer->expires_at(asio::steady_timer::time_point::min());
  });
}

UpdateHub::Batch UpdateHub::take_batch() {
  Batch batch;
  // Round-robin over the tenants with queued updates, one at a time, starting after the last batch's
  // first tenant, so each tenant gets a fair share of every batch.
  std::vector<TenantQueue*> order;
  std::vector<std::string> names;
  for (auto it = queues_.upper_bound(next_tenant_); it != queues_.end(); ++it) {
    order.push_back(&it->second);
    names.push_back(it->first);
  }
  for (auto it = queues_.begin(); it != queues_.end() && it->first <= next_tenant_; ++it) {
    order.push_back(&it->second);
    names.push_back(it->first);
  }
  if (!names.empty()) next_tenant_ = names.front();
  bool took = true;
  while (took && batch.items.size() < options_.batch_max) {
    took = false;
    for (std::size_t i = 0; i < order.size() && batch.items.size() < options_.batch_max; ++i) {
      if (order[i]->items.empty()) continue;
      batch.items.push_back(Batch::Item{names[i], std::move(order[i]->items.front())});
      order[i]->items.pop_front();
      --queued_;
      took = true;
    }
  }
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (order[i]->lost > 0) batch.lost[names[i]] = std::exchange(order[i]->lost, 0);
  }
  for (auto it = queues_.begin(); it != queues_.end();) {
    it = it->second.items.empty() && it->second.lost == 0 ? queues_.erase(it) : std::next(it);
  }
  for (const auto& item : batch.items) {
    if (auto a = cached_allowed(item.tenant_id)) batch.allowed.emplace(item.tenant_id, std::move(a));
  }
  metrics_.pending(static_cast<double>(queued_ + retrying_));
  return batch;
}

std::int64_t UpdateHub::discard_queued() {
  const auto n = static_cast<std::int64_t>(queued_);
  queues_.clear();
  queued_ = 0;
  metrics_.pending(static_cast<double>(retrying_));
  return n;
}

Result<UpdateHub::Written> UpdateHub::write(Batch& batch) {
  Written out;
  auto allowed_for = [&](const std::string& tenant) -> const AllowedUpdates& {
    if (auto a = batch.allowed.find(tenant); a != batch.allowed.end()) return *a->second;
    auto stored = log_.allowed_updates(tenant);
    auto parsed = std::make_shared<const AllowedUpdates>(AllowedUpdates::defaults());
    if (stored && *stored) {
      auto list = json::parse(**stored, nullptr, false);
      if (auto p = AllowedUpdates::parse(list); p) parsed = std::make_shared<const AllowedUpdates>(std::move(*p));
    }
    out.loaded.emplace(tenant, parsed);
    return *batch.allowed.emplace(tenant, parsed).first->second;
  };
  std::vector<store::NewUpdate> rows;
  rows.reserve(batch.items.size() + batch.lost.size());
  const std::int64_t now = now_ms();
  for (const auto& [tenant, lost] : batch.lost) {
    if (!allowed_for(tenant).allows("tgpulseUpdatesDropped")) continue;
    rows.push_back(store::NewUpdate{tenant, "", now, dropped_event("queue_full", lost, std::nullopt).dump()});
  }
  // The strings move into the rows; if the store refuses them they move back, so the caller writes
  // the same batch again without a copy made for a failure that rarely comes.
  std::vector<Batch::Item*> moved;
  moved.reserve(batch.items.size());
  for (auto& item : batch.items) {
    if (!allowed_for(item.tenant_id).allows(item.queued.type)) continue;
    rows.push_back(store::NewUpdate{item.tenant_id, std::move(item.queued.session_id), item.queued.received_at_ms,
                                    std::move(item.queued.payload)});
    moved.push_back(&item);
  }
  auto stored = log_.append(rows);
  if (!stored) {  // nothing assigned: the caller writes the same batch again
    const std::size_t first = rows.size() - moved.size();
    for (std::size_t i = 0; i < moved.size(); ++i) {
      moved[i]->queued.session_id = std::move(rows[first + i].session_id);
      moved[i]->queued.payload = std::move(rows[first + i].payload);
    }
    return stored.error();
  }
  out.stored = std::move(*stored);
  // From here on the batch is in the log: a failure must not make the caller write it twice.
  // Retention: trim each tenant written to, and announce what went in the same shape.
  std::vector<std::string> tenants;
  for (const auto& u : out.stored) {
    if (std::find(tenants.begin(), tenants.end(), u.tenant_id) == tenants.end()) tenants.push_back(u.tenant_id);
  }
  std::vector<store::NewUpdate> announcements;
  // A trim that drops the tenant's last gap announcement names the ids that one named too.
  // (Trims drop a prefix, so the announcements dropped are the oldest ones, up to range.last.)
  auto with_earlier_gap = [&](const std::string& tenant, store::UpdateIdRange range) {
    std::lock_guard lock(mu_);
    auto a = announced_.find(tenant);
    if (a == announced_.end()) return range;
    auto& live = a->second;
    // Below the range: gone before this trim (acknowledged, or dropped by an earlier one): not missing.
    while (!live.empty() && live.front().event_id < range.first) live.pop_front();
    if (!live.empty() && live.front().event_id <= range.last) range.first = std::min(range.first, live.front().from);
    while (!live.empty() && live.front().event_id <= range.last) live.pop_front();
    return range;
  };
  const std::int64_t min_received = now - std::chrono::duration_cast<std::chrono::milliseconds>(options_.max_age).count();
  std::vector<std::int64_t> announced_from;  // the first id each announcement names, in append order
  for (const auto& tenant : tenants) {
    auto trimmed = log_.trim(tenant, options_.max_pending, min_received);
    if (!trimmed) {
      out.trim_error = trimmed.error();
      continue;
    }
    const bool announce = allowed_for(tenant).allows("tgpulseUpdatesDropped");
    if (trimmed->by_age) {
      out.by_age += trimmed->by_age->count();
      if (announce) {
        const auto range = with_earlier_gap(tenant, *trimmed->by_age);
        announcements.push_back(store::NewUpdate{tenant, "", now, dropped_event("max_age", trimmed->by_age->count(), range).dump()});
        announced_from.push_back(range.first);
      }
    }
    if (trimmed->by_count) {
      out.by_count += trimmed->by_count->count();
      if (announce) {
        const auto range = with_earlier_gap(tenant, *trimmed->by_count);
        announcements.push_back(store::NewUpdate{tenant, "", now, dropped_event("max_pending", trimmed->by_count->count(), range).dump()});
        announced_from.push_back(range.first);
      }
    }
  }
  if (!announcements.empty()) {
    auto more = log_.append(announcements);
    if (more) {
      std::lock_guard lock(mu_);
      for (std::size_t i = 0; i < more->size() && i < announced_from.size(); ++i) {
        announced_[(*more)[i].tenant_id].push_back(Announced{(*more)[i].update_id, announced_from[i]});
      }
      out.stored.insert(out.stored.end(), more->begin(), more->end());
    } else {
      out.trim_error = more.error();
    }
  }
  return out;
}

void UpdateHub::publish(const Written& written) {
  metrics_.dropped(DropReason::max_age, static_cast<double>(written.by_age));
  metrics_.dropped(DropReason::max_pending, static_cast<double>(written.by_count));
  std::vector<std::shared_ptr<Waiter>> wake;
  {
    std::lock_guard lock(mu_);
    for (const auto& [tenant, allowed] : written.loaded) {
      // Not over a setting saved here while the batch was written (it is newer than what was read).
      if (!cached_allowed(tenant)) allowed_.insert_or_assign(tenant, CachedAllowed{allowed, clock_.now()});
    }
    std::string last;
    for (const auto& u : written.stored) {
      if (u.tenant_id == last) continue;
      last = u.tenant_id;
      auto it = signals_.find(u.tenant_id);
      if (it == signals_.end()) continue;
      ++it->second.generation;
      for (auto& w : it->second.waiters) wake.push_back(w);
    }
  }
  for (auto& w : wake) Waiter::wake(w);
}

asio::awaitable<void> UpdateHub::run_writer(TaskGroup::Stop stop) {
  // The back-off has a timer of its own: accept() wakes writer_timer_, which must not cut a back-off short.
  auto retry_timer = std::make_shared<asio::steady_timer>(executor_);
  auto guard = stop.on_stop(executor_, [timer = writer_timer_, retry_timer] {
    timer->expires_at(asio::steady_timer::time_point::min());
    retry_timer->cancel();
  });
  bool gathering = false;  // woken by a first update: wait flush_interval for more before writing
  std::optional<Batch> held;  // the batch the store refused last: written again before anything newer
  auto backoff = options_.retry_backoff_initial;
  bool failing = false;  // the last write failed: the error was reported once, held is set
  for (;;) {
    if (gathering) {
      gathering = false;
      writer_timer_->expires_after(options_.flush_interval);
      boost::system::error_code ignored;  // cancelled = woken
      co_await writer_timer_->async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    Batch batch;
    bool stopping;
    {
      std::lock_guard lock(mu_);
      if (held) {
        batch = std::move(*held);
        held.reset();
      } else {
        batch = take_batch();
      }
      stopping = stopping_;
      writer_woken_ = false;
    }
    if (!batch.empty()) {
      const auto count = static_cast<std::int64_t>(batch.items.size());
      std::string first_tenant = batch.items.empty() ? batch.lost.begin()->first : batch.items.front().tenant_id;
      auto shared = std::make_shared<Batch>(std::move(batch));
      auto job = [this, shared]() { return write(*shared); };
      Result<Written> written = co_await pool_.run(std::move(job));
      if (written) {
        if (failing) {
          std::lock_guard lock(mu_);
          retrying_ = 0;
          metrics_.pending(static_cast<double>(queued_));
        }
        failing = false;
        backoff = options_.retry_backoff_initial;
        publish(*written);
        if (written->trim_error && on_error_) on_error_(first_tenant, *written->trim_error, 0);
        continue;  // more may have queued meanwhile: the next batch goes at once (group commit)
      }
      if (stopping || stop.requested()) {
        // Shutting down with a store that still fails: what is left cannot be written within the drain.
        std::int64_t lost = count;
        {
          std::lock_guard lock(mu_);
          lost += discard_queued();
          retrying_ = 0;
          metrics_.pending(0);
        }
        metrics_.dropped(DropReason::store_error, static_cast<double>(lost));
        if (on_error_) on_error_(first_tenant, written.error(), lost);
        continue;  // nothing is queued now: the loop ends
      }
      if (!failing && on_error_) on_error_(first_tenant, written.error(), 0);
      failing = true;
      {
        std::lock_guard lock(mu_);
        held = std::move(*shared);
        retrying_ = static_cast<std::size_t>(count);
        metrics_.pending(static_cast<double>(queued_ + retrying_));
      }
      retry_timer->expires_after(backoff);
      backoff = std::min(backoff * 2, options_.retry_backoff_max);
      if (!stop.requested()) {
        boost::system::error_code ignored;  // cancelled = stop: one last attempt, then give up
        co_await retry_timer->async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      }
      continue;
    }
    // The writer leaves only when one look under mu_ found the queues empty and stopping_ set: accept()
    // queues nothing after stopping_, so nothing accepted is left behind. stop.requested() alone is not
    // enough — stop() may have begun after that look, with an update accepted after it: look again.
    if (stopping) break;
    if (stop.requested()) continue;  // stop() sets stopping_ before requesting the stop
    writer_timer_->expires_after(std::chrono::hours(1));
    {
      boost::system::error_code ignored;  // cancelled = woken
      co_await writer_timer_->async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    gathering = !stop.requested();
  }
}

asio::awaitable<Result<AllowedUpdates>> UpdateHub::allowed_updates(std::string tenant_id) {
  {
    std::lock_guard lock(mu_);
    if (auto a = cached_allowed(tenant_id)) co_return *a;
  }
  auto job = [this, tenant_id]() -> Result<std::optional<std::string>> { return log_.allowed_updates(tenant_id); };
  auto stored = co_await pool_.run(std::move(job));
  if (!stored) co_return stored.error();
  if (!*stored) co_return AllowedUpdates::defaults();
  auto parsed = AllowedUpdates::parse(json::parse(**stored, nullptr, false));
  if (!parsed) co_return AllowedUpdates::defaults();  // a type this build no longer knows: the default
  co_return *parsed;
}

asio::awaitable<Status> UpdateHub::set_allowed_updates(std::string tenant_id, AllowedUpdates allowed) {
  auto text = allowed.to_json().dump();
  auto job = [this, tenant_id, text]() { return log_.set_allowed_updates(tenant_id, text); };
  Status saved = co_await pool_.run(std::move(job));
  if (!saved) co_return saved;
  std::lock_guard lock(mu_);
  allowed_.insert_or_assign(tenant_id, CachedAllowed{std::make_shared<const AllowedUpdates>(std::move(allowed)), clock_.now()});
  co_return saved;
}

std::size_t UpdateHub::waiting(const std::string& tenant_id) const {
  std::lock_guard lock(mu_);
  auto it = signals_.find(tenant_id);
  return it == signals_.end() ? 0 : it->second.waiters.size();
}

void UpdateHub::forget_tenant(const std::string& tenant_id) {
  {
    std::lock_guard lock(mu_);
    allowed_.erase(tenant_id);
    announced_.erase(tenant_id);
    webhooks_.erase(tenant_id);
    if (auto it = queues_.find(tenant_id); it != queues_.end()) {
      queued_ -= it->second.items.size();
      queues_.erase(it);
    }
  }
  if (on_forget_) on_forget_(tenant_id);
}

asio::awaitable<Result<std::vector<store::StoredUpdate>>> UpdateHub::poll(std::string tenant_id, std::int64_t offset,
                                                                          std::size_t limit, std::string session_id,
                                                                          std::chrono::milliseconds timeout,
                                                                          DeliveryChannel channel, bool acknowledge) {
  if (auto valid = store::validate_update_read(offset, limit); !valid) co_return valid.error();
  if (channel != DeliveryChannel::webhook && has_webhook(tenant_id)) co_return webhook_conflict();
  auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Registered before the first read: a batch committed after that read wakes this reader.
  if (timeout.count() > 0) {
    if (Status st = register_waiter(tenant_id, waiter); !st) co_return st.error();
  }
  struct Unregister {
    UpdateHub* hub;
    const std::string& tenant;
    const std::shared_ptr<Waiter>& waiter;
    ~Unregister() { hub->unregister(tenant, waiter); }
  } unregister{this, tenant_id, waiter};
  bool acknowledged = !acknowledge || offset <= 0;
  for (;;) {
    // In a cluster the wait ends at each recheck too: another node's commit wakes nobody here.
    auto wake_at = deadline;
    if (options_.shared_log_recheck.count() > 0) {
      wake_at = std::min(deadline, std::chrono::steady_clock::now() + options_.shared_log_recheck);
    }
    waiter->timer.expires_at(wake_at);
    auto job = [this, tenant_id, offset, limit, session_id, ack = !acknowledged]() -> Result<std::vector<store::StoredUpdate>> {
      if (ack) {
        if (auto a = log_.acknowledge(tenant_id, offset); !a) return a.error();
      }
      return log_.read(tenant_id, offset, limit, session_id);
    };
    Result<std::vector<store::StoredUpdate>> page = co_await pool_.run(std::move(job));
    if (!page) co_return page.error();
    acknowledged = true;
    if (!page->empty()) {
      delivered(*page, channel);
      co_return page;
    }
    {
      std::lock_guard lock(mu_);
      if (readers_closed_) co_return Error(Errc::unavailable, "the service is shutting down");
      if (channel != DeliveryChannel::webhook && webhooks_.contains(tenant_id)) co_return webhook_conflict();
    }
    if (std::chrono::steady_clock::now() >= deadline) co_return page;
    boost::system::error_code ignored;  // cancelled = woken
    co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

}  // namespace tgpulse::updates
