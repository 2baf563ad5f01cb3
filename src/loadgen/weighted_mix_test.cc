#include "loadgen/weighted_mix.h"

#include <gtest/gtest.h>

#include <map>

namespace tgpulse::loadgen {
namespace {

TEST(WeightedMix, PicksEachMethodInProportionToItsWeight) {
  auto mix = WeightedMix::parse("getMe=1, getChats=3");
  ASSERT_TRUE(mix.ok());
  // Evenly spread u: exactly a quarter of them fall in getMe's interval.
  std::map<std::string, int> picks;
  for (int i = 0; i < 1000; ++i) ++picks[mix->pick((i + 0.5) / 1000).method];
  EXPECT_EQ(picks["getMe"], 250);
  EXPECT_EQ(picks["getChats"], 750);
  EXPECT_EQ(mix->pick(0.0).method, "getMe");
  EXPECT_EQ(mix->pick(0.9999).method, "getChats");
}

TEST(WeightedMix, AMethodWithoutWeightWeighsOne) {
  auto mix = WeightedMix::parse("getMe,sendMessage=2");
  ASSERT_TRUE(mix.ok());
  ASSERT_EQ(mix->entries().size(), 2u);
  EXPECT_EQ(mix->entries()[0].weight, 1);
  EXPECT_EQ(mix->entries()[1].weight, 2);
}

TEST(WeightedMix, SendsPlausibleFunctionObjects) {
  EXPECT_EQ(WeightedMix::function_for("getMe"), (nlohmann::json{{"@type", "getMe"}}));
  EXPECT_EQ(WeightedMix::function_for("getChats")["limit"], 20);
  const auto send = WeightedMix::function_for("sendMessage");
  EXPECT_EQ(send["input_message_content"]["@type"], "inputMessageText");
  EXPECT_EQ(WeightedMix::function_for("getOption"), (nlohmann::json{{"@type", "getOption"}}));
}

TEST(WeightedMix, RejectsBadSpecs) {
  for (const char* bad : {"", ",", "getMe=0", "getMe=-1", "getMe=x", "getMe=1,getMe=2", "get-me=1", "=3"}) {
    auto mix = WeightedMix::parse(bad);
    EXPECT_FALSE(mix.ok()) << bad;
    if (!mix.ok()) {
      EXPECT_EQ(mix.error().code, Errc::invalid_argument) << bad;
    }
  }
}

}  // namespace
}  // namespace tgpulse::loadgen
