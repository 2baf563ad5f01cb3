// LoadGenerator: drives a running tgpulse over HTTP, the way `tgpulse load` does.
//
//   1. set_up(): creates N tenants with the admin token (POST /v1/tenants), starts M QR logins per
//      tenant (POST /v1/qr-logins), has each QR link scanned through tdsim's control interface
//      (POST {control}/scan {"link","outcome":"accept"}) and waits until every login is authorized.
//   2. run(): scrapes /metrics, sends a weighted mix of TDLib methods to the sessions (round-robin) at a
//      target rate — open loop: request i leaves at start + i / rate, however slow the answers — for a
//      duration or a count, printing a live progress line; waits for the last answers; scrapes /metrics
//      again and returns the LoadReport.
//
// Thread-safety: confined to the io_context thread that runs it (and its transports).
#pragma once

#include <utility>  // before Boost.Asio 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "loadgen/http_transport.h"
#include "loadgen/load_report.h"
#include "loadgen/sample_quantiles.h"
#include "loadgen/weighted_mix.h"

namespace tgpulse::loadgen {

struct LoadOptions {
  int tenants = 1;                           // tenants created for the run
  int sessions_per_tenant = 1;               // QR logins per tenant
  std::string tenant_prefix;                 // tenant ids are <prefix>-<i>; "" = "load-<random hex>"
  std::string admin_token;                   // bearer for POST /v1/tenants
  std::string mix = "getMe=1,getChats=1";    // WeightedMix spec
  double rate = 10;                          // requests per second offered, over all sessions
  std::uint64_t count = 0;                   // stop after this many requests (0: no count limit)
  std::chrono::milliseconds duration{10000}; // stop after this long (0: no time limit)
  std::chrono::milliseconds deadline{5000};  // ?deadline_ms= of every invoke
  std::string flood = "wait";                // ?flood= of every invoke: "wait" or "fail"
  std::chrono::milliseconds login_timeout{60000};  // for all QR logins to be authorized
  std::string metrics_path = "/metrics";     // scraped before and after ("" = skip)
  std::string metrics_namespace = "telethon";  // prefix of the seed metrics
  std::uint64_t seed = 1;                    // method choice RNG
  bool progress = true;                      // live progress line on the progress stream
};

// One logged-in session the load goes to.
struct LoadSession {
  std::string tenant_id;
  std::string tenant_token;
  std::string session_id;
};

class LoadGenerator {
 public:
  // `control` may be null when sessions are given with add_session() instead of set_up().
  // `progress` receives the live progress line (stderr in the CLI); null = none.
  LoadGenerator(LoadOptions options, WeightedMix mix, HttpTransport& service, HttpTransport* control,
                std::ostream* progress);

  boost::asio::awaitable<Status> set_up();
  void add_session(LoadSession s) { sessions_.push_back(std::move(s)); }
  const std::vector<LoadSession>& sessions() const noexcept { return sessions_; }

  boost::asio::awaitable<Result<LoadReport>> run();

 private:
  struct Counts {
    std::uint64_t sent = 0;
    std::uint64_t answered = 0;
    std::uint64_t ok = 0;
    std::uint64_t flood_wait = 0;
    std::uint64_t throttled = 0;
    std::uint64_t errors = 0;
    std::uint64_t transport_errors = 0;
    std::uint64_t in_flight = 0;
  };
  boost::asio::awaitable<Status> create_tenant(int index);
  // Coroutine parameters by value (docs/architecture.md): a reference would outlive nothing.
  boost::asio::awaitable<Status> log_in(std::string tenant_id, std::string token);
  boost::asio::awaitable<void> send_one(LoadSession session, MixEntry entry);
  boost::asio::awaitable<std::optional<std::string>> scrape();
  std::string tenant_id(int index) const;

  LoadOptions options_;
  WeightedMix mix_;
  HttpTransport& service_;
  HttpTransport* control_;
  std::ostream* progress_;
  std::mt19937_64 rng_;
  std::string prefix_;
  std::vector<std::pair<std::string, std::string>> tenants_;  // (tenant_id, token)
  std::vector<LoadSession> sessions_;
  SampleQuantiles latency_;
  Counts counts_;  // of the current run; members, so late answers never touch a dead frame
};

}  // namespace tgpulse::loadgen
