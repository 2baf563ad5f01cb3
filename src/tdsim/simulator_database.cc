// The Simulator's side of a database directory (docs/tdsim.md#database-lock): opening it on
// setTdlibParameters under TDLib's lock (with TDLib's wait and messages), td.binlog as JSON, and the
// authorization's auth key — its id persisted in td.binlog, claimed by one client at a time
// (AUTH_KEY_DUPLICATED for a second one).
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "tdsim/simulator.h"

namespace tgpulse::tdsim {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kDatabaseFile = "td.binlog";  // what tdsim writes in a database directory
constexpr auto kLockRetry = std::chrono::milliseconds(100);  // TDLib retries its lock every 0.1 s

// A 64-bit FNV-1a fingerprint of a database key ("" for no key): enough for a simulator to tell keys
// apart; the key itself is never written.
std::string database_key_check(const std::string& key) {
  if (key.empty()) return {};
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : std::string("tdsim key check:") + key) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

// TDLib's binlog of a directory: td_test.binlog on the test data centres, else td.binlog.
const char* binlog_name(bool use_test_dc) { return use_test_dc ? "td_test.binlog" : "td.binlog"; }

bool flag(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

void Simulator::open_database(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at) {
  const auto& o = request.object;
  client.database_directory = o.value("database_directory", std::string());
  client.files_directory = o.value("files_directory", std::string());
  client.database_key_check = database_key_check(o.value("database_encryption_key", std::string()));
  if (client.database_directory.empty()) {
    finish_open(client, request, out, at);
    return;
  }
  // TDLib names its binlog after the directory's real path ("Can't lock file \"/abs/dir/td.binlog\"").
  std::error_code ec;
  fs::create_directories(client.database_directory, ec);
  const fs::path real = fs::canonical(client.database_directory, ec);
  if (ec) {
    const std::string message = "Can't create directory \"" + client.database_directory + "\": " + ec.message();
    client.database_directory.clear();
    client.files_directory.clear();
    emit(out, client, TdRequest::error(400, message), at, request.extra);
    return;
  }
  client.lock_path = real / binlog_name(flag(o, "use_test_dc"));
  client.opening = request;
  client.opening_deadline = std::chrono::steady_clock::now() +
                            std::chrono::microseconds(static_cast<std::int64_t>(profile_.database_lock_wait_seconds * 1e6));
  try_open(client, out, at);
}

void Simulator::try_open(SimClient& client, Outgoing& out, TimePoint at) {
  FileLock::Attempt attempt = FileLock::try_lock(client.lock_path);
  const auto now = std::chrono::steady_clock::now();
  if (attempt.outcome != FileLock::Outcome::locked && attempt.outcome != FileLock::Outcome::failed &&
      now < client.opening_deadline) {
    const int id = client.id;
    scheduler_.at(std::min(now + kLockRetry, client.opening_deadline), [this, id] {
      Outgoing later;
      {
        std::lock_guard lock(mutex_);
        SimClient* c = find(id);
        if (c == nullptr || !c->opening) return;
        try_open(*c, later, std::chrono::steady_clock::now());
      }
      deliver(later);
    });
    return;
  }
  TdRequest request = std::move(*client.opening);
  client.opening.reset();
  std::deque<TdRequest> waiting;  // what arrived while the directory was being opened, in arrival order
  waiting.swap(client.waiting_for_open);
  if (attempt.outcome == FileLock::Outcome::locked) {
    client.database_lock = std::move(attempt.lock);
    finish_open(client, request, out, at);
    for (auto& w : waiting) handle(client, std::move(w), out);
    return;
  }
  // TDLib 1.8.67's texts; the state stays WaitTdlibParameters and the client may try again. The
  // requests that waited are answered first, as TDLib answers them before the refusal.
  std::string message = "Can't lock file \"" + client.lock_path.string() + "\", because it is already in use";
  if (attempt.outcome == FileLock::Outcome::held_by_this_process) {
    message += " by current program";
  } else if (attempt.outcome == FileLock::Outcome::held_by_another_process) {
    message += "; check for another program instance running";
  } else {
    message = attempt.error;
  }
  client.database_directory.clear();
  client.files_directory.clear();
  client.lock_path.clear();
  for (auto& w : waiting) handle(client, std::move(w), out);
  emit(out, client, TdRequest::error(400, message), at, request.extra);
}

void Simulator::finish_open(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at) {
  // TDLib's database is encrypted with this key; tdsim keeps only a fingerprint and refuses another key.
  if (const std::string stored = read_database_key_check(client);
      !stored.empty() && stored != client.database_key_check) {
    client.database_lock.release();
    client.database_directory.clear();
    client.files_directory.clear();
    emit(out, client, TdRequest::error(401, "Wrong database encryption key"), at, request.extra);
    return;
  }
  json database = client.database_directory.empty() ? json() : read_database(client.database_directory);
  const bool authorized = database.is_object() && database.value("authorized", false);
  if (!authorized) write_database(client, false);
  if (authorized) {
    // The account's own user, as TDLib reads it from its database.
    if (const auto id = database.value("user_id", std::int64_t{0}); id > 0) client.user_id = id;
    client.auth_key_id = database.value("auth_key_id", std::string());
    if (client.auth_key_id.empty()) {  // a database written before auth keys had ids gets one
      client.auth_key_id = new_auth_key_id();
      database["auth_key_id"] = client.auth_key_id;
      write_database_file(client.database_directory, database);
    }
    claim_auth_key(client);
  }
  if (authorized && profile_.hold_restored_sessions) {
    client.state = SimAuthState::ready;  // functions work; only the update waits for POST /release
    client.ready_withheld = true;
  } else {
    set_state(client, authorized ? SimAuthState::ready : SimAuthState::wait_phone_number, out, at);
  }
  emit(out, client, TdRequest::ok(), at, request.extra);
  emit(out, client, {{"@type", "updateConnectionState"}, {"state", {{"@type", "connectionStateReady"}}}}, at);
  client.connected = true;
  if (authorized) start_incoming(client, database, out, at);
}

std::string Simulator::new_auth_key_id() {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(auth_key_rng_()));
  return hex;
}

void Simulator::authorize(SimClient& client) {
  client.auth_key_id = new_auth_key_id();
  claim_auth_key(client);
  write_database(client, true);
}

void Simulator::claim_auth_key(SimClient& client) {
  client.auth_key_duplicated = false;
  for (const auto& [id, other] : clients_) {
    if (id != client.id && other.auth_key_claimed && other.auth_key_id == client.auth_key_id) {
      client.auth_key_duplicated = true;
      return;
    }
  }
  if (!world_directory_.empty()) {
    const fs::path keys = fs::path(world_directory_) / "auth_keys";
    std::error_code ec;
    fs::create_directories(keys, ec);
    FileLock::Attempt attempt = FileLock::try_lock(keys / client.auth_key_id);
    if (attempt.outcome == FileLock::Outcome::held_by_this_process ||
        attempt.outcome == FileLock::Outcome::held_by_another_process) {
      client.auth_key_duplicated = true;
      return;
    }
    if (attempt.outcome == FileLock::Outcome::failed) {
      // Counted nowhere else: the world cannot compare this key with other processes' keys.
      std::fprintf(stderr, "tdsim: TDSIM_WORLD_DIR: %s\n", attempt.error.c_str());
    }
    client.auth_key_lock = std::move(attempt.lock);
  }
  client.auth_key_claimed = true;
}

void Simulator::release_database(SimClient& client, bool remove_files) {
  if (remove_files && !client.database_directory.empty()) {
    std::error_code ec;
    fs::remove(fs::path(client.database_directory) / kDatabaseFile, ec);
    if (!client.lock_path.empty() && client.lock_path.filename() != kDatabaseFile) fs::remove(client.lock_path, ec);
  }
  client.auth_key_lock.release();
  client.auth_key_claimed = false;
  client.database_lock.release();
}

bool Simulator::drop_duplicated_key(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at) {
  if (!client.auth_key_duplicated || client.state != SimAuthState::ready || request.type == "destroy") return false;
  // Telegram's answer to the request; TDLib then drops the key and the authorization with it.
  emit(out, client, TdRequest::error(406, "AUTH_KEY_DUPLICATED"), at, request.extra);
  set_state(client, SimAuthState::logging_out, out, at);
  finish_logout(client, out, at + std::chrono::milliseconds(1), true);
  return true;
}

void Simulator::write_database(const SimClient& client, bool authorized) const {
  if (client.database_directory.empty()) return;
  json doc{{"tdsim", 1}, {"authorized", authorized}, {"user_id", client.user_id},
           {"has_password", !client.password.empty()}};
  if (!client.database_key_check.empty()) doc["key_check"] = client.database_key_check;
  if (authorized && !client.auth_key_id.empty()) doc["auth_key_id"] = client.auth_key_id;
  if (client.incoming) {
    doc["incoming"] = {{"next_sequence", client.reserved_sequence},
                       {"last_seen", static_cast<std::int64_t>(std::time(nullptr))},
                       {"pending", json::array()}};
  }
  write_database_file(client.database_directory, doc);
}

json Simulator::read_database(const std::string& directory) {
  std::ifstream f(fs::path(directory) / kDatabaseFile);
  if (!f) return nullptr;
  std::stringstream s;
  s << f.rdbuf();
  auto doc = json::parse(s.str(), nullptr, false);
  return doc.is_object() ? doc : json();
}

bool Simulator::write_database_file(const std::string& directory, const json& doc) {
  std::error_code ec;
  fs::create_directories(directory, ec);
  // Written beside and renamed over: a crash leaves the old file or the new one, never half of one. The
  // rename carries the holder's lock to the new file (the lock is on td.binlog itself, as TDLib's).
  const fs::path real = fs::weakly_canonical(directory, ec);
  const fs::path target = (ec ? fs::path(directory) : real) / kDatabaseFile;
  const fs::path temporary = target.parent_path() / (std::string(kDatabaseFile) + ".tmp");
  {
    std::ofstream f(temporary, std::ios::trunc);
    f << doc.dump();
  }
  return FileLock::replace(temporary, target);
}

std::string Simulator::read_database_key_check(const SimClient& client) const {
  if (client.database_directory.empty()) return {};
  const json doc = read_database(client.database_directory);
  return doc.is_object() ? doc.value("key_check", std::string()) : std::string();
}

bool Simulator::read_database_authorized(const SimClient& client) const {
  if (client.database_directory.empty()) return false;
  const json doc = read_database(client.database_directory);
  return doc.is_object() && doc.value("authorized", false);
}

}  // namespace tgpulse::tdsim
