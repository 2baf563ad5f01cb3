// The text the update routes answer with (update_json_text): the stored payload spliced in unparsed must
// give exactly the JSON that building the object and dumping it gives — the same keys, values and order.
#include <gtest/gtest.h>

#include "core/time_format.h"
#include "updates/update_routes.h"

namespace tgpulse::updates {
namespace {

using nlohmann::json;

// What a client gets for one update, built the long way: parse the payload, make the object, dump it.
std::string built(const store::StoredUpdate& u) {
  json o = {{"update_id", u.update_id},
            {"session_id", u.session_id.empty() ? json(nullptr) : json(u.session_id)},
            {"received_at", iso8601(Clock::WallTime(std::chrono::milliseconds(u.received_at_ms)))},
            {"update", json::parse(u.payload)}};
  return o.dump(-1, ' ', false, json::error_handler_t::replace);
}

TEST(UpdateJsonTextTest, IsTheDumpOfTheObjectWithThePayloadSplicedIn) {
  // The payload as the hub writes it: compact, UTF-8 kept, escapes where JSON needs them.
  const json update = {{"@type", "updateNewMessage"},
                       {"message", {{"id", 1048577}, {"text", "h\xC3\xA9llo \"quoted\" \\ \n #1"}, {"entities", json::array()}}}};
  const std::string payload = update.dump(-1, ' ', false, json::error_handler_t::replace);
  for (const store::StoredUpdate& u :
       {store::StoredUpdate{"t_alpha", 42, "s_AAAAAAAAAAAAAAAAAAAAAA", 1767225600123, payload},
        store::StoredUpdate{"t_alpha", 9007199254740991, "", 5, payload}}) {
    const std::string text = update_json_text(u);
    EXPECT_EQ(text, built(u));
    const json parsed = json::parse(text);
    EXPECT_EQ(parsed["update"], update);
    EXPECT_EQ(parsed["update_id"], u.update_id);
    EXPECT_EQ(update_json(u), parsed);
  }
}

}  // namespace
}  // namespace tgpulse::updates
