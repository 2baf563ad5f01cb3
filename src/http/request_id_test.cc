#include "http/request_id.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace tgpulse::http {
namespace {

bool is_generated_shape(const std::string& id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST(RequestIdTest, KeepsSaneIncomingIds) {
  EXPECT_EQ(request_id_for("abc-123"), "abc-123");
  EXPECT_EQ(request_id_for("1-5759e988-bd862e3f.x_y:z"), "1-5759e988-bd862e3f.x_y:z");
  EXPECT_EQ(request_id_for("0af7651916cd43dd8448eb211c80319c"), "0af7651916cd43dd8448eb211c80319c");
  const std::string max(kMaxRequestIdLength, 'a');
  EXPECT_EQ(request_id_for(max), max);
}

TEST(RequestIdTest, ReplacesMissingOrUnsafeIds) {
  for (std::string bad : {std::string(), std::string(kMaxRequestIdLength + 1, 'a'), std::string("a b"),
                          std::string("a\"b"), std::string("a\nb"), std::string("x\x01"), std::string("<script>"),
                          std::string("id=1")}) {
    EXPECT_FALSE(is_acceptable_request_id(bad)) << bad;
    const std::string id = request_id_for(bad);
    EXPECT_NE(id, bad);
    EXPECT_TRUE(is_generated_shape(id)) << id;
  }
}

TEST(RequestIdTest, GeneratedIdsAreDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(generate_request_id());
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace tgpulse::http
