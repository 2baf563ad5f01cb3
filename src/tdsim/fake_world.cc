#include "tdsim/fake_world.h"

#include <algorithm>
#include <ctime>

namespace tgpulse::tdsim {

using nlohmann::json;

namespace {
// Chat index → kind: every 5th chat is a channel, every 7th a group, others private chats.
enum class Kind { private_chat, group, channel };
Kind kind_of(int index) { return index % 5 == 4 ? Kind::channel : (index % 7 == 6 ? Kind::group : Kind::private_chat); }
json text_content(const std::string& text) {
  return {{"@type", "messageText"}, {"text", {{"@type", "formattedText"}, {"text", text}, {"entities", json::array()}}}};
}
}  // namespace

json FakeWorld::user(std::int64_t user_id, bool is_self) {
  const auto n = std::to_string(user_id % 100000);
  return {{"@type", "user"},
          {"id", user_id},
          {"first_name", is_self ? "Sim" : "Contact"},
          {"last_name", "User " + n},
          {"usernames", {{"@type", "usernames"}, {"active_usernames", {"tdsim_user_" + n}},
                         {"disabled_usernames", json::array()}, {"editable_username", "tdsim_user_" + n}}},
          {"phone_number", ""},
          {"status", {{"@type", "userStatusRecently"}}},
          {"is_contact", !is_self},
          {"is_mutual_contact", false},
          {"is_premium", false},
          {"is_support", false},
          {"have_access", true},
          {"type", {{"@type", "userTypeRegular"}}},
          {"language_code", "en"}};
}

std::int64_t FakeWorld::chat_id(int index) {
  switch (kind_of(index)) {
    case Kind::channel: return -1001000000000LL - index;
    case Kind::group: return -4000000000LL - index;
    case Kind::private_chat: break;
  }
  return 800000000LL + index;
}

json FakeWorld::chats(int total, int limit) {
  json ids = json::array();
  for (int i = 0; i < std::min(total, std::max(limit, 0)); ++i) ids.push_back(chat_id(i));
  return {{"@type", "chats"}, {"total_count", total}, {"chat_ids", ids}};
}

json FakeWorld::chat(std::int64_t id, int total) {
  for (int i = 0; i < total; ++i) {
    if (chat_id(i) != id) continue;
    json type;
    std::string title;
    switch (kind_of(i)) {
      case Kind::channel:
        type = {{"@type", "chatTypeSupergroup"}, {"supergroup_id", -(id + 1000000000000LL)}, {"is_channel", true}};
        title = "tdsim channel " + std::to_string(i);
        break;
      case Kind::group:
        type = {{"@type", "chatTypeBasicGroup"}, {"basic_group_id", -(id + 4000000000LL)}};
        title = "tdsim group " + std::to_string(i);
        break;
      case Kind::private_chat:
        type = {{"@type", "chatTypePrivate"}, {"user_id", id}};
        title = "Contact " + std::to_string(i);
        break;
    }
    return {{"@type", "chat"}, {"id", id}, {"type", type}, {"title", title},
            {"unread_count", i % 3}, {"last_read_inbox_message_id", 0}, {"last_read_outbox_message_id", 0},
            {"permissions", {{"@type", "chatPermissions"}, {"can_send_basic_messages", true}}},
            {"notification_settings", {{"@type", "chatNotificationSettings"}, {"use_default_mute_for", true}}}};
  }
  return nullptr;
}

json FakeWorld::message(std::int64_t chat, std::int64_t message_id, std::int64_t sender, const json& content,
                        std::int64_t date) {
  return {{"@type", "message"},
          {"id", message_id},
          {"sender_id", {{"@type", "messageSenderUser"}, {"user_id", sender}}},
          {"chat_id", chat},
          {"is_outgoing", false},
          {"date", date},
          {"edit_date", 0},
          {"content", content}};
}

json FakeWorld::history(std::int64_t chat, std::int64_t from_message_id, int limit, std::int64_t self_id) {
  // 50 messages per chat, ids 1<<20 apart like TDLib's server message ids.
  constexpr std::int64_t kStep = 1 << 20;
  constexpr int kMessages = 50;
  std::int64_t top = from_message_id == 0 ? kMessages * kStep : from_message_id - kStep;
  json messages = json::array();
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  for (std::int64_t id = top; id >= kStep && static_cast<int>(messages.size()) < std::min(limit, 100); id -= kStep) {
    const auto n = id / kStep;
    const std::int64_t sender = n % 2 == 0 ? self_id : (chat > 0 ? chat : 800000000LL + n);
    auto m = message(chat, id, sender, text_content("message " + std::to_string(n)), now - (kMessages - n) * 60);
    m["is_outgoing"] = sender == self_id;
    messages.push_back(std::move(m));
  }
  return {{"@type", "messages"}, {"total_count", static_cast<int>(messages.size())}, {"messages", messages}};
}

json FakeWorld::search_public_chat(const std::string& username, int total) {
  const std::string prefix = "tdsim_channel_";
  if (username.rfind(prefix, 0) != 0) return nullptr;
  try {
    int index = std::stoi(username.substr(prefix.size()));
    if (index >= 0 && index < total && kind_of(index) == Kind::channel) return chat(chat_id(index), total);
  } catch (...) {
  }
  return nullptr;
}

}  // namespace tgpulse::tdsim
