#include "td/td_log_line.h"

#include <gtest/gtest.h>

namespace tgpulse::td {
namespace {

TEST(TdLogLineTest, SplitsHeaderAndText) {
  auto l = TdLogLine::parse(3, "[ 3][t 3][1795612186.786577939][Td.cpp:143][#7][!MultiTd]\tCreate Td with layer 229\n");
  EXPECT_EQ(l.verbosity, 3);
  EXPECT_EQ(l.source, "Td.cpp:143");
  EXPECT_EQ(l.client_id, 7);
  EXPECT_EQ(l.text, "Create Td with layer 229");
  EXPECT_FALSE(l.absorbed_flood_wait.has_value());
}

TEST(TdLogLineTest, LineWithoutHeaderIsKeptWhole) {
  auto l = TdLogLine::parse(1, "plain text");
  EXPECT_EQ(l.text, "plain text");
  EXPECT_EQ(l.client_id, 0);
}

TEST(TdLogLineTest, RecognisesAbsorbedFloodWait) {
  auto l = TdLogLine::parse(2, "[ 2][t 1][1.5][NetQueryDelayer.cpp:107][#1][!NetQueryDelayer]\tDelay: "
                               "[Query:[id:42][tl:0x0d9d75a4][state:Query]] [timeout:8][total_timeout:20] because of "
                               "[Error : 420 : FLOOD_WAIT_8] from \n");
  ASSERT_TRUE(l.absorbed_flood_wait.has_value());
  EXPECT_EQ(l.absorbed_flood_wait->seconds, 8);
  EXPECT_EQ(l.absorbed_flood_wait->total_seconds, 20);
  EXPECT_FALSE(l.flood_wait_failed);
}

// Found by fuzz/td_log_line_fuzzer: "[timeout:-8]" gave an absorbed wait of -8 s.
TEST(TdLogLineTest, SignedTimeoutsAreNotTaken) {
  auto l = TdLogLine::parse(2, "[ 2][t 1][1.5][NetQueryDelayer.cpp:107][#1][!NetQueryDelayer]\tDelay: "
                               "[Query:[id:42]] [timeout:-8][total_timeout:-20] because of "
                               "[Error : 420 : FLOOD_WAIT_8] from \n");
  ASSERT_TRUE(l.absorbed_flood_wait.has_value());
  EXPECT_EQ(l.absorbed_flood_wait->seconds, 8);  // from FLOOD_WAIT_8
  EXPECT_EQ(l.absorbed_flood_wait->total_seconds, 8);
  auto m = TdLogLine::parse(2, "Delay: [Query:[id:1]] [timeout:+3] because of [Error : 420 : FLOOD_WAIT_-3]");
  EXPECT_FALSE(m.absorbed_flood_wait.has_value());
}

TEST(TdLogLineTest, FailedFloodWaitIsNotAnAbsorbedOne) {
  auto l = TdLogLine::parse(2, "[ 2][t 1][1.5][NetQueryDelayer.cpp:94][#1][!NetQueryDelayer]\tFailed: "
                               "[Query:[id:42][tl:0x0d9d75a4][state:Query]] [timeout:300][total_timeout:300] because "
                               "of [Error : 420 : FLOOD_WAIT_300] from \n");
  EXPECT_FALSE(l.absorbed_flood_wait.has_value());
  EXPECT_TRUE(l.flood_wait_failed);
}

TEST(TdLogLineTest, OtherDelaysAreNotFloodWaits) {
  auto l = TdLogLine::parse(2, "[ 2][t 1][1.5][X.cpp:1]\tDelay: [Query:[id:1]] [timeout:1][total_timeout:1] because "
                               "of [Error : 500 : WORKER_BUSY_TOO_LONG_RETRY] from \n");
  EXPECT_FALSE(l.absorbed_flood_wait.has_value());
}

TEST(TdLogLineTest, MasksSecrets) {
  auto l = TdLogLine::parse(3, "[ 3][t 3][1][Td.cpp:289][#1][!Td]\tReceive request 1: setTdlibParameters {\n"
                               "  database_encryption_key = bytes [3] { 01 02 03 }\n  api_id = 1\n"
                               "  api_hash = \"deadbeefcafe\"\n}\n");
  EXPECT_EQ(l.text.find("deadbeefcafe"), std::string::npos) << l.text;
  EXPECT_EQ(l.text.find("01 02 03"), std::string::npos) << l.text;
  EXPECT_NE(l.text.find("api_id = 1"), std::string::npos);
  EXPECT_EQ(TdLogLine::mask_secrets("link tg://login?token=AbC-_123 end"), "link tg://login?token=[REDACTED] end");
  EXPECT_EQ(TdLogLine::mask_secrets(R"({"password":"hunter2","x":1})"), R"({"password":"[REDACTED]","x":1})");
}

}  // namespace
}  // namespace tgpulse::td
