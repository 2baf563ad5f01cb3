// Simulator: tdsim's Telegram. Implements the five functions of TDLib's JSON interface for the C exports
// in tdsim_api.cc, and the operations of the control interface (scan, flood, revoke, state, profile).
//
// What it plays (see docs/tdsim.md): authorization states with TDLib's names, QR tokens that expire and
// are replaced, phone-number login on the test data centres (codes, resends, PHONE_NUMBER_FLOOD,
// registration), the 2FA password step, proxies (an unreachable one holds network requests), logOut/close/destroy (and loss of authorization) down to
// authorizationStateClosed, a handful of ordinary functions with latency, Telegram's flood limits with
// TDLib's absorption rule and WARNING log lines, and TDLib's error objects for bad requests.
//
// Thread-safety: thread-safe. receive() must be called from one thread at a time (as TDLib's).
// Client state is guarded by one mutex; answers go through an OutputQueue; delayed work runs on an
// EventScheduler thread; the log callback is called without the lock held.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "tdsim/event_scheduler.h"
#include "tdsim/flood_control.h"
#include "tdsim/output_queue.h"
#include "tdsim/profile.h"
#include "tdsim/remote_files.h"
#include "tdsim/sim_client.h"
#include "tdsim/static_functions.h"
#include "tdsim/td_request.h"
#include "tdsim/test_phone_numbers.h"
#include "tdsim/transfer_pool.h"

namespace tgpulse::tdsim {

class Simulator {
 public:
  using LogMessageCallback = void (*)(int verbosity_level, const char* message);
  using TimePoint = std::chrono::steady_clock::time_point;

  // `world_directory`: where authorizations in use are locked by auth key id, so that clients of
  // several processes sharing it find a duplicated key (TDSIM_WORLD_DIR); "": this simulator's clients only.
  explicit Simulator(Profile profile, std::string world_directory = {});
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // TDLib's JSON interface.
  int create_client_id();
  void send(int client_id, std::string_view request);
  const char* receive(double timeout_seconds);
  const char* execute(std::string_view request);  // valid until the calling thread's next execute()
  void set_log_message_callback(int max_verbosity_level, LogMessageCallback callback);

  // Control interface. Errors: not_found (no such link/client), conflict (wrong state),
  // invalid_argument (bad outcome/method/seconds).
  Result<nlohmann::json> scan(const std::string& link, const std::string& outcome, const std::string& password);
  // The next call of `method` (of `client_id`, any client when 0) gets FLOOD_WAIT_`seconds`; TDLib's rule
  // decides between absorbing it and the 429 unless `as_error` forces the 429.
  Result<nlohmann::json> force_flood(const std::string& method, int client_id, int seconds, bool as_error = false);
  Result<nlohmann::json> revoke(const std::string& link, int client_id);
  // Announces authorizationStateReady to every client that withholds it (profile
  // hold_restored_sessions); answers {"released": n}.
  Result<nlohmann::json> release_withheld();
  // Delivers `count` updateNewMessage ("<text> #<i>") to `client_id`, or (0) to every authorized client.
  // A client that is not running (closed, its database still authorized) keeps them in its database
  // until a client opens it again (at most incoming.max_pending, oldest dropped). Errors:
  // invalid_argument (count outside 1..kMaxIncomingCount, text longer than kMaxIncomingText bytes),
  // not_found (no such client), conflict (the client's account is not authorized).
  // Answers {"messages": count, "delivered": clients, "kept": accounts}.
  Result<nlohmann::json> incoming(int client_id, int count, const std::string& text);
  static constexpr int kMaxIncomingCount = 1000;
  static constexpr std::size_t kMaxIncomingText = 4096;  // Telegram's message length limit
  // Configures the account behind a test number (docs/tdsim.md#phone-number-login); a field left out
  // keeps its value. Errors: invalid_argument (not a test number). Answers the account.
  Result<nlohmann::json> set_phone_account(const std::string& phone_number, std::optional<std::string> password,
                                           std::optional<std::string> password_hint, std::optional<bool> registered);
  // Marks the proxy address server:port reachable or not. Clients whose enabled proxy it is change their
  // connection state; those that become connected answer the requests they held. Errors:
  // invalid_argument (empty server, port outside 1..65535). Answers {"server","port","reachable","released"}.
  Result<nlohmann::json> set_proxy_reachable(const std::string& server, int port, bool reachable);
  // Creates a remote file of `size` bytes (FileContent's, from the profile seed) named `name`; hashes
  // it (streaming, without the lock) and answers {"file_id", "size", "sha256"}. Errors:
  // invalid_argument (RemoteFiles::check), conflict (too many files).
  Result<nlohmann::json> create_file(std::int64_t size, const std::string& name);
  nlohmann::json state() const;
  Result<nlohmann::json> update_profile(const nlohmann::json& patch);
  Profile profile() const;

