// UpdateMetrics: the update log's metrics (docs/telemetry.md, "Updates"), resolved once at start-up:
//   tgpulse_updates_received_total{type}         updates received from the engine (and service events),
//                                                 by @type: a bounded set of common types, else "other"
//   tgpulse_updates_delivered_total{channel}     updates handed to a reader: long_poll, stream, webhook
//   tgpulse_updates_dropped_total{reason}        updates lost: max_pending, max_age (trimmed from the log),
//                                                 queue_full (the tenant's queue before the log), store_error,
//                                                 webhook_max_age (a webhook did not take it in time)
//   tgpulse_update_delivery_lag_seconds{channel} received → delivered (histogram), by channel
//   tgpulse_updates_pending                      updates queued in memory, not yet in the log (gauge)
// Every label value is pre-created at zero. No tenant or session label.
//
// Thread-safety: thread-safe (the handles are the metrics core's lock-free ones).
#pragma once

#include <string_view>

#include "telemetry/metrics.h"

namespace tgpulse::updates {

enum class DropReason { max_pending, max_age, queue_full, store_error, webhook_max_age };
enum class DeliveryChannel { long_poll, stream, webhook };

class UpdateMetrics {
 public:
  explicit UpdateMetrics(telemetry::Registry& registry);

  void received(std::string_view type) noexcept;
  void dropped(DropReason reason, double n) noexcept;
  void delivered(DeliveryChannel channel, double n) noexcept;
  void lag(DeliveryChannel channel, double seconds) noexcept { lag_[static_cast<int>(channel)]->observe(seconds); }
  void pending(double n) noexcept { pending_->set(n); }

  // The types counted under their own name (the rest under "other").
  static const std::vector<std::string>& counted_types();

 private:
  std::vector<telemetry::Counter*> received_;  // counted_types() order, then "other"
  telemetry::Counter* dropped_[5] = {};
  telemetry::Counter* delivered_[3] = {};
  telemetry::Histogram* lag_[3] = {};  // by DeliveryChannel
  telemetry::Gauge* pending_ = nullptr;
};

}  // namespace tgpulse::updates
