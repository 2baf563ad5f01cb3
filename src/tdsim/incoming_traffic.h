// IncomingTraffic: what other people do in one simulated account's chats — new messages, edits,
// deletions and the user reading a chat on another device — as TDLib's update objects (td_api.tl:
// updateNewMessage, updateMessageContent + updateMessageEdited, updateDeleteMessages,
// updateChatReadInbox). Message ids come from a per-account sequence that the simulator persists, so
// ids never repeat across restarts; the choices (chat, kind, sender) come from an RNG seeded with the
// profile's seed and the account's user id: the same seed gives the same traffic.
//
// Thread-safety: none; owned by a SimClient and touched under the Simulator's lock.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tdsim/profile.h"

namespace tgpulse::tdsim {

class IncomingTraffic {
 public:
  // `next_sequence`: the first message sequence number not used yet (persisted by the simulator).
  IncomingTraffic(std::uint64_t seed, std::int64_t user_id, std::uint64_t next_sequence);

  // One event of the profile's random traffic over the account's first min(settings.chats, total_chats)
  // chats: one or two update objects (an edit is updateMessageContent then updateMessageEdited).
  std::vector<nlohmann::json> random_event(const Profile::Incoming& settings, int total_chats, std::int64_t date);
  // updateNewMessage with a text message from another user in chat `chat_index` (of `total_chats`).
  nlohmann::json new_message(int chat_index, const std::string& text, std::int64_t date);

  std::uint64_t next_sequence() const { return next_sequence_; }

  // The message id of sequence number `sequence`: above the 50 history messages of every chat
  // (FakeWorld::history), 1<<20 apart like TDLib's server message ids.
  static std::int64_t message_id(std::uint64_t sequence);

 private:
  std::mt19937_64 rng_;
  std::uint64_t next_sequence_;
  std::map<std::int64_t, std::vector<std::int64_t>> unread_;  // chat id → incoming message ids not read yet
};

}  // namespace tgpulse::tdsim
