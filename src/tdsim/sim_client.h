// SimClient: the state tdsim keeps for one TDLib client id — its authorization state, its database
// directory, the current QR login token or phone login code, the simulated account (2FA password),
// its proxies and the requests waiting for one, and the record of its last requests.
//
// Thread-safety: none; owned by the Simulator and touched under its lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tdsim/file_lock.h"
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

// One client's side of a file (docs/tdsim.md#files): what it downloaded and the transfer under way.
struct SimFileState {
  std::string path;                                 // local path: the download's file, or the uploaded one
  std::map<std::int64_t, std::int64_t> downloaded;  // ranges [start, end) of the remote bytes in `path`
  bool queued = false;                              // downloadFile waits for a download slot
  bool downloading = false;                         // a worker is writing
  std::int64_t download_offset = 0;
  std::int64_t download_end = 0;  // the current download stops here (offset + limit, or the size)
  // Bumps whenever a transfer starts, is cancelled or its file deleted: a worker's stale report is ignored.
  std::uint64_t generation = 0;
  std::shared_ptr<std::atomic<bool>> cancel;    // the running worker's stop flag
  std::vector<std::optional<nlohmann::json>> waiting;  // @extra of synchronous downloadFile calls
  static constexpr std::size_t kMaxWaiting = 64;
  // An upload (sendMessage with a local file).
  bool uploading = false;
  bool upload_completed = false;
  std::int64_t uploaded_size = 0;
};

struct SimClient {
  int id = 0;
  bool started = false;  // TDLib creates a client on its first request
  SimAuthState state = SimAuthState::wait_tdlib_parameters;
  std::string database_directory;
  // Fingerprint of the database_encryption_key given to setTdlibParameters: kept in td.binlog so that
  // a later client with another key is refused, as TDLib refuses it ("Wrong database encryption key").
  std::string database_key_check;
  // The lock of the database directory, on its binlog's name (td.binlog, td_test.binlog on the test
  // DC), held from setTdlibParameters until Closed (docs/tdsim.md#database-lock).
  std::filesystem::path lock_path;
  FileLock database_lock;
  // setTdlibParameters waiting for another client's lock (until opening_deadline), and what the
  // client sent meanwhile (answered once the directory is opened or refused).
  std::optional<TdRequest> opening;
  std::chrono::steady_clock::time_point opening_deadline{};
  std::deque<TdRequest> waiting_for_open;
  // The authorization's auth key: its id (16 hex digits, kept in td.binlog), whether this client uses
  // it (claimed: no other client may) or found it in use by another client (duplicated: Telegram
  // answers AUTH_KEY_DUPLICATED), and its lock in the world directory (TDSIM_WORLD_DIR).
  std::string auth_key_id;
  bool auth_key_claimed = false;
  bool auth_key_duplicated = false;
  FileLock auth_key_lock;
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
  // Files (docs/tdsim.md#files): files_directory from setTdlibParameters (the database directory when
  // empty), this client's side of each file it touched, the downloads waiting for a slot, the
  // transfers under way and the record of its last uploads (GET /state "uploads").
  std::string files_directory;
  std::map<std::int32_t, SimFileState> files;
  std::deque<std::int32_t> download_queue;
  static constexpr std::size_t kMaxQueuedDownloads = 256;
  int active_downloads = 0;
  int active_uploads = 0;
  static constexpr int kMaxActiveUploads = 16;
  std::deque<nlohmann::json> uploads;
  static constexpr std::size_t kMaxUploads = 64;
  // Answers of one client leave in order: nothing is delivered before this (absorbed flood waits excepted).
  std::chrono::steady_clock::time_point last_delivery{};
};

}  // namespace tgpulse::tdsim
