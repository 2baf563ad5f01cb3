// The Simulator's incoming traffic (simulator.h): the profile's rate, POST /incoming, and the messages
// kept for accounts whose client is not running. Everything here runs under the Simulator's lock except
// incoming_tick() and incoming(), which take it.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <set>

#include "tdsim/simulator.h"

namespace tgpulse::tdsim {

using nlohmann::json;

namespace {
constexpr std::uint64_t kSequenceBlock = 1024;  // sequence numbers persisted ahead of use
constexpr auto kTickInterval = std::chrono::milliseconds(50);
constexpr double kMaxBurstSeconds = 1;  // a late tick catches up at most this much of the rate

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// Keeps the newest `max` of `pending`.
void trim_oldest(json& pending, int max) {
  if (static_cast<int>(pending.size()) <= max) return;
  const auto drop = static_cast<std::ptrdiff_t>(pending.size()) - max;
  pending.erase(pending.begin(), pending.begin() + drop);
}
}  // namespace

std::vector<json> Simulator::incoming_messages(IncomingTraffic& traffic, int count, const std::string& text) {
  const int chats = std::max(1, std::min(profile_.incoming.chats, profile_.chats));
  std::vector<json> messages;
  messages.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    messages.push_back(traffic.new_message(i % chats, text + " #" + std::to_string(i + 1), unix_now()));
  }
  return messages;
}

void Simulator::reserve_sequence(SimClient& client) {
  if (!client.incoming || client.incoming->next_sequence() < client.reserved_sequence) return;
  client.reserved_sequence = client.incoming->next_sequence() + kSequenceBlock;
  write_database(client, true);
}

void Simulator::start_incoming(SimClient& client, const json& database, Outgoing& out, TimePoint at) {
  json kept = json::array();
  std::int64_t last_seen = unix_now();
  std::uint64_t next_sequence = 1;
  if (database.is_object() && database.contains("incoming") && database["incoming"].is_object()) {
    const json& in = database["incoming"];
    next_sequence = in.value("next_sequence", std::uint64_t{1});
    last_seen = in.value("last_seen", last_seen);
    if (in.contains("pending") && in["pending"].is_array()) kept = in["pending"];
  }
  client.incoming.emplace(profile_.seed, client.user_id, next_sequence);
  client.reserved_sequence = next_sequence;
  // Each account starts at its own phase of the rate (a fraction fixed by its user id, no RNG draw): with
  // one shared phase every account would cross a whole event on the same tick, and 1,000 accounts at
  // 1 event/s would arrive as one burst of 1,000 per second instead of 50 per 50 ms tick.
  client.incoming_credit = std::fmod(static_cast<double>(client.user_id) * 0.6180339887498949, 1.0);
  const auto& settings = profile_.incoming;
  std::vector<json> difference(kept.begin(), kept.end());
  if (database.is_object() && settings.rate_per_second > 0) {
    // What the rate would have brought while nobody was running, bounded like the kept messages.
    const double downtime = std::clamp(static_cast<double>(unix_now() - last_seen), 0.0, settings.max_catch_up_seconds);
    const auto room = static_cast<double>(std::max<std::ptrdiff_t>(
        0, settings.max_pending - static_cast<std::ptrdiff_t>(difference.size())));
    const auto events = static_cast<int>(std::min(std::floor(settings.rate_per_second * downtime), room));
    for (int i = 0; i < events; ++i) {
      for (auto& update : client.incoming->random_event(settings, profile_.chats, unix_now())) {
        difference.push_back(std::move(update));
      }
    }
  }
  reserve_sequence(client);  // also clears the kept messages from the database
  if (client.ready_withheld) {
    client.withheld_updates = std::move(difference);
  } else {
    for (auto& update : difference) emit(out, client, std::move(update), at);
  }
}

void Simulator::schedule_incoming_tick(TimePoint at) {
  if (incoming_ticking_) return;
  incoming_ticking_ = true;
  last_incoming_tick_ = at;
  scheduler_.at(at + kTickInterval, [this] { incoming_tick(); });
}

