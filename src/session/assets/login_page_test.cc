#include "session/assets/login_page.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace tgpulse::session::assets {
namespace {

TEST(LoginPageTest, EmbeddedPageIsTheFileByteForByte) {
  std::ifstream file(TGPULSE_LOGIN_PAGE_FILE, std::ios::binary);
  ASSERT_TRUE(file.good()) << TGPULSE_LOGIN_PAGE_FILE;
  std::stringstream content;
  content << file.rdbuf();
  const std::string expected = content.str();
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(login_page_html().size(), expected.size());
  EXPECT_TRUE(login_page_html() == expected);
}

TEST(LoginPageTest, CarriesTheIdsAndRoutesOfItsContract) {
  const std::string_view page = login_page_html();
  for (const char* needle : {"id=\"qr\"", "id=\"status\"", "id=\"password-form\"", "id=\"password\"",
                             "id=\"password-submit\"", "id=\"hint\"", "id=\"sim-accept\"", "id=\"sim-password\"",
                             "id=\"sim-decline\"", "\"/v1/login/\"", "/events", "/qr.svg", "/password",
                             "/simulate"}) {
    EXPECT_NE(page.find(needle), std::string_view::npos) << needle;
  }
  // The phone-number login's steps, with the hints browsers and password managers read.
  for (const char* needle : {"id=\"phone-form\"", "id=\"phone\"", "autocomplete=\"tel\"", "id=\"code-form\"",
                             "id=\"code\"", "autocomplete=\"one-time-code\"", "inputmode=\"numeric\"",
                             "id=\"code-info\"", "id=\"resend\"", "/phone-number", "\"/code\"", "/resend"}) {
    EXPECT_NE(page.find(needle), std::string_view::npos) << needle;
  }
  // The policy blocks inline event-handler attributes: handlers are attached from the script.
  for (const char* handler : {" onclick=", " onsubmit=", " oninput=", " onload="}) {
    EXPECT_EQ(page.find(handler), std::string_view::npos) << handler;
  }
  // Self-contained: nothing is loaded from another origin.
  EXPECT_EQ(page.find("src=\"http"), std::string_view::npos);
  EXPECT_EQ(page.find("href=\"http"), std::string_view::npos);
  EXPECT_EQ(page.find("@import"), std::string_view::npos);
}

}  // namespace
}  // namespace tgpulse::session::assets
