// WebhookDelivery: the tenants' webhooks (docs/api.md#webhooks, docs/updates.md#webhooks). For each
// tenant with a webhook it runs a dispatcher that reads the tenant's update log ahead (woken by the
// hub after each committed batch, never polling), queues what it read by session, and starts POSTs of
// batches, up to the webhook's max_connections at once for the tenant. A batch takes the first updates
// of one or more sessions that have no POST in flight (round-robin, one update from each in turn, up to
// updates' webhook_batch_max), in update_id order; its sessions wait until it ends. So one session's
// updates go strictly in order, never in two POSTs at once, and many sessions share each POST. A POST
// carries {"updates": [...]} (the objects long polling answers), signed by the client, on a kept-alive
// connection when there is one (WebhookConnections).
//
// At least once: an update leaves the log only after a 2xx for the POST that carried it (removed by
// id); a failed POST is retried with the same batch after next_webhook_retry()'s wait (back-off with
// jitter, the receiver's 429/503 Retry-After), while its sessions' later updates wait and the other
// sessions go on. When a batch's oldest update is past updates.max_age it is given up: its updates
// that old (at least the oldest) are removed, counted (tgpulse_updates_dropped_total{reason=
// "webhook_max_age"}) and announced with a tgpulseUpdatesDropped event per session; the younger ones
// go back to their queues. A restart reads the log from its start again: what was in flight is delivered
// again (a duplicate only after a delivery that got no 2xx).
//
// Each tenant's delivery has its own strand and TaskGroup: a dead or hanging receiver (each POST ends
// within updates.webhook_timeout) delays only its own tenant. set() while a delivery runs replaces it:
// the new one starts once the old one's POSTs ended, so two never overlap.
//
// In a cluster (Context::membership set; docs/updates.md#in-a-cluster) every node knows every stored
// webhook (each tenant with one is in webhook mode on every node's hub), but a tenant's delivery runs only
// on the node the membership names its owner. A follower task (on `executor`, every shared_log_recheck,
// 1 s when that is 0) starts the deliveries of the tenants this node gained and stops those it lost (after
// the POST in flight: at least once holds, a duplicate is possible during the change), and reads the
// stored webhooks again every shared_settings_refresh and at once when its share changed, so a webhook set,
// replaced or deleted through another node takes effect here. A running delivery also reads the shared
// log every shared_log_recheck (updates written by other nodes wake no one here).
//
// Lifetime: the pool, log, hub, metrics, logger, tracer and membership must outlive this object; stop()
// stops and joins the follower and every tenant's delivery within a bound (the destructor calls it).
//
// Thread-safety: thread-safe. load()/stop() from a thread that runs none of the executors; set(),
// remove() and info() are coroutines that may run on any executor (store work goes to the pool).
// Each tenant's tasks run on a strand of `executor`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <utility>  // before Asio 1.74's awaitable.hpp
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/blocking_pool.h"
#include "core/clock.h"
#include "core/task_group.h"
#include "store/update_log.h"
#include "telemetry/logger.h"
#include "telemetry/metrics.h"
#include "telemetry/tracer.h"
#include "updates/delivery_membership.h"
#include "updates/update_hub.h"
#include "updates/update_metrics.h"
#include "updates/updates_options.h"
#include "updates/webhook_client.h"

namespace tgpulse::updates {

class WebhookDelivery {
 public:
  // One POST: WebhookClient::post in the service, a fake receiver in tests. Runs on the tenant's strand;
  // `connections` are the tenant's kept-alive ones (WebhookClient::post reuses and keeps them).
  using Poster = std::function<boost::asio::awaitable<WebhookOutcome>(
      WebhookUrl url, std::string body, std::string secret, std::int64_t timestamp, WebhookConnections& connections)>;

  // What GET /v1/webhook shows (never the secret).
  struct Info {
    std::string url;  // WebhookUrl::redacted(): the query shown as "?…"
    std::int64_t max_connections = 0;
    std::int64_t pending_update_count = 0;
    std::optional<std::int64_t> last_error_date;  // unix seconds of the last failed POST
    std::string last_error_message;
  };

