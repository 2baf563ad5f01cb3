// Engine: the only owner of TDLib's receive loop. One thread calls td_receive(timeout) and routes each
// object by "@client_id" to its TdClient and by "@extra" to the send() waiting for it; updates go to
// the client's update handler on the client's strand. TDLib's log callback goes to the structured log
// (at EngineOptions::tdlib_log_verbosity) and the flood waits TDLib absorbs internally ("Delay: ...
// FLOOD_WAIT_N" at WARNING) are reported through telemetry::FloodWaitReporter with operation and reason
// "engine", attributed to the tenant and session of the client the line's [#N] tag names.
//
// Metrics registered here (names resolved at construction):
//   tgpulse_td_request_duration_seconds{method}  send() duration (known methods + "other")
//   tgpulse_td_clients{state}                    live clients by authorization state
//   tgpulse_td_receive_lag_seconds               td_receive return → completion running on the strand
//   tgpulse_td_updates_total                     updates received
//   tgpulse_td_receive_errors_total{reason}      invalid_json, unknown_client, unknown_extra
// and, through TelethonMetrics, telethon_requests_total{method,status} and the FloodWait metrics of
// absorbed waits (a 429 is counted as requests_total{status="flood_wait"}; the FloodWait policy that
// handles it records telethon_floodwait_total).
//
// TDLib's log callback is process-wide and carries no user pointer: at most one Engine per process
// receives TDLib's log (the last one started).
//
// Lifetimes: the io_context, library, registry, metrics and logger must outlive the Engine; the Engine
// must outlive the use of its TdClients (after stop() their send() fails fast with Errc::unavailable).
//
// Thread-safety: thread-safe. start()/stop() must not race with each other.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "core/result.h"
#include "td/engine_options.h"
#include "td/td_client.h"
#include "td/td_library.h"
#include "telemetry/flood_wait_reporter.h"
#include "telemetry/logger.h"
#include "telemetry/metrics.h"
#include "telemetry/telethon_metrics.h"

namespace tgpulse::td {

// Counters of the receive loop, for tests and health checks.
struct EngineStats {
  std::uint64_t received = 0;        // objects returned by td_receive
  std::uint64_t updates = 0;         // delivered to update handlers
  std::uint64_t answers = 0;         // matched to a pending send()
  std::uint64_t invalid_json = 0;    // lines that were not a JSON object
  std::uint64_t unknown_client = 0;  // "@client_id" missing or not created by this engine
  std::uint64_t unknown_extra = 0;   // answers whose "@extra" no send() waits for (e.g. after a timeout)
  std::uint64_t absorbed_flood_waits = 0;  // "Delay: ... FLOOD_WAIT" lines from TDLib's log
};

class Engine {
 public:
  Engine(boost::asio::io_context& io, TdLibrary& library, telemetry::Registry& registry,
         telemetry::TelethonMetrics& metrics, telemetry::Logger& logger, EngineOptions options = {});
  ~Engine();  // stop()
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Sets TDLib's log verbosity/stream/callback and starts the receive thread. Errors: Errc::conflict if
  // already started, Errc::engine_error if TDLib refuses the log settings.
  Status start();
  // Stops the receive thread (it notices within one receive_timeout; if the library blocks in
  // td_receive longer than receive_timeout + stop_timeout an error is logged and stop keeps waiting),
  // fails every pending send() with Errc::unavailable and marks every client closed. TDLib clients are
  // not closed (the session layer closes them before). Idempotent.
  void stop();
  bool running() const noexcept;
  // Steady-clock time at which the receive loop last began an iteration (every receive_timeout at
  // least while it is healthy); the epoch before start(). Readiness fails when it is old: a loop stuck
  // in a handler or in td_receive.
  std::chrono::steady_clock::time_point last_heartbeat() const noexcept {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(heartbeat_.load(std::memory_order_relaxed)));
  }

  // Creates a TDLib client. The client appears to TDLib on its first send() (TDLib then sends
  // updateAuthorizationState{authorizationStateWaitTdlibParameters}). Errc::unavailable when stopped.
  // `owner` attributes what TDLib logs about the client (absorbed FloodWaits) to a tenant and session.
  Result<std::shared_ptr<TdClient>> create_client(TdClient::UpdateHandler handler = {}, ClientOwner owner = {});

  // td_execute: a synchronous TDLib function (getOption("version"), getTextEntities, ...). TDLib
  // `error` answers become Errors as in TdClient::send().
  Result<nlohmann::json> execute(const nlohmann::json& request);

  std::size_t client_count() const;
  EngineStats stats() const;
  const EngineOptions& options() const noexcept { return options_; }

 private:
  void receive_loop();
  void route(const char* line);
  void on_tdlib_log(int verbosity, const char* message);
  static void log_trampoline(int verbosity, const char* message);

  boost::asio::io_context& io_;
  TdLibrary& library_;
  telemetry::TelethonMetrics& telethon_;
  telemetry::Logger& logger_;
  const telemetry::FloodWaitReporter flood_reporter_;
  const EngineOptions options_;
  std::shared_ptr<EngineContext> context_;

  mutable std::mutex clients_mutex_;
  std::unordered_map<int, std::shared_ptr<TdClient>> clients_;  // guarded by clients_mutex_

  std::thread receive_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> started_{false};
  std::atomic<std::chrono::steady_clock::rep> heartbeat_{0};  // written by the receive loop only
};

}  // namespace tgpulse::td
