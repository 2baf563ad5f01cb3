// Update types: TDLib's names are compiled in from the data file; allowed_updates validates against
// them and the service's own events, matches exact names and prefixes, and never lets internal ones in.
#include <gtest/gtest.h>

#include "updates/update_types.h"

namespace tgpulse::updates {
namespace {

using nlohmann::json;

TEST(UpdateTypesTest, KnowsTdlibsUpdatesAndTheServicesEvents) {
  EXPECT_GT(td_update_types().size(), 150u);
  for (const char* t : {"updateNewMessage", "updateMessageEdited", "updateDeleteMessages", "updateChatReadInbox",
                        "tgpulseSessionAuthorized", "tgpulseUpdatesDropped"}) {
    EXPECT_TRUE(is_known_type(t)) << t;
  }
  EXPECT_FALSE(is_known_type("updateNoSuchThing"));
  EXPECT_TRUE(is_internal_type("updateAuthorizationState"));
  EXPECT_TRUE(is_internal_type("updateOption"));
}

TEST(UpdateTypesTest, DefaultsAreMessagesEditsDeletionsReadStateAndServiceEvents) {
  const auto d = AllowedUpdates::defaults();
  for (const char* t : {"updateNewMessage", "updateMessageEdited", "updateMessageContent", "updateDeleteMessages",
                        "updateChatReadInbox", "updateChatReadOutbox", "tgpulseSessionRevoked", "tgpulseUpdatesDropped"}) {
    EXPECT_TRUE(d.allows(t)) << t;
  }
  EXPECT_FALSE(d.allows("updateUser"));
  EXPECT_FALSE(d.allows("updateAuthorizationState"));
}

TEST(UpdateTypesTest, ParsesExactNamesAndPrefixes) {
  auto a = AllowedUpdates::parse(json::array({"updateChatRead*", "updateUser"})).value();
  EXPECT_TRUE(a.allows("updateChatReadInbox"));
  EXPECT_TRUE(a.allows("updateChatReadOutbox"));
  EXPECT_TRUE(a.allows("updateUser"));
  EXPECT_FALSE(a.allows("updateUserStatus"));
  EXPECT_FALSE(a.allows("updateNewMessage"));
  auto everything = AllowedUpdates::parse(json::array({"update*"})).value();
  EXPECT_TRUE(everything.allows("updateNewMessage"));
  EXPECT_FALSE(everything.allows("updateOption")) << "internal types stay out whatever is asked";
  EXPECT_TRUE(AllowedUpdates::parse(json::array()).value().entries().empty());
}

TEST(UpdateTypesTest, RefusesWhatIsNotAnUpdateTypeNamingIt) {
  auto unknown = AllowedUpdates::parse(json::array({"updateNewMessage", "updateNoSuchThing"}));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Errc::invalid_argument);
  EXPECT_NE(unknown.error().message.find("updateNoSuchThing"), std::string::npos);
  EXPECT_FALSE(AllowedUpdates::parse(json::array({"updateZzz*"})));
  EXPECT_FALSE(AllowedUpdates::parse(json::array({"updateOption"})));
  EXPECT_FALSE(AllowedUpdates::parse(json::array({42})));
  EXPECT_FALSE(AllowedUpdates::parse(json::object()));
  EXPECT_FALSE(AllowedUpdates::parse(json::array({std::string(65, 'u')})));
  EXPECT_FALSE(AllowedUpdates::parse(json::array({"update New"})));
  json many = json::array();
  for (std::size_t i = 0; i <= kMaxAllowedEntries; ++i) many.push_back("updateNewMessage");
  EXPECT_FALSE(AllowedUpdates::parse(many));
}

}  // namespace
}  // namespace tgpulse::updates
