// FakeWorld: the Telegram account content tdsim answers ordinary functions with — the user itself,
// its chats (private chats, a group, channels), their message histories, public usernames — as TDLib
// objects with td_api.tl field names. Deterministic: the same user id and chat count give the same data.
//
// Thread-safety: stateless functions (message ids come from the caller).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace tgpulse::tdsim {

class FakeWorld {
 public:
  static std::int64_t user_id_for_client(int client_id) { return 700000000 + client_id; }

  static nlohmann::json user(std::int64_t user_id, bool is_self);
  // Chat ids of an account with `chats` chats, in chat-list order.
  static std::int64_t chat_id(int index);
  static nlohmann::json chats(int total, int limit);
  // A chat object; nullopt-like null json when `chat_id` is not one of the account's `total` chats.
  static nlohmann::json chat(std::int64_t chat_id, int total);
  static nlohmann::json history(std::int64_t chat_id, std::int64_t from_message_id, int limit, std::int64_t self_id);
  // The chat of a public username ("tdsim_channel_N"), null when not occupied.
  static nlohmann::json search_public_chat(const std::string& username, int total);
  static nlohmann::json message(std::int64_t chat_id, std::int64_t message_id, std::int64_t sender_user_id,
                                const nlohmann::json& content, std::int64_t date);
};

}  // namespace tgpulse::tdsim