 private:
  // Objects to deliver and log lines to write after the lock is released.
  struct Outgoing {
    std::vector<std::pair<TimePoint, std::string>> lines;
    std::vector<std::string> logs;  // WARNING (verbosity 2) lines for the log callback
  };

  void handle(SimClient& client, TdRequest request, Outgoing& out);
  void handle_auth(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at);
  void handle_ordinary(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at);
  nlohmann::json ordinary_answer(SimClient& client, const TdRequest& request);

  // Phone-number login (simulator_phone.cc): setAuthenticationPhoneNumber, checkAuthenticationCode,
  // resendAuthenticationCode.
  void handle_phone_login(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at);
  nlohmann::json code_info(const SimClient& client) const;
  // Proxies (simulator_proxy.cc): the proxy functions, and the network requests an unreachable proxy holds.
  void handle_proxy(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at);
  // True when `request` was held (or refused: too many held) because the client is not connected.
  bool hold_while_disconnected(SimClient& client, TdRequest& request, Outgoing& out, TimePoint now);
  // Recomputes the client's connection after its proxies or their reachability changed and emits
  // updateConnectionState. `switched`: the enabled proxy changed (TDLib then reports connecting first,
  // even when it connects at once).
  void update_connection(SimClient& client, Outgoing& out, TimePoint at, bool switched);
  // Once connected: handles the requests the client held, in arrival order.
  void release_held(SimClient& client, Outgoing& out);
  bool proxy_reachable(const nlohmann::json& proxy) const;
  nlohmann::json ping_answer(const nlohmann::json& proxy);

  // Files (simulator_files.cc): getFile, downloadFile, cancelDownloadFile, deleteFile, optimizeStorage,
  // and sendMessage with a local file. Transfers run on transfers_; their reports come back under the lock.
  static bool is_file_function(std::string_view type);
  static bool is_file_upload(const TdRequest& request);
  void handle_files(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at);
  void download_file(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at);
  void send_local_file(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at);
  void optimize_storage(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at);
  nlohmann::json file_object(const SimClient& client, const RemoteFile& file) const;
  nlohmann::json update_file(const SimClient& client, std::int32_t file_id) const;
  // Starts queued downloads while the client has free slots (files.max_concurrent_downloads).
  void start_downloads(SimClient& client);
  void start_download(SimClient& client, std::int32_t file_id);
  // Stops the client's transfer of `file_id` (download or queued); synchronous callers get the file.
  void stop_download(SimClient& client, std::int32_t file_id, Outgoing& out, TimePoint at);
  void on_download_report(int client_id, std::int32_t file_id, std::uint64_t generation, std::int64_t start,
                          std::int64_t position, bool done, const std::string& error);
  void on_upload_report(int client_id, std::int32_t file_id, std::uint64_t generation, std::int64_t position,
                        bool done, const std::string& sha256, const std::string& error, nlohmann::json message);
  // On Closed: every transfer stops, every waiting downloadFile answers 500 Request aborted.
  void abort_files(SimClient& client, Outgoing& out, TimePoint at);

  void set_state(SimClient& client, SimAuthState state, Outgoing& out, TimePoint at);
  nlohmann::json state_object(const SimClient& client) const;
  void new_qr_token(SimClient& client, Outgoing& out, TimePoint at);
  void on_token_expiry(int client_id, std::uint64_t generation);
  void apply_scan(SimClient& client, const std::string& outcome, const std::string& password, Outgoing& out);
  void finish_logout(SimClient& client, Outgoing& out, TimePoint at, bool remove_database);
  void roll_auto_scan(SimClient& client);

  // Flood control: extra delay (absorbed) or a 429 error object.
  struct FloodDecision {
    double delay_seconds = 0;
    std::optional<nlohmann::json> error;
  };
  FloodDecision flood_decision(SimClient& client, const std::string& method, Outgoing& out);
  std::string flood_log_line(bool absorbed, int client_id, int seconds, int total_seconds, const std::string& method);

  // Incoming traffic (docs/tdsim.md#incoming-traffic).
  // The account of `client` is authorized now: its traffic starts; a restored account (`database` is
  // its td.binlog) first gets what was kept for it and the difference for its downtime — emitted after
  // Ready, or held with Ready when Ready is withheld.
  void start_incoming(SimClient& client, const nlohmann::json& database, Outgoing& out, TimePoint at);
  // Persists a new block of message sequence numbers when the traffic is about to use the last one.
  void reserve_sequence(SimClient& client);
  void schedule_incoming_tick(TimePoint at);
  void incoming_tick();
  // Appends `count` messages to the kept ones of a closed client's account; false when not authorized.
  bool keep_for_offline(const SimClient& client, int count, const std::string& text);
  std::vector<nlohmann::json> incoming_messages(IncomingTraffic& traffic, int count, const std::string& text);