  struct Context {
    boost::asio::any_io_executor executor;
    BlockingPool& pool;
    store::UpdateLog& log;
    UpdateHub& hub;
    const Clock& clock;
    UpdateMetrics& metrics;
    telemetry::Registry& registry;
    telemetry::Logger& logger;
    telemetry::Tracer& tracer;
    // In a cluster: which tenants this node delivers. Null: every tenant (a single node).
    const DeliveryMembership* membership = nullptr;
  };

  WebhookDelivery(Context context, UpdatesOptions options, Poster post);
  ~WebhookDelivery();
  WebhookDelivery(const WebhookDelivery&) = delete;
  WebhookDelivery& operator=(const WebhookDelivery&) = delete;

  // At start-up (blocking: reads the log directly): every stored webhook's tenant goes into webhook
  // mode and its delivery starts (in a cluster: the follower starts, and with it the deliveries of the
  // tenants this node owns). A stored URL that no longer parses is logged and skipped.
  Status load();
  // Stores the webhook (replacing one), puts the tenant in webhook mode and (re)starts its delivery.
  // The URL must parse (WebhookUrl) and the secret be valid (validate_webhook_secret); the address
  // policy is checked by the caller (it resolves) and again at every delivery.
  boost::asio::awaitable<Status> set(store::WebhookRecord record);
  // Removes the tenant's webhook and stops its delivery; with drop_pending, its whole log is
  // acknowledged too. false when there was none.
  boost::asio::awaitable<Result<bool>> remove(std::string tenant_id, bool drop_pending);
  // nullopt when the tenant has no webhook. In a cluster, on a node that does not deliver the tenant's
  // webhook, it is read from the log and has no last error (the delivering node keeps that).
  boost::asio::awaitable<Result<std::optional<Info>>> info(std::string tenant_id);
  // The tenant was deleted (its webhook row went with it): stop its delivery.
  void forget_tenant(const std::string& tenant_id);
  // Stops and joins every delivery within `drain`; the names of tasks that outlived it.
  std::vector<std::string> stop(std::chrono::milliseconds drain);

  // The tenants whose delivery runs now (tests).
  std::size_t running() const;

 private:
  struct Tenant;
  struct Metrics;
  std::shared_ptr<Tenant> start_tenant(const store::WebhookRecord& record, WebhookUrl url);  // holds mu_
  void retire(const std::string& tenant_id);
  void retire_locked(const std::string& tenant_id, const char* why);  // holds mu_
  bool delivers(const std::string& tenant_id) const;  // the membership's answer; true without one
  // The follower (cluster only), on ctx_.executor, in follower_; stop() joins it.
  boost::asio::awaitable<void> follow(TaskGroup::Stop stop);
  bool share_changed() const;  // a known webhook's delivery runs here and should not, or the reverse
  // Takes `rows` as the stored webhooks (unless a set()/remove() ran since `seen`: a newer state), then
  // starts and stops deliveries to match the membership; updates the hub's webhook mode.
  void reconcile(std::optional<std::vector<store::WebhookRecord>> rows, std::uint64_t seen);

  Context ctx_;
  const UpdatesOptions options_;
  Poster post_;
  std::shared_ptr<Metrics> metrics_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Tenant>, std::less<>> tenants_;  // guarded by mu_
  std::vector<std::shared_ptr<Tenant>> retired_;  // stopped, maybe not ended yet; guarded by mu_
  bool stopped_ = false;                          // guarded by mu_
  // In a cluster: every stored webhook as last read or set here, by tenant (whoever delivers it), the
  // tenants whose stored URL does not parse (logged once), and a count of set()/remove() calls (a read
  // of the rows that began before one is stale). Guarded by mu_.
  std::map<std::string, store::WebhookRecord, std::less<>> known_;
  std::set<std::string, std::less<>> invalid_;
  std::uint64_t changes_ = 0;
  TaskGroup follower_;
};

}  // namespace tgpulse::updates
