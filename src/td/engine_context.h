// EngineContext: what an Engine shares with its TdClients — the library, the resolved metric handles,
// the request-id counter and the receive-loop statistics. Internal to src/td.
//
// Thread-safety: immutable after construction except the atomics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "td/td_codec.h"
#include "td/td_library.h"
#include "telemetry/logger.h"
#include "telemetry/metrics.h"
#include "telemetry/telethon_metrics.h"

namespace tgpulse::td {

// Transparent hash so string_view lookups do not allocate.
struct MethodNameHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

struct EngineContext {
  TdLibrary* library = nullptr;
  telemetry::TelethonMetrics* telethon = nullptr;
  telemetry::Logger* logger = nullptr;
  std::chrono::milliseconds default_timeout{30000};
  std::atomic<bool> running{false};
  std::atomic<std::uint64_t> next_extra{1};

  // tgpulse_td_request_duration_seconds{method}: known methods, then "other".
  std::unordered_map<std::string, telemetry::Histogram*, MethodNameHash, std::equal_to<>> duration_by_method;
  telemetry::Histogram* duration_other = nullptr;
  telemetry::Histogram* receive_lag = nullptr;
  telemetry::Counter* updates = nullptr;
  telemetry::Counter* invalid_json = nullptr;
  telemetry::Counter* unknown_client = nullptr;
  telemetry::Counter* unknown_extra = nullptr;
  std::array<telemetry::Gauge*, kAuthorizationStateCount> clients_by_state{};

  struct Counts {
    std::atomic<std::uint64_t> received{0}, updates{0}, answers{0}, invalid_json{0}, unknown_client{0},
        unknown_extra{0}, absorbed_flood_waits{0};
  } counts;

  telemetry::Histogram& duration_for(std::string_view method) const noexcept {
    auto it = duration_by_method.find(method);
    return it == duration_by_method.end() ? *duration_other : *it->second;
  }
  static double seconds_since(std::chrono::steady_clock::time_point t) noexcept {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  }
};

}  // namespace tgpulse::td
