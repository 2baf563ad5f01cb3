#include "updates/update_metrics.h"

#include <algorithm>

namespace tgpulse::updates {

const std::vector<std::string>& UpdateMetrics::counted_types() {
  static const std::vector<std::string> types = {
      "updateNewMessage",        "updateMessageEdited",       "updateMessageContent",   "updateDeleteMessages",
      "updateChatReadInbox",     "updateChatReadOutbox",      "updateNewChat",          "updateChatLastMessage",
      "updateUser",              "updateUserStatus",          "updateChatAction",       "updateMessageSendSucceeded",
      "updateAuthorizationState", "updateOption",             "tgpulseSessionAuthorized", "tgpulseSessionRevoked",
      "tgpulseSessionClosed",    "tgpulseQrLoginExpired",     "tgpulsePhoneLoginExpired",
      "tgpulseUpdatesDropped"};
  return types;
}

UpdateMetrics::UpdateMetrics(telemetry::Registry& registry) {
  auto& received = registry.counter("tgpulse_updates_received_total",
                                    "Updates received from the engine and service events, by type", {"type"});
  for (const auto& t : counted_types()) received_.push_back(&received.labels({t}));
  received_.push_back(&received.labels({"other"}));
  auto& dropped = registry.counter("tgpulse_updates_dropped_total", "Updates lost before a tenant read them, by reason",
                                   {"reason"});
  const char* reasons[] = {"max_pending", "max_age", "queue_full", "store_error", "webhook_max_age"};
  for (int i = 0; i < 5; ++i) dropped_[i] = &dropped.labels({reasons[i]});
  auto& delivered = registry.counter("tgpulse_updates_delivered_total", "Updates handed to a reader, by channel",
                                     {"channel"});
  delivered_[0] = &delivered.labels({"long_poll"});
  delivered_[1] = &delivered.labels({"stream"});
  delivered_[2] = &delivered.labels({"webhook"});
  auto& lag = registry.histogram("tgpulse_update_delivery_lag_seconds",
                                 "Time from an update's receipt to its delivery, by channel",
                                 {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600}, {"channel"});
  lag_[0] = &lag.labels({"long_poll"});
  lag_[1] = &lag.labels({"stream"});
  lag_[2] = &lag.labels({"webhook"});
  pending_ = &registry.gauge("tgpulse_updates_pending", "Updates received and not yet written to the log").get();
}

void UpdateMetrics::received(std::string_view type) noexcept {
  const auto& types = counted_types();
  auto it = std::find(types.begin(), types.end(), type);
  received_[static_cast<std::size_t>(it - types.begin())]->inc();
}

void UpdateMetrics::dropped(DropReason reason, double n) noexcept {
  if (n > 0) dropped_[static_cast<int>(reason)]->inc(n);
}

void UpdateMetrics::delivered(DeliveryChannel channel, double n) noexcept {
  if (n > 0) delivered_[static_cast<int>(channel)]->inc(n);
}

}  // namespace tgpulse::updates