void Simulator::incoming_tick() {
  Outgoing out;
  {
    std::lock_guard lock(mutex_);
    incoming_ticking_ = false;
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::min(std::chrono::duration<double>(now - last_incoming_tick_).count(), kMaxBurstSeconds);
    const auto& settings = profile_.incoming;
    if (settings.rate_per_second <= 0) return;  // turned off: POST /profile starts it again
    for (auto& [id, client] : clients_) {
      if (client.state != SimAuthState::ready || client.ready_withheld || !client.incoming) continue;
      client.incoming_credit += settings.rate_per_second * elapsed;
      while (client.incoming_credit >= 1) {
        client.incoming_credit -= 1;
        for (auto& update : client.incoming->random_event(settings, profile_.chats, unix_now())) {
          emit(out, client, std::move(update), now);
        }
      }
      reserve_sequence(client);
    }
    schedule_incoming_tick(now);
  }
  deliver(out);
}

bool Simulator::keep_for_offline(const SimClient& client, int count, const std::string& text) {
  json database = read_database(client.database_directory);
  if (!database.is_object() || !database.value("authorized", false)) return false;
  json& in = database["incoming"];
  if (!in.is_object()) in = {{"next_sequence", 1}, {"last_seen", unix_now()}, {"pending", json::array()}};
  IncomingTraffic traffic(profile_.seed, database.value("user_id", client.user_id),
                          in.value("next_sequence", std::uint64_t{1}));
  json& pending = in["pending"];
  if (!pending.is_array()) pending = json::array();
  for (auto& m : incoming_messages(traffic, count, text)) pending.push_back(std::move(m));
  trim_oldest(pending, profile_.incoming.max_pending);
  in["next_sequence"] = traffic.next_sequence();
  // Not kept when another process holds the directory now: its client gets the messages live there.
  return write_database_file(client.database_directory, database);
}

Result<json> Simulator::incoming(int client_id, int count, const std::string& text) {
  if (count < 1 || count > kMaxIncomingCount) {
    return Error(Errc::invalid_argument, "count must be an integer from 1 to " + std::to_string(kMaxIncomingCount));
  }
  if (text.size() > kMaxIncomingText) {
    return Error(Errc::invalid_argument, "text must be at most " + std::to_string(kMaxIncomingText) + " bytes");
  }
  Outgoing out;
  int delivered = 0, kept = 0;
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    // Directories of running clients: their accounts get the messages live, never also kept.
    std::set<std::string> running;
    for (const auto& [id, c] : clients_) {
      if (c.state != SimAuthState::closed && !c.database_directory.empty()) running.insert(c.database_directory);
    }
    std::set<std::string> kept_directories;
    auto give = [&](SimClient& c) -> bool {
      if (c.state == SimAuthState::ready && c.incoming) {
        auto messages = incoming_messages(*c.incoming, count, text);
        if (c.ready_withheld) {
          for (auto& m : messages) c.withheld_updates.push_back(std::move(m));
          json all(c.withheld_updates);
          trim_oldest(all, profile_.incoming.max_pending);
          c.withheld_updates.assign(all.begin(), all.end());
        } else {
          for (auto& m : messages) emit(out, c, std::move(m), now);
        }
        reserve_sequence(c);
        ++delivered;
        return true;
      }
      if (c.state != SimAuthState::closed || c.database_directory.empty() || running.count(c.database_directory) != 0 ||
          kept_directories.count(c.database_directory) != 0) {
        return false;
      }
      if (!keep_for_offline(c, count, text)) return false;
      kept_directories.insert(c.database_directory);
      ++kept;
      return true;
    };
    if (client_id != 0) {
      SimClient* c = find(client_id);
      if (c == nullptr || !c->started) return Error(Errc::not_found, "no such client: " + std::to_string(client_id));
      if (!give(*c)) {
        const bool elsewhere = c->state == SimAuthState::closed && running.count(c->database_directory) != 0;
        return Error(Errc::conflict, "client " + std::to_string(client_id) + " is " + sim_state_type(c->state) +
                                         (elsewhere ? ": its account is open in another client (send it there)"
                                                    : ": its account is not authorized"));
      }
    } else {
      for (auto& [id, c] : clients_) give(c);
    }
  }
  deliver(out);
  return json{{"messages", count}, {"delivered", delivered}, {"kept", kept}};
}

}  // namespace tgpulse::tdsim
