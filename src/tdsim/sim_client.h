// SimClient: the state tdsim keeps for one TDLib client id — its authorization state, its database
// directory, the current QR login token or phone login code, the simulated account (2FA password),
// its proxies and the requests waiting for one, and the record of its last requests.
//
// Thread-safety: none; owned by the Simulator and touched under its lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tdsim/incoming_traffic.h"
#include "tdsim/proxy_list.h"
#include "tdsim/td_request.h"

namespace tgpulse::tdsim {

enum class SimAuthState {
  wait_tdlib_parameters,
  wait_phone_number,
  wait_other_device_confirmation,
  wait_code,
  wait_registration,
  wait_password,
  ready,
  logging_out,
  closing,
  closed,
};

// TDLib's constructor name of a state ("authorizationStateWaitPhoneNumber", ...).
const char* sim_state_type(SimAuthState s) noexcept;

struct SimClient {
  int id = 0;
  bool started = false;  // TDLib creates a client on its first request
  SimAuthState state = SimAuthState::wait_tdlib_parameters;
  std::string database_directory;
  // Fingerprint of the database_encryption_key given to setTdlibParameters: kept in td.binlog so that
  // a later client with another key is refused, as TDLib refuses it ("Wrong database encryption key").
  std::string database_key_check;
  std::int64_t user_id = 0;
  std::string link;            // current tg://login?token=... while waiting for confirmation
  std::uint64_t token_generation = 0;  // bumps on every new token; stale expiry events compare it
  std::string login_link;      // the link that was scanned (for POST /revoke {"link"})
  bool auto_scan_rolled = false;
  bool ready_withheld = false;  // Ready (restored database) not announced yet: profile hold_restored_sessions  // the simulated phone decided for this QR login already
  std::string password;        // the account's 2FA password; "" = no 2FA
  std::string password_hint;
  // Incoming traffic of an authorized account (nullopt before authorization and after close).
  std::optional<IncomingTraffic> incoming;
  std::uint64_t reserved_sequence = 0;  // message sequence numbers below this are persisted as used
  double incoming_credit = 0;           // fractional events owed by the profile's rate
  std::vector<nlohmann::json> withheld_updates;  // the difference, waiting for POST /release
  // Phone-number login (WaitCode): the number as given, its test-DC digits, the way the current code was
  // sent (0 Telegram message, 1 SMS, 2 call) and when.
  std::string phone_number;
  std::string phone_digits;
  int code_type = 0;
  std::chrono::steady_clock::time_point code_sent_at{};
  // Proxies; while the enabled one is unreachable the client is not connected and holds its network
  // requests (at most kMaxHeldRequests) until it is reachable or disabled.
  ProxyList proxies;
  bool connected = false;  // the last updateConnectionState was connectionStateReady
  std::deque<TdRequest> held;
  static constexpr std::size_t kMaxHeldRequests = 256;
  // The @type of the last kMaxCalls requests read, in arrival order (GET /state "calls").
  std::deque<std::string> calls;
  static constexpr std::size_t kMaxCalls = 64;
  // Answers of one client leave in order: nothing is delivered before this (absorbed flood waits excepted).
  std::chrono::steady_clock::time_point last_delivery{};
};

}  // namespace tgpulse::tdsim
