// Profile: how tdsim plays Telegram — latencies, flood limits per method, QR outcomes, faults, token
// lifetime — and the seed of its random numbers. Loaded from a YAML or JSON file (TDSIM_PROFILE=path;
// without it the built-in defaults, which profiles/default.yaml documents field by field) and changed
// live through the control interface (POST /profile with a partial object).
//
// Thread-safety: a value type. The simulator copies and replaces it under its own lock.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace tgpulse::tdsim {

struct LatencyRange {
  double min_ms = 0;
  double max_ms = 0;
};

struct FloodLimit {
  double rate_per_second = 0;  // tokens added per second; 0 = no limit
  double burst = 0;            // bucket size
};

struct Profile {
  std::uint64_t seed = 42;                       // RNG seed: same seed + same calls = same outcomes
  double qr_token_ttl_seconds = 30;              // a QR login token expires (and is replaced) after this
  double flood_wait_limit_seconds = 60;          // TDLib absorbs waits while a query's total stays <= this
  LatencyRange latency{5, 30};                   // answer latency of ordinary functions
  LatencyRange auth_latency{0, 2};               // answer latency of authorization functions
  std::map<std::string, LatencyRange> method_latency;  // per-method override of `latency`
  FloodLimit default_flood{30, 30};              // Telegram's flood limit for any method not listed
  std::map<std::string, FloodLimit> flood;       // per method
  struct Qr {
    double scan_probability = 0;      // chance the simulated phone scans a link on its own
    double password_probability = 0;  // of those scans: the account has 2FA
    double decline_probability = 0;   // of those scans: the user declines
    LatencyRange scan_delay{2000, 8000};
    std::string password = "tdsim-2fa";  // 2FA password of accounts that get one automatically
    std::string password_hint = "sim hint";
  } qr;
  struct Faults {
    double error_rate = 0;  // ordinary functions answer {"code":500,"message":"INTERNAL_SERVER_ERROR"}
  } faults;
  int chats = 20;  // chats in each simulated account
  // Traffic from other people in each authorized account (docs/tdsim.md#incoming-traffic).
  struct Incoming {
    double rate_per_second = 0;      // events per second per authorized client; 0 = only POST /incoming
    int chats = 3;                   // the traffic uses the account's first `chats` chats
    double edit_probability = 0.1;   // of the events: an edit of a recent incoming message
    double delete_probability = 0.05;  // a deletion of one
    double read_probability = 0.1;   // the user reads the chat on another device (updateChatReadInbox)
    int max_pending = 1000;          // messages kept for an account whose client is not running
    double max_catch_up_seconds = 3600;  // on restart, rate x downtime (at most this long) arrives as the difference
  } incoming;
  // Phone-number login on the test data centres (docs/tdsim.md#phone-number-login).
  struct Phone {
    double code_ttl_seconds = 300;       // a code older than this answers PHONE_CODE_EXPIRED
    int resend_timeout_seconds = 60;     // authenticationCodeInfo.timeout
    int code_sends_per_window = 5;       // codes sent to one number (all clients) per window ...
    double flood_window_seconds = 3600;  // ... beyond which PHONE_NUMBER_FLOOD
  } phone;
  struct Proxy {
    LatencyRange ping_ms{30, 120};  // pingProxy's answer, fixed per proxy address by the seed
  } proxy;
  // Files (docs/tdsim.md#files).
  struct Files {
    double throughput_bytes_per_second = 100e6;  // of each download and upload; 50 MB take 0.5 s
    int max_concurrent_downloads = 4;            // per client; more downloadFile calls wait in its queue
  } files;
  // A client that opens an already authorized database withholds its authorizationStateReady update
  // until the control interface's POST /release: the service's restore window made observable.
  bool hold_restored_sessions = false;
  // How long setTdlibParameters keeps retrying the lock of a database directory another client holds
  // before it answers TDLib's 400 "Can't lock file ..." (TDLib 1.8.67 waits about 10 s). 0: one try.
  double database_lock_wait_seconds = 10;

  // The built-in defaults (= profiles/default.yaml).
  static Profile defaults() { return Profile{}; }
  // Applies the fields present in `patch` onto `base`; Errc::invalid_argument names a bad key/value.
  static Result<Profile> apply(const Profile& base, const nlohmann::json& patch);
  // Parses a YAML or JSON file onto the defaults.
  static Result<Profile> load_file(const std::string& path);
  nlohmann::json to_json() const;

  const LatencyRange& latency_for(const std::string& method) const;
  const FloodLimit& flood_for(const std::string& method) const;
};

}  // namespace tgpulse::tdsim
