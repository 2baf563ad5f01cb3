// UpdateHub: the per-tenant update log's front (docs/updates.md). It receives every update a session's
// engine client emits and the service's own events (accept(): never blocks — a bounded in-memory queue
// per tenant), filters them by the tenant's allowed_updates before anything is stored, writes them to
// the UpdateLog in batches on the blocking pool (group commit: one transaction per batch, every
// flush_interval or batch_max updates), trims each written tenant's log to max_pending / max_age
// (announcing a gap with a tgpulseUpdatesDropped event that names the missing ids), and only then wakes
// the readers waiting for that tenant — a reader never sees an update a crash could lose or whose id
// could be reused.
//
// A transient store error loses nothing: the writer keeps the batch the store refused and writes it
// again after a bounded back-off (retry_backoff_initial doubling up to retry_backoff_max), in the same
// order, before any later update; meanwhile the tenants' queues keep their bound (queue_full beyond it).
// Only stop() gives up: a batch that still fails then, and everything still queued, is counted as
// store_error and reported to the error handler with the number lost.
//
// Fairness: a batch takes updates from every tenant with queued updates in turn, so one tenant's flood
// fills its own queue (then its new updates are dropped as queue_full, counted and announced) without
// delaying another tenant's; a tenant that never reads only makes its own log trim.
//
// Lifetime: start() spawns the writer (a coroutine on `executor`, in the hub's TaskGroup); stop()
// refuses new updates, writes what was accepted, wakes every waiting reader and joins the writer. The
// pool, the log and the metrics must outlive the hub.
//
// In a cluster (options.shared_log_recheck > 0) other nodes' hubs write to the same log and their
// commits wake no reader here: a waiting long poll reads the log again at least every recheck interval
// (streams and webhook deliveries do the same in their own loops).
//
// Thread-safety: thread-safe. accept() from any thread; read()/wait_for() from coroutines on any
// executor (they resume on their own); the writer runs on `executor` and posts its store work to `pool`.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <utility>  // before Asio 1.74's awaitable.hpp
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "core/blocking_pool.h"
#include "core/clock.h"
#include "core/task_group.h"
#include "session/engine_client.h"
#include "store/update_log.h"
#include "updates/update_metrics.h"
#include "updates/update_types.h"
#include "updates/updates_options.h"

namespace tgpulse::updates {

class UpdateHub final : public session::UpdateSink {
 public:
  struct Waiter;
  // `on_error` receives the writer's store errors, for the log: `lost` > 0 when updates were dropped for
  // it (counted as store_error too), 0 when nothing was lost (the first failure of a batch that is
  // retried, or a trim after the batch was written).
  using ErrorHandler = std::function<void(const std::string& tenant_id, const Error& error, std::int64_t lost)>;

  UpdateHub(boost::asio::any_io_executor executor, BlockingPool& pool, store::UpdateLog& log, const Clock& clock,
            UpdatesOptions options, UpdateMetrics& metrics, ErrorHandler on_error = {});
  ~UpdateHub() override;
  UpdateHub(const UpdateHub&) = delete;
  UpdateHub& operator=(const UpdateHub&) = delete;

  void start();
  // Writes what was accepted, wakes every reader, joins the writer within `drain`. Returns the names of
  // tasks that outlived it (empty when clean).
  std::vector<std::string> stop(std::chrono::milliseconds drain);

  void accept(const std::string& tenant_id, const std::string& session_id, const nlohmann::json& update) override;

  // The tenant's allowed_updates (the default when never set).
  boost::asio::awaitable<Result<AllowedUpdates>> allowed_updates(std::string tenant_id);
  // Saves the setting; updates accepted from then on are filtered by it.
  boost::asio::awaitable<Status> set_allowed_updates(std::string tenant_id, AllowedUpdates allowed);
  // Acknowledges everything below `offset` (when `acknowledge` and offset > 0), then returns up to
  // `limit` updates >= offset (of `session_id` only when not empty), waiting up to `timeout` for the
  // first one to be written. Errc::throttled (Retry-After 1) when max_waiters readers of this tenant
  // wait already; unavailable once close_readers() or stop() ran.
  boost::asio::awaitable<Result<std::vector<store::StoredUpdate>>> poll(std::string tenant_id, std::int64_t offset,
                                                                        std::size_t limit, std::string session_id,
                                                                        std::chrono::milliseconds timeout,
                                                                        DeliveryChannel channel, bool acknowledge = true);
  // A stream's registration: `notify` is called (from the writer's thread) after each batch committed
  // with updates of the tenant, until the returned Listening object goes. It counts against
  // max_waiters (Errc::throttled then, as poll()).
  class Listening {
   public:
    Listening() = default;
    Listening(UpdateHub* hub, std::string tenant, std::shared_ptr<Waiter> waiter)
        : hub_(hub), tenant_(std::move(tenant)), waiter_(std::move(waiter)) {}
    Listening(Listening&&) = default;
    Listening& operator=(Listening&&) = default;
    ~Listening();

