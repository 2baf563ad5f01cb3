// EngineOptions: how the engine drives TDLib. Plain struct; every field documents its default.
//
// Thread-safety: a value type; the engine copies it at construction.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "telemetry/telethon_metrics.h"

namespace tgpulse::td {

struct EngineOptions {
  // td_receive timeout of the receive loop. Bounds how long stop() waits for the loop to notice; a
  // shorter value costs idle wake-ups. Default 0.25 s.
  double receive_timeout_seconds = 0.25;
  // Timeout of TdClient::send() when the caller gives none. Default 30 s (TDLib answers most queries
  // within a second; flood waits it absorbs keep a query at most ~60 s, which callers pass explicitly).
  std::chrono::milliseconds default_request_timeout{30000};
  // TDLib's log verbosity (setLogVerbosityLevel and the log callback's maximum). Default 2 (WARNING):
  // the level at which TDLib reports the flood waits it absorbs; 3+ is very chatty.
  int tdlib_log_verbosity = 2;
  // Silences TDLib's own stderr log (setLogStream logStreamEmpty) so its lines reach only the
  // structured log through the callback. Default true.
  bool silence_tdlib_stderr = true;
  // Methods with their own tgpulse_td_request_duration_seconds{method} series (others are "other").
  // Default: the seed catalog's known methods, so both metric sets agree.
  std::vector<std::string> known_methods = telemetry::CatalogOptions{}.known_methods;
  // Upper bound for stop() to join the receive thread. Default 5 s.
  std::chrono::milliseconds stop_timeout{5000};

  bool operator==(const EngineOptions&) const = default;
};

}  // namespace tgpulse::td