  TimePoint after_latency(const LatencyRange& range);
  void deliver(Outgoing& out);  // called without the lock
  // Queues `object` for `client` at `at` (not before the client's previous object unless `in_order` is
  // false, which absorbed flood waits use), echoing `extra`.
  void emit(Outgoing& out, SimClient& client, nlohmann::json object, TimePoint at,
            const std::optional<nlohmann::json>& extra = std::nullopt, bool in_order = true);
  SimClient* find(int client_id);

  // The database directory (simulator_database.cc, docs/tdsim.md#database-lock).
  // setTdlibParameters once its arguments are checked: locks the directory — retrying while another
  // client holds it, up to the profile's database_lock_wait_seconds — then opens it (finish_open).
  void open_database(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at);
  void try_open(SimClient& client, Outgoing& out, TimePoint at);
  void finish_open(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at);
  // The client is authorized now: a new auth key, claimed, and td.binlog written authorized.
  void authorize(SimClient& client);
  // Claims client.auth_key_id, or marks it duplicated when another client (here or, with a world
  // directory, in another process) uses it.
  void claim_auth_key(SimClient& client);
  std::string new_auth_key_id();
  // A client whose auth key is duplicated: `request` reaches Telegram, which answers 406
  // AUTH_KEY_DUPLICATED; the authorization is dropped (LoggingOut, files removed, Closed). False
  // when the client's key is not duplicated.
  bool drop_duplicated_key(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at);
  // On Closed: the locks go; `remove_files` (logOut, destroy, lost authorization) removes td.binlog
  // and the lock file.
  void release_database(SimClient& client, bool remove_files);
  void write_database(const SimClient& client, bool authorized) const;
  // td.binlog of `directory` as JSON (null when missing or unreadable) and its replacement (false when
  // another holder has the directory locked, or the file could not be replaced).
  static nlohmann::json read_database(const std::string& directory);
  static bool write_database_file(const std::string& directory, const nlohmann::json& doc);
  bool read_database_authorized(const SimClient& client) const;
  // The key fingerprint td.binlog holds; "" when none (no database yet, or written before keys were checked).
  std::string read_database_key_check(const SimClient& client) const;

  mutable std::mutex mutex_;
  Profile profile_;                       // guarded by mutex_
  std::mt19937_64 rng_;                   // guarded by mutex_
  std::map<int, SimClient> clients_;      // guarded by mutex_
  TestPhoneNumbers phones_;               // guarded by mutex_: accounts and code sends of all clients
  std::set<std::string> unreachable_proxies_;  // guarded by mutex_: "server:port" (POST /proxy)
  FloodControl flood_;                    // guarded by mutex_
  std::uint64_t next_query_id_ = 1;       // guarded by mutex_
  bool incoming_ticking_ = false;         // guarded by mutex_: a traffic tick is scheduled
  TimePoint last_incoming_tick_{};        // guarded by mutex_
  RemoteFiles remote_files_;              // guarded by mutex_
  const std::string world_directory_;
  // Auth key ids: unique across processes sharing a world directory, so not from the profile's seed.
  std::mt19937_64 auth_key_rng_;          // guarded by mutex_
  std::atomic<int> next_client_id_{1};

  StaticFunctions static_functions_;
  std::atomic<int> log_max_verbosity_{0};
  std::atomic<LogMessageCallback> log_callback_{nullptr};
  OutputQueue output_;
  // Objects due later, in (time, arrival) order, moved to output_ when due (flush_due). A line due at
  // once goes out only after every delayed line due by then, so no object overtakes one emitted before
  // it for an earlier or equal time — a traffic tick's messages never precede the Ready state that
  // started the traffic, however late the scheduler thread runs.
  struct Delayed {
    TimePoint at;
    std::uint64_t sequence;
    std::string line;
    bool operator>(const Delayed& o) const { return at != o.at ? at > o.at : sequence > o.sequence; }
  };
  void flush_due(TimePoint now);  // under delivery_mutex_
  std::mutex delivery_mutex_;
  std::priority_queue<Delayed, std::vector<Delayed>, std::greater<>> delayed_;  // guarded by delivery_mutex_
  std::uint64_t delayed_sequence_ = 0;                                           // guarded by delivery_mutex_
  EventScheduler scheduler_;
  // Last: its threads stop first (they report through the members above). Threads: downloads, uploads
  // and removals of all clients share them; each client has at most files.max_concurrent_downloads.
  static constexpr std::size_t kTransferThreads = 8;
  TransferPool transfers_{kTransferThreads};
};

}  // namespace tgpulse::tdsim
