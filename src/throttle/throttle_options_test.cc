#include "throttle/throttle_options.h"

#include <cstdio>

#include <gtest/gtest.h>

namespace tgpulse::throttle {
namespace {

const std::vector<std::string> kDefaults = {"getMe", "sendMessage", "joinChat"};

TEST(ThrottleOptionsMethodLabels, ConfiguredMethodsJoinTheDefaultsOnce) {
  ThrottleOptions o;
  o.session.per_method = {{"sendMessage", {1, 3}}, {"forwardMessages", {1, 1}}};
  o.process.per_method = {{"forwardMessages", {5, 5}}, {"addChatMember", {1, 1}}};
  o.tenant.per_method = {{"getMe", {5, 5}}};
  ThrottleOptions::MethodLabels labels = o.method_labels(kDefaults);
  EXPECT_EQ(labels.methods,
            (std::vector<std::string>{"getMe", "sendMessage", "joinChat", "addChatMember", "forwardMessages"}));
  EXPECT_EQ(labels.left_out, 0u);
}

TEST(ThrottleOptionsMethodLabels, ReservedValuesAreNeverLabels) {
  ThrottleOptions o;
  o.session.per_method = {{"other", {1, 1}}, {"engine", {1, 1}}, {"", {1, 1}}};
  EXPECT_EQ(o.method_labels(kDefaults).methods, kDefaults);
}

TEST(ThrottleOptionsMethodLabels, AtMostTheCapOfConfiguredMethodsInNameOrder) {
  ThrottleOptions o;
  o.session.per_method.clear();  // no built-in entries: only the ones below
  o.process.per_method.clear();
  const std::size_t cap = ThrottleOptions::kMaxConfiguredMethodLabels;
  for (std::size_t i = 0; i < cap + 5; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "m%03zu", i);
    (i % 2 == 0 ? o.session : o.process).per_method[name] = {1, 1};
  }
  ThrottleOptions::MethodLabels labels = o.method_labels(kDefaults);
  ASSERT_EQ(labels.methods.size(), kDefaults.size() + cap);
  EXPECT_EQ(labels.left_out, 5u);
  EXPECT_EQ(labels.methods[kDefaults.size()], "m000");
  char last[16];
  std::snprintf(last, sizeof last, "m%03zu", cap - 1);
  EXPECT_EQ(labels.methods.back(), last);
}

}  // namespace
}  // namespace tgpulse::throttle