   private:
    UpdateHub* hub_ = nullptr;
    std::string tenant_;
    std::shared_ptr<Waiter> waiter_;
  };
  Result<Listening> listen(const std::string& tenant_id, std::function<void()> notify);
  // Webhook mode (docs/updates.md#webhooks): while a tenant has a webhook, poll() for long_poll or
  // stream and listen() answer Errc::conflict, and turning it on wakes the tenant's waiting readers so
  // they answer it too (the webhook wins, as the Bot API's setWebhook does).
  void set_webhook(const std::string& tenant_id, bool active);
  bool has_webhook(const std::string& tenant_id) const;
  // Errc::conflict (naming the webhook) while the tenant has one; ok otherwise. For a route that must
  // refuse before it starts answering (the stream).
  Status readable(const std::string& tenant_id) const;
  // A webhook delivery's registration: `notify` is called as listen()'s is, but it neither counts
  // against max_waiters nor is refused in webhook mode.
  Listening watch(const std::string& tenant_id, std::function<void()> notify);
  // Called by forget_tenant() after the hub forgot the tenant (the webhook deliveries stop theirs).
  void set_on_forget(std::function<void(const std::string& tenant_id)> on_forget);
  // Counts what a stream handed over (delivered_total{channel="stream"} and the lag histogram).
  void delivered(const std::vector<store::StoredUpdate>& page, DeliveryChannel channel);
  // Wakes every waiting reader (they answer unavailable) and refuses new waits: the first step of the
  // shutdown, before the HTTP server drains, so no long poll holds the drain.
  void close_readers();
  // Forgets what the hub keeps in memory of a deleted tenant (its log goes with the tenant's record).
  void forget_tenant(const std::string& tenant_id) override;

  const UpdatesOptions& options() const noexcept { return options_; }
  // Readers waiting for the tenant now (long polls and streams).
  std::size_t waiting(const std::string& tenant_id) const;

 private:
  // An accepted update, serialised once on accept (the log stores the text; the routes splice it into
  // their answers unparsed): a queue of strings, not of JSON trees, so nothing is copied twice.
  struct Queued {
    std::string session_id;
    std::int64_t received_at_ms;
    std::string type;     // the update's @type (the filter runs again on the writer, on the loaded setting)
    std::string payload;  // the update as compact JSON text
  };
  struct TenantQueue {
    std::deque<Queued> items;
    std::int64_t lost = 0;  // dropped as queue_full since the last batch (announced in the next)
  };
  struct TenantSignal {
    std::uint64_t generation = 0;  // bumped after each committed batch with this tenant's updates
    std::vector<std::shared_ptr<Waiter>> waiters;
  };
  struct Batch;
  struct Written;

  boost::asio::awaitable<void> run_writer(TaskGroup::Stop stop);
  Batch take_batch();                         // under mu_
  Result<Written> write(Batch& batch);         // on the pool; leaves the batch whole for a retry
  std::int64_t discard_queued();              // under mu_: empties every queue, returns how many went
  void publish(const Written& written);       // wakes readers; metrics
  void wake_writer();
  void unregister(const std::string& tenant_id, const std::shared_ptr<Waiter>& waiter);
  Status register_waiter(const std::string& tenant_id, const std::shared_ptr<Waiter>& waiter);
  std::int64_t now_ms() const;

  boost::asio::any_io_executor executor_;
  BlockingPool& pool_;
  store::UpdateLog& log_;
  const Clock& clock_;
  const UpdatesOptions options_;
  UpdateMetrics& metrics_;
  ErrorHandler on_error_;
  TaskGroup tasks_;

  mutable std::mutex mu_;
  std::map<std::string, TenantQueue, std::less<>> queues_;  // guarded by mu_
  // The tenants' allowed_updates as last read or set here, and when. In a cluster another node may change
  // a setting: one older than shared_settings_refresh is read from the log again. Guarded by mu_.
  struct CachedAllowed {
    std::shared_ptr<const AllowedUpdates> value;
    Clock::TimePoint read_at;
  };
  std::map<std::string, CachedAllowed, std::less<>> allowed_;
  // Under mu_: the tenant's setting when known and, in a cluster, read recently enough; null otherwise.
  std::shared_ptr<const AllowedUpdates> cached_allowed(std::string_view tenant_id) const;
  std::map<std::string, TenantSignal, std::less<>> signals_;  // guarded by mu_
  std::set<std::string, std::less<>> webhooks_;  // tenants in webhook mode; guarded by mu_
  std::function<void(const std::string&)> on_forget_;  // set before the routes serve
  // Per tenant, its gap announcements still in the log (oldest first) and the first id each names: a
  // later trim that drops announcements names their ids again, so a gap is never left unannounced. In
  // memory only (after a restart a trim names what it drops itself). Guarded by mu_.
  struct Announced {
    std::int64_t event_id = 0;
    std::int64_t from = 0;
  };
  std::map<std::string, std::deque<Announced>, std::less<>> announced_;
  std::string next_tenant_;  // round-robin start of the next batch; guarded by mu_
  std::size_t queued_ = 0;   // guarded by mu_
  std::size_t retrying_ = 0;  // updates of the batch the store refused, held for a retry; guarded by mu_
  bool stopping_ = false;    // guarded by mu_
  bool readers_closed_ = false;  // guarded by mu_
  bool writer_woken_ = false;  // guarded by mu_
  std::shared_ptr<boost::asio::steady_timer> writer_timer_;  // the writer's wait; touched on executor_
};

}  // namespace tgpulse::updates
