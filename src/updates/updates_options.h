// UpdatesOptions: the update log's and the webhooks' settings — the whole `updates` section of the
// configuration (updates.max_pending, updates.max_age, updates.webhook_allow_private,
// updates.webhook_timeout; the rest fixed bounds documented here and in WebhookOptions).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "updates/webhook_options.h"

namespace tgpulse::updates {

struct UpdatesOptions {
  // updates.max_pending: the most updates a tenant's log keeps; past it the oldest are dropped (counted,
  // announced with tgpulseUpdatesDropped). Default 100,000. 1..10,000,000.
  std::int64_t max_pending = 100000;
  // updates.max_age: updates older than this are dropped the same way. Default 24 h. 1 s..30 days.
  std::chrono::milliseconds max_age{std::chrono::hours(24)};
  // Updates of one tenant waiting in memory for the log; past it new ones are dropped (queue_full).
  std::size_t queue_capacity = 20000;
  // Group commit: a batch is written at most every flush_interval, or at once when this many wait.
  std::size_t batch_max = 1000;
  std::chrono::milliseconds flush_interval{5};
  // A batch the store refused (busy, disk full) is kept and written again after a back-off that starts
  // here and doubles up to retry_backoff_max; meanwhile the tenants' queues keep their bound
  // (queue_capacity). Only stop() gives up on it (the batch and what is queued are counted store_error).
  std::chrono::milliseconds retry_backoff_initial{10};
  std::chrono::milliseconds retry_backoff_max{1000};
  // Long polls and streams waiting at once per tenant; more answer 429.
  std::size_t max_waiters = 16;
  // The longest long poll (GET /v1/updates?timeout=).
  std::chrono::seconds max_poll_timeout{50};
  // Webhook deliveries (docs/api.md#webhooks): the address policy, the client's timeouts, retries.
  WebhookOptions webhook;
  // Updates of one session in one webhook POST (a small batch: {"updates": [...]}).
  std::size_t webhook_batch_max = 20;
  // Updates a tenant's webhook delivery holds in memory, read ahead of its POSTs.
  std::size_t webhook_read_ahead = 2000;
  // In a cluster (docs/updates.md#in-a-cluster) every node writes to the same log, but a hub wakes only
  // the readers of its own commits: a long poll, a stream or a webhook delivery waiting here reads the
  // shared log again at least this often, so an update written by another node reaches it within about
  // this interval. Default 0 = off (a single node: only this hub writes, its commits wake every reader).
  // Set to 1 s by the wiring when cluster.node_id is set. Each waiting reader then costs one indexed
  // read of its tenant's log per interval.
  std::chrono::milliseconds shared_log_recheck{0};
  // In a cluster, how often a node reads again what another node may change: the stored webhooks (one
  // set or deleted through another node takes effect here — webhook mode for the readers, the delivery
  // on its owner — within about this interval; they are read at once, too, when this node's share of
  // them changes) and each tenant's allowed_updates this hub keeps in memory. Used only when
  // shared_log_recheck > 0 (the webhooks: with a DeliveryMembership). Default 5 s.
  std::chrono::milliseconds shared_settings_refresh{std::chrono::seconds(5)};

  bool operator==(const UpdatesOptions&) const = default;
};

}  // namespace tgpulse::updates
