#include "tdsim/incoming_traffic.h"

#include <algorithm>

#include "tdsim/fake_world.h"

namespace tgpulse::tdsim {

using nlohmann::json;

namespace {
constexpr std::int64_t kStep = 1 << 20;
constexpr std::int64_t kHistoryMessages = 50;
constexpr std::size_t kRememberedPerChat = 64;  // edits, deletions and reads pick among these

json text_content(const std::string& text) {
  return {{"@type", "messageText"},
          {"text", {{"@type", "formattedText"}, {"text", text}, {"entities", json::array()}}}};
}

// A few words, chosen by the RNG, so edits and new messages differ visibly.
std::string random_text(std::mt19937_64& rng, const char* prefix) {
  static const char* const kWords[] = {"hello", "meeting", "invoice", "tomorrow", "thanks", "price",
                                       "order", "delivery", "photo", "call", "ok", "later"};
  std::string text = prefix;
  const int words = 2 + static_cast<int>(rng() % 5);
  for (int i = 0; i < words; ++i) text += std::string(" ") + kWords[rng() % std::size(kWords)];
  return text;
}
}  // namespace

IncomingTraffic::IncomingTraffic(std::uint64_t seed, std::int64_t user_id, std::uint64_t next_sequence)
    : rng_(seed ^ (static_cast<std::uint64_t>(user_id) * 0x9E3779B97F4A7C15ULL)),
      next_sequence_(std::max<std::uint64_t>(next_sequence, 1)) {}

std::int64_t IncomingTraffic::message_id(std::uint64_t sequence) {
  return (kHistoryMessages + static_cast<std::int64_t>(sequence)) * kStep;
}

json IncomingTraffic::new_message(int chat_index, const std::string& text, std::int64_t date) {
  const std::int64_t chat = FakeWorld::chat_id(chat_index);
  const std::int64_t id = message_id(next_sequence_++);
  json m = FakeWorld::message(chat, id, chat > 0 ? chat : 800000000LL + 100 + static_cast<std::int64_t>(rng_() % 50),
                              text_content(text), date);
  if (chat <= -1000000000000LL) {  // a channel: its posts are sent by the chat itself
    m["sender_id"] = {{"@type", "messageSenderChat"}, {"chat_id", chat}};
  }
  auto& unread = unread_[chat];
  unread.push_back(id);
  if (unread.size() > kRememberedPerChat) unread.erase(unread.begin());
  return {{"@type", "updateNewMessage"}, {"message", std::move(m)}};
}

std::vector<json> IncomingTraffic::random_event(const Profile::Incoming& settings, int total_chats, std::int64_t date) {
  const int chats = std::max(1, std::min(settings.chats, total_chats));
  const int index = static_cast<int>(rng_() % static_cast<std::uint64_t>(chats));
  const std::int64_t chat = FakeWorld::chat_id(index);
  const double roll = std::uniform_real_distribution<double>(0, 1)(rng_);
  auto& known = unread_[chat];
  const double edit = settings.edit_probability;
  const double del = edit + settings.delete_probability;
  const double read = del + settings.read_probability;
  if (!known.empty() && roll < edit) {
    const std::int64_t id = known[rng_() % known.size()];
    return {{{"@type", "updateMessageContent"}, {"chat_id", chat}, {"message_id", id},
             {"new_content", text_content(random_text(rng_, "(edited)"))}},
            {{"@type", "updateMessageEdited"}, {"chat_id", chat}, {"message_id", id}, {"edit_date", date},
             {"reply_markup", nullptr}}};
  }
  if (!known.empty() && roll < del) {
    const std::size_t at = rng_() % known.size();
    const std::int64_t id = known[at];
    known.erase(known.begin() + static_cast<std::ptrdiff_t>(at));
    return {{{"@type", "updateDeleteMessages"}, {"chat_id", chat}, {"message_ids", json::array({id})},
             {"is_permanent", true}, {"from_cache", false}}};
  }
  if (!known.empty() && roll < read) {
    const std::int64_t last = known.back();
    known.clear();
    return {{{"@type", "updateChatReadInbox"}, {"chat_id", chat}, {"last_read_inbox_message_id", last},
             {"unread_count", 0}}};
  }
  return {new_message(index, random_text(rng_, "tdsim:"), date)};
}

}  // namespace tgpulse::tdsim
