#include "core/bounded_json_parser.h"

#include <gtest/gtest.h>

namespace tgpulse {
namespace {

using nlohmann::json;

std::string nested(std::size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

std::string nested_objects(std::size_t depth) {
  std::string s;
  for (std::size_t i = 0; i < depth; ++i) s += "{\"a\":";
  s += "1";
  s += std::string(depth, '}');
  return s;
}

TEST(BoundedJsonParser, ParsesWhatNlohmannParses) {
  const std::string text =
      R"({"@type":"sendMessage","chat_id":-100123,"big":18446744073709551615,"f":1.5,"t":true,"n":null,)"
      R"("a":[1,[2,{"b":"c"}]],"s":"\u00e9\n"})";
  ParsedJson p = BoundedJsonParser::parse(text, {});
  ASSERT_TRUE(p.ok()) << p.message({});
  EXPECT_EQ(p.value, json::parse(text));
  EXPECT_EQ(p.depth, 4u);
}

TEST(BoundedJsonParser, ExactDepthBoundary) {
  JsonLimits limits;  // 64
  EXPECT_TRUE(BoundedJsonParser::parse(nested(64), limits).ok());
  EXPECT_TRUE(BoundedJsonParser::parse(nested_objects(64), limits).ok());
  ParsedJson a = BoundedJsonParser::parse(nested(65), limits);
  EXPECT_EQ(a.fault, JsonFault::too_deep);
  EXPECT_EQ(a.message(limits), "nests deeper than the limit of 64 levels");
  EXPECT_EQ(BoundedJsonParser::parse(nested_objects(65), limits).fault, JsonFault::too_deep);
  limits.max_depth = 3;
  EXPECT_TRUE(BoundedJsonParser::parse("[[[1]]]", limits).ok());
  EXPECT_EQ(BoundedJsonParser::parse("[[[[1]]]]", limits).fault, JsonFault::too_deep);
  EXPECT_TRUE(BoundedJsonParser::parse("7", limits).ok());  // a scalar has no depth
}

TEST(BoundedJsonParser, HundredThousandLevelsStopEarlyWithoutCrashing) {
  const std::string deep = nested_objects(100000);
  ParsedJson p = BoundedJsonParser::parse(deep, {});
  EXPECT_EQ(p.fault, JsonFault::too_deep);
  EXPECT_TRUE(p.value.is_null());
  EXPECT_EQ(p.depth, 65u);
  EXPECT_EQ(BoundedJsonParser::parse(nested(100000), {}).fault, JsonFault::too_deep);
  // Unbalanced: only openers.
  EXPECT_EQ(BoundedJsonParser::parse(std::string(100000, '['), {}).fault, JsonFault::too_deep);
}

TEST(BoundedJsonParser, BracketsAndEscapesInsideStringsAreNotNesting) {
  JsonLimits limits;
  limits.max_depth = 2;
  const std::string text = R"({"k":"[[[[{{{{\"]]]]}}}}\\","x":["\"[","\\\"{"]})";
  ParsedJson p = BoundedJsonParser::parse(text, limits);
  ASSERT_TRUE(p.ok()) << p.message(limits);
  EXPECT_EQ(p.value["k"], "[[[[{{{{\"]]]]}}}}\\");
  EXPECT_EQ(p.value["x"][1], "\\\"{");
  const std::string key = R"({"[[[[":{"}}}}":1}})";
  EXPECT_TRUE(BoundedJsonParser::parse(key, limits).ok());
}

TEST(BoundedJsonParser, ValueCountBoundary) {
  JsonLimits limits;
  limits.max_values = 4;
  EXPECT_TRUE(BoundedJsonParser::parse("[1,2,3]", limits).ok());  // the array and three numbers
  ParsedJson p = BoundedJsonParser::parse("[1,2,3,4]", limits);
  EXPECT_EQ(p.fault, JsonFault::too_many_values);
  EXPECT_EQ(p.message(limits), "has more than the limit of 4 values");
  EXPECT_TRUE(BoundedJsonParser::parse(R"({"a":1,"b":2,"c":3})", limits).ok());  // keys do not count
  EXPECT_EQ(BoundedJsonParser::parse(R"({"a":{},"b":[],"c":3,"d":4})", limits).fault, JsonFault::too_many_values);

  std::string wide = "[";
  for (int i = 0; i < 100000; ++i) wide += "0,";
  wide += "0]";  // 100,002 values
  EXPECT_EQ(BoundedJsonParser::parse(wide, {}).fault, JsonFault::too_many_values);
}

TEST(BoundedJsonParser, SyntaxErrors) {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{\"a\":1}x", "nul", "\"unterminated", "{'a':1}"}) {
    ParsedJson p = BoundedJsonParser::parse(bad, {});
    EXPECT_EQ(p.fault, JsonFault::syntax) << bad;
    EXPECT_EQ(p.message({}), "is not valid JSON");
  }
}

TEST(BoundedJsonParser, EnvelopeSurvivesABoundsFault) {
  // TDLib appends @extra and @client_id after the payload.
  const std::string answer = R"({"@type":"message","content":)" + nested(200) + R"(,"@extra":42,"@client_id":7})";
  ParsedJson p = BoundedJsonParser::parse(answer, {}, {"@extra", "@client_id", "@type"});
  EXPECT_EQ(p.fault, JsonFault::too_deep);
  EXPECT_TRUE(p.value.is_null());
  EXPECT_EQ(p.envelope.value("@extra", 0), 42);
  EXPECT_EQ(p.envelope.value("@client_id", 0), 7);
  EXPECT_EQ(p.envelope.value("@type", ""), "message");

  // Nested members of the same name are not the envelope.
  ParsedJson q = BoundedJsonParser::parse(R"({"a":{"@extra":1},"@extra":2})", {}, {"@extra"});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q.envelope["@extra"], 2);

  // A syntax error after a bounds fault keeps the bounds fault.
  ParsedJson r = BoundedJsonParser::parse(R"({"@extra":3,"x":)" + nested(100) + ",", {}, {"@extra"});
  EXPECT_EQ(r.fault, JsonFault::too_deep);
  EXPECT_EQ(r.envelope["@extra"], 3);
}

}  // namespace
}  // namespace tgpulse
