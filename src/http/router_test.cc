#include "http/router.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace tgpulse::http {
namespace {

namespace asio = boost::asio;
using boost::beast::http::verb;

Handler noop() {
  return [](Request&) -> asio::awaitable<Response> { co_return Response{}; };
}

TEST(RouterTest, MatchesLiteralAndParameterSegments) {
  Router r;
  r.add(verb::get, "/healthz", noop());
  r.add(verb::post, "/v1/sessions/{id}/invoke", noop());
  auto m = r.match(verb::post, "/v1/sessions/abc-1/invoke");
  ASSERT_EQ(m.kind, RouteMatch::Kind::found);
  EXPECT_EQ(m.route->pattern, "/v1/sessions/{id}/invoke");
  EXPECT_EQ(m.pattern, "/v1/sessions/{id}/invoke");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].first, "id");
  EXPECT_EQ(m.params[0].second, "abc-1");
  EXPECT_EQ(r.match(verb::get, "/healthz").kind, RouteMatch::Kind::found);
}

TEST(RouterTest, UnknownPathIsNotFound) {
  Router r;
  r.add(verb::get, "/v1/sessions/{id}", noop());
  EXPECT_EQ(r.match(verb::get, "/v1/sessions").kind, RouteMatch::Kind::not_found);
  EXPECT_EQ(r.match(verb::get, "/v1/sessions/a/b").kind, RouteMatch::Kind::not_found);
  EXPECT_EQ(r.match(verb::get, "/v1/sessions/").kind, RouteMatch::Kind::not_found);  // empty parameter
  EXPECT_EQ(r.match(verb::get, "/v1/sessions/a/").kind, RouteMatch::Kind::not_found);  // trailing slash
  EXPECT_EQ(r.match(verb::get, "").kind, RouteMatch::Kind::not_found);
  EXPECT_EQ(r.match(verb::get, "*").kind, RouteMatch::Kind::not_found);
}

TEST(RouterTest, WrongMethodListsAllowedMethods) {
  Router r;
  r.add(verb::post, "/v1/sessions", noop());
  r.add(verb::get, "/v1/sessions", noop());
  r.add(verb::delete_, "/v1/sessions/{id}", noop());
  auto m = r.match(verb::put, "/v1/sessions");
  ASSERT_EQ(m.kind, RouteMatch::Kind::method_not_allowed);
  EXPECT_EQ(m.allow, "POST, GET, HEAD");
  EXPECT_EQ(m.pattern, "/v1/sessions");
  auto d = r.match(verb::get, "/v1/sessions/x");
  ASSERT_EQ(d.kind, RouteMatch::Kind::method_not_allowed);
  EXPECT_EQ(d.allow, "DELETE");
  EXPECT_EQ(r.match(verb::unknown, "/v1/sessions").kind, RouteMatch::Kind::method_not_allowed);
}

TEST(RouterTest, HeadIsAnsweredByGetRoute) {
  Router r;
  r.add(verb::get, "/metrics", noop());
  auto m = r.match(verb::head, "/metrics");
  ASSERT_EQ(m.kind, RouteMatch::Kind::found);
  EXPECT_EQ(m.route->method, verb::get);
}

TEST(RouterTest, LiteralBeatsParameterRegardlessOfOrder) {
  Router r;
  r.add(verb::get, "/v1/sessions/{id}", noop());
  r.add(verb::get, "/v1/sessions/stats", noop());
  EXPECT_EQ(r.match(verb::get, "/v1/sessions/stats").route->pattern, "/v1/sessions/stats");
  EXPECT_EQ(r.match(verb::get, "/v1/sessions/other").route->pattern, "/v1/sessions/{id}");
}

TEST(RouterTest, ParametersArePercentDecoded) {
  Router r;
  r.add(verb::get, "/t/{a}/{b}", noop());
  auto m = r.match(verb::get, "/t/x%20y/%2Fz");
  ASSERT_EQ(m.kind, RouteMatch::Kind::found);
  EXPECT_EQ(m.params[0].second, "x y");
  EXPECT_EQ(m.params[1].second, "/z");
  EXPECT_EQ(r.match(verb::get, "/t/%zz/b").kind, RouteMatch::Kind::not_found);
}

TEST(RouterTest, RouteIndexesFollowRegistrationOrder) {
  Router r;
  r.add(verb::get, "/a", noop());
  r.add(verb::get, "/b", noop());
  EXPECT_EQ(r.match(verb::get, "/a").route->index, 0u);
  EXPECT_EQ(r.match(verb::get, "/b").route->index, 1u);
  EXPECT_EQ(r.routes().size(), 2u);
}

TEST(RouterTest, RejectsMalformedAndDuplicatePatterns) {
  Router r;
  EXPECT_THROW(r.add(verb::get, "healthz", noop()), std::invalid_argument);
  EXPECT_THROW(r.add(verb::get, "/a//b", noop()), std::invalid_argument);
  EXPECT_THROW(r.add(verb::get, "/a/{}", noop()), std::invalid_argument);
  EXPECT_THROW(r.add(verb::get, "/a/{id", noop()), std::invalid_argument);
  EXPECT_THROW(r.add(verb::get, "/a/x{id}", noop()), std::invalid_argument);
  EXPECT_THROW(r.add(verb::get, "/a/{id}/{id}", noop()), std::invalid_argument);
  r.add(verb::get, "/a/{id}", noop());
  EXPECT_THROW(r.add(verb::get, "/a/{other}", noop()), std::invalid_argument);  // same shape
  EXPECT_NO_THROW(r.add(verb::post, "/a/{id}", noop()));
}

TEST(QueryTest, ParsesPairsInOrderAndDecodes) {
  auto q = parse_query("a=1&b=x%20y&c&d=e+f&&a=2");
  ASSERT_TRUE(q.has_value());
  ASSERT_EQ(q->size(), 5u);
  EXPECT_EQ((*q)[0], (std::pair<std::string, std::string>{"a", "1"}));
  EXPECT_EQ((*q)[1], (std::pair<std::string, std::string>{"b", "x y"}));
  EXPECT_EQ((*q)[2], (std::pair<std::string, std::string>{"c", ""}));
  EXPECT_EQ((*q)[3], (std::pair<std::string, std::string>{"d", "e f"}));
  EXPECT_EQ((*q)[4], (std::pair<std::string, std::string>{"a", "2"}));
  EXPECT_FALSE(parse_query("a=%4").has_value());
  EXPECT_FALSE(parse_query("a=%").has_value());
  EXPECT_TRUE(parse_query("")->empty());
}

TEST(QueryTest, PercentDecodeKeepsPlusInPaths) {
  EXPECT_EQ(*percent_decode("a+b"), "a+b");
  EXPECT_EQ(*percent_decode("a+b", true), "a b");
  EXPECT_EQ(*percent_decode("%41%6a"), "Aj");
  EXPECT_FALSE(percent_decode("%4g").has_value());
}

}  // namespace
}  // namespace tgpulse::http
