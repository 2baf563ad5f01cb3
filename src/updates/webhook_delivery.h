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
// Lifetime: the pool, log, hub, metrics, logger and tracer must outlive this object; stop() stops and
// joins every tenant's delivery within a bound (the destructor calls it).
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
#include <string>
#include <vector>

#include <utility>  // before Asio 1.74's awaitable.hpp
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/blocking_pool.h"
#include "core/clock.h"
#include "store/update_log.h"
#include "telemetry/logger.h"
#include "telemetry/metrics.h"
#include "telemetry/tracer.h"
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
  };

  WebhookDelivery(Context context, UpdatesOptions options, Poster post);
  ~WebhookDelivery();
  WebhookDelivery(const WebhookDelivery&) = delete;
  WebhookDelivery& operator=(const WebhookDelivery&) = delete;

  // At start-up (blocking: reads the log directly): every stored webhook's tenant goes into webhook
  // mode and its delivery starts. A stored URL that no longer parses is logged and skipped.
  Status load();
  // Stores the webhook (replacing one), puts the tenant in webhook mode and (re)starts its delivery.
  // The URL must parse (WebhookUrl) and the secret be valid (validate_webhook_secret); the address
  // policy is checked by the caller (it resolves) and again at every delivery.
  boost::asio::awaitable<Status> set(store::WebhookRecord record);
  // Removes the tenant's webhook and stops its delivery; with drop_pending, its whole log is
  // acknowledged too. false when there was none.
  boost::asio::awaitable<Result<bool>> remove(std::string tenant_id, bool drop_pending);
  // nullopt when the tenant has no webhook.
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

  Context ctx_;
  const UpdatesOptions options_;
  Poster post_;
  std::shared_ptr<Metrics> metrics_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Tenant>, std::less<>> tenants_;  // guarded by mu_
  std::vector<std::shared_ptr<Tenant>> retired_;  // stopped, maybe not ended yet; guarded by mu_
  bool stopped_ = false;                          // guarded by mu_
};

}  // namespace tgpulse::updates
