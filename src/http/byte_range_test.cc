#include "http/byte_range.h"

#include <gtest/gtest.h>

namespace tgpulse::http {
namespace {

using Kind = ByteRange::Kind;

void expect_partial(std::string_view header, std::uint64_t size, std::uint64_t first, std::uint64_t length) {
  const ByteRange r = parse_range(header, size);
  EXPECT_EQ(r.kind, Kind::partial) << header;
  EXPECT_EQ(r.first, first) << header;
  EXPECT_EQ(r.length, length) << header;
}

TEST(ByteRangeTest, TheThreeFormsOfOneRange) {
  expect_partial("bytes=1000-1999", 50'000'000, 1000, 1000);
  expect_partial("bytes=0-0", 10, 0, 1);
  expect_partial("bytes=7-", 10, 7, 3);
  expect_partial("bytes=-3", 10, 7, 3);
}

TEST(ByteRangeTest, ALastBytePastTheEndIsClampedAndASuffixLongerThanTheFileIsAllOfIt) {
  expect_partial("bytes=5-999", 10, 5, 5);
  expect_partial("bytes=-999", 10, 0, 10);
}

TEST(ByteRangeTest, AFirstByteAtOrPastTheEndOrAnEmptySuffixIsUnsatisfiable) {
  EXPECT_EQ(parse_range("bytes=10-", 10).kind, Kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=10-20", 10).kind, Kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=-0", 10).kind, Kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=0-", 0).kind, Kind::unsatisfiable);
}

TEST(ByteRangeTest, AnythingElseGetsTheWholeFile) {
  for (std::string_view header : {"", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-3", "bytes=0-1,5-6", "items=0-1",
                                  "bytes=1-2-3", "bytes= 1-2", "bytes=99999999999999999999-", "bytes=+1-2"}) {
    const ByteRange r = parse_range(header, 10);
    EXPECT_EQ(r.kind, Kind::whole) << header;
    EXPECT_EQ(r.length, 10u) << header;
  }
}

}  // namespace
}  // namespace tgpulse::http
